"""The AWS Lambda entry point: one collection cycle, the report, and alerts, per invocation.

Deploy with ``deploy/sam/template.yaml`` (an EventBridge Scheduler schedule invokes it). The
configuration comes from ``TRACELENS_CONFIG`` (a file in the image) and ``TRACELENS_*``
variables, as for ``tracelens collect --once``, whose code path it shares
(:func:`tracelens.agent.once.collect_once`). The store must be on S3 (``TRACELENS_STORE``):
the function's disk is temporary.

Lambda stops a function at its timeout (at most 15 minutes). The collectors share the time
left minus :data:`REPORT_RESERVE` (each stops starting new windows at its share); a collector
that would start with almost no time left is skipped, its checkpoint unmoved, so the next
invocation reads its window. The report is written to ``/tmp`` and uploaded next to the store
(``reports/<account>/<region>/tracelens-report.html``; with several targets, each target's
report there, and the page covering them at ``reports/targets/all/``).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from tracelens.agent.aws import AgentClients, open_agent_store
from tracelens.agent.config import AgentConfig, ConfigError, ConfigProblem
from tracelens.agent.config_file import final_problems, load_config, with_region_from_profile
from tracelens.agent.logsetup import configure_logging, resolve
from tracelens.agent.once import collect_once, once_failure, within_budget
from tracelens.agent.reporting import DEFAULT_TITLE, NoDataError, write_store_report
from tracelens.agent.targets_report import (
    TargetResult,
    qualified_findings,
    render_index,
    write_index,
)
from tracelens.alerts.build import upload_and_presign
from tracelens.alerts.hook import AlertHook, last_successes_in_store
from tracelens.analysis import AnalysisResult
from tracelens.durations import format_duration
from tracelens.store import Store

log = logging.getLogger("tracelens.lambda")

REPORT_RESERVE = timedelta(seconds=120)
"""Time kept for the report and the alerts after collection."""

REPORT_FILE = "tracelens-report.html"


class LambdaContext(Protocol):
    """The part of Lambda's context object the handler uses."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds before Lambda stops the function."""
        ...


class CollectionFailedError(RuntimeError):
    """Every collector failed, or none completed (the invocation is marked failed)."""


def lambda_config() -> AgentConfig:
    """The configuration from ``TRACELENS_CONFIG`` and ``TRACELENS_*`` variables.

    Raises
    ------
    ConfigError
        Listing every problem; also when the store is not on S3.
    """
    config = with_region_from_profile(load_config())
    problems = final_problems(config)
    if not config.store.url.startswith("s3://"):
        problems.append(
            ConfigProblem(
                f"{config.source or '<config>'}: [store] url",
                "a Lambda function's disk is temporary: set TRACELENS_STORE=s3://bucket/prefix",
            )
        )
    if problems:
        raise ConfigError(problems)
    return config


def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    """Collect once, write and upload the report, send alerts; a JSON summary of what it did.

    Raises
    ------
    CollectionFailedError
        When every collector failed or none completed (after the report and alerts), so the
        invocation counts as an error in the function's metrics.
    """
    from tracelens.agent.runner import build_runners  # noqa: PLC0415 - boto3 clients

    level, shape = resolve(None, None, default_level="INFO")
    configure_logging(level, shape)
    started = datetime.now(UTC)
    config = lambda_config()
    clients = AgentClients(config)
    store = open_agent_store(config, clients)

    def seconds_left() -> float:
        return context.get_remaining_time_in_millis() / 1000 - REPORT_RESERVE.total_seconds()

    config = within_budget(config, timedelta(seconds=max(seconds_left(), 0)))
    outcomes = collect_once(
        config,
        build_runners(config, store),
        on_outcome=lambda outcome: log.info(
            "%s", outcome.describe(), extra={"cycle": outcome.as_json()}
        ),
        seconds_left=seconds_left,
    )
    sent, failures = 0, list[str]()
    report, findings, url = _write_report(config, store, clients)
    if url is not None:
        config = replace(config, alerts=replace(config.alerts, report_url=url))
    alerts = AlertHook(config, store, clients)
    now = datetime.now(UTC)
    if findings is not None:
        complete = not any(outcome.failed for outcome in outcomes)
        done = alerts.after_report(findings, None, now=now, complete=complete)
        sent, failures = sent + len(done.sent), failures + done.failures
    last, since = last_successes_in_store(store, config, now=now)
    done = alerts.after_cycles(last, since=since, now=now)
    sent, failures = sent + len(done.sent), failures + done.failures
    failure = once_failure(outcomes)
    if failure is not None:
        raise CollectionFailedError(failure)
    return {
        "account": config.aws.account,
        "region": config.aws.region,
        "targets": [target.key for target in config.collect_targets()],
        "store": store.url,
        "started_at": started.isoformat(),
        "collectors": [outcome.as_json() for outcome in outcomes],
        "report": report,
        "alerts": {"sent": sent, "failures": failures},
    }


def _write_report(
    config: AgentConfig, store: Store, clients: AgentClients
) -> tuple[dict[str, Any], pl.DataFrame | None, str | None]:
    """The report written to /tmp and uploaded next to the store: a summary, the findings and
    a presigned link (None, None when there is no report).

    With several targets, each target's report is uploaded too, and the page covering them
    links to each by its own presigned URL (the bucket stays private).
    """
    report = config.report
    if not report.enabled:
        return {"written": False, "reason": "[report] enabled = false"}, None, None
    analyses: list[AnalysisResult] = []
    targets: list[TargetResult] = []
    keys = [(target.account, target.region) for target in config.collect_targets()]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="tracelens-") as directory:
        path = Path(directory) / REPORT_FILE
        try:
            write_store_report(
                store,
                path,
                since=report.since,
                now=now,
                title=report.title,
                on_result=analyses.append,
                targets=keys,
                on_targets=targets.extend,
            )
        except NoDataError as exc:
            return {"written": False, "reason": str(exc)}, None, None

        def upload(file: Path, account: str, region: str) -> str:
            return upload_and_presign(
                clients, store.url, file, account, region, expiry=config.alerts.link_expiry
            )

        if targets:
            links = {
                target.key: upload(target.path, target.account, target.region)
                for target in targets
                if target.path is not None
            }
            page = render_index(
                targets,
                title=report.title or DEFAULT_TITLE,
                window=f"the last {format_duration(report.since)}",
                generated_at=now,
                links=links,
            )
            write_index(path, page)
            url = upload(path, "targets", "all")
            findings = qualified_findings(targets)
        else:
            ((account, region),) = keys  # NOTE: the one target: [aws], or one [[targets]]
            url = upload(path, account, region)
            findings = analyses[0].findings
    counts = (
        dict(sorted(findings["severity"].value_counts().rows())) if findings is not None else {}
    )
    return {"written": True, "url": url, "findings": counts}, findings, url
