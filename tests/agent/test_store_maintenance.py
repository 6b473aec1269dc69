"""The agent compacts its store and applies the retention period of ``[store]``."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from collectors.base import Window
from tests.builders.results import ACCOUNT, REGION, T0, Ticker, traces_at, xray_result
from tracelens.agent.config import (
    AgentConfig,
    AwsSettings,
    ConfigError,
    DaemonSettings,
    StoreSettings,
)
from tracelens.agent.config_file import parse_config
from tracelens.agent.outcome import CycleOutcome
from tracelens.agent.scheduler import MAINTENANCE_JOB, Agent
from tracelens.store import layout, open_store

NO_ENV: dict[str, str] = {}


def test_retention_and_maintenance_are_read_from_the_store_section() -> None:
    defaults = parse_config({}, environ=NO_ENV)
    assert defaults.store.retention == timedelta(0)  # keep everything unless asked
    assert defaults.store == AgentConfig().store == StoreSettings()
    config = parse_config(
        {"store": {"url": "s", "retention": "30d", "maintenance_interval": "1h"}}, environ=NO_ENV
    )
    assert config.store.retention == timedelta(days=30)
    assert config.store.maintenance_interval == timedelta(hours=1)

    with pytest.raises(ConfigError) as error:
        parse_config({"store": {"retention": "2h", "retension": "30d"}}, environ=NO_ENV)
    text = str(error.value)
    assert "[store] retention" in text and "1d or more" in text
    assert "did you mean 'retention'" in text
    assert text.count("retension") == 1  # one problem, although [store] holds three settings


class _NoCycles:
    def run(self, name: str) -> CycleOutcome:
        raise AssertionError("no collector is enabled")


# NOTE: a runner without a target of its own collects the config's first: it has a region.
AWS = AwsSettings(account=ACCOUNT, region=REGION)


def test_the_agent_compacts_and_prunes_its_store(tmp_path: Path) -> None:
    clock = Ticker()
    store = open_store(tmp_path / "store", clock=clock)
    for day in (0, 0, 40):  # the first day twice: two small parts in each bucket
        start = T0 + timedelta(days=day)
        clock.now = start + timedelta(minutes=30)
        result = xray_result(
            traces_at([start + timedelta(minutes=1)]),
            window=Window(start, start + timedelta(minutes=10)),
            revision=clock.now.second,
        )
        store.persist(result, account=ACCOUNT, region=REGION)
    config = AgentConfig(
        aws=AWS,
        collectors=(),
        store=StoreSettings(retention=timedelta(days=30)),
        daemon=DaemonSettings(status_file=tmp_path / "status.json"),
    )
    agent = Agent(config, store, _NoCycles(), stop=threading.Event(), clock=lambda: clock.now)
    before = len(store.backend.list_keys("spans"))

    agent.maintain_store()

    days = {str(layout.key_date(k)) for k in store.backend.list_keys("spans")}
    assert days == {"2026-12-30"}
    assert {str(layout.key_date(k)) for k in store.backend.list_keys("raw")} == {"2026-12-30"}
    assert len(store.backend.list_keys("spans")) < before
    inputs, problems = store.load_inputs()
    assert problems == [] and inputs.traces.traces == 1


def test_the_maintenance_job_is_scheduled_unless_disabled(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    for every, scheduled in ((timedelta(hours=6), True), (timedelta(0), False)):
        config = AgentConfig(
            aws=AWS,
            collectors=(),
            store=StoreSettings(maintenance_interval=every),
            daemon=DaemonSettings(status_file=tmp_path / "status.json"),
        )
        agent = Agent(config, store, _NoCycles(), stop=threading.Event())
        agent.start()
        try:
            jobs = {job.id for job in agent._scheduler.get_jobs()}
        finally:
            agent.shutdown()
        assert (MAINTENANCE_JOB in jobs) is scheduled
