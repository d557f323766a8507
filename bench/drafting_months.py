"""Drafting's memory month by month (issue #17, decision 0048): `billing/invoice_drafts` over a year,
with the resident memory printed after each month, on a warehouse seeded and normalized once.

    python -m bench.drafting_months prepare --entries 3000000 --home /tmp/bb-3m   # seed + normalize, kept
    python -m bench.drafting_months draft --home /tmp/bb-3m                       # draft 12 months, again and again

`draft` works on a copy of the prepared file, so every run starts from the same normalized lines.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from assets.billing.invoice_drafts import DRAFT_GROUP_LINES
from bench.billing import _seed
from bench.processes import in_fresh_process, peak_rss_mib
from bench.synthetic import YEAR_DAYS, YEAR_START, Firm

PREPARED = "prepared.duckdb"


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _materialize(home: str, asset_name: str, group_lines: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import dagster as dg

    from assets.billing.invoice_drafts import build_invoice_drafts
    from assets.gate import CheckGate
    from assets.normalized.billable_lines import build_billable_lines
    from assets.partitions import Partitions, day_key, month_key
    from pipelines.runner import RANGE_END, RANGE_START
    from resources.configuration import load_config
    from resources.fx import EcbRates
    from resources.warehouse import Warehouse

    config = Firm().config(load_config())
    partitions, warehouse = Partitions.of(config), Warehouse(home=home)
    EcbRates().snapshot()
    last_day = YEAR_START + timedelta(days=YEAR_DAYS - 1)
    if asset_name == "normalize":
        asset, start, end = (
            build_billable_lines(partitions),
            day_key("us", YEAR_START),
            day_key("us", last_day),
        )
    else:
        asset, start, end = (
            build_invoice_drafts(partitions),
            month_key("us", YEAR_START),
            month_key("us", last_day),
        )
    run_config = (
        {}
        if asset_name == "normalize"
        else {"ops": {"billing__invoice_drafts": {"config": {"group_lines": group_lines}}}}
    )
    original = CheckGate.admit
    t0 = time.perf_counter()

    def reporting(gate: CheckGate, part: Any, outcomes: Any) -> bool:  # each month drafted, before its write
        current, peak = _rss_mib()
        print(f"  {part.label()} drafted: rss {current:7,.0f} MiB  peak {peak:7,.0f} MiB  "
              f"{time.perf_counter() - t0:6.1f}s", flush=True)  # fmt: skip
        return original(gate, part, outcomes)

    CheckGate.admit = reporting  # type: ignore[method-assign]
    print(f"  baseline rss {_rss_mib()[0]:,.0f} MiB", flush=True)
    result = dg.materialize(
        [asset], instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": warehouse, "fx": EcbRates(), "settings": config},
        tags={RANGE_START: str(start), RANGE_END: str(end)},
        run_config=run_config,
    )  # fmt: skip
    current, peak = _rss_mib()
    print(f"  end: rss {current:,.0f} MiB  peak {peak:,.0f} MiB", flush=True)
    out.put({"ok": result.success, "seconds": time.perf_counter() - t0, "peak_mib": peak_rss_mib()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=["prepare", "draft"])
    parser.add_argument("--home", required=True)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--group-lines", type=int, default=DRAFT_GROUP_LINES)
    args = parser.parse_args()
    file = Path(args.home) / "warehouse" / "us.duckdb"
    if args.step == "prepare":
        seeded = in_fresh_process(_seed, args.home, args.entries)
        print(f"seeded {args.entries:,} in {seeded['seconds']:.0f}s", flush=True)
        print("normalize", in_fresh_process(_materialize, args.home, "normalize", 0), flush=True)
        shutil.copyfile(file, file.with_name(PREPARED))
        return
    shutil.copyfile(file.with_name(PREPARED), file)
    print("draft", in_fresh_process(_materialize, args.home, "draft", args.group_lines), flush=True)


if __name__ == "__main__":
    main()
