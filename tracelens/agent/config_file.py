"""Reading and validating the agent's TOML config file, reporting every problem at once.

Each value is checked where it is read; a wrong one is recorded as a :class:`ConfigProblem`
and replaced by its default so that checking goes on. Unknown sections and keys are problems
too (with the closest known name), because a misspelt key would otherwise be ignored silently.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from analyses.finding_thresholds import (
    THRESHOLD_NAMES,
    FindingSettings,
    ThresholdError,
    Thresholds,
    threshold_value,
)
from collectors import registry
from tracelens import settings
from tracelens.agent.config import (
    COLLECTOR_NAMES,
    DEFAULT_COLLECTORS,
    NO_REGION,
    AgentConfig,
    AwsSettings,
    CollectorSettings,
    ConfigError,
    ConfigProblem,
    EngineSettings,
    TargetSettings,
    region_problem,
)
from tracelens.declared import (
    Section,
    Setting,
    declared_sections,
    declared_settings,
    fallback_value,
)
from tracelens.durations import DurationError, format_duration, parse_duration
from tracelens.ingest.opening.sources import special_file_kind

_ROOT_SECTIONS = tuple(each.name for _, each in declared_sections(AgentConfig))
SECTIONS: tuple[str, ...] = tuple(
    each.metadata["section"].name
    if "section" in each.metadata
    else "targets"
    if "targets" in each.metadata
    else each.metadata.get("table", "collectors")
    for each in fields(AgentConfig)
    if {"section", "collectors", "table", "targets"} & set(each.metadata)
)
"""Every ``[section]`` of the file."""
# NOTE: the [findings] thresholds are declared (with their units and bounds) in
# analyses/finding_thresholds.py, where the analyses read them.
FINDINGS_KEYS: tuple[str, ...] = (*THRESHOLD_NAMES, "silence")


def _section_class(name: str) -> type[Any]:
    for _, declared in declared_sections(AgentConfig):
        if declared.name == name:
            return declared.holds
    raise KeyError(name)


SECTION_KEYS: Mapping[str, tuple[str, ...]] = {
    **{
        name: tuple(each.key for _, each in declared_settings(_section_class(name)))
        for name in _ROOT_SECTIONS
    },
    "findings": FINDINGS_KEYS,
}
"""The keys of every section but ``[collectors.*]``, from their declarations."""

COLLECTOR_KEYS: Mapping[str, tuple[str, ...]] = {
    registration.name: tuple(
        each.key
        for _, each in declared_settings(CollectorSettings)
        if each.key in ("enabled", "interval", "timeout")
        or (each.key == "lag" and registration.windows)
        or each.key in registration.options
    )
    for registration in registry.REGISTRY
}
"""The keys of each ``[collectors.<name>]``: the common ones, ``lag`` for the collectors that
read windows, and the collector's own options."""

TARGET_KEYS: tuple[str, ...] = tuple(each.key for _, each in declared_settings(TargetSettings))
"""The keys of each ``[[targets]]`` table."""


class _Reader:
    """Reads declared settings from the file's tables, recording problems instead of raising."""

    def __init__(
        self,
        source: str,
        problems: list[ConfigProblem],
        base: Path | None,
        environ: Mapping[str, str],
    ) -> None:
        self.source = source
        self.problems = problems
        self.base = base
        self.environ = environ

    def problem(self, where: str, message: str) -> None:
        self.problems.append(ConfigProblem(f"{self.source}: {where}", message))

    def table(
        self, data: Mapping[str, Any], name: str, keys: tuple[str, ...], *, label: str = ""
    ) -> dict[str, Any]:
        label = label or name
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.problem(f"[{label}]", f"must be a table, not {type(value).__name__}")
            return {}
        for key in value:
            if key not in keys:
                self.problem(f"[{label}] {key}", _unknown(key, keys))
        return value

    def fields(
        self,
        cls: type[Any],
        table: Mapping[str, Any],
        label: str,
        defaults: Any,
        keys: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """The declared fields of ``cls`` read from ``table``: field name -> value."""
        values: dict[str, Any] = {}
        for each, declared in declared_settings(cls):
            if keys is not None and declared.key not in keys:
                continue
            values[each.name] = self.value(table, label, declared, getattr(defaults, each.name))
        return values

    def value(self, table: Mapping[str, Any], label: str, declared: Setting, default: Any) -> Any:
        """One setting: its environment override, else the file, else a fallback variable,
        else ``default`` (also in place of a wrong value, recorded as a problem)."""
        where = f"[{label}] {declared.key}"
        default = self._relative_default(declared, default)
        if declared.env is not None:
            text = settings.get(declared.env, self.environ)
            if text is not None:
                return self._from_environment(declared, text, default)
        raw = table.get(declared.key)
        # NOTE: an empty string means "unset" for text and paths only ("" is no duration).
        unset = isinstance(raw, str) and not raw.strip() and declared.kind in _TEXT_KINDS
        if raw is None or unset:
            found = fallback_value(declared.fallback_env, self.environ)
            return default if found is None else found
        value, message = _convert(declared, raw, self.base)
        if message is None and declared.check is not None:
            message = declared.check(value)
        if message is not None:
            self.problem(where, message)
            return default
        return value

    def _relative_default(self, declared: Setting, default: Any) -> Any:
        """A default path is relative to the config file's directory, as a written one is."""
        if self.base is None:
            return default
        if declared.kind == "path" and isinstance(default, Path):
            return _relative_to(self.base, str(default))
        if declared.kind == "location" and isinstance(default, str) and "://" not in default:
            return str(_relative_to(self.base, default))
        return default

    def _from_environment(self, declared: Setting, text: str, default: Any) -> Any:
        if declared.kind == "int":
            # NOTE: str.isdigit() is true for "²", which int() refuses: ASCII digits only.
            if not (text.isascii() and text.isdigit()):
                self.problem(declared.env or "", f"{text!r} is not a whole number")
                return default
            value: Any = int(text)
            message = _bounds(declared, value)
        elif declared.kind == "path":
            value, message = Path(text).expanduser(), None
        else:
            value, message = _convert(declared, text, None)
        if message is None and declared.check is not None:
            message = declared.check(value)
        if message is not None:
            self.problem(declared.env or "", message)
            return default
        return value


_TEXT_KINDS = frozenset({"text", "path", "location"})


def _convert(declared: Setting, raw: Any, base: Path | None) -> tuple[Any, str | None]:
    """``raw`` (a TOML value) as ``declared`` holds it, or the message saying why not."""
    if declared.kind in _NOT_STRINGS:
        return _NOT_STRINGS[declared.kind](declared, raw)
    if not isinstance(raw, str):
        return None, f"must be a string, not {raw!r}"
    text = raw.strip()
    if declared.kind == "choice" and text not in declared.choices:
        shown = "the value" if declared.secret else repr(text)
        *first, last = (f'"{choice}"' for choice in declared.choices)
        options = f"{', '.join(first)} or {last}" if first else last
        return None, f"{shown} must be {options}"
    if declared.kind == "path":
        return _relative_to(base, text), None
    if declared.kind == "location" and "://" not in text:
        return str(_relative_to(base, text)), None
    return text, None


def _boolean(declared: Setting, raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, bool):
        return None, f"must be a boolean (true/false), not {raw!r}"
    return raw, None


def _whole(declared: Setting, raw: Any) -> tuple[Any, str | None]:
    # NOTE: Python's bool is an int; `health_port = true` must still be refused.
    if not isinstance(raw, int) or isinstance(raw, bool):
        return None, f"must be a whole number, not {raw!r}"
    return raw, _bounds(declared, raw)


def _span(declared: Setting, raw: Any) -> tuple[Any, str | None]:
    try:
        span = parse_duration(raw)
    except DurationError as exc:
        return None, str(exc)
    return (span.total_seconds() if declared.kind == "seconds" else span), _bounds(declared, span)


def _names(declared: Setting, raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, list) or not all(isinstance(name, str) and name for name in raw):
        what = "function names" if declared.key == "functions" else "names"
        return None, f"must be a list of {what} (strings)"
    return tuple(raw), None


_NOT_STRINGS: Mapping[str, Callable[[Setting, Any], tuple[Any, str | None]]] = {
    "bool": _boolean,
    "int": _whole,
    "duration": _span,
    "seconds": _span,
    "names": _names,
}


def _shown(bound: int | timedelta) -> str:
    return format_duration(bound) if isinstance(bound, timedelta) else str(bound)


def _bounds(declared: Setting, value: Any) -> str | None:
    low, high = declared.low, declared.high
    too_low = low is not None and (value <= low if declared.above else value < low)
    too_high = high is not None and value > high
    if not (too_low or too_high):
        return None
    if low is not None and high is not None:
        if declared.above:
            return f"must be more than {_shown(low)} and at most {_shown(high)}"
        return f"must be between {_shown(low)} and {_shown(high)}"
    if low is not None:
        return (
            f"must be more than {_shown(low)}"
            if declared.above
            else f"must be {_shown(low)} or more"
        )
    return f"must be at most {_shown(high)}" if high is not None else None


def _unknown(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}known: {', '.join(known)}"


def _relative_to(base: Path | None, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _section(reader: _Reader, data: Mapping[str, Any], name: str, cls: type[Any]) -> Any:
    table = reader.table(data, name, SECTION_KEYS[name])
    defaults = cls()
    read = replace(defaults, **reader.fields(cls, table, name, defaults))
    check = _SECTION_CHECKS.get(name)
    return read if check is None else check(reader, read)


def _one_collector(reader: _Reader, name: str, table: Mapping[str, Any]) -> CollectorSettings:
    where = f"collectors.{name}"
    default = DEFAULT_COLLECTORS[name]
    known = len(reader.problems)
    values = reader.fields(CollectorSettings, table, where, default, COLLECTOR_KEYS[name])
    settings_ = replace(default, **values)
    timeout_read = "timeout" in table and not any(
        problem.where.endswith(f"[{where}] timeout") for problem in reader.problems[known:]
    )
    if not timeout_read:
        settings_ = replace(settings_, timeout=min(default.timeout, settings_.interval))
    elif settings_.timeout > settings_.interval:
        reader.problem(f"[{where}] timeout", "must be more than 0s and at most the interval")
        settings_ = replace(settings_, timeout=min(default.timeout, settings_.interval))
    return settings_


def _collectors(reader: _Reader, data: Mapping[str, Any]) -> tuple[CollectorSettings, ...]:
    tables = reader.table(data, "collectors", COLLECTOR_NAMES)
    result: list[CollectorSettings] = []
    for name in COLLECTOR_NAMES:
        table = reader.table(tables, name, COLLECTOR_KEYS[name], label=f"collectors.{name}")
        result.append(_one_collector(reader, name, table))
    if not any(settings.enabled for settings in result):
        reader.problem("[collectors]", "every collector is disabled; enable at least one")
    return tuple(result)


def _check_aws(reader: _Reader, aws: AwsSettings) -> AwsSettings:
    if aws.external_id and not aws.role_arn:
        reader.problem("[aws] external_id", "is set without role_arn; set role_arn too")
    return aws


def _targets(reader: _Reader, data: Mapping[str, Any]) -> tuple[TargetSettings, ...]:
    """The ``[[targets]]`` tables, each read like a section (unknown keys, bounds, checks)."""
    raw = data.get("targets", [])
    if not isinstance(raw, list):
        reader.problem(
            "[targets]", "must be an array of tables: write a [[targets]] table per target"
        )
        return ()
    found: list[TargetSettings] = []
    for number, item in enumerate(raw, 1):
        where = f"targets #{number}"
        if not isinstance(item, dict):
            reader.problem(f"[{where}]", f"must be a table, not {type(item).__name__}")
            continue
        table = reader.table({where: item}, where, TARGET_KEYS)
        defaults = TargetSettings()
        target = replace(defaults, **reader.fields(TargetSettings, table, where, defaults))
        if not str(table.get("label") or "").strip():
            reader.problem(f"[{where}] label", 'is required: the account\'s label (e.g. "prod")')
        if target.external_id and not target.role_arn:
            reader.problem(f"[{where}] external_id", "is set without role_arn; set role_arn too")
        found.append(target)
    return tuple(found)


def _role_account(role_arn: str | None) -> str | None:
    """The account id in a role ARN (``arn:aws:iam::<id>:role/...``), if it has one."""
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _check_targets(reader: _Reader, config: AgentConfig, data: Mapping[str, Any]) -> None:
    """What the targets cannot check alone: duplicates, collectors, unused [aws] settings."""
    if not config.targets:
        return
    aws_table = data.get("aws", {}) if isinstance(data.get("aws"), dict) else {}
    defaults = AwsSettings()
    for key in ("account", "role_arn", "external_id"):
        if aws_table.get(key) and aws_table.get(key) != getattr(defaults, key):
            reader.problem(
                f"[aws] {key}",
                f"is not used with [[targets]]: set {'label' if key == 'account' else key} "
                "on each target instead",
            )
    if config.aws.role_scope == "all":
        reader.problem(
            "[aws] role_scope",
            '"all" needs [aws] role_arn, which [[targets]] replace: the store and the alerts '
            'use the agent\'s own credentials; set "collect"',
        )
    enabled = {settings.name for settings in config.enabled_collectors}
    seen: dict[tuple[str, str], int] = {}
    accounts: dict[str, tuple[int, str]] = {}
    for number, target in enumerate(config.targets, 1):
        where = f"[targets #{number}]"
        region = target.region or config.aws.region
        if target.label and region:
            first = seen.setdefault((target.label, region), number)
            if first != number:
                reader.problem(
                    f"{where} label",
                    f"{target.label!r} in {region} is also targets #{first}: two targets "
                    "would share checkpoints and data; give each account and region one target",
                )
        # NOTE: a missing region is not refused here: --region or the profile's region may
        # still give [aws] one (final_problems checks it once they are applied).
        account = _role_account(target.role_arn)
        if target.label and account is not None:
            other = accounts.setdefault(target.label, (number, account))
            if other[1] != account:
                reader.problem(
                    f"{where} role_arn",
                    f"is in account {account}, but label {target.label!r} names account "
                    f"{other[1]} in targets #{other[0]}: one label per account",
                )
        for name in target.collectors:
            if name in COLLECTOR_NAMES and name not in enabled:
                reader.problem(
                    f"{where} collectors",
                    f"{name!r} is disabled in [collectors.{name}]; enable it there",
                )


def _check_engine(reader: _Reader, engine: EngineSettings) -> EngineSettings:
    if engine.address and engine.name != "dask":
        reader.problem(
            "[engine] address",
            f'names a Dask scheduler, but [engine] name is "{engine.name}": set name = "dask"',
        )
        return replace(engine, address=None)
    return engine


# What no single setting can check: settings of one section that need each other.
_SECTION_CHECKS: Mapping[str, Callable[[_Reader, Any], Any]] = {
    "aws": _check_aws,
    "engine": _check_engine,
}


def _findings(reader: _Reader, data: Mapping[str, Any]) -> FindingSettings:
    table = reader.table(data, "findings", SECTION_KEYS["findings"])
    values: dict[str, Any] = {}
    for name in THRESHOLD_NAMES:
        if name in table:
            try:
                values[name] = threshold_value(name, table[name])
            except ThresholdError as exc:
                reader.problem(f"[findings] {name}", str(exc))
    silence = table.get("silence", [])
    keys = (
        tuple(key for key in silence if isinstance(key, str) and key)
        if isinstance(silence, list)
        else ()
    )
    if not isinstance(silence, list) or len(keys) != len(silence):
        reader.problem(
            "[findings] silence", 'must be a list of finding keys (e.g. "dns:orders -> db")'
        )
    return FindingSettings(thresholds=Thresholds(**values), silence=keys)


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    base: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """The config in ``data`` (a parsed TOML document), with ``TRACELENS_*`` overrides.

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    env = os.environ if environ is None else environ
    problems: list[ConfigProblem] = []
    reader = _Reader(source, problems, base, env)
    for key in data:
        if key not in SECTIONS:
            reader.problem(f"[{key}]", _unknown(key, SECTIONS))
    values: dict[str, Any] = {"source": source}
    for each in fields(AgentConfig):
        if isinstance(each.metadata.get("section"), Section):
            name = each.metadata["section"].name
            values[each.name] = _section(reader, data, name, _section_class(name))
        elif each.metadata.get("collectors"):
            values[each.name] = _collectors(reader, data)
        elif each.metadata.get("targets"):
            values[each.name] = _targets(reader, data)
        elif each.metadata.get("table") == "findings":
            values[each.name] = _findings(reader, data)
    config = AgentConfig(**values)
    _check_targets(reader, config, data)
    if problems:
        raise ConfigError(problems, partial=config)
    return config


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """The config in ``path`` (default: ``$TRACELENS_CONFIG``; none: every default).

    Raises
    ------
    ConfigError
        When the file cannot be read, is not TOML, or has any invalid setting (all listed).
    """
    env = os.environ if environ is None else environ
    named = path if path is not None else settings.get(settings.CONFIG, env)
    if named is None:
        return parse_config({}, source="<defaults>", base=None, environ=env)
    file = Path(named).expanduser()
    kind = special_file_kind(file)
    if kind is not None:
        problem = f"not a regular file ({kind}): reading it could block; name a TOML file"
        raise ConfigError([ConfigProblem(str(file), problem)])
    try:
        # NOTE: utf-8-sig also reads files that Windows editors saved with a byte order mark.
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = "; copy tracelens.example.toml to start one" if not file.exists() else ""
        raise ConfigError([ConfigProblem(str(file), f"cannot read: {reason}{hint}")]) from exc
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise ConfigError([ConfigProblem(str(file), problem)]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(file), f"not valid TOML: {exc}")]) from exc
    except RecursionError as exc:
        problem = "not a config: arrays or tables nested too deeply to read"
        raise ConfigError([ConfigProblem(str(file), problem)]) from exc
    return parse_config(data, source=str(file), base=file.parent, environ=env)


def with_region_from_profile(config: AgentConfig) -> AgentConfig:
    """``config`` with the region of its profile (or of the default one) when none is set."""
    if config.aws.region:
        return config
    try:
        region = boto3.Session(profile_name=config.aws.profile).region_name
    except BotoCoreError:
        region = None
    return replace(config, aws=replace(config.aws, region=region)) if region else config


def final_problems(config: AgentConfig) -> list[ConfigProblem]:
    """Problems left once command-line options are applied: no region, an unknown profile."""
    where = config.source or "<config>"
    problems: list[ConfigProblem] = []
    if config.targets:
        return problems + _target_problems(config, where)
    if not config.aws.region:
        problems.append(ConfigProblem(f"{where}: [aws] region", NO_REGION))
    elif message := region_problem(config.aws.region):
        problems.append(ConfigProblem(f"{where}: [aws] region", message))
    if config.aws.profile:
        try:
            boto3.Session(profile_name=config.aws.profile)
        except BotoCoreError as exc:
            message = f"{exc}; list profiles with `aws configure list-profiles`"
            problems.append(ConfigProblem(f"{where}: [aws] profile", message))
    return problems


def _target_problems(config: AgentConfig, where: str) -> list[ConfigProblem]:
    """:func:`final_problems` of a config with ``[[targets]]``: each one's region and profile."""
    problems: list[ConfigProblem] = []
    profiles: dict[str, str] = {}
    if config.aws.region and (message := region_problem(config.aws.region)):
        problems.append(ConfigProblem(f"{where}: [aws] region", message))
    for number, target in enumerate(config.targets, 1):
        if not (target.region or config.aws.region):
            problems.append(ConfigProblem(f"{where}: [targets #{number}] region", NO_REGION))
        profile = target.profile or config.aws.profile
        if profile:
            profiles.setdefault(profile, f"[targets #{number}] profile")
    for profile, key in profiles.items():
        try:
            boto3.Session(profile_name=profile)
        except BotoCoreError as exc:
            message = f"{exc}; list profiles with `aws configure list-profiles`"
            problems.append(ConfigProblem(f"{where}: {key}", message))
    return problems
