"""Shadow drafting (decision 0039): which rules serve and which run in shadow, and the exact differences
a changed rounding rule makes (expected values written by hand)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.drafting import DraftingContext, draft_invoices
from rules.billing.shadow import draft_differences, rule_versions
from rules.normalizing import normalize_lines
from rules.rounding_rules import MoneyRounding
from rules.settings import BillbridgeConfig
from rules.shadow_candidates import ShadowCandidate
from tests.factories import directory, fx_snapshot, raw_frame, time_entry
from tests.unit.drafting_gates import passes_the_gates

BASE = load_config(DEFAULT_CONFIG_PATH)
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})
AUGUST = (date(2026, 8, 1), date(2026, 8, 31))
HALF_EVEN = ShadowCandidate(
    entity="us", version="half-even-2026-09", enabled=True,
    money_rounding=[MoneyRounding(id="US-HE", entity="us", mode="half_even")],
)  # fmt: skip


def _config(*candidates: ShadowCandidate) -> BillbridgeConfig:
    update: dict[str, Any] = {
        "money_rounding": [],
        "tax_rounding": [],
        "retainers": [],
        "shadow": list(candidates),
    }
    return BASE.model_copy(update={"mapping": BASE.mapping.model_copy(update=update)})


def _three_ties(config: BillbridgeConfig) -> Any:
    # Three lines (three tasks) of 0.35 h x 137.50 = 48.125 each: every one a tie.
    entries = [time_entry(i, 0.35, 137.5, task=7000 + i) for i in (1, 2, 3)]
    found = normalize_lines(
        raw_frame(entries, "us"), raw_frame([], "us"), directory({6001: True}, {5001: "USD"}),
        config.entity("us"), config, RATES, "r",
    )  # fmt: skip
    assert found.quarantine.height == 0
    return found.lines


def test_without_a_candidate_or_with_it_off_nothing_runs_in_shadow() -> None:
    assert rule_versions(_config(), "us").shadow is None
    off = HALF_EVEN.model_copy(update={"enabled": False})
    versions = rule_versions(_config(off), "us")
    assert versions.shadow is None
    assert versions.serving.money_rounding == []
    assert rule_versions(_config(HALF_EVEN), "uk").shadow is None  # another entity's candidate


def test_an_enabled_candidate_runs_in_shadow_and_a_promoted_one_serves() -> None:
    config = _config(HALF_EVEN)
    versions = rule_versions(config, "us")
    assert versions.serving.money_rounding == []
    assert versions.shadow is not None
    assert versions.shadow.money_rounding == HALF_EVEN.money_rounding
    assert versions.shadow.rule_set_version == f"{config.rule_set_version}~half-even-2026-09"
    promoted = rule_versions(_config(HALF_EVEN.model_copy(update={"serving": "candidate"})), "us")
    assert promoted.serving.money_rounding == HALF_EVEN.money_rounding
    assert promoted.shadow is not None
    assert promoted.shadow.money_rounding == []


def test_a_changed_rounding_rule_makes_exactly_the_hand_computed_differences() -> None:
    # Serving: half-up per line, 3 x 48.13 = 144.39, no rounding line. Candidate: half-even, 3 x 48.12 =
    # 144.36; the ledger still books 48.13 a line, so a rounding line of -0.03 (quantity 1, untaxed)
    # carries it. Entity us charges no tax; its base currency is the invoice's, so total_base moves too.
    config = _config(HALF_EVEN)
    versions = rule_versions(config, "us")
    assert versions.shadow is not None
    lines = _three_ties(config)
    context = DraftingContext(config.entity("us"), *AUGUST, RATES, "run")
    serving = passes_the_gates(draft_invoices(lines, context, versions.serving))
    shadow = passes_the_gates(draft_invoices(lines, context, versions.shadow))
    diff = draft_differences(serving, shadow)
    number = serving.invoices["invoice_number"][0]
    assert diff.rows() == [
        (number, None, None, "subtotal", "USD", D("144.39"), D("144.36"), D("-0.03")),
        (number, None, None, "total", "USD", D("144.39"), D("144.36"), D("-0.03")),
        (number, None, None, "total_base", "USD", D("144.39"), D("144.36"), D("-0.03")),
        (number, 4, "Rounding (line:half_even)", "quantity", "USD", None, D("1"), D("1")),
        (number, 4, "Rounding (line:half_even)", "unit_amount", "USD", None, D("-0.03"), D("-0.03")),
        (number, 4, "Rounding (line:half_even)", "line_amount", "USD", None, D("-0.03"), D("-0.03")),
        (number, 4, "Rounding (line:half_even)", "tax_amount", "USD", None, D("0"), D("0")),
    ]


def test_the_same_rules_make_no_difference() -> None:
    config = _config(HALF_EVEN)
    lines = _three_ties(config)
    context = DraftingContext(config.entity("us"), *AUGUST, RATES, "run")
    drafts = draft_invoices(lines, context, rule_versions(config, "us").serving)
    assert draft_differences(drafts, drafts).height == 0


def test_a_candidate_for_an_unknown_entity_or_two_for_one_entity_stop_at_load() -> None:
    stray = HALF_EVEN.model_copy(update={"entity": "fr"})
    with pytest.raises(ValueError, match="shadow candidate 'half-even-2026-09' names unknown entity 'fr'"):
        BillbridgeConfig.model_validate(
            {
                **_config().model_dump(),
                "mapping": {**_config().mapping.model_dump(), "shadow": [stray.model_dump()]},
            }
        )
    with pytest.raises(ValueError, match="replaces no section"):
        ShadowCandidate(entity="us", version="empty")
