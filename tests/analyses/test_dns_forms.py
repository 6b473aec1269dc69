"""DNS lookups in every recorded form: sample_traces/real_world/dns_forms.json.

* ``quotes`` (Node.js, OpenTelemetry through ADOT): ``dns.lookup`` spans without a host name
  inside the remote call to ``api.rates.example.com``; one of 10 fails (``EAI_AGAIN``);
* ``webhooks`` (Go, OpenTelemetry httptrace through an older ADOT exporter): the lookup is a
  subsegment named after the host, ``hooks.example.net``, holding ``http.dns.addrs``;
* ``checkout-svc`` (an ECS task, X-Ray Go SDK): ``connect`` -> ``dns`` outside any function.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analyses.dns import dns_lookups
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import load_inputs

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world" / "dns_forms.json"


@pytest.fixture(scope="module")
def spans() -> pl.DataFrame:
    inputs = load_inputs([SAMPLE])
    assert inputs.rejected == 0
    return inputs.traces.spans


def test_every_form_is_a_lookup_of_its_host(spans: pl.DataFrame) -> None:
    rows = {r["service"]: r for r in dns_lookups(spans).iter_rows(named=True)}
    assert {s: (r["function_name"], r["host"], r["lookups"]) for s, r in rows.items()} == {
        "quotes": ("quotes", "api.rates.example.com", 10),
        "webhooks": ("webhooks", "hooks.example.net", 8),
        "checkout-svc": (None, "payments.internal", 6),
    }
    assert rows["quotes"]["failures"] == 1
    assert rows["webhooks"]["max_ms"] == pytest.approx(140.0)
    # Cold and warm are function terms: the ECS task's lookups are neither.
    assert (rows["checkout-svc"]["cold_lookups"], rows["checkout-svc"]["warm_lookups"]) == (0, 0)


def test_the_answer_metadata_marks_the_lookup(spans: pl.DataFrame) -> None:
    marked = spans.filter(pl.col("dns_answer").fill_null(value=False))
    assert set(marked["name"]) == {"hooks.example.net"}
    assert marked.height == 8
    # The call enclosing it has the same name and is not a lookup.
    assert spans.filter(pl.col("name") == "hooks.example.net").height == 16


def test_one_failed_lookup_in_ten_is_a_warning_named_by_service() -> None:
    result = run_analysis(load_inputs([SAMPLE]))
    dns = {r["key"]: r for r in result.findings.iter_rows(named=True) if r["kind"] == "dns"}
    quotes = dns["dns:quotes -> api.rates.example.com"]
    assert quotes["severity"] == "warning"
    assert (quotes["affected"], quotes["share"]) == (1, pytest.approx(0.1))
    contract = {(d["service"], d["function"]) for d in to_contract(result)["dns"]}
    assert contract == {
        ("quotes", "quotes"),
        ("webhooks", "webhooks"),
        ("checkout-svc", None),
    }
