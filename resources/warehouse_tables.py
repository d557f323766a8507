"""The warehouse's tables, one schema per layer, created idempotently on every connection.

Money is DECIMAL(18,4) rounded to the currency's minor units; FX rates DECIMAL(18,8);
no money column is ever a floating-point type.
"""

DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS normalized;
CREATE SCHEMA IF NOT EXISTS billing;
CREATE SCHEMA IF NOT EXISTS posting;
CREATE SCHEMA IF NOT EXISTS quality;

-- PM payloads exactly as extracted (one row per record per day partition).
CREATE TABLE IF NOT EXISTS raw.time_entries (
    entity VARCHAR NOT NULL, day DATE NOT NULL, record_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL, payload_hash VARCHAR NOT NULL, routing VARCHAR NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL, request_url VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    contract_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.expenses (
    entity VARCHAR NOT NULL, day DATE NOT NULL, record_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL, payload_hash VARCHAR NOT NULL, routing VARCHAR NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL, request_url VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    contract_version VARCHAR NOT NULL
);
-- Clients, projects, tasks, users and assignments: the latest snapshot.
CREATE TABLE IF NOT EXISTS raw.directory (
    entity VARCHAR NOT NULL, kind VARCHAR NOT NULL, record_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL, payload_hash VARCHAR NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL, request_url VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    contract_version VARCHAR NOT NULL
);

-- Billable and non-billable time and expense lines, typed and priced.
CREATE TABLE IF NOT EXISTS normalized.billable_lines (
    line_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, day DATE NOT NULL,
    source_kind VARCHAR NOT NULL, source_id BIGINT NOT NULL, payload_hash VARCHAR NOT NULL,
    client_id BIGINT NOT NULL, client_name VARCHAR NOT NULL, contact_name VARCHAR NOT NULL,
    project_id BIGINT NOT NULL, project_name VARCHAR NOT NULL, project_code VARCHAR,
    task_id BIGINT, task_name VARCHAR, category_name VARCHAR,
    person_id BIGINT, person_name VARCHAR,
    started_time VARCHAR, quantity DECIMAL(18,4) NOT NULL, unit_price DECIMAL(18,4) NOT NULL,
    rate_source VARCHAR NOT NULL, billable BOOLEAN NOT NULL, billable_reason VARCHAR NOT NULL,
    approved BOOLEAN NOT NULL, approval_source VARCHAR NOT NULL, locked_reason VARCHAR,
    txn_currency VARCHAR NOT NULL, amount_txn DECIMAL(18,4) NOT NULL,
    base_currency VARCHAR NOT NULL, fx_rate DECIMAL(18,8) NOT NULL, fx_rate_date DATE NOT NULL,
    fx_source VARCHAR NOT NULL, fx_type VARCHAR NOT NULL, amount_base DECIMAL(18,4) NOT NULL,
    cost_rate DECIMAL(18,4) NOT NULL, amount_cost_base DECIMAL(18,4) NOT NULL,
    rule_set_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS normalized.quarantine (
    entity VARCHAR NOT NULL, day DATE NOT NULL, source_kind VARCHAR NOT NULL, source_id BIGINT,
    reason VARCHAR NOT NULL, detail VARCHAR NOT NULL, payload VARCHAR NOT NULL,
    rule_set_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);

-- Invoice drafts: one per client, currency and month; lines per project, task and rate.
CREATE TABLE IF NOT EXISTS billing.invoice_drafts (
    invoice_number VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    client_id BIGINT NOT NULL, contact_name VARCHAR NOT NULL, currency VARCHAR NOT NULL,
    invoice_date DATE NOT NULL, due_date DATE NOT NULL, reference VARCHAR NOT NULL,
    line_count INTEGER NOT NULL, subtotal DECIMAL(18,4) NOT NULL, total_tax DECIMAL(18,4) NOT NULL,
    total DECIMAL(18,4) NOT NULL, base_currency VARCHAR NOT NULL, currency_rate DECIMAL(18,8) NOT NULL,
    total_base DECIMAL(18,4) NOT NULL, content_hash VARCHAR NOT NULL,
    rule_set_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS billing.invoice_draft_lines (
    invoice_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, description VARCHAR NOT NULL, quantity DECIMAL(18,4) NOT NULL,
    unit_amount DECIMAL(18,4) NOT NULL, line_amount DECIMAL(18,4) NOT NULL,
    tax_type VARCHAR NOT NULL, tax_amount DECIMAL(18,4) NOT NULL, account_code VARCHAR NOT NULL,
    project_id BIGINT NOT NULL, task_id BIGINT, source_kind VARCHAR NOT NULL
);
-- Which normalized line each invoice line bills: the trace from invoice to time entry.
CREATE TABLE IF NOT EXISTS billing.invoice_line_sources (
    invoice_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, line_id VARCHAR NOT NULL
);

-- The outbox: one row per outbound document, its state and what the accounting system said.
CREATE TABLE IF NOT EXISTS posting.outbox (
    invoice_number VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL, idempotency_key VARCHAR NOT NULL, status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL, external_id VARCHAR, posted_total DECIMAL(18,4),
    draft_total DECIMAL(18,4) NOT NULL, currency VARCHAR NOT NULL, last_error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS posting.contacts (
    contact_name VARCHAR NOT NULL PRIMARY KEY, contact_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);

-- Every invariant check's outcome, per asset, entity and partition, for `billbridge report`.
CREATE TABLE IF NOT EXISTS quality.check_results (
    entity VARCHAR NOT NULL, asset VARCHAR NOT NULL, partition VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL, passed BOOLEAN NOT NULL, detail VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL, checked_at TIMESTAMPTZ NOT NULL
);
"""
