"""PM requests and seconds of N entities' extractions of one day window: each entity reading the
account itself (before decision 0042) against the account's shared readings (after), each entity taking
its share of the dated lists and the directory's kept judgement (decision 0050).

`python -m bench.account_extraction --entities 20 --entries 100000` (from the repository root).
The PM sandbox runs at the provider's real limit (100 requests / 15 s). The demo configuration's
entities are cloned up to `--entities` (the clones route nothing: the records stay with the demo's
three, and every clone still reads the account in full before). Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from assets.partitions import DaySlice
from assets.raw.pm_extracts import extract_slice
from resources.account_pages import AccountPageStore, SharedPages
from resources.configuration import load_config
from resources.harvest import HarvestClient
from resources.raw_extraction import PageSource
from resources.routed_pages import AccountRouting, EntityPages
from resources.warehouse import Warehouse
from rules.account_pages import Freshness
from rules.routing import EntityRoutes
from rules.settings import BillbridgeConfig
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox

MONTH = date(2026, 8, 1)


def _entities(count: int) -> BillbridgeConfig:
    config = load_config()
    clones = [
        config.entities[i % len(config.entities)].model_copy(
            update={"id": f"e{i:02d}", "accounting_tenant_id": f"bench-tenant-{i}"}
        )
        for i in range(count - len(config.entities))
    ]
    return config.model_copy(update={"entities": [*config.entities, *clones][:count]})


def _run(sandbox: HarvestSandbox, config: BillbridgeConfig, days: tuple[date, ...], shared: bool) -> None:
    routes = EntityRoutes.from_config(config)
    before = sum(sandbox.list_requests.values())
    harvest = HarvestClient(base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token")
    freshness = Freshness(datetime.now(UTC), timedelta(hours=24), timedelta(hours=1))
    store = AccountPageStore.beside(Warehouse())
    for entity in config.entity_ids:  # created and migrated before the clock starts: not extraction's cost
        with Warehouse().connect(entity):
            pass
    started = time.perf_counter()
    rows = 0
    for entity in config.entity_ids:
        routing = AccountRouting(routes, tuple(config.entity_ids))
        source: PageSource = (
            EntityPages(SharedPages(harvest, store, freshness), routing, entity) if shared else harvest
        )
        counts = extract_slice(source, Warehouse(), DaySlice(entity, days), f"bench-{entity}", routes)
        rows += sum(c.records for c in counts.values())
    seconds = time.perf_counter() - started
    requests = sum(sandbox.list_requests.values()) - before
    how = "shared readings" if shared else "each entity reads the account"
    print(
        f"{len(config.entity_ids):>3} entities, {how:<30}: {requests:>5} PM requests, {seconds:7.1f} s, "
        f"{rows:,} rows kept ({rows / seconds:,.0f} rows/s); 429 answers so far: {sandbox.rate_limited_count}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--entries", type=int, default=100_000, help="time entries in the month extracted")
    parser.add_argument("--skip-before", action="store_true", help="only the shared readings")
    args = parser.parse_args()
    company = generate_company(seed=7, scale=max(1.0, args.entries / 583), start=MONTH, months=1)
    days = tuple(MONTH + timedelta(days=i) for i in range(31))
    print(
        f"company: {len(company.time_entries):,} time entries, {len(company.expenses):,} expenses in {MONTH:%Y-%m}"
    )
    with HarvestSandbox(company, rate_limit=100, rate_window_s=15.0) as sandbox:
        for count in args.entities:
            for shared in (False, True) if not args.skip_before else (True,):
                with tempfile.TemporaryDirectory() as home:
                    os.environ["BILLBRIDGE_HOME"] = home
                    _run(sandbox, _entities(count), days, shared)


if __name__ == "__main__":
    main()
