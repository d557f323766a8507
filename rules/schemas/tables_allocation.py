"""The allocation layer's tables (append-only per run; registry: rules/schemas/registry.py)."""

from __future__ import annotations

from rules.schemas.registry import (
    BIGINT,
    BOOLEAN,
    CURRENCY,
    DATE,
    MONEY,
    TIMESTAMPTZ,
    VARCHAR,
    WIDE,
    Column,
    TableSchema,
    col,
    ge,
    gt,
    isin,
    length,
    unique,
)


def _run(*columns: Column) -> tuple[Column, ...]:
    """An allocation run's rows: the run, entity and period first, the rule-set version last."""
    return (
        col("run_id", VARCHAR),
        col("entity", VARCHAR),
        col("period", VARCHAR),
        *columns,
        col("rule_set_version", VARCHAR),
    )


ALLOCATION_TABLES: tuple[TableSchema, ...] = (
    TableSchema(
        "allocation.depreciation_schedule",
        "1.0.0",
        _run(
            col("pool_line_id", VARCHAR),
            col("pool_id", VARCHAR),
            col("capitalized_amount", MONEY),
            col("month_no", BIGINT),
            col("depreciation_month", DATE),
            col("amount", MONEY),
            col("remaining_book_value", MONEY),
        ),
    ),
    TableSchema(
        "allocation.journal_drafts",
        "1.0.0",
        _run(
            col("journal_ref", VARCHAR),
            col("journal_date", DATE),
            col("narration", VARCHAR, length(1, 4000)),
            col("line_no", BIGINT, gt(0)),
            col("account_code", VARCHAR, length(1)),
            col("description", VARCHAR),
            col("line_amount", MONEY),
            col("currency", VARCHAR, CURRENCY),
        ),
    ),
    TableSchema(
        "allocation.pool_line_sources",
        "1.0.0",
        _run(
            col("pool_line_id", VARCHAR),
            col("pool_id", VARCHAR),
            col("source_kind", VARCHAR),
            col("source_ref", VARCHAR),
            col("source_date", DATE),
            col("amount", MONEY),
        ),
    ),
    TableSchema(
        "allocation.pool_lines",
        "1.0.0",
        _run(
            col("pool_line_id", VARCHAR, unique()),
            col("pool_id", VARCHAR),
            col("rule_id", VARCHAR),
            col("cost_class", VARCHAR, isin("opex", "capex")),
            col("amount", MONEY),
            col("window_from", DATE),
            col("window_to", DATE),
        ),
    ),
    TableSchema(
        "allocation.profitability",
        "1.0.0",
        _run(
            col("project_id", BIGINT),
            col("project_name", VARCHAR),
            col("revenue", MONEY),
            col("direct_time_cost", MONEY),
            col("direct_expense_cost", MONEY),
            col("allocated_cost", MONEY),
            col("margin", MONEY),
        ),
    ),
    TableSchema(
        "allocation.runs",
        "1.0.0",
        (
            col("run_id", VARCHAR),
            col("entity", VARCHAR),
            col("period", VARCHAR),
            col("rule_set_version", VARCHAR),
            col("rule_set_path", VARCHAR),
            col("inputs_hash", VARCHAR),
            col("result_hash", VARCHAR),
            col("previous_run_id", VARCHAR, null=True),
            col("allocated_total", MONEY),
            col("unallocated_total", MONEY),
            col("created_at", TIMESTAMPTZ),
        ),
    ),
    TableSchema(
        "allocation.slices",
        "1.0.0",
        _run(
            col("pool_line_id", VARCHAR),
            col("pool_id", VARCHAR),
            col("pool_amount", MONEY),
            col("rule_id", VARCHAR),
            col("rule_hash", VARCHAR),
            col("allow_negative", BOOLEAN),
            col("target_kind", VARCHAR, isin("projects", "clients", "cost_centres")),
            col("target_id", VARCHAR),
            col("driver", VARCHAR),
            col("driver_value", MONEY),
            col("driver_total", MONEY),
            col("share", WIDE),
            col("exact_amount", WIDE),
            col("amount", MONEY),
            col("remainder_units", BIGINT, ge(0)),
        ),
    ),
    TableSchema(
        "allocation.unallocated",
        "1.0.0",
        _run(
            col("pool_line_id", VARCHAR),
            col("pool_id", VARCHAR),
            col("amount", MONEY),
            col("reason", VARCHAR),
        ),
    ),
)
