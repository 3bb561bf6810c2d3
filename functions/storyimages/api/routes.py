"""Every route of the REST API and the Lambda handler behind it: API Gateway (CDK) and the
local gateway are both wired from this table."""

from __future__ import annotations

from dataclasses import dataclass

START_PATH = "/api/images/generate-all-automatically"
STATUS_PATH = "/api/images/master-job/<masterJobId>"
CANCEL_PATH = "/api/images/master-job/<masterJobId>/cancel"
RETRY_PATH = "/api/images/master-job/<masterJobId>/retry"
AUTHORIZER_HANDLER = "storyimages.handlers.authorizer:handler"
# What browsers at the allowed origins may send, and how long they may cache a preflight.
CORS_ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
CORS_MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Powertools syntax: <param>
    handler: str  # "module:function"
    function: str  # the Lambda's logical name

    @property
    def resource(self) -> str:
        """The API Gateway resource path: {param}."""
        return self.path.replace("<", "{").replace(">", "}")


ROUTES = (
    Route("POST", START_PATH, "storyimages.handlers.start_generation:handler", "StartGeneration"),
    Route("GET", STATUS_PATH, "storyimages.handlers.job_status:handler", "JobStatus"),
    Route("POST", CANCEL_PATH, "storyimages.handlers.job_control:handler", "JobControl"),
    Route("POST", RETRY_PATH, "storyimages.handlers.job_control:handler", "JobControl"),
)
"""Every route needs a verified Firebase ID token (AUTHORIZER_HANDLER); /health is the gateway's own."""
