"""Seeded fault schedules for `make fuzz`: which documents, which faults, which key window, which kill.

A schedule is a pure function of its seed, so one printed seed reproduces the whole run. It keeps
within the assumptions the README's guarantee names: every stall lands within the processing
bound, and a duplicate delivery reaches the provider while it still remembers the key.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.reconciliation.payments import PaymentDocument, payment_documents
from sandbox.xero import Fault

PERIOD = "2026-08"
CLIENT_TIMEOUT_S = 0.3
PROCESSING_BOUND_S = 1.0  # every stall below commits well within it
MAX_ATTEMPTS = 3
KEY_WINDOW_RANGE_S = (0.001, 24 * 3600.0)
COLLECTIONS = ("/Invoices", "/CreditNotes", "/ManualJournals")


@dataclass(frozen=True)
class Schedule:
    """One fuzz case: the documents, the faults in the order they fire, the provider's key window."""

    seed: int
    invoices: int
    key_window_s: float
    faults: tuple[Fault, ...]
    kill_after_s: float | None  # SIGKILL the first posting run after this long (None: no kill)
    edit_before_run: int | None  # a draft changes before this run (its content hash with it)
    documents: list[str] = field(default_factory=list)

    def reproducer(self) -> str:
        """The one line that runs this schedule alone."""
        return f".venv/bin/python -m bench.posting_fuzz --seed {self.seed}"

    def fault_names(self) -> list[str]:
        """Each fault as the summary counts it: 429, 5xx, drop_before, stall past the timeout, ..."""
        return [_name(fault) for fault in self.faults]

    def describe(self) -> str:
        """What the schedule throws at the outbox, in one line."""
        faults = ", ".join(f"{_name(f)} {f.method or '*'} {f.path or '*'}" for f in self.faults)
        kill = f"kill after {self.kill_after_s:.2f}s" if self.kill_after_s is not None else "no kill"
        edit = f"edit before run {self.edit_before_run}" if self.edit_before_run else "no edit"
        return f"{self.invoices} invoices, key window {self.key_window_s:g}s, {kill}, {edit}; faults: {faults or 'none'}"


def _name(fault: Fault) -> str:
    if fault.kind == "status":
        return "429" if fault.status == 429 else "5xx"
    if fault.kind == "slow":
        return "stall past the timeout" if fault.seconds > CLIENT_TIMEOUT_S else "slow"
    return fault.kind


def _fault(rng: random.Random, window_s: float) -> Fault:
    # Invoices are most of the traffic; contacts are created in batches before the documents naming them.
    path = rng.choice((*COLLECTIONS, "/Invoices", "/Invoices", "/Contacts"))
    choices = ["429", "5xx", "drop_before", "drop_after_commit", "stall", "slow", "read_fault"]
    if window_s >= 1.0:
        choices.append("duplicate")  # a duplicate delivery within the key window is answered from it
    kind = rng.choice(choices)
    if kind == "429":
        return Fault("status", status=429, retry_after=0, method="PUT", path=path)
    if kind == "5xx":
        return Fault("status", status=rng.choice((500, 502, 503)), method="PUT", path=path)
    if kind == "stall":  # past the client's timeout, landing later: the outcome stays unknown
        seconds = rng.uniform(CLIENT_TIMEOUT_S + 0.05, CLIENT_TIMEOUT_S + PROCESSING_BOUND_S / 2)
        return Fault("slow", seconds=seconds, method="PUT", path=path)
    if kind == "slow":  # within the timeout
        return Fault("slow", seconds=rng.uniform(0.0, CLIENT_TIMEOUT_S / 3), method="PUT", path=path)
    if kind == "read_fault":  # look-ups, contacts and the lock-date read fail too
        return Fault(rng.choice(("status", "drop_before")), status=503, method="GET",
                     path=rng.choice((*COLLECTIONS, "/Contacts", "/Organisation")))  # fmt: skip
    return Fault(kind, method="PUT", path=path)  # type: ignore[arg-type]


def generate(seed: int) -> Schedule:
    """The schedule of a seed."""
    rng = random.Random(seed)
    low, high = (math.log10(v) for v in KEY_WINDOW_RANGE_S)
    window = 10 ** rng.uniform(low, high)
    invoices = rng.choice((3, 4, 6, 8, 12, 55))  # 55: two batches of invoices at once
    faults = tuple(_fault(rng, window) for _ in range(rng.randint(0, 8)))
    kill = rng.uniform(0.05, 2.0) if rng.random() < 0.25 else None
    edit = rng.choice((2, 3)) if rng.random() < 0.2 else None
    return Schedule(seed, invoices, window, faults, kill, edit)


# -- the documents: every kind the outbox posts ----------------------------------------------------
def _header(number: str, kind: str, doc_type: str | None, total: Decimal, **extra: Any) -> dict[str, Any]:
    header = {
        "document_number": number, "document_kind": kind, "document_type": doc_type, "entity": "us",
        "period": PERIOD, "contact_name": "Fuzz Client", "reference": f"ref {number}",
        "document_date": date(2026, 8, 31), "due_date": date(2026, 9, 30) if kind == "invoice" else None,
        "currency": "USD", "base_currency": "USD", "currency_rate": Decimal(1), "line_amount_types": "Exclusive",
        "subtotal": total, "total_tax": Decimal(0), "total": total, "original_number": None,
        "content_hash": hashlib.sha256(f"{number}:{total}".encode()).hexdigest(), "rule_set_version": "fuzz",
        "run_id": "fuzz",
    }  # fmt: skip
    header.update(extra)
    return header


def _line(number: str, line_no: int, amount: Decimal, account: str = "200") -> dict[str, Any]:
    return {
        "document_number": number, "line_no": line_no, "entity": "us", "period": PERIOD,
        "description": f"{number} line {line_no}", "quantity": Decimal(1), "unit_amount": amount,
        "line_amount": amount, "tax_type": "NONE", "tax_amount": Decimal(0), "account_code": account,
    }  # fmt: skip


def other_documents() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A credit note and a supplementary invoice correcting the first two invoices, an intercompany
    bill and a balanced journal: every kind beside the invoices and payments, in the outbound shape."""
    credit, supplement = "BB-US-202608-5001-USD-CN1", "BB-US-202608-5002-USD-S1"
    bill, journal = "BB-US-202608-IC-UK", "BB-US-202608-MJ-FUZZ"
    headers = [
        _header(
            credit,
            "credit_note",
            "ACCRECCREDIT",
            Decimal("75"),
            original_number="BB-US-202608-5001-USD",
            contact_name="Bench Client 0",  # the contact of the invoice it is allocated to
        ),
        _header(supplement, "invoice", "ACCREC", Decimal("150"), original_number="BB-US-202608-5002-USD"),
        _header(bill, "invoice", "ACCPAY", Decimal("800"), contact_name="Billbridge Ltd"),
        _header(journal, "manual_journal", None, Decimal("1000"), contact_name=None, reference="Rent August"),
    ]
    lines = [
        _line(credit, 1, Decimal("75")), _line(supplement, 1, Decimal("150")), _line(bill, 1, Decimal("800"), "310"),
        _line(journal, 1, Decimal("1000"), "477"), _line(journal, 2, Decimal("-1000"), "800"),
    ]  # fmt: skip
    return pl.DataFrame(headers, schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(
        lines, schema=DOCUMENT_LINE_SCHEMA
    )


# The second invoice (2 h x 150.00 = 300.00) settled as reconciliation settles a line net of a bank
# fee: 285.00 received from the bank account and the 15.00 fee from the fees account (the accounts
# of config/reconciliation_rules.yaml for `us`). Payments wait until the invoice is AUTHORISED.
PAID_INVOICE = "BB-US-202608-5002-USD"


def settlement_payments() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The payments of one accepted match, in the outbound shape the settlement asset writes."""
    prefix = "BB-US-202608-PAY-fuzzdecision-"
    paid = date(2026, 9, 15)
    payments = [
        PaymentDocument(f"{prefix}1", "us", PERIOD, "inv-2", "invoice", PAID_INVOICE, "090", paid,
                        Decimal("285.00"), "USD", None, "cash"),
        PaymentDocument(f"{prefix}2", "us", PERIOD, "inv-2", "invoice", PAID_INVOICE, "404", paid,
                        Decimal("15.00"), "USD", None, "bank_fee"),
    ]  # fmt: skip
    return payment_documents(payments, "USD", "fuzz", "fuzz")
