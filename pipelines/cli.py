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
from typing import TYPE_CHECKING, NoReturn

from dotenv import load_dotenv

from pipelines.cli_access import run_authorised
from pipelines.cli_args import REQUIRED_ENV, check_period, entity_id, period, run_options
from resources.configuration import current_config
from resources.secrets_file import secure_process
from resources.warehouse import Warehouse, default_home
from rules.calendar import months_from
from rules.config_types import ConfigurationError

DEMO_SEED = 7
DEMO_START = date(2026, 8, 1)
DEMO_MONTHS = 3
SANDBOX_HARVEST_PORT = 8711
SANDBOX_XERO_PORT = 8712
SANDBOX_HARVEST_TOKEN = "demo-harvest-token"
SANDBOX_HARVEST_ACCOUNT = "100001"
SANDBOX_XERO_TOKEN = "demo-xero-token"

EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the entity; try again later

if TYPE_CHECKING:
    from pipelines.sync_command import SyncReport


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
        if warehouse.exists(e)
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Sandboxes up, every entity over the demo months, then the summary."""
    from pipelines.report import format_table, group_table, summary
    from pipelines.runner import RunSettings
    from pipelines.sync_command import SyncRequest, run_sync

    config = current_config()
    warehouse = Warehouse()
    before = _posted_count(warehouse, config.entity_ids)
    months = months_from(DEMO_START, DEMO_MONTHS)
    with running_sandboxes(seed=args.seed, scale=args.scale) as env:
        os.environ.update(env)
        print(f"sandboxes: PM {env['HARVEST_BASE_URL']}  accounting {env['XERO_BASE_URL']}")
        report = run_sync(
            SyncRequest(config.entity_ids, months, RunSettings(verbose=args.verbose), True, args.wait)
        )
    after = _posted_count(warehouse, config.entity_ids)
    print()
    print(format_table(summary(config, Warehouse(read_only=True))))
    print()
    print(
        f"Group close ({config.reporting_currency}; income and expense at average rates, balances at closing):"
    )
    print(group_table(Warehouse(read_only=True), [m.strftime("%Y-%m") for m in months]))
    print()
    if after > before:
        print(f"posted {after - before} new document(s) to the accounting sandbox.")
    else:
        print(f"nothing new posted: all {after} document(s) were already in the accounting system.")
    print(f"Dagster instance: {os.environ['DAGSTER_HOME']}  (see it with `make ui`)")
    return _said(report)


def _said(report: SyncReport) -> int:
    """The exit code, with one closing line when the job is not done."""
    from pipelines.runner import log_path

    failed = [o for o in report.outcomes if not o.done]
    if failed:
        print(f"NOT DONE: {len(failed)} run(s) failed or left work undone (lines marked ! above); "
              f"full errors in {log_path()}")  # fmt: skip
    return report.exit_code


def cmd_sync(args: argparse.Namespace) -> int:
    """One entity-month against whatever HARVEST_*/XERO_* point at."""
    from pipelines.runner import RunSettings
    from pipelines.sync_command import SyncRequest, run_sync
    from resources.oauth import unset_variables

    # XERO_CONNECTION (`billbridge auth xero`) stands in for the token
    missing = unset_variables(REQUIRED_ENV)
    if missing:
        print(
            f"billbridge sync: set {', '.join(missing)} (for the local sandboxes: run `billbridge sandbox up` "
            "and use the variables it prints)",
            file=sys.stderr,
        )
        return 2
    config = current_config()
    month = date.fromisoformat(f"{args.period}-01")  # entity and period were checked as they were parsed
    try:
        check_period(month, config.billing_start, date.today())
    except ValueError as exc:
        print(f"billbridge sync: {exc}", file=sys.stderr)
        return 2
    settings = RunSettings(args.rerate_fx, args.verbose, args.executor)
    request = SyncRequest([args.entity], [month], settings, False, args.wait)
    return _said(run_sync(request))


def cmd_report(args: argparse.Namespace) -> int:
    """Print the per-entity summary (JSON with --json), filtered by --entity and --period; with --html,
    write the month report instead (pipelines/report_html.py)."""
    from pipelines.report import ReportScope, format_table, summary

    if args.html:
        from pipelines.report_html import html_report

        return html_report(args)

    config = current_config()
    scope = ReportScope([args.entity] if args.entity else config.entity_ids, args.period)
    rows = summary(config, Warehouse(read_only=True, lock_wait_s=args.wait), scope)
    print(json.dumps(rows, indent=2, default=str) if args.json else format_table(rows))
    busy = [row["entity"] for row in rows if row.get("busy")]
    return EXIT_BUSY if busy else 0


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
        from pipelines.orphans import die_with_parent

        return subprocess.call(command, cwd=repo, env={**os.environ, **env}, preexec_fn=die_with_parent)


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
    "pipelines.cli_auth",
    "pipelines.cli_audit",
    "pipelines.cli_access",
    "pipelines.cli_keys",
    "pipelines.cli_gdpr",
    "pipelines.cli_reconciliation",
    "pipelines.cli_migrate",
    "pipelines.cli_schemas",
    "pipelines.cli_trace",
    "pipelines.cli_retention",
    "pipelines.cli_shadow",
    "pipelines.cli_close",
]


class OneLineErrorParser(argparse.ArgumentParser):
    """A bad argument is one line naming it (`billbridge sync: argument --period: expected ...`), not the
    usage block; `--help` still prints the usage. Sub-command parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per task)."""
    import importlib

    parser = OneLineErrorParser(prog="billbridge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    demo = sub.add_parser("demo", help="run the whole graph for every entity over the demo months")
    _company_options(demo)
    run_options(demo)
    demo.set_defaults(func=cmd_demo)
    sync = sub.add_parser("sync", help="everything for one entity-month")
    sync.add_argument("--entity", required=True, type=entity_id)
    # The shape is checked as it is parsed (one line: OneLineErrorParser drops argparse's usage block);
    # check_period then names the partitions when the month is outside them.
    sync.add_argument("--period", required=True, type=period, help="YYYY-MM")
    sync.add_argument(
        "--rerate-fx", action="store_true", help="convert with today's ECB rates, not the ones first used"
    )
    sync.add_argument(
        "--executor",
        choices=["in_process", "celery"],
        default="in_process",
        help="celery: close the month on the entity's Celery worker (the team deployment, deploy/celery.md)",
    )
    run_options(sync)
    sync.set_defaults(func=cmd_sync)
    report = sub.add_parser("report", help="per-entity summary")
    report.add_argument("--json", action="store_true")
    report.add_argument("--html", action="store_true", help="write the month report as one HTML file")
    report.add_argument("--out", metavar="FILE", help="with --html: where (default BILLBRIDGE_HOME/reports/)")
    report.add_argument("--entity", type=entity_id, help="one entity only")
    report.add_argument("--period", type=period, help="one month only, YYYY-MM")
    report.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="wait this long for a run writing an entity",
    )
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


def _route_logs(*, verbose: bool) -> None:
    """Library warnings (retries scheduled, connections refused) go to the log file, not the terminal;
    `--verbose` shows them as well."""
    import logging

    import stamina.instrumentation

    # stamina prints retries through structlog (to stdout) when structlog is installed: log them instead.
    stamina.instrumentation.set_on_retry_hooks([stamina.instrumentation.LoggingOnRetryHook])
    path = Path(default_home()) / "logs" / "billbridge.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_billbridge", False)]:
        root.removeHandler(handler)  # a second main() in one process (tests) must not log twice
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._billbridge = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `billbridge` console script."""
    # `.env.example` says to copy it to `.env`: read it from the working directory, never overriding
    # what the shell already exports.
    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # a bad argument: argparse has printed usage and the reason
        return int(exc.code or 0)
    _route_logs(verbose=getattr(args, "verbose", False))
    try:
        secure_process()  # owner-only files; secrets from the secrets file (resources/secrets_file.py)
        return run_authorised(args)  # the command's permission, the caller's role, the audit trail
    except ConfigurationError as exc:
        print(f"billbridge: configuration error\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
