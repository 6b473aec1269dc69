"""Lambda function configuration as a side input: ``aws lambda ... --output json`` outputs.

Accepted, in any mix of files (also several documents one after the other in one file):

- ``list-functions`` (``{"Functions": [...]}``; also a bare array of configurations);
- ``get-function`` (``{"Configuration": {...}, "Concurrency": {"ReservedConcurrentExecutions"}}``)
  and ``get-function-configuration`` (a bare configuration);
- ``list-provisioned-concurrency-configs`` (``{"ProvisionedConcurrencyConfigs": [...]}``): the
  ``AllocatedProvisionedConcurrentExecutions`` of every qualifier of a function are summed;
- ``get-account-settings`` (``{"AccountLimit": {"ConcurrentExecutions",
  "UnreservedConcurrentExecutions"}}``).

``get-function-concurrency`` output names no function, so it is refused: use ``get-function``,
whose ``Concurrency`` block carries the same number. A function is attached to a VPC when its
``VpcConfig`` has subnets; SnapStart is on when ``SnapStart.ApplyOn`` is ``PublishedVersions``.
Functions are keyed by name: the ``$LATEST`` configuration wins over a published version's, and
a second function of the same name with another ARN (another region or account) is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tracelens.ingest.opening.sources import Source
from tracelens.ingest.opening.streams import side_sources
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import FUNCTION_SCHEMA, conform
from tracelens.sideinputs import _common as common
from tracelens.sideinputs.lambdaconfig import (
    BadFieldError,
    Inventory,
    account_limits,
    configuration_row,
    provisioned_config,
    reserved_concurrency,
)

FUNCTION_FORMATS = (
    "`aws lambda list-functions`, `get-function`, `get-function-configuration`, "
    "`list-provisioned-concurrency-configs` and `get-account-settings` JSON output"
)
_CONFIGURATION = "function configuration"


@dataclass(frozen=True)
class FunctionInventory:
    """Functions (``FUNCTION_SCHEMA``) and the account's concurrency limits, when given."""

    functions: pl.DataFrame
    account_concurrency_limit: int | None
    unreserved_concurrency_limit: int | None


def _is_configuration(value: object) -> bool:
    return isinstance(value, dict) and "FunctionName" in value and "FunctionArn" in value


def _where(prefix: str) -> str:
    """The position of a whole document: ``line 4`` in a multi-document file, else the file."""
    return prefix.removesuffix(": ") or common.WHOLE_FILE


def _add_each(
    inventory: Inventory, items: list[Any], position: str, add: Callable[[Any], None], what: str
) -> None:
    for idx, item in enumerate(items):
        try:
            add(item)
        except BadFieldError as exc:
            inventory.reject(f"{position}[{idx}]", f"invalid {what}: {exc}")


def _add_get_function(inventory: Inventory, document: dict[str, Any], prefix: str) -> None:
    try:
        row = configuration_row(document["Configuration"])
        reserved = reserved_concurrency(document.get("Concurrency"))
        inventory.add_configuration(row)
    except BadFieldError as exc:
        inventory.reject(f"{prefix}Configuration", f"invalid {_CONFIGURATION}: {exc}")
        return
    if reserved is not None:
        inventory.reserved[row["function_name"]] = reserved


def _add_object(inventory: Inventory, document: dict[str, Any], prefix: str) -> bool:
    def add_configuration(item: Any) -> None:
        inventory.add_configuration(configuration_row(item))

    def add_provisioned(item: Any) -> None:
        inventory.add_provisioned(*provisioned_config(item))

    if isinstance(document.get("Functions"), list):
        functions = document["Functions"]
        _add_each(inventory, functions, f"{prefix}Functions", add_configuration, _CONFIGURATION)
    elif isinstance(document.get("ProvisionedConcurrencyConfigs"), list):
        configs = document["ProvisionedConcurrencyConfigs"]
        position = f"{prefix}ProvisionedConcurrencyConfigs"
        _add_each(inventory, configs, position, add_provisioned, "provisioned concurrency config")
    elif isinstance(document.get("Configuration"), dict):
        _add_get_function(inventory, document, prefix)
    elif _is_configuration(document):
        try:
            add_configuration(document)
        except BadFieldError as exc:
            inventory.reject(_where(prefix), f"invalid {_CONFIGURATION}: {exc}")
    elif isinstance(document.get("AccountLimit"), dict):
        try:
            inventory.set_account_limits(*account_limits(document["AccountLimit"]))
        except BadFieldError as exc:
            inventory.reject(f"{prefix}AccountLimit", f"invalid account settings: {exc}")
    elif set(document) == {"ReservedConcurrentExecutions"}:
        inventory.reject(
            _where(prefix),
            "unattributable concurrency: get-function-concurrency output names no function; "
            "use `aws lambda get-function`, "
            "whose Concurrency block carries the same number",
        )
    else:
        return False
    return True


def _add_document(inventory: Inventory, document: Any, prefix: str) -> bool:
    """Add one top-level JSON value; ``False`` when it has no known shape."""
    if isinstance(document, list) and document and all(map(_is_configuration, document)):
        _add_each(
            inventory,
            document,
            prefix.removesuffix(": "),
            lambda item: inventory.add_configuration(configuration_row(item)),
            _CONFIGURATION,
        )
        return True
    return isinstance(document, dict) and _add_object(inventory, document, prefix)


def _add_source(inventory: Inventory, source: Source, text: str) -> None:
    values = common.json_values(text, source.first_line) if common.looks_like_json(text) else []
    many = len(values) > 1 or source.lines
    for value in values:
        prefix = f"line {value.line}: " if many else ""
        if value.error is not None:
            inventory.reject(f"line {value.line}", value.error)
        elif _add_document(inventory, value.value, prefix):
            continue
        elif many:
            inventory.reject(f"line {value.line}", "not a Lambda configuration response")
        else:
            hint = common.wrong_input_hint(value.value) or "JSON of no known Lambda shape"
            common.reject_unknown(inventory.rejections, source, hint, FUNCTION_FORMATS)
    if not values and text.strip():
        common.reject_unknown(inventory.rejections, source, "not JSON", FUNCTION_FORMATS)


def load_functions(paths: Iterable[str | Path], *, rejections: RejectionLog) -> FunctionInventory:
    """Read Lambda configuration outputs (see the module docstring).

    Parameters
    ----------
    paths
        Files, directories, ``.gz`` files or ``-`` for standard input.
    rejections
        Receives refused entries and one entry per file in no accepted format.

    Returns
    -------
    FunctionInventory
        ``functions`` with exactly ``FUNCTION_SCHEMA`` (one row per function name, possibly
        none) and the account limits when a ``get-account-settings`` output was given.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When a path does not exist or cannot be read.
    """
    return read_functions(side_sources(paths, rejections), rejections=rejections)


def read_functions(sources: Iterable[Source], *, rejections: RejectionLog) -> FunctionInventory:
    """:func:`load_functions` over sources already in memory (named for messages)."""
    inventory = Inventory(rejections)
    for source in sources:
        inventory.source = source.name
        text = common.decode_text(source, rejections, FUNCTION_FORMATS)
        if text is not None:
            _add_source(inventory, source, text)
    return FunctionInventory(
        functions=conform(common.cut_strings(inventory.frame()), FUNCTION_SCHEMA),
        account_concurrency_limit=inventory.account_limit,
        unreserved_concurrency_limit=inventory.unreserved_limit,
    )
