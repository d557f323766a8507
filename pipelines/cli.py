"""`billbridge`: the command line for the demo, one-off syncs, the summary report and the local sandboxes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from resources.configuration import current_config
from resources.warehouse import Warehouse, default_home
from rules.calendar import months_from
from rules.settings import ConfigurationError

DEMO_SEED = 7
DEMO_START = date(2026, 8, 1)
DEMO_MONTHS = 3
SANDBOX_HARVEST_PORT = 8711
SANDBOX_XERO_PORT = 8712
SANDBOX_HARVEST_TOKEN = "demo-harvest-token"
SANDBOX_HARVEST_ACCOUNT = "100001"
SANDBOX_XERO_TOKEN = "demo-xero-token"
REQUIRED_ENV = (
    "HARVEST_BASE_URL",
    "HARVEST_ACCOUNT_ID",
    "HARVEST_ACCESS_TOKEN",
    "XERO_BASE_URL",
    "XERO_ACCESS_TOKEN",
)

if TYPE_CHECKING:
    from pipelines.runner import RunOutcome


@contextmanager
def running_sandboxes(
    harvest_port: int = 0, xero_port: int = 0, seed: int = DEMO_SEED, scale: float = 1.0
) -> Iterator[dict[str, str]]:
    """Start both sandboxes (seeded demo company; accounting ledger persisted under BILLBRIDGE_HOME).

    Yields the environment variables that point the connectors at them.
    """
    from sandbox.company import generate_company
    from sandbox.harvest import HarvestSandbox
    from sandbox.xero import XeroSandbox

    config = current_config()
    ledger = Path(default_home()) / "sandbox" / "xero.sqlite"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    company = generate_company(seed=seed, scale=scale, start=DEMO_START, months=DEMO_MONTHS)
    harvest = HarvestSandbox(
        company, token=SANDBOX_HARVEST_TOKEN, account_id=SANDBOX_HARVEST_ACCOUNT, port=harvest_port
    )
    xero = XeroSandbox(
        [e.accounting_tenant_id for e in config.entities],
        token=SANDBOX_XERO_TOKEN,
        db_path=ledger,
        port=xero_port,
    )
    harvest.start()
    xero.start()
    try:
        yield {
            "HARVEST_BASE_URL": harvest.url,
            "HARVEST_ACCOUNT_ID": SANDBOX_HARVEST_ACCOUNT,
            "HARVEST_ACCESS_TOKEN": SANDBOX_HARVEST_TOKEN,
            "XERO_BASE_URL": xero.url,
            "XERO_ACCESS_TOKEN": SANDBOX_XERO_TOKEN,
        }
    finally:
        harvest.stop()
        xero.stop()


def _posted_count(warehouse: Warehouse, entities: list[str]) -> int:
    return sum(
        int(warehouse.query(e, "SELECT count(*) AS n FROM posting.outbox WHERE status = 'confirmed'")["n"][0])
        for e in entities
    )


def _sync(
    entities: list[str], months: list[date], rerate_fx: bool = False, *, close_group: bool = False
) -> bool:
    """Run the jobs for each entity-month (then, with `close_group`, each month's group close),
    printing one line per run; True when every run succeeded."""
    import dagster as dg

    from pipelines import runner
    from pipelines.definitions import defs

    runner.ensure_dagster_home()
    outcomes: list[runner.RunOutcome] = []
    with dg.DagsterInstance.get() as instance:
        for entity in entities:
            for month in months:
                outcomes += _printed(runner.sync_month(instance, defs, entity, month, rerate_fx))
        if close_group:
            for month in months:
                outcomes += _printed([runner.close_group(instance, defs, month, rerate_fx)])
    return all(outcome.success for outcome in outcomes)


def _printed(outcomes: list[RunOutcome]) -> list[RunOutcome]:
    """Print one line per run (and its error), and hand the outcomes back."""
    for outcome in outcomes:
        status = "ok" if outcome.success else "FAILED"
        print(f"  {status:6} {outcome.job:22} {outcome.partitions:45} run {outcome.run_id[:8]}")
        if outcome.error:
            print(f"         {outcome.error}")
    return outcomes


def cmd_demo(args: argparse.Namespace) -> int:
    """Sandboxes up, every entity over the demo months, then the summary."""
    from pipelines.report import format_table, group_table, summary

    config = current_config()
    warehouse = Warehouse()
    before = _posted_count(warehouse, config.entity_ids)
    with running_sandboxes(seed=args.seed, scale=args.scale) as env:
        os.environ.update(env)
        print(f"sandboxes: PM {env['HARVEST_BASE_URL']}  accounting {env['XERO_BASE_URL']}")
        months = months_from(DEMO_START, DEMO_MONTHS)
        ok = _sync(config.entity_ids, months, close_group=True)
    after = _posted_count(warehouse, config.entity_ids)
    print()
    print(format_table(summary(config, warehouse)))
    print()
    print(
        f"Group close ({config.reporting_currency}; income and expense at average rates, balances at closing):"
    )
    print(group_table(warehouse, [m.strftime("%Y-%m") for m in months]))
    print()
    if after > before:
        print(f"posted {after - before} new document(s) to the accounting sandbox.")
    else:
        print(f"nothing new posted: all {after} document(s) were already in the accounting system.")
    print(f"Dagster instance: {os.environ['DAGSTER_HOME']}  (see it with `make ui`)")
    return 0 if ok else 1


def cmd_sync(args: argparse.Namespace) -> int:
    """One entity-month against whatever HARVEST_*/XERO_* point at."""
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        print(
            f"billbridge sync: set {', '.join(missing)} (for the local sandboxes: run `billbridge sandbox up` "
            "and use the variables it prints)",
            file=sys.stderr,
        )
        return 2
    config = current_config()
    try:
        config.entity(args.entity)
        month = date.fromisoformat(f"{args.period}-01")
    except (KeyError, ValueError) as exc:
        print(f"billbridge sync: {exc}", file=sys.stderr)
        return 2
    return 0 if _sync([args.entity], [month], args.rerate_fx) else 1


def cmd_report(args: argparse.Namespace) -> int:
    """Print the per-entity summary (JSON with --json)."""
    from pipelines.report import format_table, summary

    rows = summary(current_config(), Warehouse())
    print(json.dumps(rows, indent=2, default=str) if args.json else format_table(rows))
    return 0


def cmd_sandbox_up(args: argparse.Namespace) -> int:
    """Serve both sandboxes on fixed ports until interrupted."""
    import time

    with running_sandboxes(args.harvest_port, args.xero_port, args.seed, args.scale) as env:
        print("sandboxes running; point the connectors at them with:")
        for key, value in env.items():
            print(f"  export {key}={value}")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI over the local instance, with the sandboxes running beside it."""
    from pipelines.runner import ensure_dagster_home

    ensure_dagster_home()
    repo = Path(__file__).resolve().parents[1]
    with running_sandboxes(SANDBOX_HARVEST_PORT, SANDBOX_XERO_PORT) as env:
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-w",
            str(repo / "workspace.yaml"),
            "-p",
            str(args.port),
        ]
        return subprocess.call(command, cwd=repo, env={**os.environ, **env})


def _company_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=DEMO_SEED, help="demo company seed (same seed, same data)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="grow the demo company (about 600 gives 1M time entries)"
    )


# Modules that add their own sub-commands: each has `register(subparsers) -> None`.
COMMAND_MODULES: list[str] = [
    "pipelines.cli_events",
    "pipelines.cli_posting",
    "pipelines.cli_allocation",
    "pipelines.cli_reconciliation",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per task)."""
    import importlib

    parser = argparse.ArgumentParser(prog="billbridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    demo = sub.add_parser("demo", help="run the whole graph for every entity over the demo months")
    _company_options(demo)
    demo.set_defaults(func=cmd_demo)
    sync = sub.add_parser("sync", help="everything for one entity-month")
    sync.add_argument("--entity", required=True)
    sync.add_argument("--period", required=True, help="YYYY-MM")
    sync.add_argument(
        "--rerate-fx", action="store_true", help="convert with today's ECB rates, not the ones first used"
    )
    sync.set_defaults(func=cmd_sync)
    report = sub.add_parser("report", help="per-entity summary")
    report.add_argument("--json", action="store_true")
    report.set_defaults(func=cmd_report)
    sandbox = sub.add_parser("sandbox", help="local PM and accounting servers")
    sandbox_sub = sandbox.add_subparsers(dest="action", required=True)
    up = sandbox_sub.add_parser("up", help="serve both sandboxes until Ctrl-C")
    up.add_argument("--harvest-port", type=int, default=SANDBOX_HARVEST_PORT)
    up.add_argument("--xero-port", type=int, default=SANDBOX_XERO_PORT)
    _company_options(up)
    up.set_defaults(func=cmd_sandbox_up)
    ui = sub.add_parser("ui", help="Dagster UI (dagster dev) with the sandboxes running")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `billbridge` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"billbridge: configuration error\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
