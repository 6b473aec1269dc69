"""Links from the report into the X-Ray traces view of the CloudWatch console, region-aware."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from tracelens.report.markup import esc

if TYPE_CHECKING:
    from tracelens.inputs import Inputs

DEFAULT_REGION = "us-east-1"
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ARN_REGION = r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):"


@dataclass(frozen=True)
class ConsoleLinks:
    """Builds trace links for one region; ``region_source`` says where the region came from."""

    region: str
    region_source: str  # "given" | "inputs" | "function ARN" | "resource ARN" | "default"

    def trace_url(self, trace_id: str | None) -> str | None:
        """The console URL of a trace, or None when ``trace_id`` is not an X-Ray trace id."""
        if trace_id is None or not _TRACE_ID.match(trace_id):
            return None
        base = _console_base(self.region)
        return f"{base}/cloudwatch/home?region={self.region}#xray:traces/{trace_id}"

    def trace_link(self, trace_id: str | None, *, label: str = "open trace") -> str:
        """An anchor to the trace (markup), the bare escaped id when it cannot be linked."""
        url = self.trace_url(trace_id)
        if url is None:
            return esc(trace_id or "")
        return (
            f'<a class="trace" href="{esc(url)}" target="_blank" rel="noopener noreferrer" '
            f'title="{esc(trace_id)} in the X-Ray console ({esc(self.region)})">{esc(label)}</a>'
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


def console_links(inputs: Inputs, *, region: str | None = None) -> ConsoleLinks:
    """The region for console links: ``region`` if given, else the inputs' own, else the
    first region named in a function ARN or a resource ARN of the traces, else us-east-1.

    Raises
    ------
    ValueError
        When ``region`` is given and is not a region name such as ``eu-west-1``.
    """
    if region is not None:
        if not is_region_name(region):
            raise ValueError(f"region {region!r} is not an AWS region name such as eu-west-1")
        return ConsoleLinks(region, "given")
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
    regions = values.str.extract(_ARN_REGION, 1).drop_nulls()
    return str(regions[0]) if regions.len() else None
