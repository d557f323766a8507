"""Retention's tables in each entity's file (registry: rules/schemas/registry.py; docs/decisions/0032)."""

from __future__ import annotations

from rules.schemas.registry import BIGINT, PERIOD, TIMESTAMPTZ, VARCHAR, TableSchema, col, length

RETENTION_TABLES: tuple[TableSchema, ...] = (
    TableSchema(
        "retention.legal_holds",
        "1.0.0",
        (
            col("hold_id", VARCHAR),
            col("entity", VARCHAR),
            col("client_id", BIGINT, null=True),
            col("period", VARCHAR, PERIOD, null=True),
            col("reason", VARCHAR, length(1, None)),
            col("set_by", VARCHAR),
            col("set_at", TIMESTAMPTZ),
            col("lifted_by", VARCHAR, null=True),
            col("lifted_at", TIMESTAMPTZ, null=True),
            col("lift_reason", VARCHAR, null=True),
        ),
        primary_key=("hold_id",),
        description="legal holds per entity, client or period: set and lifted with a reason, never deleted",
    ),
)
