"""The migrations of the group's file, in order (see resources/migrations/entity.py)."""

from __future__ import annotations

from resources.migrations import Chain, Migration
from resources.warehouse_tables import GROUP_DDL

# SLO measurements and heartbeat steps, kept as history (docs/decisions/0035). Never edit: add a step.
HEALTH_HISTORY = """
CREATE SCHEMA IF NOT EXISTS health;
CREATE TABLE IF NOT EXISTS health.slo_status (
    measured_at TIMESTAMPTZ NOT NULL, slo VARCHAR NOT NULL, figure DECIMAL(18,4),
    threshold DECIMAL(18,4) NOT NULL, severity VARCHAR NOT NULL, breached BOOLEAN NOT NULL,
    run_id VARCHAR NOT NULL, PRIMARY KEY (run_id, slo)
);
CREATE TABLE IF NOT EXISTS health.heartbeat_steps (
    started_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL,
    step_no INTEGER NOT NULL, step VARCHAR NOT NULL, ok BOOLEAN NOT NULL, latency_ms BIGINT NOT NULL,
    detail VARCHAR NOT NULL, document_number VARCHAR, PRIMARY KEY (run_id, step_no)
);
"""

GROUP_MIGRATIONS = Chain(
    "group",
    (
        Migration(1, "the 0.1.0 layout", sql=GROUP_DDL),
        Migration(2, "SLO and heartbeat history", sql=HEALTH_HISTORY),
    ),
)
