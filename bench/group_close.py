"""The group's month close at scale against the limit-enforcing sandboxes (issue #17's headline figure).

`python -m bench.group_close [--entries 1000000]` from the repository root. Printed, never asserted.

A scratch BILLBRIDGE_HOME gets the 20-entity configuration (sandbox/group_config.py); the PM and
accounting sandboxes run in processes of their own with the providers' real limits (PM: 100
requests / 15 s per account; accounting: 60 calls a minute, 5 in flight, 5,000 a day per tenant),
so the close talks real HTTP and no sandbox shares its interpreter. The close runs in a process of
its own as `billbridge` runs it (pipelines/sync_command.py: every entity's month, then the group
close); its wall time is timed from that process's start to its end. The provider bound is the
same work at the limits: the PM requests it made at 100 per 15 s (one account), then the busiest
tenant's accounting calls at 60 a minute (tenants in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from bench.processes import DescendantPeaks
from pipelines.celery_workers import REPOSITORY_ROOT, peak_rss_mib
from pipelines.cli import SANDBOX_HARVEST_ACCOUNT, SANDBOX_HARVEST_TOKEN, SANDBOX_XERO_TOKEN
from sandbox.group_company import GroupProfile, group_roster
from sandbox.group_config import write_group_configuration

PM_REQUESTS_PER_WINDOW, PM_WINDOW_S = 100, 15.0
ACCOUNTING_CALLS_PER_MINUTE = 60


def _peak_rss_self_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _say(document: dict[str, Any]) -> None:
    """One JSON line to the parent (the sandboxes' and the close's only channel)."""
    print(json.dumps(document), flush=True)


def serve_harvest(profile: GroupProfile) -> None:
    """Child: the group's PM account at the real limit until stdin closes, then its request counts."""
    from sandbox.group_company import generate_group
    from sandbox.harvest import HarvestSandbox

    company = generate_group(profile)
    sandbox = HarvestSandbox(
        company,
        token=SANDBOX_HARVEST_TOKEN,
        account_id=SANDBOX_HARVEST_ACCOUNT,
        rate_limit=PM_REQUESTS_PER_WINDOW,
        rate_window_s=PM_WINDOW_S,
    ).start()
    _say({"url": sandbox.url, "summary": company.summary()})
    sys.stdin.read()
    _say(
        {
            "requests": sandbox.admitted_count,
            "rate_limited": sandbox.rate_limited_count,
            "rss": _peak_rss_self_mib(),
        }
    )
    sandbox.stop()


def serve_xero(ledger: Path) -> None:
    """Child: one ledger per entity's tenant at the real limits until stdin closes, then its counts."""
    from resources.configuration import current_config
    from sandbox.xero import XeroSandbox

    entities = current_config().entities
    sandbox = XeroSandbox(
        [e.accounting_tenant_id for e in entities],
        token=SANDBOX_XERO_TOKEN,
        db_path=ledger,
        base_currencies={e.accounting_tenant_id: e.base_currency for e in entities},
    ).start()
    _say({"url": sandbox.url})
    sys.stdin.read()
    tenants = {e.id: e.accounting_tenant_id for e in entities}
    _say(
        {
            "calls": {entity: sandbox.admitted_count(tenant) for entity, tenant in tenants.items()},
            "invoices": {entity: len(sandbox.documents(tenant)) for entity, tenant in tenants.items()},
            "bills": {entity: len(sandbox.documents(tenant, "ACCPAY")) for entity, tenant in tenants.items()},
            "rate_limited": sandbox.rate_limited_count,
            "rss": _peak_rss_self_mib(),
        }
    )
    sandbox.stop()


def run_close(month: date, parallel: int) -> None:
    """Child: `billbridge close` of the month (every entity's close, `parallel` at a time, each in a
    process of its own, then the group close); its outcome as JSON."""
    from pipelines.group_close_command import GroupCloseRequest, run_group_close
    from resources.configuration import current_config

    entities = current_config().entity_ids
    with DescendantPeaks() as entity_processes:  # forked by the close's forkserver: not our children
        report = run_group_close(GroupCloseRequest(month, entities, parallel, wait_s=0))
    failed = [f"{entity}: exit {code}" for entity, code in report.entity_codes.items() if code != 0]
    group = report.group.outcomes if report.group else []
    failed += [f"{o.job} {o.partitions}: {o.error or 'findings failed'}" for o in group if not o.done]
    largest_entity = max(
        entity_processes.largest_mib, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    _say(
        {
            "runs": len(entities) + len(group),
            "failed": failed,
            "rss": max(_peak_rss_self_mib(), largest_entity),
        }
    )


@dataclass
class Child:
    """A process of this module that answers in JSON lines."""

    process: subprocess.Popen[str]
    peak_rss_mib: float = 0.0

    def answer(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        line = stdout.readline() if stdout is not None else ""
        while line and not line.startswith("{"):  # progress lines of the close pass through
            print(line, end="", flush=True)
            line = stdout.readline() if stdout is not None else ""
        if not line:
            raise RuntimeError(f"bench child {self.process.args!r} ended without answering")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def finish(self) -> dict[str, Any]:
        """Close its stdin (the signal to stop) and read its last answer."""
        self.peak_rss_mib = peak_rss_mib(self.process.pid)
        if self.process.stdin is not None:
            self.process.stdin.close()
        answer = self.answer()
        self.process.wait(timeout=60)
        return answer


def _spawn(args: list[str], env: dict[str, str]) -> Child:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.group_close", *args],
        cwd=REPOSITORY_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Child(process)


@dataclass
class GroupSandboxes:
    """The two sandbox processes and the variables that point `billbridge` at them."""

    harvest: Child
    xero: Child
    env: dict[str, str] = field(default_factory=dict)
    summary: dict[str, int] = field(default_factory=dict)


@contextmanager
def group_sandboxes(profile: GroupProfile, env: dict[str, str], home: Path) -> Iterator[GroupSandboxes]:
    """Both sandboxes in processes of their own over the group at `profile`'s size (stopped on exit)."""
    scale = [
        "--entries",
        str(profile.entries),
        "--entities",
        str(profile.entities),
        "--month",
        str(profile.month),
    ]
    harvest = _spawn(["--serve", "harvest", *scale], env)
    xero = _spawn(["--serve", "xero", "--ledger", str(home / "sandbox" / "xero.sqlite")], env)
    try:
        pm, accounting = harvest.answer(), xero.answer()
        sandboxes = GroupSandboxes(harvest, xero, summary=pm["summary"])
        sandboxes.env = {
            "HARVEST_BASE_URL": pm["url"],
            "HARVEST_ACCOUNT_ID": SANDBOX_HARVEST_ACCOUNT,
            "HARVEST_ACCESS_TOKEN": SANDBOX_HARVEST_TOKEN,
            "XERO_BASE_URL": accounting["url"],
            "XERO_ACCESS_TOKEN": SANDBOX_XERO_TOKEN,
        }
        yield sandboxes
    finally:
        _end(harvest)
        _end(xero)


def _end(child: Child) -> None:
    """Kill a child that is still running (the bench was interrupted or failed)."""
    if child.process.poll() is None:
        child.process.kill()
        child.process.wait()


@dataclass(frozen=True)
class CloseFigures:
    """What one close did and how long it took, next to the providers' bound for the same work."""

    wall_s: float
    pm_requests: int
    calls: dict[str, int]
    invoices: int
    bills: int

    @property
    def extraction_bound_s(self) -> float:
        return self.pm_requests / PM_REQUESTS_PER_WINDOW * PM_WINDOW_S

    @property
    def posting_bound_s(self) -> float:
        return max(self.calls.values(), default=0) / ACCOUNTING_CALLS_PER_MINUTE * 60

    @property
    def bound_s(self) -> float:
        """Extraction at the PM account's limit, then the busiest tenant's calls at its minute limit."""
        return self.extraction_bound_s + self.posting_bound_s


@contextmanager
def scratch_group(profile: GroupProfile) -> Iterator[tuple[Path, dict[str, str]]]:
    """A throwaway BILLBRIDGE_HOME with the group's configuration; (home, the environment for it)."""
    with tempfile.TemporaryDirectory(prefix="billbridge-group-") as scratch:
        home = Path(scratch)
        (home / "sandbox").mkdir()
        files = write_group_configuration(home / "config", profile, group_roster(profile))
        yield (
            home,
            {
                **os.environ,
                **files.environment(),
                "BILLBRIDGE_HOME": str(home),
                "DAGSTER_HOME": str(home / "dagster_home"),
                "PYTHONPATH": str(REPOSITORY_ROOT),
            },
        )


def bench_group_close(
    entries: int, entities: int = 20, month: date = date(2026, 10, 1), parallel: int = 4
) -> None:
    """Close the group's month at `entries` time entries, `parallel` entities at once, and print the figures."""
    profile = GroupProfile(entries=entries, entities=entities, month=month)
    with scratch_group(profile) as (home, env):
        began = time.perf_counter()
        with group_sandboxes(profile, env, home) as sandboxes:
            print(f"sandboxes up in {time.perf_counter() - began:.0f} s: {sandboxes.summary}", flush=True)
            began = time.perf_counter()
            close = _spawn(
                ["--close", "--month", str(month), "--parallel", str(parallel)], {**env, **sandboxes.env}
            )
            try:
                outcome = close.answer()
                wall = time.perf_counter() - began
                close.process.wait()
            finally:
                _end(close)
            pm, accounting = sandboxes.harvest.finish(), sandboxes.xero.finish()
    figures = CloseFigures(
        wall,
        pm["requests"],
        accounting["calls"],
        sum(accounting["invoices"].values()),
        sum(accounting["bills"].values()),
    )
    _print(profile, sandboxes, figures, outcome, (pm, accounting))


def _print(
    profile: GroupProfile,
    sandboxes: GroupSandboxes,
    figures: CloseFigures,
    outcome: dict[str, Any],
    answers: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pm, accounting = answers
    busiest = max(figures.calls, key=lambda e: figures.calls[e])
    calls = sum(figures.calls.values())
    print(
        f"close of {profile.month:%Y-%m}: {sandboxes.summary['time_entries']:,} time entries, {profile.entities} entities, "
        f"{figures.invoices:,} invoices and {figures.bills:,} bills posted; {outcome['runs']} runs, {len(outcome['failed'])} not done"
    )
    for line in outcome["failed"][:5]:
        print(f"  not done: {line}")
    print(
        f"  wall {figures.wall_s:,.0f} s; provider bound {figures.bound_s:,.0f} s "
        f"(extraction {figures.extraction_bound_s:,.0f} s + posting {figures.posting_bound_s:,.0f} s); "
        f"ratio {figures.wall_s / figures.bound_s if figures.bound_s else float('nan'):.2f}x"
    )
    print(
        f"  PM requests {figures.pm_requests:,} ({pm['rate_limited']:,} answered 429); accounting calls {calls:,} "
        f"({accounting['rate_limited']:,} answered 429), busiest tenant {busiest} {figures.calls[busiest]:,}"
    )
    print(
        f"  peak RSS: largest close process {outcome['rss']:,.0f} MiB, PM sandbox {sandboxes.harvest.peak_rss_mib:,.0f} MiB, "
        f"accounting sandbox {sandboxes.xero.peak_rss_mib:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--month", type=date.fromisoformat, default=date(2026, 10, 1))
    parser.add_argument("--parallel", type=int, default=4, help="entities closed at once (billbridge close)")
    parser.add_argument("--serve", choices=("harvest", "xero"), help=argparse.SUPPRESS)  # internal: a sandbox
    parser.add_argument("--ledger", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--close", action="store_true", help=argparse.SUPPRESS)  # internal: the close
    args = parser.parse_args()
    if args.serve == "harvest":
        serve_harvest(GroupProfile(entries=args.entries, entities=args.entities, month=args.month))
    elif args.serve == "xero":
        serve_xero(args.ledger)
    elif args.close:
        run_close(args.month, args.parallel)
    else:
        # A terminated bench unwinds (its finally blocks end the sandbox and close processes).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        bench_group_close(args.entries, args.entities, args.month, args.parallel)


if __name__ == "__main__":
    main()
