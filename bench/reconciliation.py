"""`make bench` section: the matching ladder over 100,000 bank lines and 100,000 open items, next to the
bare exact-key DuckDB join over the same rows (the floor: no typos, no names, no tolerances).

The floor is measured twice: `count(*)` over the join (what issue #15 named; DuckDB answers it without
materializing a pair), and the matched pairs (line_id, item_id, amount) fetched into polars, as the
ladder must return a row per line: the honest floor.

Each measurement runs in a fresh process so its peak RSS is its own (polars and DuckDB allocate outside
Python's heap, where tracemalloc cannot see). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import duckdb

from bench.processes import in_fresh_process, peak_rss_mib


def _labelled(invoices: int):  # type: ignore[no-untyped-def]
    from sandbox.bank_statements import generate_labelled_set

    return generate_labelled_set(seed=15, invoices=invoices, clients=max(300, invoices // 10))


def _measure_ladder(invoices: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import polars as pl

    from resources.bank_statements_rules import load_reconciliation_rules
    from rules.reconciliation.ladder import match_lines

    labelled = _labelled(invoices)
    rules = load_reconciliation_rules()
    baseline = peak_rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    decisions = match_lines(labelled.lines, labelled.items, rules, "uk")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    joined = decisions.join(labelled.truth, on="line_id")
    auto = joined.filter(pl.col("status") == "auto_accepted")
    correct = (auto["item_ids"].list.sort() == auto["true_item_ids"].list.sort()).sum()
    out.put({"seconds": elapsed, "cpu_seconds": cpu, "peak_mib": peak_rss_mib(), "baseline_mib": baseline,
             "lines": labelled.lines.height, "items": labelled.items.height, "auto": auto.height,
             "precision": correct / max(auto.height, 1)})  # fmt: skip


def _measure_floor(invoices: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    labelled = _labelled(invoices)
    baseline = peak_rss_mib()
    con = duckdb.connect()
    con.register("lines", labelled.lines)
    con.register("items", labelled.items)
    t0 = time.perf_counter()
    ((matched,),) = con.execute(f"SELECT count(*) FROM {_JOIN}").fetchall()
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    pairs = con.sql(f"SELECT l.line_id, i.item_id, l.amount FROM {_JOIN}").pl()
    materialized = time.perf_counter() - t0
    out.put({"seconds": elapsed, "materialized_seconds": materialized, "pairs": pairs.height,
             "peak_mib": peak_rss_mib(), "baseline_mib": baseline,
             "matched": matched})  # fmt: skip


_JOIN = (
    "lines l JOIN items i ON l.remittance = i.number AND l.amount = i.amount_due AND l.currency = i.currency"
)


def bench_reconciliation(invoices: int = 100_000) -> dict[str, dict[str, float]]:
    """Print and return the ladder's and the floor's wall time and peak memory."""
    ladder = in_fresh_process(_measure_ladder, invoices)
    floor = in_fresh_process(_measure_floor, invoices)
    print(f"ladder:       {ladder['seconds']:6.2f}s ({ladder['cpu_seconds']:.1f}s CPU)  {ladder['lines']:,.0f} bank lines x {ladder['items']:,.0f} items, "
          f"{ladder['auto']:,.0f} auto-accepted at precision {ladder['precision']:.4f}; "
          f"peak RSS {ladder['peak_mib']:,.0f} MiB ({ladder['baseline_mib']:,.0f} before matching)")  # fmt: skip
    print(f"DuckDB floor: {floor['seconds']:6.2f}s  exact-key join, {floor['matched']:,.0f} lines matched; "
          f"peak RSS {floor['peak_mib']:,.0f} MiB ({floor['baseline_mib']:,.0f} before joining)")  # fmt: skip
    print(f"DuckDB floor, materialized: {floor['materialized_seconds']:6.2f}s  the {floor['pairs']:,.0f} matched "
          "(line_id, item_id, amount) pairs fetched into polars")  # fmt: skip
    print(f"ladder / floor: {ladder['seconds'] / floor['seconds']:,.0f}x (target: under 60 s)")
    print(
        f"ladder / materialized floor: {ladder['seconds'] / floor['materialized_seconds']:,.0f}x "
        "(the floor with the ladder's output shape)"
    )
    return {"ladder": ladder, "floor": floor}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=100_000)
    print(json.dumps(bench_reconciliation(parser.parse_args().invoices), indent=1))
