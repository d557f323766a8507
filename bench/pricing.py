"""Pricing 1M lines through the full rule set versus the plain hours x PM-rate path."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import polars as pl

from bench import synthetic
from resources.configuration import load_config
from resources.fx import EcbRates
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.normalizing import normalize_lines
from rules.rule_sets import RateRule, TimeRounding
from rules.settings import BillbridgeConfig

MONTHS = [
    (date(2026, 8, 1), date(2026, 8, 31)),
    (date(2026, 9, 1), date(2026, 9, 30)),
    (date(2026, 10, 1), date(2026, 10, 31)),
]


def full_rule_set(config: BillbridgeConfig, projects: int = 1000) -> BillbridgeConfig:
    """Every kind of rule, at realistic counts: a default, client, project, task and person rates, a
    partial-share rule, and time rounding per entry and per invoice line."""
    rates = [RateRule(id="DEFAULT", entity="us", rate=Decimal("150"), currency="USD")]
    rates += [
        RateRule(id=f"C{c}", client=c, rate=Decimal(140 + c % 7), currency="USD") for c in (5001, 5002, 5003)
    ]
    rates += [
        RateRule(id=f"P{p}", project=60000 + p, rate=Decimal("160.50"), currency="USD")
        for p in range(0, projects, 5)
    ]
    rates += [
        RateRule(id=f"T{p}", project=60000 + p, task=7001 + p % 4, rate=Decimal("171.25"), currency="USD")
        for p in range(0, projects, 10)
    ]
    rates += [
        RateRule(
            id=f"TR{p}",
            project=60000 + p,
            task=7004,
            rate=Decimal("80"),
            currency="USD",
            share_percent=Decimal(50),
        )
        for p in range(3, projects, 20)
    ]
    rates += [
        RateRule(id=f"PP{p}", project=60000 + p, person=8001, rate=Decimal("199"), currency="USD")
        for p in range(1, projects, 50)
    ]
    rounding = [
        TimeRounding(id="R5001", client=5001, increment_minutes=15, minimum_minutes=15),
        TimeRounding(id="R5002", client=5002, increment_minutes=6, apply="per_line"),
    ]
    mapping = config.mapping.model_copy(update={"rates": rates, "time_rounding": rounding})
    return config.model_copy(update={"mapping": mapping})


def _price(raw: pl.DataFrame, config: BillbridgeConfig) -> tuple[float, int]:
    entity = config.entity("us")
    fx = EcbRates().snapshot()
    t0 = time.perf_counter()
    result = normalize_lines(raw, raw.head(0), synthetic.directory(), entity, config, fx, "bench")
    invoices = 0
    for start, end in MONTHS:
        lines = result.lines.filter(pl.col("day").is_between(start, end))
        drafts = draft_invoices(
            lines, DraftingContext(entity, start, end, fx, "bench"), BillingRules.of(config)
        )
        invoices += drafts.invoices.height
    return time.perf_counter() - t0, invoices


def bench_pricing(entries: int) -> None:
    """Print the time of both paths on the same data and their ratio (the goal is at most 3x)."""
    config = load_config()
    raw = synthetic.raw_time_entries(entries)
    EcbRates().snapshot()  # warm the rate cache so neither path pays for it
    plain, _ = _price(raw, config)
    rules = full_rule_set(config)
    ruled, invoices = _price(raw, rules)
    print(f"plain path:     {plain:6.2f}s  ({entries:,} lines)")
    print(f"full rule set:  {ruled:6.2f}s  ({len(rules.mapping.rates)} rate rules, {invoices} invoices)")
    print(f"ratio:          {ruled / plain:6.2f}x  (goal: at most 3x)")
