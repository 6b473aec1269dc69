"""The agent's config: the example file, validation reporting every problem, overrides, CLI."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.base import RetrySettings
from tests.builders.agent import invoke
from tests.builders.endpoint import FAKE_ENV, Aws
from tracelens import settings
from tracelens.agent.config import AgentConfig, ConfigError, EngineSettings, StoreSettings
from tracelens.agent.config_file import (
    COLLECTOR_KEYS,
    SECTION_KEYS,
    final_problems,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tracelens.example.toml"
NO_ENV: dict[str, str] = {}

BAD = """
[aws]
regon = "eu-west-1"
external_id = "abc"

[collect]
since = "forever"
step = "2h"

[collectors.xray]
interval = "1m"
timeout = "5m"
lag = true

[collectors.cloudwatch]
period = "90s"

[collectors.metrics]

[retry]
mode = "fast"
max_attempts = 0

[agent]
health_port = 70000

[extras]
"""


def test_the_example_documents_every_setting_and_parses_to_the_defaults() -> None:
    document = tomllib.loads(EXAMPLE.read_text())
    documented = {
        (section, key)
        for section, table in document.items()
        if section != "collectors"
        for key in table
    }
    documented |= {
        (f"collectors.{name}", key)
        for name, table in document["collectors"].items()
        for key in table
    }
    known = {(section, key) for section, keys in SECTION_KEYS.items() for key in keys}
    known |= {(f"collectors.{name}", key) for name, keys in COLLECTOR_KEYS.items() for key in keys}
    assert documented == known

    config = load_config(EXAMPLE, environ=NO_ENV)

    defaults = AgentConfig()
    assert config.aws.region == "us-east-1"  # the example's one non-default value
    assert replace(config.aws, region=None) == defaults.aws
    assert config.collect == defaults.collect
    assert config.retry == RetrySettings()
    assert config.collectors == defaults.collectors
    assert config.store.url == str(ROOT / "tl-data")  # relative to the file
    assert config.report == replace(defaults.report, path=ROOT / "tracelens-report.html")
    assert config.daemon.status_file == ROOT / "tracelens-status.json"
    assert config.daemon.health_port == 0
    assert config.alerts == defaults.alerts
    assert not config.alerts.enabled


def test_alert_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        '[alerts]\nsns_topic_arn = "arn:aws:sns:us-east-1:123456789012:t"\n'
        'webhook_url = "https://hooks.slack.com/services/T/B/x"\nevent_bus = "default"\n'
        'min_severity = "warning"\ncooldown = "30m"\nresolve_after = 3\nlink_expiry = "1d"\n'
    )
    config = load_config(path, environ=NO_ENV)
    assert config.alerts.enabled
    assert config.alerts.min_severity == "warning"
    assert config.alerts.cooldown == timedelta(minutes=30)
    assert config.alerts.resolve_after == 3
    assert "hooks.slack.com" not in repr(config.alerts)  # the URL is a credential

    path.write_text(
        '[alerts]\nsns_topic_arn = "tracelens-alerts"\nwebhook_url = "hooks.slack.com/x"\n'
        'webhook_format = "teams"\nmin_severity = "info"\nresolve_after = 0\n'
        'link_expiry = "8d"\ncoldown = "1h"\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ=NO_ENV)
    where = [problem.where.removeprefix(f"{path}: ") for problem in raised.value.problems]
    assert where == [
        "[alerts] coldown",
        "[alerts] sns_topic_arn",
        "[alerts] webhook_url",
        "[alerts] webhook_format",
        "[alerts] min_severity",
        "[alerts] resolve_after",
        "[alerts] link_expiry",
    ]
    assert "hooks.slack.com" not in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ=NO_ENV)

    where = [problem.where.removeprefix(f"{path}: ") for problem in raised.value.problems]
    assert where == [
        "[extras]",
        "[aws] regon",
        "[aws] external_id",
        "[collect] since",
        "[collect] step",
        "[retry] mode",
        "[retry] max_attempts",
        "[collectors] metrics",
        "[collectors.xray] lag",
        "[collectors.xray] timeout",
        "[collectors.cloudwatch] period",
        "[agent] health_port",
    ]
    messages = {p.where.split(": ", 1)[1]: p.message for p in raised.value.problems}
    assert "did you mean 'region'?" in messages["[aws] regon"]
    assert "at most the interval" in messages["[collectors.xray] timeout"]
    assert str(raised.value).count("\n  - ") == 12


def test_the_spans_destination_may_be_declared_for_endpoints_without_the_api() -> None:
    def spans(value: str) -> str | None:
        config = parse_config({"collectors": {"spans": {"destination": value}}}, environ=NO_ENV)
        (settings,) = [c for c in config.collectors if c.name == "spans"]
        return settings.destination

    assert spans("") is None  # read with GetTraceSegmentDestination
    assert spans("CloudWatchLogs") == "CloudWatchLogs"
    assert spans("XRay") == "XRay"
    with pytest.raises(ConfigError) as raised:
        spans("cloudwatch")
    (problem,) = raised.value.problems
    assert problem.where.endswith("[collectors.spans] destination")
    assert '"CloudWatchLogs" or "XRay"' in problem.message


def test_a_file_that_is_not_toml_or_missing_is_one_clear_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[aws\nregion = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, environ=NO_ENV)
    with pytest.raises(ConfigError, match=r"copy tracelens\.example\.toml"):
        load_config(tmp_path / "absent.toml", environ=NO_ENV)


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b'\xef\xbb\xbf[aws]\nregion = "eu-west-1"\n')
    assert load_config(path, environ=NO_ENV).aws.region == "eu-west-1"


def test_a_file_that_is_not_utf8_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[aws]\naccount = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 20\); save the file as UTF-8"):
        load_config(path, environ=NO_ENV)


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    environ = {
        settings.STORE: "s3://bucket/tl",
        settings.STATUS_FILE: "/var/run/tl.json",
        settings.HEALTH_PORT: "8089",
        "AWS_REGION": "ap-south-1",
    }

    config = parse_config({"store": {"url": "local"}}, base=tmp_path, environ=environ)

    assert config.store.url == "s3://bucket/tl"
    assert config.daemon.status_file == Path("/var/run/tl.json")
    assert config.daemon.health_port == 8089
    assert config.aws.region == "ap-south-1"


def test_default_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config({}, base=tmp_path, environ=NO_ENV)
    assert config.report.path == tmp_path / "tracelens-report.html"
    assert config.daemon.status_file == tmp_path / "tracelens-status.json"
    assert config.store.url == str(tmp_path / "tl-data")
    without_file = parse_config({}, environ=NO_ENV)
    assert without_file.daemon.status_file == Path("tracelens-status.json")


def test_command_line_overrides_win() -> None:
    config = parse_config({"aws": {"region": "eu-west-1"}}, environ=NO_ENV).with_overrides(
        store_url="/tmp/s", since=timedelta(hours=5), region="us-west-2", endpoint_url="http://x"
    )
    assert (config.store.url, config.collect.since) == ("/tmp/s", timedelta(hours=5))
    assert (config.aws.region, config.aws.endpoint_url) == ("us-west-2", "http://x")


def test_config_check_prints_the_settings_or_every_problem(tmp_path: Path) -> None:
    good = invoke("config", "check", "--config", str(EXAMPLE))
    assert good.exit_code == 0
    assert "iam_policy.json" in good.stdout
    assert "xray       every 5m, timeout 4m, lag 2m" in good.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    no_region = {
        "AWS_REGION": "",
        "AWS_DEFAULT_REGION": "",
        "AWS_PROFILE": "",
        "AWS_CONFIG_FILE": str(tmp_path / "absent"),
    }
    result = invoke("config", "check", "--config", str(bad), env=no_region)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 13  # the 12 above, and no region left at all
    assert errors[-1].endswith("(or a region in the profile)")


@pytest.mark.parametrize(
    "command", [["collect"], ["agent"], ["config"], ["config", "check"], ["demo"]]
)
def test_every_agent_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert len(result.stdout.split("\n\n", 2)[1].strip()) > 20


def test_collect_without_once_explains_itself() -> None:
    result = invoke("collect")
    assert result.exit_code == 2
    assert "--once" in result.stderr and "tracelens agent" in result.stderr


def test_every_tracelens_environment_variable_is_a_documented_setting() -> None:
    used = {
        name
        for path in (ROOT / "tracelens").rglob("*.py")
        for name in re.findall(r"\bTRACELENS_[A-Z_]+\b", path.read_text())
    }
    assert used <= set(settings.ALL)
    example = EXAMPLE.read_text()
    for name in settings.ALL:
        assert name in example, f"{name} is not documented in tracelens.example.toml"


def test_an_unknown_profile_is_a_problem_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent"))
    config = parse_config({"aws": {"region": "eu-west-1", "profile": "nope"}}, environ=NO_ENV)

    (problem,) = final_problems(config)

    assert problem.where.endswith("[aws] profile")
    assert "(nope) could not be found" in problem.message
    result = invoke("collect", "--once", "--profile", "nope", "--region", "eu-west-1")
    assert result.exit_code == 1
    assert "[aws] profile" in result.stderr


def test_the_health_endpoint_binds_where_configured() -> None:
    assert parse_config({}, environ=NO_ENV).daemon.health_host == "127.0.0.1"
    config = parse_config({"agent": {"health_host": "0.0.0.0"}}, environ=NO_ENV)
    assert config.daemon.health_host == "0.0.0.0"
    override = parse_config(
        {"agent": {"health_host": "0.0.0.0"}}, environ={settings.HEALTH_HOST: "::"}
    )
    assert override.daemon.health_host == "::"

    with pytest.raises(ConfigError) as refused:
        parse_config({"agent": {"health_host": "example.com"}}, environ=NO_ENV)
    wheres = {problem.where for problem in refused.value.problems}
    assert wheres == {"<config>: [agent] health_host"}


def test_config_check_probe_says_where_traces_go(aws: Aws, tmp_path: Path) -> None:
    path = tmp_path / "tracelens.toml"
    path.write_text(f'[aws]\naccount = "test"\nregion = "us-east-1"\nendpoint_url = "{aws.url}"\n')

    result = invoke("config", "check", "--probe", "--config", str(path), env=FAKE_ENV)

    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("traces:")]
    # moto lacks GetTraceSegmentDestination (refused as 404 or 500 by its releases): the mode is
    # unknown, and the line says why; which refusal means what is the collector's contract test
    assert "test (us-east-1): trace destination unknown (xray:GetTraceSegmentDestination" in line


def test_every_setting_is_declared_once_on_its_field() -> None:
    from dataclasses import fields

    from collectors.base import RetrySettings
    from tracelens.agent.config import CollectorSettings
    from tracelens.agent.config_file import _section_class
    from tracelens.declared import declared_settings

    # Fields that are not config keys: the collector's own backoff between calls is not
    # configurable.
    not_keys = {"backoff_base_s", "backoff_max_s"}
    for section, keys in SECTION_KEYS.items():
        if section == "findings":  # declared in analyses/finding_thresholds.py
            continue
        cls = _section_class(section)
        declared = [each.name for each, _ in declared_settings(cls)]
        assert {each.name for each in fields(cls)} - not_keys == set(declared), section
        assert len(keys) == len(declared)
    sections = {_section_class(name) for name in SECTION_KEYS if name != "findings"}
    assert {RetrySettings, StoreSettings} <= sections
    # One mechanism: every [section] is a dataclass of its own; the config holds no key itself.
    assert list(declared_settings(AgentConfig)) == []
    all_keys = {key for keys in COLLECTOR_KEYS.values() for key in keys}
    assert all_keys == {each.key for _, each in declared_settings(CollectorSettings)}


def test_bounds_come_from_the_declarations_and_every_problem_names_its_key() -> None:
    data = {
        "retry": {"connect_timeout": "0s", "call_attempts": 21},
        "alerts": {"link_expiry": "8d", "min_severity": "info"},
        "agent": {"metrics_address": "example.org", "health_port": True},
        "collect": {"functions": ["a", 3], "since": ""},
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(data, source="c.toml", environ=NO_ENV)
    messages = {problem.where: problem.message for problem in raised.value.problems}
    assert messages == {
        "c.toml: [collect] since": '\'\' is not a duration; write e.g. "90s", "5m", "1h30m", '
        '"2d" or a number of seconds',
        "c.toml: [collect] functions": "must be a list of function names (strings)",
        "c.toml: [retry] call_attempts": "must be between 1 and 20",
        "c.toml: [retry] connect_timeout": "must be more than 0s and at most 10m",
        "c.toml: [agent] health_port": "must be a whole number, not True",
        "c.toml: [agent] metrics_address": "'example.org' is not an IP address (e.g. 0.0.0.0)",
        "c.toml: [alerts] min_severity": '\'info\' must be "critical" or "warning"',
        "c.toml: [alerts] link_expiry": "must be more than 0s and at most 7d",
    }


def test_a_port_variable_that_is_not_ascii_digits_is_a_problem_not_a_traceback() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({}, environ={settings.HEALTH_PORT: "²", settings.METRICS_PORT: "80"})
    (problem,) = raised.value.problems
    assert problem.where.endswith(settings.HEALTH_PORT)
    assert "'²' is not a whole number" in problem.message


def test_the_command_line_reads_durations_as_the_config_file_does() -> None:
    from tracelens.cli.collect import look_back
    from tracelens.timewindow import TimeWindow

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert TimeWindow.parse("1h30m", None, now=now).start == now - timedelta(minutes=90)
    assert look_back("1h30m") is not None
    assert abs(look_back("1h30m") - timedelta(minutes=90)) < timedelta(minutes=1)  # type: ignore[operator]
    assert parse_config({"collect": {"since": "1h30m"}}, environ=NO_ENV).collect.since == (
        timedelta(minutes=90)
    )


def test_the_engine_section_is_read_and_checked_like_the_others(tmp_path: Path) -> None:
    assert parse_config({}, environ=NO_ENV).engine == EngineSettings()
    read = parse_config(
        {"engine": {"name": "dask", "address": "tcp://scheduler:8786", "split": "bucket"}},
        environ=NO_ENV,
    )
    assert read.engine == EngineSettings("dask", "tcp://scheduler:8786", 0, "bucket")

    with pytest.raises(ConfigError) as error:
        parse_config(
            {"engine": {"nmae": "dask", "name": "dsk", "workers": 0.5, "address": "sched"}},
            environ=NO_ENV,
        )
    problems = [problem.describe() for problem in error.value.problems]
    assert len(problems) == 4, problems
    assert "[engine] nmae: unknown setting; did you mean 'name'?" in problems[0]
    assert '[engine] name: \'dsk\' must be "local", "processes" or "dask"' in problems[1]
    assert "[engine] address: 'sched' is not a Dask scheduler address" in problems[2]
    assert "[engine] workers: must be a whole number" in problems[3]

    with pytest.raises(ConfigError) as error:
        parse_config({"engine": {"address": "tcp://scheduler:8786"}}, environ=NO_ENV)
    assert 'set name = "dask"' in str(error.value)

    config = tmp_path / "engine.toml"
    config.write_text('[aws]\nregion = "eu-west-1"\n\n[engine]\nworkers = 2\nspit = "day"\n')
    checked = invoke("config", "check", "--config", str(config))
    assert checked.exit_code == 1
    assert "[engine] spit: unknown setting; did you mean 'split'?" in checked.stderr
    config.write_text('[aws]\nregion = "eu-west-1"\n\n[engine]\nworkers = 2\n')
    shown = invoke("config", "check", "--config", str(config))
    assert shown.exit_code == 0, shown.output
    assert "engine:    store rollup on processes (2 workers), a task per day" in shown.stdout
