"""Images in a private S3 bucket; the app reads them through presigned GET URLs.

A presigned URL names the time it was signed at, so one signed at every status read changes every
second and the browser fetches every image again on every poll. URLs here are signed at the start
of a fixed window instead: the same key gets the same URL for the whole window."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from storyimages import defaults
from storyimages.adapters.clock import SystemClock
from storyimages.domain.ports import Clock

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials

    from storyimages.settings import StorageSettings

# A slide's image is written once at its key and never replaced (the put is conditional), so a
# browser may keep it; `private`: the URL is a user's, not for shared caches.
IMAGE_CACHE_CONTROL = "private, max-age=31536000, immutable"
# The longest X-Amz-Expires S3 accepts.
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
_ALGORITHM = "AWS4-HMAC-SHA256"
_SIGV4_TIME = "%Y%m%dT%H%M%SZ"


def url_window_seconds(url_expiry_seconds: int) -> int:
    """Half the lifetime: a URL then stays the same for half its lifetime (the browser's cache
    serves it that long), and is signed for 1.5 times the lifetime (see url_for)."""
    return url_expiry_seconds // 2


class S3ImageStorage:
    def __init__(
        self,
        bucket: str,
        *,
        client: Any = None,
        session: Any = None,
        url_expiry_seconds: int = defaults.IMAGE_URL_EXPIRY_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        """`url_expiry_seconds`: every URL handed out stays valid at least this long. `session`
        (boto3) gives the credentials, region and endpoint URLs are signed with; by default
        the one the environment configures, as for the client."""
        self._bucket = bucket
        self._injected = client
        self._injected_session = session
        self._clock = clock or SystemClock()
        self._window = url_window_seconds(url_expiry_seconds)
        # A URL handed out at the end of its window must still live the full lifetime.
        self._signed_for = url_expiry_seconds + self._window
        if self._window < 1 or self._signed_for > MAX_PRESIGNED_SECONDS:
            raise ValueError(f"an image URL lifetime of {url_expiry_seconds} s cannot be signed")

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> S3ImageStorage:
        """The deployment's bucket and URL lifetime: every function that answers image URLs
        (status, cancel, retry) answers them alike."""
        return cls(settings.bucket, url_expiry_seconds=settings.url_expiry_seconds)

    @cached_property
    def _session(self) -> Any:
        if self._injected_session is not None:
            return self._injected_session
        import boto3

        return boto3.session.Session()

    @cached_property
    def _s3(self) -> Any:
        if self._injected is not None:
            return self._injected
        from botocore.config import Config

        return self._session.client("s3", config=Config(signature_version="s3v4"))

    @cached_property
    def _addresses(self) -> Any:
        """A client that signs nothing: it makes an object's URL as the signing client would
        (endpoint, path or virtual-host style), for url_for to sign."""
        from botocore import UNSIGNED
        from botocore.config import Config

        return self._session.client("s3", config=Config(signature_version=UNSIGNED))

    def exists(self, key: str) -> bool:
        # A listing by prefix, not a HEAD: HEAD on a missing key answers 403 unless the role may
        # list the whole bucket, and this one may list only under images/ (IAM s3:prefix).
        listing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listing.get("Contents", []))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the image at `key` unless one is there already: two attempts at the same slide
        racing (a message delivered twice) keep the first image, the one a browser may have cached."""
        from botocore.exceptions import ClientError

        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=IMAGE_CACHE_CONTROL,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise

    def get(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())

    def url_for(self, key: str) -> str:
        now = int(self._clock.now().timestamp())
        signed_at = datetime.fromtimestamp(now - now % self._window, UTC)
        address = self._addresses.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": key})
        credentials = self._session.get_credentials()
        if credentials is None:
            from botocore.exceptions import NoCredentialsError

            raise NoCredentialsError()
        return presigned_get_url(
            str(address),
            credentials.get_frozen_credentials(),
            region=str(self._addresses.meta.region_name),
            signed_at=signed_at,
            expires_in=self._signed_for,
        )


def presigned_get_url(
    url: str, credentials: ReadOnlyCredentials, *, region: str, signed_at: datetime, expires_in: int
) -> str:
    """`url`, presigned for a GET with Signature Version 4 in the query string, as signed at
    `signed_at`: AWS's published algorithm ("Authenticating Requests: Using Query Parameters"),
    because botocore's signers always sign at the current time. S3's form of it: the path is
    signed as it is in the URL, only the host header is signed, and the payload is unsigned."""
    parts = urlsplit(url)
    stamp = signed_at.astimezone(UTC).strftime(_SIGV4_TIME)
    scope = f"{stamp[:8]}/{region}/s3/aws4_request"
    auth = {
        "X-Amz-Algorithm": _ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires_in),
        "X-Amz-SignedHeaders": "host",
    }
    if credentials.token:
        auth["X-Amz-Security-Token"] = credentials.token
    # The operation's own parameters first, then the signature's, as botocore writes them.
    query = "&".join([*filter(None, [parts.query]), *(f"{_encoded(k)}={_encoded(v)}" for k, v in auth.items())])
    canonical_query = "&".join(sorted(query.split("&"), key=lambda pair: tuple(pair.partition("=")[::2])))
    canonical_request = "\n".join(
        ["GET", parts.path or "/", canonical_query, f"host:{_host(url)}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    string_to_sign = "\n".join([_ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (stamp[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return urlunsplit((parts.scheme, parts.netloc, parts.path, f"{query}&X-Amz-Signature={signature}", parts.fragment))


def _encoded(value: str) -> str:
    """RFC 3986: everything but the unreserved characters percent-encoded."""
    return quote(value, safe="-_.~")


def _host(url: str) -> str:
    """The Host header a client sends for `url`: the port only when it is not the scheme's."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host
