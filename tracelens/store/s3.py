"""The S3 backend: store files as objects under ``s3://bucket/prefix``.

A single PutObject is atomic (a reader gets the old object or the new one), so there are no
temporary objects. The client is injected: the agent, ``collect`` and the Lambda function pass
one from the configured session (profile, role, endpoint, retry settings; see
``tracelens.agent.aws``), tests one for a local endpoint; when none is given one is made from
a default ``boto3.Session`` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from tracelens.store.backend import Tail, check_key, is_hidden
from tracelens.store.errors import ChangedKeyError, MissingKeyError, StoreError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (prefix without slashes at either end).

    Raises
    ------
    ValueError
        When ``url`` is not an ``s3://`` URL with a bucket.
    """
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{url!r} is not an S3 location; write it as s3://bucket/prefix")
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


class S3Backend:
    """Objects under ``s3://bucket/prefix``.

    Parameters
    ----------
    bucket, prefix
        Where the store lives; the bucket must exist.
    client
        An S3 client (tests pass one with an ``endpoint_url``); default: made on first use.
    """

    def __init__(self, bucket: str, prefix: str = "", *, client: S3Client | None = None) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> S3Client:
        """The injected client, or one made from a default session on first use."""
        if self._client is None:
            # NOTE: imported here: a local store (analyze --store DIR) never loads boto3 (~0.2 s).
            import boto3  # noqa: PLC0415

            self._client = boto3.Session().client("s3")
        return self._client

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    def location(self, key: str) -> str:
        return f"s3://{self._bucket}/{self._object_key(key)}"

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self._prefix}/{key}" if self._prefix else key

    def read_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=self._object_key(key))
            return response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from exc

    def read_tail(self, key: str, size: int) -> Tail:
        # NOTE: a suffix range (bytes=-N) longer than the object returns all of it
        try:
            response = self.client.get_object(
                Bucket=self._bucket, Key=self._object_key(key), Range=f"bytes=-{size}"
            )
            data = response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return Tail(b"", 0, "")  # NOTE: an empty object has no range to return
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc
        # NOTE: "bytes 6-9/10": the object's size follows the slash (no range: all of it)
        content_range = response.get("ContentRange", "")
        total = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else len(data)
        return Tail(data, total, str(response["ETag"]))

    def read_rest(self, key: str, tail: Tail) -> bytes:
        if tail.whole:
            return tail.data
        try:
            response = self.client.get_object(
                Bucket=self._bucket,
                Key=self._object_key(key),
                Range=f"bytes=0-{tail.size - len(tail.data) - 1}",
                IfMatch=tail.version,
            )
            return bytes(response["Body"].read()) + tail.data
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise ChangedKeyError(f"{self.location(key)}: replaced while it was read") from exc
            raise self._error("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self._bucket, Key=self._object_key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("write", key, exc) from exc

    def list_keys(self, prefix: str) -> list[str]:
        root = self._object_key(prefix.rstrip("/")) + "/"
        strip = len(self._prefix) + 1 if self._prefix else 0
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=root
            )
            for page in pages:
                keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from exc
        return sorted(key for key in keys if not is_hidden(key.rsplit("/", 1)[-1]))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self._bucket, Key=self._object_key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", key, exc) from exc

    def write_if(self, key: str, data: bytes, *, version: str | None) -> bool:
        """Write ``key`` only if it does not exist (``version`` None) or still has the entity
        tag ``version`` (S3 conditional writes: If-None-Match / If-Match); False when not."""
        name = self._object_key(key)
        try:
            if version is None:
                self.client.put_object(Bucket=self._bucket, Key=name, Body=data, IfNoneMatch="*")
            else:
                self.client.put_object(Bucket=self._bucket, Key=name, Body=data, IfMatch=version)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise self._error("write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("write", key, exc) from exc
        return True

    def read_versioned(self, key: str) -> tuple[bytes, str]:
        """The content of ``key`` and its entity tag (for :meth:`write_if`)."""
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=self._object_key(key))
            return response["Body"].read(), str(response["ETag"])
        except (ClientError, BotoCoreError) as exc:
            raise self._error("read", key, exc) from exc

    def _error(self, action: str, key: str, exc: Exception) -> StoreError:
        where = self.location(key)
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            if code in _MISSING:
                return MissingKeyError(f"{where}: no such object")
            if code == "NoSuchBucket":
                return StoreError(
                    f"cannot {action} {where}: bucket {self._bucket} does not exist; create it "
                    "or set another store location"
                )
            hint = (
                "; `tracelens config iam-policy` prints the policy the store needs"
                if code in ("AccessDenied", "AllAccessDisabled")
                else ""
            )
            return StoreError(f"cannot {action} {where}: {code}: {error.get('Message', '')}{hint}")
        return StoreError(f"cannot {action} {where}: {exc}")
