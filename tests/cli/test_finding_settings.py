"""Finding settings from the config file's [findings] table and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyses.finding_thresholds import FindingSettings, Thresholds, describe_thresholds
from tracelens.agent.config import ConfigError
from tracelens.agent.config_file import parse_config
from tracelens.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_config_file_findings_table() -> None:
    config = parse_config(
        {
            "findings": {
                "cold_start_rate_critical": 0.3,
                "min_invocations": 10,
                "silence": ["dns:orders -> db.internal"],
            }
        },
        environ={},
    )
    assert config.findings == FindingSettings(
        thresholds=Thresholds(cold_start_rate_critical=0.3, min_invocations=10),
        silence=("dns:orders -> db.internal",),
    )
    assert parse_config({}, environ={}).findings == FindingSettings()


def test_config_file_findings_problems_are_all_listed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"findings": {"min_invocations": "many", "cold_start": 1, "silence": [1]}},
            source="t.toml",
            environ={},
        )
    text = str(caught.value)
    assert "t.toml: [findings] min_invocations: threshold min_invocations must be a whole" in text
    assert "[findings] cold_start: unknown setting" in text
    assert "[findings] silence: must be a list of finding keys" in text


def _findings(*args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    result = CliRunner().invoke(
        main,
        ["analyze", str(ROOT / "sample_traces"), "--json", "-q", *args],
        env={"TRACELENS_CONFIG": "", **(env or {})},
    )
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return found


def test_cli_thresholds_and_silence_over_the_config_file(tmp_path: Path) -> None:
    default = {f["key"]: f["severity"] for f in _findings()}
    # One failed lookup in 103 is a warning; a function refusing every call is critical.
    assert default["dns:orders-create -> api.payments.example.com"] == "warning"
    assert default["invocation_throttle:legacy-export"] == "critical"
    assert default["cold_start:orders-create"] == "warning"
    config = tmp_path / "tracelens.toml"
    config.write_text(
        '[findings]\ndns_failure_share_critical = 0.005\nsilence = ["cold_start:orders-create"]\n'
    )
    from_file = {f["key"]: f["severity"] for f in _findings("--config", str(config))}
    assert from_file["dns:orders-create -> api.payments.example.com"] == "critical"
    assert "cold_start:orders-create" not in from_file
    # The command line wins over the file; silenced keys add up.
    both = _findings(
        "--config",
        str(config),
        "--threshold",
        "dns_failure_share_critical=0.5",
        "--silence",
        "failures:orders-create",
    )
    keys = {f["key"]: f["severity"] for f in both}
    assert keys["dns:orders-create -> api.payments.example.com"] == "warning"
    assert "cold_start:orders-create" not in keys and "failures:orders-create" not in keys
    # $TRACELENS_CONFIG names the file when --config is not given.
    from_env = {f["key"] for f in _findings(env={"TRACELENS_CONFIG": str(config)})}
    assert "cold_start:orders-create" not in from_env


def test_cli_refuses_a_bad_threshold_and_a_bad_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", str(ROOT / "sample_traces"), "--threshold", "nope=1"]
    )
    assert result.exit_code == 2
    assert "unknown threshold 'nope'" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[findings]\nmin_invocations = -3\n")
    result = CliRunner().invoke(
        main, ["analyze", str(ROOT / "sample_traces"), "--config", str(bad)]
    )
    assert result.exit_code == 2
    assert "[findings] min_invocations" in result.output and "0 or more" in result.output


def test_help_lists_every_threshold_with_its_default() -> None:
    for command in ("analyze", "report"):
        output = CliRunner().invoke(main, [command, "--help"]).output
        for line in describe_thresholds():
            assert line in output, (command, line)


def test_config_check_shows_changed_thresholds_and_silenced_keys(tmp_path: Path) -> None:
    config = tmp_path / "tracelens.toml"
    config.write_text(
        '[aws]\nregion = "eu-west-1"\n[findings]\nmin_invocations = 10\n'
        'silence = ["dns:orders -> db.internal"]\n'
    )
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "findings:  min_invocations = 10; silenced: dns:orders -> db.internal" in result.output
    example = CliRunner().invoke(
        main, ["config", "check", "--config", str(ROOT / "tracelens.example.toml")]
    )
    assert "findings:  default thresholds" in example.output


def test_the_text_summary_shows_each_finding_by_its_key() -> None:
    result = CliRunner().invoke(main, ["analyze", str(ROOT / "sample_traces"), "-q"])
    assert result.exit_code == 0
    assert "  [critical] invocation_throttle:legacy-export: 10 throttled" in result.stdout
    assert "--silence KEY leaves it out" in result.stdout
