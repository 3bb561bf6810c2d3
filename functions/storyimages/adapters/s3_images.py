"""Images in a private S3 bucket; the app reads them through presigned GET URLs."""

from __future__ import annotations

from functools import cached_property
from typing import Any


class S3ImageStorage:
    def __init__(self, bucket: str, *, client: Any = None, url_expiry_seconds: int = 3600) -> None:
        self._bucket = bucket
        self._injected = client
        self._url_expiry_seconds = url_expiry_seconds

    @cached_property
    def _s3(self) -> Any:
        if self._injected is not None:
            return self._injected
        import boto3
        from botocore.config import Config

        return boto3.client("s3", config=Config(signature_version="s3v4"))

    def exists(self, key: str) -> bool:
        # A listing by prefix, not a HEAD: HEAD on a missing key answers 403 unless the role may
        # list the whole bucket, and this one may list only under images/ (IAM s3:prefix).
        listing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        return any(item["Key"] == key for item in listing.get("Contents", []))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())

    def url_for(self, key: str) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=self._url_expiry_seconds,
            )
        )
