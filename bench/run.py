"""`make bench`: throughput and peak memory of the billing path, and extraction against the rate limit.

Figures are printed, never asserted. `--billing-sizes` sets the billing path's scales (bench/billing.py),
`--entries N` the other sections' (default 1M). First the headline: the 20-entity month close at
`--close-entries` time entries against the limit-enforcing sandboxes (bench/group_close.py); last,
the close on one Celery worker against two (bench/celery_workers.py, `--celery-entries`; needs RabbitMQ).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.allocation import bench_allocation
from bench.billing import WINDOW_RECORDS, bench_billing
from bench.pricing import bench_pricing
from bench.security import bench_audit_verify, bench_field_encryption

HARVEST_CEILING_ROWS_S = 100 * 2000 / 15  # 100 requests per 15 s, 2,000 rows a page


def bench_extraction(rows: int) -> None:
    """Extract `rows` time entries from the PM sandbox with the provider's real limit switched on."""
    from resources.harvest import HarvestClient
    from sandbox.company import generate_company
    from sandbox.harvest import HarvestSandbox

    scale = max(1.0, rows / 1_700)
    t0 = time.perf_counter()
    company = generate_company(seed=7, scale=scale)
    print(
        f"generated a company of {len(company.time_entries):,} time entries (scale {scale:.0f}) in {time.perf_counter() - t0:.1f}s"
    )
    with HarvestSandbox(company, rate_limit=100, rate_window_s=15.0) as sandbox:
        client = HarvestClient(base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token")
        t0 = time.perf_counter()
        extracted = pages = 0
        for page in client.iter_pages("time_entries"):
            extracted += len(page.records)
            pages += 1
        elapsed = time.perf_counter() - t0
        rate = extracted / elapsed
        print(
            f"extraction:   {extracted:,} rows in {pages} pages, {elapsed:.1f}s = {rate:,.0f} rows/s = "
            f"{rate / HARVEST_CEILING_ROWS_S:.0%} of the {HARVEST_CEILING_ROWS_S:,.0f} rows/s ceiling; "
            f"429 answers: {sandbox.rate_limited_count}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="time entries for allocation, pricing and security"
    )
    parser.add_argument(
        "--billing-sizes",
        default="100000,1000000",
        help="time entries of the billing path, comma-separated (e.g. 100000,1000000,10000000)",
    )
    parser.add_argument("--billing-window-records", type=int, default=WINDOW_RECORDS)
    parser.add_argument(
        "--extract-rows", type=int, default=600_000, help="time entries to extract at the real limit"
    )
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument(
        "--reconcile-invoices", type=int, default=100_000, help="bank lines x open items to match (0 skips)"
    )
    parser.add_argument(
        "--post-invoices",
        type=int,
        default=6500,
        help="invoices per tenant to post at 60 calls/min (0 skips)",
    )
    parser.add_argument("--post-tenants", default="1,3,10", help="tenants posting in parallel, one run each")
    parser.add_argument(
        "--new-contacts", type=int, default=1000, help="a first close to this many new contacts"
    )
    parser.add_argument(
        "--close-entries",
        type=int,
        default=1_000_000,
        help="time entries of the 20-entity month close at the providers' limits (0 skips)",
    )
    parser.add_argument(
        "--celery-entries",
        type=int,
        default=20_000,
        help="time entries of the close on 1 vs 2 workers (0 skips)",
    )
    args = parser.parse_args()
    if args.close_entries:
        from bench.group_close import bench_group_close

        print(
            f"== the group's month close: 20 entities, {args.close_entries:,} time entries, at the providers' limits =="
        )
        bench_group_close(args.close_entries)
        print()
    for size in (int(n) for n in args.billing_sizes.split(",") if n):
        print(f"== billing path at {size:,} time entries: a year of one entity, as its assets run ==")
        bench_billing(size, args.billing_window_records)
    print(f"\n== reallocation of one entity-month at {args.entries:,} time entries, 1,000 projects ==")
    bench_allocation(args.entries)
    print(f"\n== pricing {args.entries:,} lines: full rule set vs plain hours x rate ==")
    bench_pricing(args.entries)
    print(f"\n== field encryption on the billing path at {args.entries:,} time entries ==")
    bench_field_encryption(args.entries)
    print(f"\n== audit trail: append and verify {args.entries:,} entries ==")
    bench_audit_verify(args.entries)
    if args.reconcile_invoices:
        from bench.reconciliation import bench_reconciliation

        print(
            f"\n== reconciliation: {args.reconcile_invoices:,} bank lines x open items, ladder vs exact-key join =="
        )
        bench_reconciliation(args.reconcile_invoices)
    if not args.skip_extraction:
        print("\n== extraction at the provider's limit (100 requests / 15 s, 2,000 rows a page) ==")
        bench_extraction(args.extract_rows)
    if args.post_invoices or args.new_contacts:
        from bench.posting_pace import bench_posting_pace

        print(
            "\n== posting at Xero's real limits (60 calls/min, 5 in flight per tenant), 50 invoices a call =="
        )
        tenants = [int(n) for n in args.post_tenants.split(",") if n]
        bench_posting_pace(tenants, args.post_invoices, args.new_contacts)
    if args.celery_entries:
        print(
            f"\n== the close on one Celery worker vs two: 20 entities, {args.celery_entries:,} time entries =="
        )
        sys.stdout.flush()
        command = [sys.executable, "-m", "bench.celery_workers", "--entries", str(args.celery_entries)]
        subprocess.run(command, check=False)  # its own process: the group's configuration, not the demo's


if __name__ == "__main__":
    main()
