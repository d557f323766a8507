"""The allocation's blocking invariants as pure functions returning (passed, detail)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from rules.allocation.pools import CAPEX, PoolLine


def sums_to_pool(
    pool_lines: list[PoolLine], slices: pl.DataFrame, unallocated: pl.DataFrame
) -> tuple[bool, str]:
    """Every allocated pool line's slices sum to it to the cent; the rest is listed as unallocated."""
    sliced = dict(slices.group_by("pool_line_id").agg(pl.col("amount").sum()).iter_rows())
    listed = dict(unallocated.select("pool_line_id", "amount").iter_rows())
    bad = []
    for line in pool_lines:
        if line.rule_id == CAPEX:
            continue
        if line.pool_line_id in listed:
            if listed[line.pool_line_id] != line.amount or line.pool_line_id in sliced:
                bad.append(line.pool_line_id)
        elif sliced.get(line.pool_line_id) != line.amount:
            bad.append(line.pool_line_id)
    if bad:
        return False, f"{len(bad)} pool line(s) not allocated to the cent: {bad[:5]}"
    total = sum((Decimal(v) for v in sliced.values()), Decimal(0))
    return True, f"{len(sliced)} pool line(s), {total} allocated, each to the cent"


def no_forbidden_negative(slices: pl.DataFrame) -> tuple[bool, str]:
    """No slice is negative unless its rule allows negative shares."""
    bad = slices.filter((pl.col("amount") < 0) & ~pl.col("allow_negative"))
    if bad.height:
        examples = (
            bad.select(pl.format("{}->{}", "pool_line_id", "target_id").alias("s"))["s"].head(5).to_list()
        )
        return False, f"{bad.height} negative slice(s) under rules that forbid it: {examples}"
    return True, f"{slices.height} slice(s), none negative against its rule"


def traceable(pool_lines: list[PoolLine], sources: pl.DataFrame, slices: pl.DataFrame) -> tuple[bool, str]:
    """Every slice names a pool line, and every pool line is the exact sum of named source costs."""
    source_sums = dict(
        sources.filter(pl.col("source_ref") != "")
        .group_by("pool_line_id")
        .agg(pl.col("amount").sum())
        .iter_rows()
    )
    known = {line.pool_line_id for line in pool_lines}
    orphans = slices.filter(~pl.col("pool_line_id").is_in(list(known)))
    unsourced = [
        line.pool_line_id for line in pool_lines if source_sums.get(line.pool_line_id) != line.amount
    ]
    if orphans.height or unsourced:
        return (
            False,
            f"{orphans.height} slice(s) without a pool line; pool lines not equal to their sources: {unsourced[:5]}",
        )
    return True, f"{slices.height} slice(s) -> {len(known)} pool line(s) -> {sources.height} source cost(s)"


def reproducible(result_hash: str, recomputed_hash: str, earlier: dict[str, str]) -> tuple[bool, str]:
    """Same inputs and rule set give the same bytes: recomputation and earlier runs on identical inputs agree.

    `earlier` maps run ids that had the same rule-set version and inputs hash to their result hash.
    """
    if recomputed_hash != result_hash:
        return False, "recomputing the same inputs gave different results"
    differing = [run for run, digest in earlier.items() if digest != result_hash]
    if differing:
        return False, f"earlier run(s) {differing[:3]} on identical inputs produced different results"
    return True, f"result {result_hash[:12]} reproduced (and matches {len(earlier)} earlier identical run(s))"


def capex_balances(
    pool_lines: list[PoolLine], schedule: pl.DataFrame, journals: pl.DataFrame
) -> tuple[bool, str]:
    """Each capex pool line's depreciation sums to its cost, and every journal draft balances."""
    capex = {
        line.pool_line_id: line.amount for line in pool_lines if line.rule_id == CAPEX and line.amount != 0
    }
    depreciated = dict(schedule.group_by("pool_line_id").agg(pl.col("amount").sum()).iter_rows())
    unbalanced = (
        journals.group_by("journal_ref").agg(pl.col("line_amount").sum()).filter(pl.col("line_amount") != 0)
    )
    wrong = [k for k, v in capex.items() if depreciated.get(k) != v]
    if wrong or unbalanced.height:
        return False, f"depreciation not equal to cost: {wrong[:5]}; unbalanced journals: {unbalanced.height}"
    return (
        True,
        f"{len(capex)} capitalized pool line(s) fully depreciated; {journals['journal_ref'].n_unique()} balanced journal(s)",
    )
