"""`billbridge trace`: from an invoice (or one line of it) back to the time entries and expenses it bills,
the rates and rules applied, when each was first seen approved in the PM system and by whom, which
runs priced, drafted and posted it and who started them; from a time entry forward to where it was
billed (docs/decisions/0036). A view: it shows personal data, so it is audited as one."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pipelines.cli_args import entity_id
from resources.configuration import current_config
from resources.ledger_trace import trace_entry, trace_invoice
from resources.warehouse import Warehouse
from rules.tracing import RunTrace

SOURCE_NAMES = {"time": "time entry", "expense": "expense"}


def _entities(args: argparse.Namespace, warehouse: Warehouse) -> list[str]:
    wanted = [args.entity] if args.entity else current_config().entity_ids
    return [e for e in wanted if warehouse.exists(e)]


def _runs_from_instance(run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Runs no file recorded (written before tracing, or by a run that failed first), from the Dagster
    instance's tags when it is on this machine."""
    home = os.environ.get("DAGSTER_HOME")
    if not run_ids or not home or not (Path(home) / "dagster.yaml").exists():
        return {}
    import dagster as dg

    found: dict[str, dict[str, Any]] = {}
    with dg.DagsterInstance.get() as instance:
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            if run is not None:
                found[run_id] = vars(RunTrace.of(run.run_id, run.job_name, run.tags))
    return found


def find_trace(args: argparse.Namespace) -> dict[str, Any] | None:
    """The trace the arguments ask for, from the first entity that has it."""
    warehouse = Warehouse(read_only=True)
    for entity in _entities(args, warehouse):
        if args.entry is not None:
            found = trace_entry(warehouse, entity, args.entry)
        else:
            found = trace_invoice(warehouse, entity, args.invoice, args.line)
        if found is not None:
            found["runs"].update(_runs_from_instance(found.pop("unrecorded_runs")))
            return found
    return None


def _run(runs: dict[str, Any], run_id: str | None) -> str:
    """`run 1a2b3c4d (started by alice (cli))`."""
    if not run_id:
        return "no run"
    run = runs.get(run_id)
    who = f" (started by {run['started_by']})" if run else " (run not recorded)"
    return f"run {run_id[:8]}{who}"


def _approval_lines(source: dict[str, Any], runs: dict[str, Any]) -> list[str]:
    first, billed = source["first_seen_approved"], source["billed_version"]
    seen = (
        f"first seen approved {first['seen_at']:%Y-%m-%d %H:%M} UTC (version {first['version']}, "
        f"{_run(runs, first['run_id'])})"
        if first
        else "never seen approved in the PM system"
    )
    under = f"version {billed['version']}: " if billed else ""
    return [
        f"approval: {seen}; approved by: {source['approved_by']}",
        f"billed under {under}{source['billed_under']}; priced by {_run(runs, source['run_id'])}",
    ]


def _source_lines(source: dict[str, Any], runs: dict[str, Any]) -> list[str]:
    kind = SOURCE_NAMES.get(source["source_kind"], source["source_kind"])
    what = " / ".join(str(v) for v in (source["project_name"], source["task_name"]) if v)
    rules = ", ".join(
        f"{name} {source[key]}"
        for name, key in (
            ("rate rule", "rate_rule_id"),
            ("rounding", "rounding_rule_id"),
            ("markup", "markup_rule_id"),
        )
        if source.get(key)
    )
    head = (
        f"{kind} {source['source_id']} on {source['day']}: {source['person_name'] or '-'}, {what}, "
        f"{source['quantity']} x {source['unit_price']} = {source['amount_txn']} {source['txn_currency']} "
        f"(rate from {source['rate_source']}{'; ' + rules if rules else ''}; rules {source['rule_set_version']})"
    )
    return [head, *(f"  {line}" for line in _approval_lines(source, runs))]


def _outbox_lines(outbox: list[dict[str, Any]], runs: dict[str, Any]) -> list[str]:
    return [
        f"{o['document_kind'] or 'invoice'} {o['document_number']}: {o['status']}, ledger id {o['external_id'] or '-'}, "
        f"{o['posted_total'] if o['posted_total'] is not None else '-'} {o['currency']} ({_run(runs, o['run_id'])})"
        for o in outbox
    ]


def _runs_section(runs: dict[str, Any]) -> list[str]:
    return ["Runs:"] + [
        f"  {run_id[:8]} {r['job']} {r['partition']} trace {r['trace_id']} source {r['source']}; "
        f"started by {r['started_by']}"
        for run_id, r in sorted(runs.items())
    ]


def _line_rules(line: dict[str, Any]) -> str:
    """How the line was priced (an invoice line), or what it corrects (a correction line)."""
    if "correction_amount" in line:
        return f"corrects {line['billed_quantity']} billed to {line['current_quantity']} now: {line['correction_amount']}"
    return (
        f"rate from {line['rate_source']}, rounding {line['rounding_rule']}, tax rounding "
        f"{line['tax_rounding_rule']}, rules {line['rule_set_version']}"
    )


def render_invoice(trace: dict[str, Any]) -> list[str]:
    """The backward trace as readable lines."""
    document, runs = trace["document"], trace["runs"]
    kind = str(document["document_kind"]).replace("_", " ").capitalize()
    corrects = f" correcting {document['original_number']}" if document["original_number"] else ""
    out = [
        f"{kind} {document['document_number']}{corrects} ({trace['entity']}, {document['period']}) to "
        f"{document['contact_name']}: {document['total']} {document['currency']}, drafted by "
        f"{_run(runs, document['run_id'])}",
        *(f"  posted: {line}" for line in _outbox_lines(trace["outbox"], runs)),
    ]
    for line in trace["lines"]:
        posted = line["posted"]
        out.append(
            f"  line {line['line_no']}: {line['description']}: {line['quantity']} x {line['unit_amount']} = "
            f"{line['line_amount']} + tax {line['tax_amount']} ({line['tax_type']}, account {line['account_code']}; "
            f"{_line_rules(line)})"
            + (
                f"; booked {posted['posted_at']:%Y-%m-%d %H:%M} UTC by {_run(runs, posted['run_id'])}"
                if posted
                else ""
            )
        )
        for source in line["sources"]:
            out += [f"    {text}" for text in _source_lines(source, runs)]
    return out + _runs_section(runs)


def render_entry(trace: dict[str, Any]) -> list[str]:
    """The forward trace as readable lines."""
    runs = trace["runs"]
    out = [f"PM record {trace['entry_id']} ({trace['entity']}):"]
    for line in trace["lines"]:
        out += [f"  {text}" for text in _source_lines(line, runs)]
        billed = (
            f"billed on invoice {line['invoice_number']} line {line['line_no']}"
            if line["invoice_number"]
            else "not billed (yet)"
        )
        out.append(f"    {billed}")
    out += [f"  posted: {line}" for line in _outbox_lines(trace["outbox"], runs)]
    for c in trace["corrections"]:
        relation = "draws on this entry" if c["touches_entry"] else "corrects the same invoice"
        out.append(
            f"  correction {c['document_number']} line {c['line_no']} ({c['document_kind']}, {c['status']}) of "
            f"{c['original_number']}: {c['correction_amount']}; {relation}"
        )
    return out + _runs_section(runs)


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the trace (JSON with --json); exit 1 with one line when nothing matches."""
    if (args.invoice is None) == (args.entry is None):
        print("billbridge trace: give an invoice number or --entry ID (one of them)", file=sys.stderr)
        return 2
    found = find_trace(args)
    if found is None:
        what = f"entry {args.entry}" if args.entry is not None else f"invoice {args.invoice}"
        where = f"entity {args.entity}" if args.entity else "any entity's warehouse"
        print(
            f"billbridge trace: no {what}{f' line {args.line}' if args.line else ''} in {where}",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(found, indent=2, default=str))
    else:
        print("\n".join(render_entry(found) if args.entry is not None else render_invoice(found)))
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge trace`."""
    trace = subparsers.add_parser(
        "trace", help="an invoice back to its time entries, approvals, runs and people; an entry forward"
    )
    trace.add_argument("invoice", nargs="?", help="invoice or correction number (e.g. BB-US-202608-5001-USD)")
    trace.add_argument("--line", type=int, help="only this line of the invoice")
    trace.add_argument("--entry", type=int, help="a time entry or expense id: where it was billed")
    trace.add_argument("--entity", type=entity_id, help="look in this entity only")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(func=cmd_trace)
