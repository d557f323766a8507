"""The shapes the matcher reads and writes: bank lines, open items, and decisions.

Amounts are signed from the entity's side: money in is positive on a bank line, an invoice's
amount due is positive and a credit note's remaining credit negative, so a refund (money out)
meets a credit note with the same sign rules as a payment meets an invoice.
"""

from __future__ import annotations

import polars as pl

from rules.money import FX_RATE, MONEY

BANK_LINE_SCHEMA = pl.Schema(
    {
        "line_id": pl.String(),  # <statement hash 12>-<n>: stable across reruns of the same file
        "entity": pl.String(),
        "statement_id": pl.String(),
        "account_id": pl.String(),  # IBAN or account number as the statement names it
        "booking_date": pl.Date(),
        "amount": MONEY,  # signed: credit +, debit -
        "currency": pl.String(),
        "counterparty_name": pl.String(),
        "remittance": pl.String(),
        "bank_reference": pl.String(),
        "charges": MONEY,  # bank charges the statement names for this line (null: none stated)
    }
)

OPEN_ITEM_SCHEMA = pl.Schema(
    {
        "item_id": pl.String(),  # InvoiceID / CreditNoteID of the accounting system
        "item_kind": pl.String(),  # invoice | credit_note | overpayment | prepayment
        "number": pl.String(),  # InvoiceNumber / CreditNoteNumber
        "entity": pl.String(),
        "contact_name": pl.String(),
        "currency": pl.String(),
        "currency_rate": FX_RATE,  # units of `currency` per one unit of the entity's base currency
        "issue_date": pl.Date(),
        "due_date": pl.Date(),
        "total": MONEY,  # signed like amount_due
        "amount_due": MONEY,  # signed: invoices +, credit notes -; 0 once paid or fully credited
        "status": pl.String(),  # AUTHORISED | PAID | VOIDED ... as the accounting system says
        "credited": MONEY,  # AmountCredited: a credit note reduced it
    }
)

AUTO, PROPOSED, EXCEPTION = "auto_accepted", "proposed", "exception"  # a decision's status

# One decision per bank line: the chosen candidate (or none), its score components and outcome.
DECISION_SCHEMA = pl.Schema(
    {
        "line_id": pl.String(),
        "entity": pl.String(),
        "status": pl.String(),  # auto_accepted | proposed | exception
        "item_ids": pl.List(pl.String()),
        "item_numbers": pl.List(pl.String()),
        "rung": pl.String(),  # which rung of the ladder found the candidate
        "confidence": pl.Float64(),  # a score, not money
        "reference_score": pl.Float64(),
        "amount_score": pl.Float64(),
        "party_score": pl.Float64(),
        "date_score": pl.Float64(),
        "anomalies": pl.List(pl.String()),
        "explanation": pl.String(),
        "alternatives": pl.String(),  # JSON: the next candidates with their scores
        # How the chosen candidate settles (rules/reconciliation/differences.py), bank currency
        # except `settled_in_item_currency`.
        "received": MONEY,
        "expected": MONEY,
        "fee": MONEY,
        "write_off": MONEY,
        "fx_difference": MONEY,
        "unapplied": MONEY,
        "still_due": MONEY,
        "settled_in_item_currency": MONEY,
        "settlement_reason": pl.String(),
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame of `schema`."""
    return pl.DataFrame(schema=schema)
