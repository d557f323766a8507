"""Reconciliation matches, entity x month: the month's undecided bank lines against what is still due.

Every decision goes to the append-only match log (rules/reconciliation/match_log.py); an
auto-accepted match also becomes a settlement waiting for the outbox. Lines a person or the matcher
already closed are never decided again, so a rerun logs only what changed.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import Partitions, days_to_month, month_slices
from assets.reconciliation.inputs import BANK_STATEMENT_LINES, RECEIVABLES
from assets.reporting import preview
from resources.bank_statements_decisions import (
    current_items,
    metrics_inputs,
    record_matcher_decisions,
    undecided_lines,
)
from resources.bank_statements_parties import party_records
from resources.bank_statements_rules import load_reconciliation_rules
from resources.bank_statements_store import reconciliation_transaction
from resources.configuration import Settings
from resources.warehouse import Warehouse
from rules.reconciliation.duplicates import SIMILAR_NAMES, duplicate_suggestions
from rules.reconciliation.ladder import match_lines
from rules.reconciliation.match_log import MATCHER, Actor
from rules.reconciliation.metrics import reconciliation_metrics
from rules.settings import BillbridgeConfig

BANK_MATCHES = dg.AssetKey(["reconciliation", "bank_matches"])


def entity_metrics(
    warehouse: Warehouse, config: BillbridgeConfig, entity: str, period: str | None = None
) -> dict[str, object]:
    """The report's figures for one entity (one month of booking dates when `period` is given), with the
    duplicate clients and contacts suggested for a person to look at."""
    contact_of = {str(c.pm_client_id): c.contact_name for c in config.mapping.clients if c.entity == entity}
    with reconciliation_transaction(warehouse, entity) as con:
        figures = reconciliation_metrics(*metrics_inputs(con, entity, period))
        suggestions = duplicate_suggestions(party_records(con, entity), contact_of)
    duplicates = [
        f"{s.a_source} {s.a_name!r} ~ {s.b_source} {s.b_name!r}"
        + ("" if s.reason == SIMILAR_NAMES else f" ({s.reason})")
        for s in suggestions
    ]
    return {**figures, "duplicate_parties": duplicates}


def reconciliation_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The report's reconciliation section: one line per entity that has bank lines."""
    out = []
    for row in rows:
        m = row.get("reconciliation") or {}
        if not any(
            m.get(k) for k in ("matched_automatically", "matched_by_hand", "proposed", "open_exceptions")
        ):
            continue
        cash = ", ".join(f"{v} {k}" for k, v in m["unapplied_cash"].items()) or "0"
        written = ", ".join(f"{v} {k}" for k, v in m["written_off"].items()) or "0"
        out.append(
            f"  {row['entity']}: matched automatically {m['matched_automatically']}, by hand {m['matched_by_hand']}, "
            f"proposed {m['proposed']}, open exceptions {m['open_exceptions']}, unapplied cash {cash}, "
            f"written off {written}, DSO {m['dso_days'] if m['dso_days'] is not None else '-'} days"
        )
        out += [f"    possible duplicate: {d}" for d in m.get("duplicate_parties", [])]
    return ["", "Reconciliation:", *out] if out else []


def bank_matches(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> dg.MaterializeResult:
    """The month's bank lines matched to invoices and credit notes: auto-accepted, proposed to a person, or an
    exception, each decision in the append-only match log with its score components and the rule version."""
    rules = load_reconciliation_rules(entities=tuple(settings.entity_ids))
    summaries, previews = {}, []
    for part in month_slices(context):
        actor = Actor(MATCHER, datetime.now(UTC), context.run.run_id)
        with reconciliation_transaction(warehouse, part.entity) as con:
            lines = undecided_lines(con, part.entity, part.month, part.month_end)
            items = current_items(con, part.entity)
            decisions = match_lines(lines, items, rules, part.entity)
            logged = record_matcher_decisions(con, decisions, lines, items, rules, actor, part.period)
        summaries[part.label()] = {"decided": decisions.height, "logged": logged,
                                   **entity_metrics(warehouse, settings, part.entity, part.period)}  # fmt: skip
        previews.append(decisions)
        context.log.info(
            f"{part.label()}: {decisions.height} line(s) decided, {logged} new decision(s) logged"
        )
    decided = pl.concat(previews) if previews else pl.DataFrame()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": decided.height,
            **_headline(list(summaries.values())),
            "rule_version": rules.version,
            "by_partition": dg.MetadataValue.json(summaries),
            "decisions": dg.MetadataValue.md(
                preview(
                    decided,
                    ["line_id", "status", "item_numbers", "confidence", "anomalies", "explanation"],
                    20,
                )
                if decided.height
                else "_no rows_"
            ),
        }
    )


COUNTS = ("matched_automatically", "matched_by_hand", "proposed", "open_exceptions")


def _headline(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the UI shows at a glance: counts as numbers summed over the run's entity-months,
    unapplied cash and write-offs per currency (exact text), DSO from matched payments when one
    entity-month ran (a DSO does not add up across entities)."""
    out: dict[str, Any] = {k: dg.MetadataValue.int(sum(int(m[k]) for m in summaries)) for k in COUNTS}
    for key in ("unapplied_cash", "written_off"):
        totals: dict[str, Decimal] = {}
        for m in summaries:
            for currency, amount in m[key].items():
                totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount)
        out[key] = {c: str(a) for c, a in sorted(totals.items())}
    if len(summaries) == 1 and summaries[0]["dso_days"] is not None:
        out["dso_days"] = dg.MetadataValue.float(float(summaries[0]["dso_days"]))
    out["duplicate_parties"] = dg.MetadataValue.int(sum(len(m["duplicate_parties"]) for m in summaries))
    return out


def build_bank_matches(partitions: Partitions) -> dg.AssetsDefinition:
    """`reconciliation/bank_matches` over the configuration's entity-months."""
    return dg.asset(
        key=BANK_MATCHES,
        deps=[
            dg.AssetDep(BANK_STATEMENT_LINES, partition_mapping=days_to_month),
            dg.AssetDep(RECEIVABLES, partition_mapping=days_to_month),
        ],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb"},
        group_name="reconciliation",
        owners=["team:finance-systems"],
    )(bank_matches)
