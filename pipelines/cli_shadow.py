"""`billbridge shadow diff|promote|revert`: a candidate rule set in shadow, and switching to it and back.

`diff` drafts the entity-month with its shadow rules (the `shadow_drafts` job) and prints every
money figure switching would change. `promote` and `revert` change one word of the mapping
document and record the change in the audit trail; the command's own audit entry follows it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from pipelines.cli_args import entity_id, one_line_errors, period
from rules.config_types import ConfigurationError
from rules.money import minor_units
from rules.shadow_candidates import Serving, SwitchRefused


def _shown(value: Decimal | None, figure: str, currency: str, sign: bool = False) -> str:
    """A figure as the ledger shows it: amounts in minor units, quantity and unit price as they are."""
    if value is None:
        return "-"
    exact = figure in ("quantity", "unit_amount")  # may carry more decimals than the currency has
    shown = value.normalize() if exact else value.quantize(Decimal(1).scaleb(-minor_units(currency)))
    return f"{shown:+f}" if sign else f"{shown:f}"


def format_differences(entity: str, month: str, differences: pl.DataFrame) -> str:
    """The differences as text: a heading per invoice, one line per changed figure, totals at the end."""
    first = differences.row(0, named=True)
    out = [
        f"Shadow diff of {entity} {month}: serving {first['serving_version']} -> shadow {first['shadow_version']}",
        f"{differences['invoice_number'].n_unique()} invoice(s), {differences.height} figure(s) would change "
        "(shadow less serving):",
    ]
    for (number,), rows in differences.group_by("invoice_number", maintain_order=True):
        out.append(f"  {number}")
        for row in rows.iter_rows(named=True):
            where = "invoice" if row["line_no"] is None else f"line {row['line_no']} {row['description']}"
            figure, currency = row["figure"], row["currency"]
            unit = "" if figure == "quantity" else f" {currency}"
            out.append(
                f"    {where[:40]:<40} {figure:<12} {_shown(row['serving_amount'], figure, currency):>12} -> "
                f"{_shown(row['shadow_amount'], figure, currency):>12}  "
                f"{_shown(row['difference'], figure, currency, sign=True)}{unit}"
            )
    totals = differences.filter(pl.col("line_no").is_null() & (pl.col("figure") == "total"))
    by_currency = totals.group_by("currency").agg(pl.col("difference").sum()).sort("currency")
    out.append(
        "Invoice totals would move by: "
        + (
            ", ".join(f"{_shown(d, 'total', c, sign=True)} {c}" for c, d in by_currency.iter_rows())
            or "nothing"
        )
    )
    return "\n".join(out)


def cmd_shadow_diff(args: argparse.Namespace) -> int:
    """Draft the entity-month in shadow, then print what switching would change."""
    import dagster as dg

    from assets.partitions import month_key
    from pipelines.definitions import current_definitions
    from pipelines.runner import QUIET, _failure, ensure_dagster_home
    from resources.configuration import current_config
    from resources.warehouse import Warehouse
    from rules.billing.shadow import rule_versions

    if rule_versions(current_config(), args.entity).shadow is None:
        print(
            f"billbridge shadow diff: entity {args.entity} has no enabled shadow candidate", file=sys.stderr
        )
        return 1
    ensure_dagster_home()
    month = date.fromisoformat(f"{args.period}-01")
    with dg.DagsterInstance.get() as instance:
        result = (
            current_definitions()
            .resolve_job_def("shadow_drafts")
            .execute_in_process(
                instance=instance,
                partition_key=month_key(args.entity, month),
                run_config=QUIET,
                raise_on_error=False,
            )
        )
    if not result.success:
        print(f"billbridge shadow diff: run {result.run_id[:8]} failed: {_failure(result)}", file=sys.stderr)
        return 1
    where = "entity = ? AND period = ?"
    differences = Warehouse().query(
        args.entity,
        f"SELECT * FROM billing.shadow_differences WHERE {where} ORDER BY invoice_number, line_no NULLS FIRST",
        [args.entity, args.period],
    )
    if differences.height == 0:
        print(f"Shadow diff of {args.entity} {args.period}: no money figure would change")
        return 0
    print(format_differences(args.entity, args.period, differences))
    return 0


def _switch(args: argparse.Namespace, serving: Serving) -> int:
    from resources.access_config import current_identity
    from resources.audit_config import note_configuration_change
    from resources.audit_log import AuditLog
    from resources.shadow_switch import switch_serving

    switch = switch_serving(args.entity, serving)
    version = switch.candidate.version
    who = "candidate " + version if serving == "candidate" else "the mapping document's own rules"
    if not switch.changed:
        print(f"shadow {args.action}: entity {args.entity} already drafts with {who}; nothing changed")
        return 0
    note_configuration_change(AuditLog(), current_identity().user)
    print(
        f"shadow {args.action}: entity {args.entity} now drafts with {who} "
        f"({switch.path.name} {switch.before[:12]} -> {switch.after[:12]}, recorded in the audit trail)"
    )
    return 0


def cmd_shadow_promote(args: argparse.Namespace) -> int:
    """The candidate serves the entity; the mapping document's own rules go to the shadow."""
    return _switch(args, "candidate")


def cmd_shadow_revert(args: argparse.Namespace) -> int:
    """The mapping document's own rules serve the entity again; the candidate goes back to the shadow."""
    return _switch(args, "current")


def register(subparsers: Any) -> None:
    """Add `billbridge shadow ...`."""
    shadow = subparsers.add_parser(
        "shadow", help="candidate billing rules drafted in shadow; switch to them and back"
    )
    sub = shadow.add_subparsers(dest="action", required=True)
    diff = sub.add_parser(
        "diff", help="draft an entity-month in shadow and print every figure that would change"
    )
    diff.add_argument("--entity", required=True, type=entity_id)
    diff.add_argument("--period", required=True, type=period, help="YYYY-MM")
    diff.set_defaults(func=cmd_shadow_diff)
    expected = (SwitchRefused, ConfigurationError)
    for name, func, text in (
        (
            "promote",
            cmd_shadow_promote,
            "make the entity's candidate rules serve (a recorded configuration change)",
        ),
        ("revert", cmd_shadow_revert, "make the mapping document's own rules serve again (recorded too)"),
    ):
        switch = sub.add_parser(name, help=text)
        switch.add_argument("--entity", required=True, type=entity_id)
        switch.set_defaults(func=one_line_errors(func, *expected))
