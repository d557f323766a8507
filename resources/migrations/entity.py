"""The migrations of an entity's warehouse file, in order. Append a new numbered step for every change
of shape; never edit a released one (the file records each step's checksum): the SQL of 0001
(resources/warehouse_tables.py) and 0004 (resources/bank_statements_tables.py) is frozen where it lives."""

from __future__ import annotations

import duckdb

from resources.bank_statements_tables import RECONCILIATION_DDL
from resources.migrations import Chain, Migration
from resources.warehouse_tables import DDL, RENAMED_COLUMNS


def _rename_old_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Columns renamed before migrations existed (RENAMED_COLUMNS), for files older than 0.1.0."""
    present = {
        (row[0], row[1], row[2])
        for row in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE column_name IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [sorted({old for _s, _t, old, _n in RENAMED_COLUMNS})],
        ).fetchall()
    }
    for schema, table, old, new in RENAMED_COLUMNS:
        if (schema, table, old) in present:
            con.execute(f"ALTER TABLE {schema}.{table} RENAME COLUMN {old} TO {new}")


# Every version of every PM record, the records and pages held back with why, and each extraction's
# payload profile (the baseline drift detection compares the next one with), and the consistency checks.
RECORD_HISTORY = """
CREATE TABLE IF NOT EXISTS raw.record_versions (
    entity VARCHAR NOT NULL, kind VARCHAR NOT NULL, record_id BIGINT NOT NULL, version INTEGER NOT NULL,
    change VARCHAR NOT NULL, day DATE, payload VARCHAR, payload_hash VARCHAR, source_payload VARCHAR,
    seen_at TIMESTAMPTZ NOT NULL, request_url VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    contract_version VARCHAR NOT NULL, note VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.rejected_records (
    entity VARCHAR NOT NULL, kind VARCHAR NOT NULL, day DATE, window_from DATE, window_to DATE,
    scope VARCHAR NOT NULL, record_ref VARCHAR NOT NULL, field VARCHAR NOT NULL, value VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, detail VARCHAR NOT NULL, payload VARCHAR NOT NULL, request_url VARCHAR NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.payload_profiles (
    entity VARCHAR NOT NULL, kind VARCHAR NOT NULL, run_id VARCHAR NOT NULL, seen_at TIMESTAMPTZ NOT NULL,
    records BIGINT NOT NULL, field VARCHAR NOT NULL, present BIGINT NOT NULL, nulls BIGINT NOT NULL,
    types VARCHAR NOT NULL
);
-- The last consistency check of each entity-month: the PM system, the warehouse and the ledger.
CREATE TABLE IF NOT EXISTS quality.pm_consistency (
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pm_records BIGINT NOT NULL, pm_hours DECIMAL(18,4) NOT NULL,
    pm_expense_total DECIMAL(18,4) NOT NULL, missed_or_changed BIGINT NOT NULL, tombstones BIGINT NOT NULL,
    rejected BIGINT NOT NULL, ledger_records BIGINT NOT NULL, ledger_hours DECIMAL(18,4) NOT NULL,
    billed_but_gone BIGINT NOT NULL, consistent BOOLEAN NOT NULL, detail VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
"""
# The current tables of the layout before history: (table, kind expression).
_CURRENT_TABLES = (
    ("raw.time_entries", "'time_entries'"),
    ("raw.expenses", "'expenses'"),
    ("raw.intercompany_time_entries", "'intercompany_time_entries'"),
    ("raw.directory", "kind"),
)


def _seed_history(con: duckdb.DuckDBPyConnection) -> None:
    """Each record kept by the layout before history becomes its version 1; a record the old layout
    held on two days (moved, and only one day re-extracted) keeps only its latest sighting."""
    for table, kind in _CURRENT_TABLES:
        day = "NULL::DATE" if table == "raw.directory" else "day"
        key = f"entity, {kind}, record_id"
        con.execute(
            f"""
            INSERT INTO raw.record_versions BY NAME
            SELECT entity, {kind} AS kind, record_id, 1 AS version, 'created' AS change, {day} AS day,
                   payload, payload_hash, extracted_at AS seen_at, request_url, run_id, contract_version,
                   'kept by the layout before record history' AS note
            FROM {table} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY extracted_at DESC, rowid DESC) = 1
            """
        )
        con.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY extracted_at DESC, rowid DESC) > 1)"
        )


# Billing finds its invoice-line time rounding in the rule set itself (docs/decisions/0019), so these
# columns only instructed it: normalized.billable_lines 2.0.0 drops them.
DROP_LINE_ROUNDING = """
ALTER TABLE normalized.billable_lines DROP COLUMN IF EXISTS line_increment_minutes;
ALTER TABLE normalized.billable_lines DROP COLUMN IF EXISTS line_minimum_minutes;
"""

# The outbox as a state machine (docs/decisions/0015): a send whose outcome is unknown waits
# until `settle_after`; the lines each outbox row sends are kept from before the first request.
OUTBOX_STATES = """
-- While a send's outcome is unknown: no look-up may settle the document as absent before this moment.
ALTER TABLE posting.outbox ADD COLUMN IF NOT EXISTS settle_after TIMESTAMPTZ;
-- The lines of the version each outbox row sends (with their trace columns), kept from before the
-- first request: when the ledger confirms the document, these and the ledger's amounts are what is booked.
CREATE TABLE IF NOT EXISTS posting.outbox_lines (
    document_number VARCHAR NOT NULL, document_kind VARCHAR NOT NULL, document_type VARCHAR,
    original_number VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    line_no INTEGER NOT NULL, description VARCHAR NOT NULL, quantity DECIMAL(18,4) NOT NULL,
    unit_amount DECIMAL(18,4) NOT NULL, line_amount DECIMAL(18,4) NOT NULL, tax_type VARCHAR NOT NULL,
    tax_amount DECIMAL(18,4) NOT NULL, account_code VARCHAR NOT NULL, project_id BIGINT, task_id BIGINT,
    source_kind VARCHAR, currency VARCHAR NOT NULL, document_date DATE NOT NULL, content_hash VARCHAR NOT NULL
);
"""

# Every run that wrote the file, with its trace id and who started it (docs/decisions/0036).
RUN_TRACES = """
CREATE SCHEMA IF NOT EXISTS trace;
CREATE TABLE IF NOT EXISTS trace.runs (
    run_id VARCHAR NOT NULL PRIMARY KEY, trace_id VARCHAR NOT NULL, entity VARCHAR NOT NULL,
    job VARCHAR NOT NULL, partition VARCHAR NOT NULL, source VARCHAR NOT NULL, started_by VARCHAR NOT NULL,
    events VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL
);
"""

# What the ledger booked, written back to the PM system (docs/decisions/0031), with its state.
PM_WRITE_BACK = """
CREATE TABLE IF NOT EXISTS posting.pm_write_back (
    document_number VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    document_kind VARCHAR NOT NULL, invoice_number VARCHAR NOT NULL, state VARCHAR NOT NULL,
    ledger_amount DECIMAL(18,4) NOT NULL, currency VARCHAR NOT NULL, pm_id VARCHAR, pm_amount DECIMAL(18,4),
    reason VARCHAR, attempts INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
"""

# Legal holds (docs/decisions/0032): set and lifted with a reason; a lifted hold stays, with who and why.
LEGAL_HOLDS = """
CREATE SCHEMA IF NOT EXISTS retention;
CREATE TABLE IF NOT EXISTS retention.legal_holds (
    hold_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, client_id BIGINT, period VARCHAR, reason VARCHAR NOT NULL,
    set_by VARCHAR NOT NULL, set_at TIMESTAMPTZ NOT NULL, lifted_by VARCHAR, lifted_at TIMESTAMPTZ,
    lift_reason VARCHAR, PRIMARY KEY (hold_id)
);
"""

# Shadow drafts of a candidate rule set beside the real ones, and what switching would change
# (docs/decisions/0039): the same shape as the real drafts, never read by the outbox.
SHADOW_DRAFTS = """
CREATE TABLE IF NOT EXISTS billing.shadow_invoice_drafts (
    invoice_number VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, client_id BIGINT NOT NULL,
    contact_name VARCHAR NOT NULL, currency VARCHAR NOT NULL, invoice_date DATE NOT NULL, due_date DATE NOT NULL,
    reference VARCHAR NOT NULL, line_count INTEGER NOT NULL, subtotal DECIMAL(18,4) NOT NULL,
    total_tax DECIMAL(18,4) NOT NULL, total DECIMAL(18,4) NOT NULL, base_currency VARCHAR NOT NULL,
    currency_rate DECIMAL(18,8) NOT NULL, total_base DECIMAL(18,4) NOT NULL, content_hash VARCHAR NOT NULL,
    rule_set_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL, line_amount_types VARCHAR DEFAULT 'Exclusive'
);
CREATE TABLE IF NOT EXISTS billing.shadow_invoice_draft_lines (
    invoice_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    description VARCHAR NOT NULL, quantity DECIMAL(18,4) NOT NULL, unit_amount DECIMAL(18,4) NOT NULL,
    line_amount DECIMAL(18,4) NOT NULL, tax_type VARCHAR NOT NULL, tax_amount DECIMAL(18,4) NOT NULL,
    account_code VARCHAR NOT NULL, project_id BIGINT NOT NULL, task_id BIGINT, source_kind VARCHAR NOT NULL,
    rate_source VARCHAR, rule_set_version VARCHAR, rounding_rule VARCHAR, tax_rounding_rule VARCHAR
);
CREATE TABLE IF NOT EXISTS billing.shadow_differences (
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, invoice_number VARCHAR NOT NULL, line_no INTEGER,
    description VARCHAR, figure VARCHAR NOT NULL, currency VARCHAR NOT NULL, serving_amount DECIMAL(18,4),
    shadow_amount DECIMAL(18,4), difference DECIMAL(18,4) NOT NULL, serving_version VARCHAR NOT NULL,
    shadow_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);
"""

ENTITY_MIGRATIONS = Chain(
    "entity",
    (
        Migration(
            1,
            "the 0.1.0 layout",
            sql=DDL,
            before=_rename_old_columns,
            # On main for a day, 0001 also carried the outbox's settle_after and outbox_lines, which
            # 0005 now adds (idempotently): files that applied that text open and migrate on.
            accepted=("eb869fb4e7341b9f1b990f4d84d81191a2e227f025708a6da228f6d1e071b5e8",),
        ),
        Migration(
            2,
            "raw record history, rejected records, payload profiles, consistency checks",
            sql=RECORD_HISTORY,
            then=_seed_history,
        ),
        Migration(3, "billable lines without line rounding columns", sql=DROP_LINE_ROUNDING),
        Migration(4, "reconciliation tables", sql=RECONCILIATION_DDL),
        Migration(5, "outbox settle_after and outbox lines", sql=OUTBOX_STATES),
        Migration(6, "run traces", sql=RUN_TRACES),
        Migration(7, "the write-back to the PM system", sql=PM_WRITE_BACK),
        Migration(8, "legal holds", sql=LEGAL_HOLDS),
        Migration(9, "shadow drafts and their differences", sql=SHADOW_DRAFTS),
    ),
)
