"""Every error a Firestore call can raise, as one of the domain's named errors, and the deadline
each call runs under.

The workflow retries by error name, so a Firestore fault must never reach it as a library class
(`RetryError`, `ServiceUnavailable`, ...) that no Retry list names: transient faults become
`StoreUnavailable` (retried), a missing document `JobNotFound`, anything else `StoreRefused`
(not retried). A call gives up after its deadline, so an API handler answers 503 long before
API Gateway's 29 s cut, and a task leaves the retrying to the state machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from google.api_core import exceptions as api
from google.api_core.retry import Retry
from google.auth import exceptions as auth

from storyimages.domain.errors import JobNotFound, StoreRefused, StoreUnavailable

# What Firestore answers when it may succeed on a second try. DEADLINE_EXCEEDED is transient
# too, but the call may have been applied: it is not repeated within a call (a repeated create
# would collide with itself) and reaches the caller as StoreUnavailable.
_RETRIED_WITHIN_A_CALL = (api.ServiceUnavailable, api.InternalServerError, api.ResourceExhausted, api.Aborted)
_TRANSIENT = (
    *_RETRIED_WITHIN_A_CALL,
    api.DeadlineExceeded,
    api.RetryError,
    api.Unknown,
    api.GatewayTimeout,
    api.BadGateway,
    api.Cancelled,
    auth.TransportError,  # the token endpoint was unreachable
)
P = ParamSpec("P")
R = TypeVar("R")
UNAVAILABLE = "the job store did not answer in time; nothing was lost, try again"


def call_options(deadline_seconds: float) -> dict[str, Any]:
    """`retry` and `timeout` for one Firestore call: retried within `deadline_seconds`, each
    attempt cut at the same deadline (a stalled connection cannot hold a call longer)."""
    retry = Retry(
        predicate=lambda exc: isinstance(exc, _RETRIED_WITHIN_A_CALL),
        initial=0.1,
        maximum=2.0,
        multiplier=2.0,
        timeout=deadline_seconds,
    )
    return {"retry": retry, "timeout": deadline_seconds}


@contextmanager
def store_errors(missing: Callable[[str], Exception] | None = None) -> Iterator[None]:
    """Inside, a Firestore error becomes StoreUnavailable, `missing(...)` (NotFound) or StoreRefused."""
    try:
        yield
    except _TRANSIENT as exc:
        raise StoreUnavailable(UNAVAILABLE, details={"cause": type(exc).__name__}) from exc
    except api.NotFound as exc:
        if missing is None:
            raise StoreRefused(f"the job store refused the call: {exc.message}") from exc
        raise missing(f"a document this call needs is gone: {exc.message}") from exc
    except (api.GoogleAPIError, auth.GoogleAuthError) as exc:
        raise StoreRefused(f"the job store refused the call: {type(exc).__name__}") from exc


def job_store_errors() -> AbstractContextManager[None]:
    """store_errors for the job store, where a missing document is a job that does not exist."""
    return store_errors(missing=JobNotFound)


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """A job store method whose Firestore errors become the domain's (job_store_errors)."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with job_store_errors():
            return method(*args, **kwargs)

    return wrapper
