"""What can go wrong in a store: errors that stop an operation, problems that a reader reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


class StoreError(Exception):
    """A store operation failed (unreachable bucket, unusable location, misuse of the API)."""


class MissingKeyError(StoreError, FileNotFoundError):
    """The object or file does not exist (deleted meanwhile, or never written)."""


class ChangedKeyError(StoreError):
    """The object or file was replaced between two reads of its parts (a tail, then the rest)."""


class CorruptFileError(StoreError):
    """A store file exists but cannot be read (truncated, garbage, wrong shape).

    Attributes
    ----------
    location
        The file's path or ``s3://`` URL.
    reason
        What is wrong with it.
    """

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


def decode_json(
    data: bytes,
    location: str,
    parse: Callable[[Any], T],
    *,
    what: str,
    inside: str = "",
    advice: str = "",
) -> T:
    """``parse`` of the JSON value in ``data`` (a store file's).

    Raises
    ------
    CorruptFileError
        Naming ``location``: "invalid JSON{inside} (...){advice}" when ``data`` is not JSON,
        "not {what} (...){advice}" when ``parse`` refuses the value (KeyError, TypeError or
        ValueError).
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptFileError(location, f"invalid JSON{inside} ({exc}){advice}") from exc
    try:
        return parse(value)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(location, f"not {what} ({exc!r}){advice}") from exc


@dataclass(frozen=True)
class StoreProblem:
    """A file a reader skipped, and why; the rest of the store was read.

    Attributes
    ----------
    location
        The file's path or ``s3://`` URL.
    reason
        What is wrong with it, e.g. ``"not a Parquet file (...)"``.
    """

    location: str
    reason: str

    def describe(self) -> str:
        """``<location>: <reason>``, for logs and the status command."""
        return f"{self.location}: {self.reason}"

    @classmethod
    def of(cls, error: CorruptFileError) -> StoreProblem:
        """The problem a :class:`CorruptFileError` describes."""
        return cls(error.location, error.reason)
