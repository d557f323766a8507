"""`make bench`'s posting figures at Xero's real limits (see bench/posting.py for the two shares).

`python -m bench.posting_pace --tenants 1,3,10 --invoices 6500 --new-contacts 1000` runs the same
scenarios as `make bench` alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.posting import write_synthetic_drafts
from bench.xero_process import SandboxProcess
from resources.configuration import load_config
from resources.warehouse import Warehouse
from rules.settings import EntityConfig

PERIOD = "2026-08"
CEILING = 50 * 60  # invoices a minute per tenant: 50 a call, 60 calls a minute


@dataclass(frozen=True)
class Scenario:
    """Tenants posting in parallel, each `invoices` drafts to `contacts` contacts the ledger does not know."""

    tenants: int
    invoices: int
    contacts: int


@dataclass(frozen=True)
class TenantFigures:
    """One tenant's run: what was confirmed, when, and the calls it took."""

    confirmed: int
    second_minute: int
    calls: int


def _entities(count: int) -> list[EntityConfig]:
    base = load_config().entity("us")
    return [
        base.model_copy(update={"id": f"pace{n}", "accounting_tenant_id": f"bench-tenant-{n}"})
        for n in range(count)
    ]


def _figures(warehouse: Warehouse, entity: EntityConfig, started: datetime, calls: int) -> TenantFigures:
    found = warehouse.query(
        entity.id,
        "SELECT count(*) AS n, count(*) FILTER (WHERE updated_at >= ? AND updated_at < ?) AS second "
        "FROM posting.outbox WHERE status = 'confirmed'",
        [started + timedelta(seconds=60), started + timedelta(seconds=120)],
    )
    return TenantFigures(int(found["n"][0]), int(found["second"][0]), calls)


def run_scenario(scenario: Scenario) -> None:
    """Post every tenant's drafts in parallel at the real limits and print the shares of the ceiling."""
    from assets.outbound_sources import DOCUMENT_SOURCES
    from assets.posting.outbox import post_period
    from resources.xero import XeroClient

    entities = _entities(scenario.tenants)
    with tempfile.TemporaryDirectory() as home:
        os.environ["BILLBRIDGE_HOME"] = home
        warehouse = Warehouse(home=home)
        for entity in entities:
            write_synthetic_drafts(warehouse, entity, PERIOD, scenario.invoices, contacts=scenario.contacts)
        sandbox = SandboxProcess(
            [e.accounting_tenant_id for e in entities], os.path.join(home, "xero.sqlite")
        )
        with sandbox as url:
            xero = XeroClient(base_url=url, access_token="demo-xero-token")  # 60/min, 5 in flight, 5,000/day

            def post(entity: EntityConfig) -> object:
                return post_period(entity, PERIOD, warehouse, xero, f"bench-{uuid.uuid4().hex[:8]}",
                                   sources=DOCUMENT_SOURCES)  # fmt: skip

            started, cpu0, t0 = datetime.now(UTC), time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(max_workers=len(entities)) as pool:
                list(pool.map(post, entities))
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        stats = sandbox.stats
        figures = [
            _figures(warehouse, e, started, stats.requests.get(e.accounting_tenant_id, 0)) for e in entities
        ]
    _print(scenario, figures, elapsed, cpu, stats.rate_limited, sum(stats.contacts.values()), stats.cpu_s)


def _print(
    scenario: Scenario,
    figures: list[TenantFigures],
    elapsed: float,
    cpu: float,
    limited: int,
    contacts: int,
    sandbox_cpu: float,
) -> None:
    confirmed = sum(f.confirmed for f in figures)
    call_shares = [f.confirmed / (50 * f.calls) for f in figures if f.calls]
    label = (
        f"{scenario.tenants} tenant(s) x {scenario.invoices:,} invoices, {scenario.contacts:,} contacts each"
    )
    print(
        f"{label}: {confirmed:,} confirmed in {elapsed:.1f}s, {sum(f.calls for f in figures):,} calls, "
        f"{limited} answered 429, {contacts:,} contacts in the ledger; client CPU {cpu:.1f}s = "
        f"{cpu / max(confirmed, 1) * 1000:.2f} ms per document (sandbox process {sandbox_cpu:.1f}s)"
    )
    if elapsed >= 120:
        window = sorted(f.second_minute / CEILING for f in figures)
        print(
            f"  second-minute share of the {CEILING:,}/min ceiling per tenant: min {window[0]:.0%}, "
            f"median {statistics.median(window):.0%}, max {window[-1]:.0%}"
        )
    rate = confirmed / len(figures) / elapsed * 60
    print(
        f"  per tenant {rate:,.0f} invoices/min over the whole run (first-minute burst included) = "
        f"{rate / CEILING:.0%}; call share (invoices / 50 x calls): min {min(call_shares):.0%}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the posting scenarios given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="1,3,10", help="comma-separated tenant counts, each a run")
    parser.add_argument("--invoices", type=int, default=6500, help="invoices per tenant (0 skips)")
    parser.add_argument(
        "--new-contacts", type=int, default=1000, help="first close to this many new contacts"
    )
    args = parser.parse_args(argv)
    bench_posting_pace([int(n) for n in args.tenants.split(",") if n], args.invoices, args.new_contacts)


def bench_posting_pace(tenant_counts: list[int], invoices: int, new_contacts: int) -> None:
    """Posting at the real limit for each tenant count, then a first close with `new_contacts` new contacts."""
    if invoices:
        for count in tenant_counts:
            run_scenario(Scenario(count, invoices, 5))
    if new_contacts:
        run_scenario(Scenario(1, new_contacts, new_contacts))


if __name__ == "__main__":
    main()
