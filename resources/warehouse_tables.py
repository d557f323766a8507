"""The 0.1.0 layout of the warehouse files, frozen: migration 0001 of each file (resources/migrations/).

Never edit DDL or GROUP_DDL: a file records the checksum of every migration applied to it and
refuses to open when a released one changed. A new table or column is a new numbered migration
plus its registered shape (rules/schemas/). Columns renamed before 0.1.0 are listed in
RENAMED_COLUMNS and renamed before the DDL runs, so files written by earlier versions keep their data.

Money is DECIMAL(18,4) rounded to the currency's minor units; FX rates DECIMAL(18,8);
no money column is ever a floating-point type.
"""

# (schema, table, old name, new name)
RENAMED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("posting", "outbox", "invoice_number", "document_number"),
    ("posting", "dead_letters", "invoice_number", "document_number"),
)


def document_tables(table: str) -> str:
    """DDL of a producer's outbound documents, `<table>_documents` and `<table>_document_lines`, in the
    shape of rules/documents.py (what the outbox reads through resources/outbox/sources.py)."""
    return f"""
CREATE TABLE IF NOT EXISTS {table}_documents (
    document_number VARCHAR NOT NULL, document_kind VARCHAR NOT NULL, document_type VARCHAR,
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, contact_name VARCHAR, reference VARCHAR NOT NULL,
    document_date DATE NOT NULL, due_date DATE, currency VARCHAR NOT NULL, base_currency VARCHAR NOT NULL,
    currency_rate DECIMAL(18,8) NOT NULL, line_amount_types VARCHAR NOT NULL,
    subtotal DECIMAL(18,4) NOT NULL, total_tax DECIMAL(18,4) NOT NULL, total DECIMAL(18,4) NOT NULL,
    original_number VARCHAR, content_hash VARCHAR NOT NULL, rule_set_version VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS {table}_document_lines (
    document_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, description VARCHAR NOT NULL, quantity DECIMAL(18,4) NOT NULL,
    unit_amount DECIMAL(18,4) NOT NULL, line_amount DECIMAL(18,4) NOT NULL, tax_type VARCHAR NOT NULL,
    tax_amount DECIMAL(18,4) NOT NULL, account_code VARCHAR NOT NULL
);"""


DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS normalized;
CREATE SCHEMA IF NOT EXISTS billing;
CREATE SCHEMA IF NOT EXISTS posting;
CREATE SCHEMA IF NOT EXISTS quality;
CREATE SCHEMA IF NOT EXISTS reference;

-- Every conversion rate a partition was priced with, kept so reruns reproduce to the cent
-- (re-rated only when a run asks to). `day` is the line's day or the invoice date.
CREATE TABLE IF NOT EXISTS reference.fx_rates (
    entity VARCHAR NOT NULL, day DATE NOT NULL, from_currency VARCHAR NOT NULL, to_currency VARCHAR NOT NULL,
    fx_rate DECIMAL(18,8) NOT NULL, fx_rate_date DATE NOT NULL, fx_source VARCHAR NOT NULL,
    pinned_by_run VARCHAR NOT NULL
);

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
-- Columns added after the first release: files written by earlier versions gain them here.
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS cost_rate DECIMAL(18,4) DEFAULT 0;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS amount_cost_base DECIMAL(18,4) DEFAULT 0;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS hours DECIMAL(18,4);
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS rate_rule_id VARCHAR;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS rounding_rule_id VARCHAR;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS line_increment_minutes BIGINT;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS line_minimum_minutes BIGINT;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS markup_rule_id VARCHAR;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS reporting_currency VARCHAR;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS fx_rate_reporting DECIMAL(18,8);
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS fx_rate_date_reporting DATE;
ALTER TABLE normalized.billable_lines ADD COLUMN IF NOT EXISTS amount_reporting DECIMAL(18,4);
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
ALTER TABLE billing.invoice_drafts ADD COLUMN IF NOT EXISTS line_amount_types VARCHAR DEFAULT 'Exclusive';
ALTER TABLE billing.invoice_draft_lines ADD COLUMN IF NOT EXISTS rate_source VARCHAR;
ALTER TABLE billing.invoice_draft_lines ADD COLUMN IF NOT EXISTS rule_set_version VARCHAR;
-- The money and tax rounding rules that produced each line (docs/decisions/0009).
ALTER TABLE billing.invoice_draft_lines ADD COLUMN IF NOT EXISTS rounding_rule VARCHAR;
ALTER TABLE billing.invoice_draft_lines ADD COLUMN IF NOT EXISTS tax_rounding_rule VARCHAR;
-- Each retainer's balance per period: the next period opens at this closing (docs/decisions/0009).
CREATE TABLE IF NOT EXISTS billing.retainer_balances (
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, client_id BIGINT NOT NULL, currency VARCHAR NOT NULL,
    retainer_id VARCHAR NOT NULL, opening DECIMAL(18,4) NOT NULL, top_up DECIMAL(18,4) NOT NULL,
    drawn DECIMAL(18,4) NOT NULL, closing DECIMAL(18,4) NOT NULL, rule_set_version VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL, PRIMARY KEY (entity, period, retainer_id)
);
-- Which normalized line each invoice line bills: the trace from invoice to time entry.
CREATE TABLE IF NOT EXISTS billing.invoice_line_sources (
    invoice_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, line_id VARCHAR NOT NULL
);

-- The outbox: one row per outbound document, its state and what the accounting system said.
CREATE TABLE IF NOT EXISTS posting.outbox (
    document_number VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL, idempotency_key VARCHAR NOT NULL, status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL, external_id VARCHAR, posted_total DECIMAL(18,4),
    draft_total DECIMAL(18,4) NOT NULL, currency VARCHAR NOT NULL, last_error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
-- Kinds beyond invoices (credit notes, journals) and credit-note allocation, added after the first release.
ALTER TABLE posting.outbox ADD COLUMN IF NOT EXISTS document_kind VARCHAR DEFAULT 'invoice';
ALTER TABLE posting.outbox ADD COLUMN IF NOT EXISTS allocated_to VARCHAR;
ALTER TABLE posting.outbox ADD COLUMN IF NOT EXISTS allocation_note VARCHAR;
CREATE TABLE IF NOT EXISTS posting.contacts (
    contact_name VARCHAR NOT NULL PRIMARY KEY, contact_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
-- Every request the poster sent and what came back (secrets redacted): the replayable event store.
CREATE TABLE IF NOT EXISTS posting.requests (
    request_id VARCHAR NOT NULL PRIMARY KEY, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    document_numbers VARCHAR NOT NULL, idempotency_key VARCHAR NOT NULL, method VARCHAR NOT NULL,
    url VARCHAR NOT NULL, request_headers VARCHAR NOT NULL, request_body VARCHAR NOT NULL,
    status_code INTEGER, response_body VARCHAR, outcome VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ, run_id VARCHAR NOT NULL
);
-- Documents the accounting system refused or that ran out of attempts, until replayed or discarded.
CREATE TABLE IF NOT EXISTS posting.dead_letters (
    dead_letter_id VARCHAR NOT NULL PRIMARY KEY, document_number VARCHAR NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, document VARCHAR NOT NULL, error VARCHAR NOT NULL, attempts INTEGER NOT NULL,
    state VARCHAR NOT NULL, resolution VARCHAR, created_at TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ,
    run_id VARCHAR NOT NULL
);
-- Every booked document's lines as the ledger holds them (amounts as shown: positive on credit
-- notes), written when the outbox confirms it; corrections compare new drafts with these.
CREATE TABLE IF NOT EXISTS posting.posted_lines (
    document_number VARCHAR NOT NULL, document_kind VARCHAR NOT NULL, document_type VARCHAR,
    original_number VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    line_no INTEGER NOT NULL, description VARCHAR NOT NULL, quantity DECIMAL(18,4) NOT NULL,
    unit_amount DECIMAL(18,4) NOT NULL, line_amount DECIMAL(18,4) NOT NULL, tax_type VARCHAR NOT NULL,
    tax_amount DECIMAL(18,4) NOT NULL, account_code VARCHAR NOT NULL, project_id BIGINT, task_id BIGINT,
    source_kind VARCHAR, currency VARCHAR NOT NULL, document_date DATE NOT NULL,
    posted_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
-- Who is posting an entity-period right now: committed before the first request, so two runs never both post.
CREATE TABLE IF NOT EXISTS posting.claims (
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, holder VARCHAR NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (entity, period)
);

-- Every invariant check's outcome, per asset, entity and partition, for `billbridge report`.
CREATE TABLE IF NOT EXISTS quality.check_results (
    entity VARCHAR NOT NULL, asset VARCHAR NOT NULL, partition VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL, passed BOOLEAN NOT NULL, detail VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL, checked_at TIMESTAMPTZ NOT NULL
);
-- Cost allocation (append-only per run: the current allocation is an entity-month's latest run).
CREATE SCHEMA IF NOT EXISTS allocation;
CREATE TABLE IF NOT EXISTS allocation.runs (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    rule_set_version VARCHAR NOT NULL, rule_set_path VARCHAR NOT NULL, inputs_hash VARCHAR NOT NULL,
    result_hash VARCHAR NOT NULL, previous_run_id VARCHAR, allocated_total DECIMAL(18,4) NOT NULL,
    unallocated_total DECIMAL(18,4) NOT NULL, created_at TIMESTAMPTZ NOT NULL
);
-- A pool's costs in one entity-month under one rule (or capitalized), and the source costs summed in it.
CREATE TABLE IF NOT EXISTS allocation.pool_lines (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pool_line_id VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, cost_class VARCHAR NOT NULL,
    amount DECIMAL(18,4) NOT NULL, window_from DATE NOT NULL, window_to DATE NOT NULL,
    rule_set_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS allocation.pool_line_sources (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pool_line_id VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL, source_kind VARCHAR NOT NULL, source_ref VARCHAR NOT NULL,
    source_date DATE NOT NULL, amount DECIMAL(18,4) NOT NULL, rule_set_version VARCHAR NOT NULL
);
-- One target's share of a pool line: driver, share, exact amount at scale 8 and remainder cents received.
CREATE TABLE IF NOT EXISTS allocation.slices (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pool_line_id VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL, pool_amount DECIMAL(18,4) NOT NULL, rule_id VARCHAR NOT NULL,
    rule_hash VARCHAR NOT NULL, allow_negative BOOLEAN NOT NULL, target_kind VARCHAR NOT NULL,
    target_id VARCHAR NOT NULL, driver VARCHAR NOT NULL, driver_value DECIMAL(18,4) NOT NULL,
    driver_total DECIMAL(18,4) NOT NULL, share DECIMAL(38,8) NOT NULL, exact_amount DECIMAL(38,8) NOT NULL,
    amount DECIMAL(18,4) NOT NULL, remainder_units BIGINT NOT NULL, rule_set_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS allocation.unallocated (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pool_line_id VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL, amount DECIMAL(18,4) NOT NULL, reason VARCHAR NOT NULL,
    rule_set_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS allocation.depreciation_schedule (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, pool_line_id VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL, capitalized_amount DECIMAL(18,4) NOT NULL, month_no BIGINT NOT NULL,
    depreciation_month DATE NOT NULL, amount DECIMAL(18,4) NOT NULL,
    remaining_book_value DECIMAL(18,4) NOT NULL, rule_set_version VARCHAR NOT NULL
);
-- ManualJournal drafts (signed line amounts: debit positive), not yet posted.
CREATE TABLE IF NOT EXISTS allocation.journal_drafts (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, journal_ref VARCHAR NOT NULL,
    journal_date DATE NOT NULL, narration VARCHAR NOT NULL, line_no BIGINT NOT NULL,
    account_code VARCHAR NOT NULL, description VARCHAR NOT NULL, line_amount DECIMAL(18,4) NOT NULL,
    currency VARCHAR NOT NULL, rule_set_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS allocation.profitability (
    run_id VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, project_id BIGINT NOT NULL,
    project_name VARCHAR NOT NULL, revenue DECIMAL(18,4) NOT NULL, direct_time_cost DECIMAL(18,4) NOT NULL,
    direct_expense_cost DECIMAL(18,4) NOT NULL, allocated_cost DECIMAL(18,4) NOT NULL,
    margin DECIMAL(18,4) NOT NULL, rule_set_version VARCHAR NOT NULL
);

-- Intercompany (docs/decisions/0010). Time this entity's people logged on projects another entity
-- bills, as extracted (`billed_by`: that entity): the seller's side of the charge.
CREATE TABLE IF NOT EXISTS raw.intercompany_time_entries (
    entity VARCHAR NOT NULL, day DATE NOT NULL, record_id BIGINT NOT NULL,
    payload VARCHAR NOT NULL, payload_hash VARCHAR NOT NULL, routing VARCHAR NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL, request_url VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    contract_version VARCHAR NOT NULL, billed_by VARCHAR NOT NULL
);
-- One row per seller, buyer and month on each side: the sale in the seller's file, the purchase in
-- the buyer's, equal by construction and sharing `reference` (consolidation eliminates them).
CREATE TABLE IF NOT EXISTS billing.intercompany_charges (
    reference VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL,
    seller_entity VARCHAR NOT NULL, buyer_entity VARCHAR NOT NULL, side VARCHAR NOT NULL,
    currency VARCHAR NOT NULL, hours DECIMAL(18,4) NOT NULL, cost_amount DECIMAL(18,4) NOT NULL,
    markup_amount DECIMAL(18,4) NOT NULL, net_amount DECIMAL(18,4) NOT NULL,
    document_number VARCHAR NOT NULL, rule_set_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);
-- The time entries each charge is made of (line_id as in normalized.billable_lines).
CREATE TABLE IF NOT EXISTS billing.intercompany_charge_sources (
    reference VARCHAR NOT NULL, entity VARCHAR NOT NULL, period VARCHAR NOT NULL, side VARCHAR NOT NULL,
    line_id VARCHAR NOT NULL, source_id BIGINT NOT NULL, hours DECIMAL(18,4) NOT NULL,
    cost_rate DECIMAL(18,4) NOT NULL
);
-- The outbound documents (rules/documents.py shape): the seller's ACCREC invoice and the
-- buyer's ACCPAY bill, both numbered BB-<SELLER>-<YYYYMM>-IC-<BUYER>.
{intercompany_documents}
-- Corrections after invoicing (docs/decisions/0012): credit notes and supplementary invoices for
-- posted invoices whose drafts changed, in the outbound shape (rules/documents.py).
{correction_documents}
-- Each correction line's line key, the billed-so-far, current and difference behind it (signed:
-- supplementary +, credit -) and the normalized lines now billed under the key. Rows of posted
-- documents are kept: they map a booked credit note line back to the key it corrects.
CREATE TABLE IF NOT EXISTS billing.correction_sources (
    document_number VARCHAR NOT NULL, line_no INTEGER NOT NULL, entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL, original_number VARCHAR NOT NULL, document_kind VARCHAR NOT NULL,
    status VARCHAR NOT NULL, description VARCHAR NOT NULL, unit_amount DECIMAL(18,4) NOT NULL,
    tax_type VARCHAR NOT NULL, account_code VARCHAR NOT NULL, project_id BIGINT, task_id BIGINT,
    source_kind VARCHAR, billed_quantity DECIMAL(18,4) NOT NULL, billed_amount DECIMAL(18,4) NOT NULL,
    billed_tax DECIMAL(18,4) NOT NULL, current_quantity DECIMAL(18,4) NOT NULL,
    current_amount DECIMAL(18,4) NOT NULL, current_tax DECIMAL(18,4) NOT NULL,
    correction_quantity DECIMAL(18,4) NOT NULL, correction_amount DECIMAL(18,4) NOT NULL,
    correction_tax DECIMAL(18,4) NOT NULL, tax_residual DECIMAL(18,4) NOT NULL,
    current_line_ids VARCHAR[] NOT NULL, run_id VARCHAR NOT NULL
);
-- Corrections not issued as computed: moved past the lock date, held (policy wait), or blocked
-- (something needed is missing), each with the reason `billbridge report` lists.
CREATE TABLE IF NOT EXISTS billing.correction_holds (
    entity VARCHAR NOT NULL, period VARCHAR NOT NULL, original_number VARCHAR NOT NULL,
    document_number VARCHAR, document_kind VARCHAR, status VARCHAR NOT NULL, reason VARCHAR NOT NULL,
    intended_date DATE, document_date DATE, lock_date DATE, currency VARCHAR, total DECIMAL(18,4),
    run_id VARCHAR NOT NULL
);
""".replace("{intercompany_documents}", document_tables("billing.intercompany")).replace(
    "{correction_documents}", document_tables("billing.correction")
)

# The group's own file ($BILLBRIDGE_HOME/group/group.duckdb), written only by the monthly
# consolidation (docs/decisions/0011), which reads the entities' Parquet exports, never their files.
GROUP_DDL = """
CREATE SCHEMA IF NOT EXISTS consolidation;
-- Versioned per month: a rerun reuses the latest version; a re-rate or a new currency adds one.
CREATE TABLE IF NOT EXISTS consolidation.translation_rates (
    period VARCHAR NOT NULL, snapshot_version INTEGER NOT NULL, currency VARCHAR NOT NULL,
    reporting_currency VARCHAR NOT NULL, rate_type VARCHAR NOT NULL, rate DECIMAL(18,8) NOT NULL,
    rate_date_from DATE NOT NULL, rate_date_to DATE NOT NULL, published_days INTEGER NOT NULL,
    source VARCHAR NOT NULL, note VARCHAR NOT NULL, pinned_by_run VARCHAR NOT NULL
);
-- Every entity ledger row of the month, translated, with the rate that translated it.
CREATE TABLE IF NOT EXISTS consolidation.entity_lines (
    period VARCHAR NOT NULL, entity VARCHAR NOT NULL, statement VARCHAR NOT NULL, line_item VARCHAR NOT NULL,
    account_code VARCHAR, contact_name VARCHAR, document_number VARCHAR, reference VARCHAR,
    counterparty_entity VARCHAR, currency VARCHAR NOT NULL, amount DECIMAL(18,4) NOT NULL,
    rate_type VARCHAR NOT NULL, rate DECIMAL(18,8) NOT NULL, rate_source VARCHAR NOT NULL,
    rate_date_from DATE NOT NULL, rate_date_to DATE NOT NULL, reporting_currency VARCHAR NOT NULL,
    amount_reporting DECIMAL(18,4) NOT NULL, snapshot_version INTEGER NOT NULL,
    export_run_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS consolidation.translation_differences (
    period VARCHAR NOT NULL, entity VARCHAR NOT NULL, reporting_currency VARCHAR NOT NULL,
    result_at_average DECIMAL(18,4) NOT NULL, net_assets_at_closing DECIMAL(18,4) NOT NULL,
    translation_difference DECIMAL(18,4) NOT NULL, run_id VARCHAR NOT NULL
);
-- Amounts taken out of the group (natural sign), one per intercompany row, paired by reference.
CREATE TABLE IF NOT EXISTS consolidation.eliminations (
    period VARCHAR NOT NULL, reference VARCHAR NOT NULL, pair VARCHAR NOT NULL, side VARCHAR NOT NULL,
    entity VARCHAR NOT NULL, counterparty_entity VARCHAR, statement VARCHAR NOT NULL,
    line_item VARCHAR NOT NULL, currency VARCHAR NOT NULL, amount DECIMAL(18,4) NOT NULL,
    rate_type VARCHAR NOT NULL, rate DECIMAL(18,8) NOT NULL, amount_reporting DECIMAL(18,4) NOT NULL,
    run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS consolidation.group_totals (
    period VARCHAR NOT NULL, statement VARCHAR NOT NULL, line_item VARCHAR NOT NULL,
    reporting_currency VARCHAR NOT NULL, entities_total DECIMAL(18,4) NOT NULL,
    eliminations DECIMAL(18,4) NOT NULL, group_total DECIMAL(18,4) NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS consolidation.check_results (
    period VARCHAR NOT NULL, check_name VARCHAR NOT NULL, passed BOOLEAN NOT NULL, detail VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL, checked_at TIMESTAMPTZ NOT NULL
);
"""
