"""Settings declared once: a config key's name, kind (its unit), bounds, default and environment
override live in the metadata of the dataclass field that holds the value.

``port: int = setting("health_port", 0, kind="int", low=0, high=65535, env=HEALTH_PORT)``
declares the key ``health_port`` of its section; one generic reader
(:func:`tracelens.agent.config_file.parse_config`) reads every declared field, and the example
file is checked against the same declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields
from datetime import timedelta
from typing import Any, Literal

Kind = Literal["text", "choice", "bool", "int", "duration", "seconds", "path", "location", "names"]
"""How a value is written and what it becomes.

- ``text``: a string (empty: the default);
- ``choice``: one of ``choices``;
- ``bool``: ``true``/``false``;
- ``int``: a whole number in ``[low, high]``;
- ``duration``: a duration (:mod:`tracelens.durations`) in ``[low, high]``, a ``timedelta``;
- ``seconds``: the same, held as a float number of seconds;
- ``path``: a file path, relative to the config file's directory;
- ``location``: a URL, or a directory relative to the config file's directory (a string);
- ``names``: a list of non-empty strings.
"""

Check = Callable[[Any], "str | None"]
"""Further validation of a read value: None, or what is wrong with it (the message)."""


@dataclass(frozen=True)
class Setting:
    """One config key (see :func:`setting`)."""

    key: str
    kind: Kind
    low: int | timedelta | None = None
    high: int | timedelta | None = None
    # The low bound is excluded: "more than 0s".
    above: bool = False
    choices: tuple[str, ...] = ()
    env: str | None = None
    fallback_env: tuple[str, ...] = ()
    check: Check | None = None
    # Never echo the value in a message (a webhook URL is a credential).
    secret: bool = False


@dataclass(frozen=True)
class Section:
    """A field holding a whole ``[name]`` table: ``holds``, a dataclass of declared settings."""

    name: str
    holds: type[Any]


def setting(
    key: str,
    default: Any,
    *,
    kind: Kind,
    low: int | timedelta | None = None,
    high: int | timedelta | None = None,
    above: bool = False,
    choices: tuple[str, ...] = (),
    env: str | None = None,
    fallback_env: tuple[str, ...] = (),
    check: Check | None = None,
    secret: bool = False,
) -> Any:
    """A dataclass field whose value is read from config key ``key``.

    ``env`` names a ``TRACELENS_*`` variable that overrides the file; ``fallback_env`` variables
    are read when neither sets the key.
    """
    declared = Setting(
        key,
        kind,
        low=low,
        high=high,
        above=above,
        choices=choices,
        env=env,
        fallback_env=fallback_env,
        check=check,
        secret=secret,
    )
    return field(default=default, repr=not secret, metadata={"setting": declared})


def fallback_value(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    """The first of the ``names`` variables set to more than blanks (stripped): a
    setting's ``fallback_env`` value."""
    for name in names:
        if environ.get(name, "").strip():
            return environ[name].strip()
    return None


def section(name: str, factory: type[Any]) -> Any:
    """A dataclass field holding the ``[name]`` table."""
    return field(default_factory=factory, metadata={"section": Section(name, factory)})


def declared_settings(cls: type[Any]) -> Iterator[tuple[Field[Any], Setting]]:
    """The fields of dataclass ``cls`` that are config keys, in declaration order."""
    for each in fields(cls):
        found = each.metadata.get("setting")
        if isinstance(found, Setting):
            yield each, found


def declared_sections(cls: type[Any]) -> Iterator[tuple[Field[Any], Section]]:
    """The fields of dataclass ``cls`` that hold a whole table."""
    for each in fields(cls):
        found = each.metadata.get("section")
        if isinstance(found, Section):
            yield each, found
