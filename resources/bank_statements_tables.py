"""The reconciliation tables in each entity's DuckDB file (schema `reconciliation`), created idempotently.

Kept apart from resources/warehouse_tables.py so the reconciliation layer owns its shapes; every
connection that touches them runs RECONCILIATION_DDL first (resources/bank_statements_store.py).
`match_log` is append-only: nothing in billbridge updates or deletes its rows.
"""

from resources.warehouse_tables import document_tables

RECONCILIATION_DDL = """
CREATE SCHEMA IF NOT EXISTS reconciliation;
-- Every statement file as received (raw bytes and hash), and what became of it.
CREATE TABLE IF NOT EXISTS reconciliation.statement_files (
    file_hash VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
    received_day DATE NOT NULL, received_at TIMESTAMPTZ NOT NULL, format VARCHAR,
    status VARCHAR NOT NULL,  -- loaded | quarantined | unbalanced | overlap
    reason VARCHAR, line_number INTEGER, account_id VARCHAR, currency VARCHAR, statement_ref VARCHAR,
    from_date DATE, to_date DATE, opening_balance DECIMAL(18,4), closing_balance DECIMAL(18,4),
    line_count INTEGER, raw BLOB NOT NULL, run_id VARCHAR NOT NULL
);
-- Lines of loaded statements (rules/reconciliation/frames.BANK_LINE_SCHEMA plus provenance).
CREATE TABLE IF NOT EXISTS reconciliation.bank_lines (
    line_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, statement_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL, booking_date DATE NOT NULL, amount DECIMAL(18,4) NOT NULL,
    currency VARCHAR NOT NULL, counterparty_name VARCHAR, remittance VARCHAR, bank_reference VARCHAR,
    charges DECIMAL(18,4), line_no INTEGER NOT NULL, received_day DATE NOT NULL
);
-- The receivables as the accounting system last answered (one snapshot per entity-day read).
CREATE TABLE IF NOT EXISTS reconciliation.receivables (
    day DATE NOT NULL, item_id VARCHAR NOT NULL, item_kind VARCHAR NOT NULL, number VARCHAR,
    entity VARCHAR NOT NULL, contact_name VARCHAR, currency VARCHAR NOT NULL,
    currency_rate DECIMAL(18,8) NOT NULL, issue_date DATE, due_date DATE, total DECIMAL(18,4) NOT NULL,
    amount_due DECIMAL(18,4) NOT NULL, status VARCHAR NOT NULL, credited DECIMAL(18,4) NOT NULL,
    read_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
-- The accounting contacts as last read, with what duplicate suggestions compare besides names.
CREATE TABLE IF NOT EXISTS reconciliation.contact_identifiers (
    entity VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, contact_name VARCHAR, tax_number VARCHAR,
    email VARCHAR, read_at TIMESTAMPTZ NOT NULL
);
-- Each bank line's current state: open, or settled by whom (the workbench's staleness check).
CREATE TABLE IF NOT EXISTS reconciliation.line_state (
    line_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    status VARCHAR NOT NULL,  -- auto_accepted | proposed | exception | accepted | rejected
    item_ids VARCHAR[] NOT NULL, decision_id VARCHAR NOT NULL, version INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- Append-only: every automated or human decision with everything needed to redo it by hand.
CREATE TABLE IF NOT EXISTS reconciliation.match_log (
    decision_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    line_id VARCHAR NOT NULL, action VARCHAR NOT NULL, status VARCHAR NOT NULL, item_ids VARCHAR[] NOT NULL,
    rule_version VARCHAR NOT NULL, rung VARCHAR, confidence DOUBLE, reference_score DOUBLE,
    amount_score DOUBLE, party_score DOUBLE, date_score DOUBLE, auto_accept_threshold DOUBLE NOT NULL,
    propose_threshold DOUBLE NOT NULL, anomalies VARCHAR[] NOT NULL, explanation VARCHAR,
    bank_line VARCHAR NOT NULL, items VARCHAR NOT NULL, settlement VARCHAR, alternatives VARCHAR,
    decided_by VARCHAR NOT NULL, decided_at TIMESTAMPTZ NOT NULL, comment VARCHAR, template_id VARCHAR,
    run_id VARCHAR
);
-- Accepted matches waiting for (or done with) settlement in the accounting system.
CREATE TABLE IF NOT EXISTS reconciliation.settlements (
    decision_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    line_id VARCHAR NOT NULL, item_ids VARCHAR[] NOT NULL, booking_date DATE NOT NULL,
    bank_currency VARCHAR NOT NULL, received DECIMAL(18,4) NOT NULL, fee DECIMAL(18,4) NOT NULL,
    write_off DECIMAL(18,4) NOT NULL, fx_difference DECIMAL(18,4) NOT NULL,
    unapplied DECIMAL(18,4) NOT NULL, settled_in_item_currency DECIMAL(18,4) NOT NULL,
    reason VARCHAR NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
-- What each accepted settlement pays on each item (item currency), oldest due first.
CREATE TABLE IF NOT EXISTS reconciliation.settlement_items (
    decision_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL, item_number VARCHAR, currency VARCHAR NOT NULL,
    applied DECIMAL(18,4) NOT NULL, PRIMARY KEY (decision_id, item_id)
);
-- Accepted matches as Payments in the outbound document shape (rules/documents.py), for the outbox.
{payment_documents}
-- Comments people leave on a bank line (the workbench's history, beside the match log).
CREATE TABLE IF NOT EXISTS reconciliation.comments (
    comment_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, line_id VARCHAR NOT NULL,
    author VARCHAR NOT NULL, body VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
-- Saved decision rules: "payments from <payer> with a reference like <pattern> go to <account>".
CREATE TABLE IF NOT EXISTS reconciliation.templates (
    template_id VARCHAR NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, payer_pattern VARCHAR NOT NULL,
    reference_pattern VARCHAR NOT NULL, action VARCHAR NOT NULL, account_code VARCHAR,
    created_by VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
""".replace("{payment_documents}", document_tables("reconciliation.payment"))
