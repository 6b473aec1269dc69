"""Logging for the agent, ``collect`` and the Lambda function: text, or one JSON object per
line (python-json-logger) for containers and CloudWatch Logs.

A JSON line has ``timestamp``, ``level``, ``logger`` and ``message``, plus the fields a record
carries (a cycle's ``cycle`` object: collector, status, items, API calls, throttles...).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

from tracelens import settings

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# NOTE: APScheduler logs two INFO lines per job run; the agent logs one line per cycle.
QUIET_LOGGERS = ("apscheduler", "botocore", "boto3", "urllib3")


class LoggingError(ValueError):
    """A log level or format that does not exist (names the variable or option to fix)."""


def resolve(
    level: str | None,
    fmt: str | None,
    *,
    default_level: str,
    environ: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """The level (option, else ``$TRACELENS_LOG_LEVEL``, else ``default_level``) and format
    (option, else ``$TRACELENS_LOG_FORMAT``, else text).

    Raises
    ------
    LoggingError
        When either names nothing known.
    """
    name = (level or settings.get(settings.LOG_LEVEL, environ) or default_level).upper()
    number = logging.getLevelName(name)
    if not isinstance(number, int):
        raise LoggingError(
            f"{settings.LOG_LEVEL}: {name!r} is not a level (DEBUG, INFO, WARNING, ERROR)"
        )
    shape = (fmt or settings.get(settings.LOG_FORMAT, environ) or "text").lower()
    if shape not in LOG_FORMATS:
        raise LoggingError(f"{settings.LOG_FORMAT}: {shape!r} is not a log format (text, json)")
    return number, shape


def json_formatter() -> logging.Formatter:
    """One JSON object per record."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    )


def configure_logging(level: int, fmt: str) -> None:
    """Log to stderr at ``level`` as ``fmt`` (``text`` or ``json``), replacing any handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
