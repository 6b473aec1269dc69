"""What can go wrong in a store: errors that stop an operation, problems that a reader reports."""

from __future__ import annotations

from dataclasses import dataclass


class StoreError(Exception):
    """A store operation failed (unreachable bucket, unusable location, misuse of the API)."""


class MissingKeyError(StoreError, FileNotFoundError):
    """The object or file does not exist (deleted meanwhile, or never written)."""


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
