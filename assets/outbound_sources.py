"""Every producer of outbound documents, registered in one place above both the producers and posting.

The posting step reads these through the `document_sources` resource (pipelines/definitions.py)
and never imports a producer: a new kind of outbound document is a producer table, a source here,
and nothing in assets/posting/.
"""

from __future__ import annotations

from assets.allocation.journal_source import AllocationJournals
from assets.billing.correction_drafts import CORRECTION_DRAFTS
from assets.billing.invoice_drafts import INVOICE_DRAFTS
from assets.intercompany.intercompany_charges import INTERCOMPANY_CHARGES
from assets.reconciliation.settlement_payments import SETTLEMENT_PAYMENTS
from resources.outbox.sources import DocumentSources, TableSource, shaped_tables

INVOICE_DRAFT_DOCUMENTS = TableSource(
    "invoice drafts",
    tuple(INVOICE_DRAFTS.path),
    """SELECT invoice_number AS document_number, 'invoice' AS document_kind, 'ACCREC' AS document_type,
              entity, period, contact_name, reference, invoice_date AS document_date, due_date, currency,
              base_currency, currency_rate, line_amount_types, subtotal, total_tax, total,
              NULL::VARCHAR AS original_number, content_hash, rule_set_version, run_id
       FROM billing.invoice_drafts WHERE entity = ? AND period = ?""",
    """SELECT invoice_number AS document_number, line_no, entity, period, description, quantity,
              unit_amount, line_amount, tax_type, tax_amount, account_code, project_id, task_id, source_kind
       FROM billing.invoice_draft_lines WHERE entity = ? AND period = ?""",
)

DOCUMENT_SOURCES = DocumentSources(
    (
        INVOICE_DRAFT_DOCUMENTS,
        shaped_tables("corrections", tuple(CORRECTION_DRAFTS.path), "billing.correction"),
        shaped_tables("intercompany", tuple(INTERCOMPANY_CHARGES.path), "billing.intercompany"),
        AllocationJournals(),
        # Payments of the month's accepted matches, posted after the documents they pay (decision 0030).
        shaped_tables("settlement payments", tuple(SETTLEMENT_PAYMENTS.path), "reconciliation.payment"),
    )
)
