"""What changes alert, and which are suppressed: appearance, escalation, resolution, cooldown,
staleness (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracelens.alerts.message import Alert
from tracelens.alerts.notifier import observed_finding, stale_collectors
from tracelens.alerts.tracking import AlertState, Observed

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def finding(severity: str, subject: str = "orders", kind: str = "cold_start") -> Observed:
    return Observed(
        kind=kind,
        subject=subject,
        severity=severity,
        message=f"{subject}: 31% of 200 invocations were cold starts",
        recommendation="Use provisioned concurrency",
        evidence={"invocations": 200, "cold_start_rate": 0.31},
    )


def events(state: AlertState, current: list[Observed], **kwargs: object) -> list[tuple[str, str]]:
    options: dict[str, object] = {"min_severity": "critical", "resolve_after": 2} | kwargs
    changes = state.observe("findings", current, **options)  # type: ignore[arg-type]
    return [(change.event, change.observed.subject) for change in changes]


def test_a_critical_finding_appearing_alerts_once_while_it_stays() -> None:
    state = AlertState()
    assert events(state, [finding("critical")]) == [("new", "orders")]
    assert events(state, [finding("critical")]) == []


def test_warnings_alone_do_not_alert_but_escalating_to_critical_is_new() -> None:
    state = AlertState()
    assert events(state, [finding("warning")]) == []
    changes = state.observe(
        "findings", [finding("critical")], min_severity="critical", resolve_after=2
    )
    assert [(c.event, c.previous_severity) for c in changes] == [("new", "warning")]


def test_with_min_severity_warning_a_rise_is_an_escalation() -> None:
    state = AlertState()
    assert events(state, [finding("warning")], min_severity="warning") == [("new", "orders")]
    changes = state.observe(
        "findings", [finding("critical")], min_severity="warning", resolve_after=2
    )
    assert [(c.event, c.previous_severity) for c in changes] == [("escalated", "warning")]


def test_resolved_only_after_resolve_after_reports_without_the_finding() -> None:
    state = AlertState()
    events(state, [finding("critical")])
    assert events(state, []) == []  # one thin report does not resolve it
    assert events(state, []) == [("resolved", "orders")]
    assert events(state, []) == []


def test_a_finding_back_before_resolving_is_not_new_again() -> None:
    state = AlertState()
    events(state, [finding("critical")])
    events(state, [])
    assert events(state, [finding("critical")]) == []


def test_dropping_below_the_alert_level_is_announced() -> None:
    state = AlertState()
    events(state, [finding("critical")])
    changes = state.observe(
        "findings", [finding("warning")], min_severity="critical", resolve_after=2
    )
    assert [(c.event, c.previous_severity, c.observed.severity) for c in changes] == [
        ("resolved", "critical", "warning")
    ]


def test_one_identity_keeps_its_most_severe_finding() -> None:
    state = AlertState()
    assert events(state, [finding("warning"), finding("critical"), finding("info")]) == [
        ("new", "orders")
    ]


def test_cooldown_suppresses_the_same_alert_and_not_others() -> None:
    state = AlertState()
    changes = state.observe(
        "findings", [finding("critical")], min_severity="critical", resolve_after=1
    )
    state.mark_sent(changes[0], at=T0)
    state.observe("findings", [], min_severity="critical", resolve_after=1)  # resolved
    again = state.observe(
        "findings", [finding("critical")], min_severity="critical", resolve_after=1
    )
    assert state.due(again, now=T0 + timedelta(minutes=30), cooldown=timedelta(hours=1)) == []
    assert state.due(again, now=T0 + timedelta(hours=1), cooldown=timedelta(hours=1)) == again
    other = state.observe(
        "findings",
        [finding("critical"), finding("critical", subject="payments")],
        min_severity="critical",
        resolve_after=1,
    )
    assert [c.observed.subject for c in state.due(other, now=T0, cooldown=timedelta(hours=1))] == [
        "payments"
    ]


def test_state_survives_encoding() -> None:
    state = AlertState()
    changes = state.observe(
        "findings", [finding("critical")], min_severity="critical", resolve_after=2
    )
    state.mark_sent(changes[0], at=T0)
    copy = AlertState.decode(state.encode())
    assert copy.sent == state.sent
    assert events(copy, [finding("critical")]) == []


def test_a_damaged_state_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not an alert state"):
        AlertState.decode(b"{not json")


def test_stale_after_the_configured_number_of_intervals() -> None:
    intervals = {"xray": timedelta(minutes=5), "lambda": timedelta(minutes=30)}
    last = {"xray": T0, "lambda": T0}
    assert (
        stale_collectors(
            last, intervals, since=T0, now=T0 + timedelta(minutes=15), stale_intervals=3
        )
        == []
    )
    stale = stale_collectors(
        last, intervals, since=T0, now=T0 + timedelta(minutes=16), stale_intervals=3
    )
    assert [item.subject for item in stale] == ["xray"]
    assert stale[0].evidence["minutes_without_success"] == 16.0
    never = stale_collectors(
        {"xray": None},
        {"xray": timedelta(minutes=5)},
        since=T0,
        now=T0 + timedelta(hours=1),
        stale_intervals=3,
    )
    assert "since watching began" in never[0].message


def test_a_findings_row_becomes_an_observation_with_its_numbers() -> None:
    row = {
        "severity": "critical",
        "kind": "invocation_throttle",
        "subject": "orders",
        "message": "orders: 12 of 40 invocations throttled",
        "evidence": '{"throttled": 12, "invocations": 40}',
        "recommendation": "Raise reserved concurrency",
        "trace_id": "1-abc",
        "impact": 12.0,
    }
    observed = observed_finding(row)
    assert observed.evidence == {"throttled": 12, "invocations": 40}
    alert = Alert(
        event="new",
        kind=observed.kind,
        subject=observed.subject,
        severity=observed.severity,
        message=observed.message,
        recommendation=observed.recommendation,
        evidence=observed.evidence,
        trace_id=observed.trace_id,
        account="prod",
        region="eu-west-1",
        at=T0,
        report_url="https://example.com/r.html",
    )
    text = alert.text()
    for needle in (
        "orders: 12 of 40 invocations throttled",
        "throttled=12",
        "recommendation: Raise reserved concurrency",
        "report: https://example.com/r.html",
        "account prod, region eu-west-1",
    ):
        assert needle in text
    assert len(alert.title()) <= 100


def test_with_incomplete_data_nothing_resolves_or_drops() -> None:
    state = AlertState()
    events(state, [finding("critical")])
    for _ in range(3):
        assert events(state, [], resolve_after=None) == []
    assert events(state, [finding("warning")], resolve_after=None) == []
    assert events(state, [finding("critical")]) == []  # still the same open finding
    assert events(
        state, [finding("critical"), finding("critical", subject="new")], resolve_after=None
    ) == [("new", "new")]
