"""Drafting reads and drafts a month in groups of whole clients (decision 0048): the tables it writes
are the same, row for row, whether each month is one group or each client is a group of its own.

Both runs go through real Dagster on real DuckDB files (one warehouse each), over the two months
of records of test_normalize_windows, with rules that act per client and per invoice: a client's
invoice discount, a project's line discount, an invoice-level money rounding (rounding lines), and
retainers, one of them for a client without work (an invoice of its top-up alone).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from assets.billing.invoice_drafts import build_invoice_drafts
from assets.normalized.billable_lines import build_billable_lines
from assets.partitions import Partitions, day_key, month_key
from pipelines.runner import RANGE_END, RANGE_START
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse
from rules.rounding_rules import MoneyRounding, Retainer
from rules.rule_sets import Discount
from rules.settings import BillbridgeConfig
from tests.integration.test_normalize_windows import FIRST, LAST, _seeded, _tables

pytestmark = pytest.mark.integration


def _config() -> BillbridgeConfig:
    config = load_config(DEFAULT_CONFIG_PATH)
    start = date(2026, 8, 1)
    mapping = config.mapping.model_copy(
        update={
            "discounts": [
                Discount(id="C5001", client=5001, kind="percent", value=Decimal("7.5"), level="invoice"),
                Discount(id="P6003", project=6003, kind="fixed", value=Decimal("3"), level="line"),
            ],
            "money_rounding": [
                MoneyRounding(id="G-5003", client=5003, mode="half_even", level="invoice", effective_from=start)
            ],
            "retainers": [
                Retainer(id="R-5002", entity="us", client=5002, currency="USD", top_up=Decimal("150"),
                         opening_balance=Decimal("40"), effective_from=start),
                Retainer(id="R-5301", entity="us", client=5301, currency="USD", top_up=Decimal("100"),
                         effective_from=start),
            ],
        }
    )  # fmt: skip
    return config.model_copy(update={"mapping": mapping})


def _run_path(warehouse: Warehouse, instance: dg.DagsterInstance, group_lines: int) -> list[str]:
    """Normalize August..September, then draft both months in groups of `group_lines`; the run ids."""
    config = _config()
    partitions = Partitions.of(config)
    resources = {"warehouse": warehouse, "fx": EcbRates(), "settings": config}
    normalize = dg.materialize(
        [build_billable_lines(partitions)],
        instance=instance,
        resources=resources,
        tags={RANGE_START: str(day_key("us", FIRST)), RANGE_END: str(day_key("us", LAST))},
    )
    drafts = dg.materialize(
        [build_invoice_drafts(partitions)],
        instance=instance,
        resources=resources,
        tags={RANGE_START: str(month_key("us", FIRST)), RANGE_END: str(month_key("us", LAST))},
        run_config={"ops": {"billing__invoice_drafts": {"config": {"group_lines": group_lines}}}},
    )
    assert drafts.success
    return [normalize.run_id, drafts.run_id]


def test_client_groups_write_the_same_tables_as_one_group(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        grouped = _seeded(tmp_path / "grouped")
        at_once = _seeded(tmp_path / "at_once")
        grouped_runs = _run_path(grouped, instance, group_lines=1)
        once_runs = _run_path(at_once, instance, group_lines=1_000_000)
        in_groups, whole = _tables(grouped, grouped_runs), _tables(at_once, once_runs)

    assert in_groups.keys() == whole.keys()
    for name in whole:
        assert in_groups[name] == whole[name], name
    # The comparison compared something: each rule's lines, in both months.
    kinds = {row[13] for row in whole["billing.invoice_draft_lines"]}
    assert {"time", "expense", "discount", "retainer_top_up", "retainer_applied"} <= kinds
    assert {row[2] for row in whole["billing.invoice_drafts"]} == {"2026-08", "2026-09"}
    assert {row[4] for row in whole["billing.retainer_balances"]} == {"R-5002", "R-5301"}
    assert len(whole["billing.invoice_line_sources"]) > 80
