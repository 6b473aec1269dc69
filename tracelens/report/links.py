"""Links from the report into the X-Ray traces view of the CloudWatch console, region-aware.

Each trace is linked in its own region, the one its spans name (``region`` in the span table:
``aws.region``, function ARNs, ``resource_arn``, ``cloud.region``), so that an input mixing
regions links every trace where it lives. A trace naming no region uses the inputs' region
(a store collected from one region), else the region of the functions' ARNs, else us-east-1.
``--region`` overrides all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from tracelens.report.markup import esc

if TYPE_CHECKING:
    from analyses.trace_regions import TraceRegions
    from tracelens.inputs import Inputs

DEFAULT_REGION = "us-east-1"
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ARN_REGION = r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):"


@dataclass(frozen=True)
class ConsoleLinks:
    """Builds trace links: each trace in its own region (``trace_regions``), others in
    ``region``; ``region_source`` says where ``region`` came from."""

    region: str
    # "given" | "traces" | "inputs" | "function ARN" | "resource ARN" | "default"
    region_source: str
    trace_regions: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The regions of ``trace_regions``, the most traces first.
    regions_by_traces: tuple[str, ...] = field(default=(), compare=False)

    def region_of(self, trace_id: str) -> str:
        """The console region of ``trace_id``: its own, else ``region``."""
        return self.trace_regions.get(trace_id, self.region)

    @property
    def regions(self) -> list[str]:
        """The traces' regions, most traces first (``region`` when no trace names one)."""
        return list(self.regions_by_traces) or [self.region]

    def trace_url(self, trace_id: str | None) -> str | None:
        """The console URL of a trace, or None when ``trace_id`` is not an X-Ray trace id."""
        if trace_id is None or not _TRACE_ID.match(trace_id):
            return None
        region = self.region_of(trace_id)
        base = _console_base(region)
        return f"{base}/cloudwatch/home?region={region}#xray:traces/{trace_id}"

    def trace_link(self, trace_id: str | None, *, label: str = "open trace") -> str:
        """An anchor to the trace (markup), the bare escaped id when it cannot be linked."""
        url = self.trace_url(trace_id)
        if url is None:
            return esc(trace_id or "")
        return (
            f'<a class="trace" href="{esc(url)}" target="_blank" rel="noopener noreferrer" '
            f'title="{esc(trace_id)} in the X-Ray console ({esc(self.region_of(str(trace_id)))})">'
            f"{esc(label)}</a>"
        )


def _console_base(region: str) -> str:
    # NOTE: the China and GovCloud partitions have consoles of their own.
    if region.startswith("cn-"):
        return f"https://{region}.console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def is_region_name(text: str) -> bool:
    """Whether ``text`` is shaped like an AWS region name (``eu-west-1``, ``us-gov-east-1``)."""
    return _REGION.match(text) is not None


def console_links(
    inputs: Inputs, regions: TraceRegions, *, region: str | None = None
) -> ConsoleLinks:
    """Console links: every trace in ``region`` if given; else each trace in the region its
    spans name (``regions``: ``analyses.trace_regions``), and a trace naming none in the
    inputs' region, else the first region named in a function ARN or a resource ARN, else
    us-east-1.

    Raises
    ------
    ValueError
        When ``region`` is given and is not a region name such as ``eu-west-1``.
    """
    if region is not None:
        if not is_region_name(region):
            raise ValueError(f"region {region!r} is not an AWS region name such as eu-west-1")
        return ConsoleLinks(region, "given")
    fallback = _fallback(inputs)
    if regions.per_trace:
        # NOTE: traces naming no region are linked in the fallback's, else the commonest one.
        commonest = regions.by_traces[0]
        chosen = fallback.region if fallback.region_source != "default" else commonest
        return ConsoleLinks(chosen, "traces", regions.per_trace, tuple(regions.by_traces))
    return fallback


def _fallback(inputs: Inputs) -> ConsoleLinks:
    if inputs.region is not None and is_region_name(inputs.region):
        return ConsoleLinks(inputs.region, "inputs")
    if inputs.functions is not None:
        found = _first_arn_region(inputs.functions.functions.get_column("function_arn"))
        if found is not None:
            return ConsoleLinks(found, "function ARN")
    found = _first_arn_region(inputs.traces.spans.get_column("aws_resource"))
    if found is not None:
        return ConsoleLinks(found, "resource ARN")
    return ConsoleLinks(DEFAULT_REGION, "default")


def _first_arn_region(values: pl.Series) -> str | None:
    regions = values.cast(pl.String).str.extract(_ARN_REGION, 1).drop_nulls()
    return str(regions[0]) if regions.len() else None
