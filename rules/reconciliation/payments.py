"""Accepted matches as the accounting system's Payments (pure): what the outbox sends to settle them.

One accepted match settles its items oldest due first (settlement_items). Each item gets a payment
of the cash applied to it from the entity's bank account; the last item also carries the bank fee
(a payment from the fees account) and the write-off (from the write-off account): accounts that
accept payments, as Xero's "enable payments to this account" allows. A payment of an invoice in
another currency carries the rate the bank gave, `CurrencyRate` = amount in the invoice's currency
per unit received (8 places, FX_CONVERSION_RULE), so the ledger books the realised FX difference.

Every payment is numbered `BB-<ENTITY>-<YYYYMM>-PAY-<decision id 12>-<n>` in its Reference: the
number the outbox looks it up by before sending again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA, content_hash, document_number_prefix
from rules.money import FX_CONVERSION_RULE

RATE_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class SettlementToPay:
    """An accepted match's settlement as stored (amounts in the bank's currency)."""

    decision_id: str
    entity: str
    period: str
    booking_date: date
    bank_currency: str
    received: Decimal
    fee: Decimal
    write_off: Decimal


@dataclass(frozen=True)
class ItemShare:
    """What the settlement pays on one item, in the item's currency, oldest due first."""

    item_id: str
    item_kind: str  # invoice | credit_note
    number: str
    currency: str
    applied: Decimal


@dataclass(frozen=True)
class PaymentDocument:
    """One Payment to send."""

    reference: str  # the payment's number: BB-<ENTITY>-<YYYYMM>-PAY-<decision>-<n>
    entity: str
    period: str
    item_id: str
    item_kind: str
    item_number: str
    account_code: str
    payment_date: date
    amount: Decimal  # in the item's currency
    currency: str
    currency_rate: Decimal | None  # item currency per unit of the bank's; None in the same currency
    purpose: str  # cash | bank_fee | write_off


def payments_for(
    settlement: SettlementToPay, shares: list[ItemShare], bank: str, fees: str, write_offs: str
) -> list[PaymentDocument]:
    """The Payments that settle `shares` (in allocation order) with `settlement`'s cash, fee and write-off.

    A negative write-off (a small overpayment kept as a gain) is not a payment: it is left out here.
    """
    if not shares:
        return []
    prefix = (
        f"{document_number_prefix(settlement.entity, settlement.period)}PAY-{settlement.decision_id[:12]}-"
    )
    extras = [(fees, settlement.fee, "bank_fee"), (write_offs, settlement.write_off, "write_off")]
    extras = [(account, amount, purpose) for account, amount, purpose in extras if amount > 0]
    last = shares[-1]
    out: list[PaymentDocument] = []

    def add(share: ItemShare, account: str, amount: Decimal, purpose: str, rate: Decimal | None) -> None:
        out.append(PaymentDocument(f"{prefix}{len(out) + 1}", settlement.entity, settlement.period, share.item_id,
                                   share.item_kind, share.number, account, settlement.booking_date, amount,
                                   share.currency, rate, purpose))  # fmt: skip

    for share in shares:
        cash = share.applied - (sum((a for _, a, _ in extras), Decimal(0)) if share is last else Decimal(0))
        rate = None
        if share.currency != settlement.bank_currency and settlement.received != 0:
            rate = (share.applied / abs(settlement.received)).quantize(
                RATE_PLACES, FX_CONVERSION_RULE.decimal_mode
            )
            cash = share.applied  # fees and write-offs are not split out of a foreign-currency payment
        if cash != 0:
            add(share, bank, abs(cash), "cash", rate)
        if share is last and rate is None:
            for account, amount, purpose in extras:
                add(share, account, amount, purpose, None)
    return out


PAYMENT_TYPES = {"invoice": "ACCRECPAYMENT", "credit_note": "ARCREDITPAYMENT"}


def payment_documents(
    payments: list[PaymentDocument], base_currency: str, rule_set_version: str, run_id: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Payments in the outbound document shape (rules/documents.py): kind `payment`, numbered by their
    reference, the invoice or credit note they settle as `original_number`, one line naming the account."""
    headers, lines = [], []
    for p in payments:
        line: dict[str, object] = {"document_number": p.reference, "line_no": 1, "entity": p.entity, "period": p.period,
                "description": f"{p.purpose} {p.item_number}", "quantity": Decimal(1), "unit_amount": p.amount,
                "line_amount": p.amount, "tax_type": "NONE", "tax_amount": Decimal(0), "account_code": p.account_code}  # fmt: skip
        header: dict[str, object] = {"document_number": p.reference, "document_kind": "payment",
                  "document_type": PAYMENT_TYPES[p.item_kind], "entity": p.entity, "period": p.period,
                  "contact_name": None, "reference": p.item_number, "document_date": p.payment_date,
                  "due_date": None, "currency": p.currency, "base_currency": base_currency,
                  "currency_rate": p.currency_rate or Decimal(1), "line_amount_types": "NoTax",
                  "subtotal": p.amount, "total_tax": Decimal(0), "total": p.amount,
                  "original_number": p.item_number}  # fmt: skip
        header["content_hash"] = content_hash(header, [line])
        headers.append({**header, "rule_set_version": rule_set_version, "run_id": run_id})
        lines.append(line)
    return pl.DataFrame(headers, schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(
        lines, schema=DOCUMENT_LINE_SCHEMA
    )
