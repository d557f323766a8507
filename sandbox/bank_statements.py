"""A labelled synthetic receivables ledger and bank statement: every kind of noise a payer makes.

Everything comes from `random.Random(seed)`, so the same arguments give the same rows. The true
match of every bank line is written down here, from how the line was made, never by asking the
matcher: `truth.true_item_ids` lists the items a line really pays (empty for a line that must not
be matched: a duplicate, a payment to an invoice already paid, an unrelated line).

Noise kinds (`truth.kind`): exact, reformatted (the number written another way), typo (one
character wrong, missing or swapped), name_only (the payer's name and the exact amount),
partial (an invoice paid in two parts), several (one payment quoting several invoices),
several_name_only (one payment for several invoices, no number), net_of_fees (a known bank fee
deducted), short_paid (a few cents short, within the write-off rule), foreign_currency (a
foreign-currency invoice paid in the bank's currency at a rate up to 1.5% off the booking rate),
duplicate (the same payment twice), closed (a payment to an invoice already paid), refund (money
out against a credit note), unrelated (rent, salaries, interest), unknown_payer (money in from a
stranger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from random import Random

import polars as pl

from rules.money import FX_CONVERSION_RULE, round_decimal
from rules.reconciliation.frames import BANK_LINE_SCHEMA, OPEN_ITEM_SCHEMA
from sandbox.bank_statement_files import Statement

_FIRST = ("North", "Blue", "Silver", "Granite", "Harbor", "Maple", "Cedar", "Summit", "Iron", "Crystal",
          "Golden", "Red", "Oak", "Pine", "River", "Stone", "Bright", "Eagle", "Falcon", "Lion")  # fmt: skip
_SECOND = ("wind", "field", "gate", "bridge", "stone", "wood", "haven", "crest", "brook", "ridge",
           "point", "vale", "moor", "ford", "well", "light", "water", "land", "mark", "view")  # fmt: skip
_TRADE = ("Traders", "Logistics", "Media", "Foods", "Systems", "Partners", "Holdings", "Labs",
          "Studios", "Consulting", "Motors", "Energy", "Health", "Retail", "Capital")  # fmt: skip
_FORMS = ("Ltd", "Limited", "plc", "LLP")
_UNRELATED = (("Landlord Properties", "RENT OFFICE Q{q}"), ("HMRC", "VAT RETURN"), ("PAYROLL", "SALARIES {m}"),
              ("", "INTEREST"), ("Cloud Hosting Inc", "INV {n} HOSTING"), ("", "ACCOUNT FEE"))  # fmt: skip
# Noise kind -> share of the invoices it is drawn for (the rest are paid exactly).
MIX = {
    "reformatted": 0.08, "typo": 0.08, "name_only": 0.08, "partial": 0.05, "several": 0.04,
    "several_name_only": 0.03, "net_of_fees": 0.06, "short_paid": 0.03, "duplicate": 0.03, "closed": 0.02,
}  # fmt: skip
FEES = (Decimal("10.00"), Decimal("12.50"))


@dataclass(frozen=True)
class LabelledSet:
    """Open items, bank lines, and the truth about every line."""

    items: pl.DataFrame  # rules/reconciliation/frames.OPEN_ITEM_SCHEMA
    lines: pl.DataFrame  # BANK_LINE_SCHEMA
    truth: pl.DataFrame  # line_id, kind, true_item_ids


class _Maker:
    def __init__(self, seed: int, entity: str, start: date):
        self.rng, self.entity, self.start = Random(seed), entity, start
        self.items: list[dict[str, object]] = []
        self.lines: list[dict[str, object]] = []
        self.truth: list[tuple[str, str, list[str]]] = []
        self.used: set[tuple[int, int, str]] = set()

    # ---------------------------------------------------------------- ledger
    def free_slot(self, clients: int, months: int, currency: str, size: int) -> tuple[int, int, str] | None:
        """A client and `size` consecutive months with no invoice yet in `currency` (one invoice per
        client, currency and month, as billing drafts them); None after a few unlucky draws."""
        for _ in range(20):
            client, month = self.rng.randrange(clients), self.rng.randint(0, months - 1)
            wanted = {(client, month + k, currency) for k in range(size)}
            if not wanted & self.used:
                self.used |= wanted
                return client, month, currency
        return None

    def clients(self, count: int) -> list[str]:
        names: set[str] = set()
        while len(names) < count:
            first, second = self.rng.choice(_FIRST), self.rng.choice(_SECOND)
            names.add(f"{first}{second} {self.rng.choice(_TRADE)} {self.rng.choice(_FORMS)}")
        return sorted(names)

    def invoice(
        self, client: int, name: str, month: int, currency: str, paid: bool = False
    ) -> dict[str, object]:
        issued = (self.start.replace(day=28) + timedelta(days=31 * month)).replace(day=28)
        cents = self.rng.randint(20_000, 2_000_000)
        total = Decimal(cents).scaleb(-2)
        rate = (
            Decimal(1)
            if currency == "GBP"
            else Decimal(self.rng.randint(112_000_000, 122_000_000)).scaleb(-8)
        )
        period = f"{issued.year}{issued.month:02d}"
        item = {
            "item_id": f"inv-{len(self.items) + 1:06d}", "item_kind": "invoice",
            "number": f"BB-{self.entity.upper()}-{period}-{5000 + client}-{currency}", "entity": self.entity,
            "contact_name": name, "currency": currency, "currency_rate": rate, "issue_date": issued,
            "due_date": issued + timedelta(days=30), "total": total,
            "amount_due": Decimal(0) if paid else total, "status": "PAID" if paid else "AUTHORISED",
            "credited": Decimal(0),
        }  # fmt: skip
        self.items.append(item)
        return item

    # ---------------------------------------------------------------- bank lines
    def line(self, amount: Decimal, payer: str, text: str, when: date, kind: str, truth: list[str],
             charges: Decimal | None = None) -> None:  # fmt: skip
        line_id = f"stmt-{len(self.lines) + 1:07d}"
        self.lines.append({
            "line_id": line_id, "entity": self.entity, "statement_id": f"stmt-{when:%Y%m}",
            "account_id": "GB33BUKB20201555555555", "booking_date": when, "amount": amount, "currency": "GBP",
            "counterparty_name": payer, "remittance": text, "bank_reference": f"BR{len(self.lines):09d}",
            "charges": charges,
        })  # fmt: skip
        self.truth.append((line_id, kind, truth))

    def paid_on(self, item: dict[str, object]) -> date:
        due: date = item["due_date"]  # type: ignore[assignment]
        return due + timedelta(days=self.rng.randint(-20, 25))

    def payer(self, name: str) -> str:
        """How a bank writes a client's name: upper case, the legal form changed or dropped."""
        base = name.rsplit(" ", 1)[0]
        return self.rng.choice([name.upper(), base.upper(), f"{base} LIMITED", base, f"{base.upper()} LTD"])

    def typo(self, number: str) -> str:
        """One edit in the client or period digits (never in the fixed prefix)."""
        chars = list(number)
        digits = [i for i, c in enumerate(chars) if c.isdigit()]
        spot = self.rng.choice(digits)
        edit = self.rng.choice(("drop", "swap", "wrong"))
        if edit == "drop":
            del chars[spot]
        elif (
            edit == "swap"
            and spot + 1 < len(chars)
            and chars[spot + 1].isdigit()
            and chars[spot] != chars[spot + 1]
        ):
            chars[spot], chars[spot + 1] = chars[spot + 1], chars[spot]
        else:
            chars[spot] = str((int(chars[spot]) + self.rng.randint(1, 9)) % 10)
        return "".join(chars)


def _pay(maker: _Maker, item: dict[str, object], kind: str, group: list[dict[str, object]]) -> None:
    """The bank line(s) for one invoice (or a group of one client's invoices) paid with `kind` of noise."""
    rng, name, number = maker.rng, str(item["contact_name"]), str(item["number"])
    due, when, ids = Decimal(str(item["total"])), maker.paid_on(group[-1]), [str(item["item_id"])]
    if item["currency"] != "GBP":
        off = Decimal(rng.randint(-150, 150)).scaleb(-4)  # the bank's rate, up to 1.5% off the booking rate
        amount = round_decimal(
            due / Decimal(str(item["currency_rate"])) * (1 + off), "GBP", FX_CONVERSION_RULE
        )
        maker.line(amount, maker.payer(name), f"{number}", when, "foreign_currency", ids)
    elif kind in ("several", "several_name_only"):
        total = sum((Decimal(str(g["total"])) for g in group), Decimal(0))
        numbers = " ".join(str(g["number"]) for g in group) if kind == "several" else "PAYMENT"
        maker.line(total, maker.payer(name), numbers, when, kind, [str(g["item_id"]) for g in group])
    elif kind == "partial":
        first = round_decimal(due * Decimal(rng.randint(30, 70)) / 100, "GBP", FX_CONVERSION_RULE)
        maker.line(first, maker.payer(name), f"PART PAYMENT {number}", when, kind, ids)
        maker.line(due - first, maker.payer(name), f"BALANCE {number}", when + timedelta(days=14), kind, ids)
    elif kind == "duplicate":
        maker.line(due, maker.payer(name), number, when, "exact", ids)
        maker.line(due, maker.payer(name), number, when + timedelta(days=rng.randint(1, 4)), kind, [])
    else:
        text = {"exact": number, "reformatted": f"inv {number.replace('-', ' ').lower()}",
                "typo": f"INVOICE {maker.typo(number)}", "name_only": "THANK YOU",
                "net_of_fees": number, "short_paid": number, "closed": number}[kind]  # fmt: skip
        less = {"net_of_fees": rng.choice(FEES), "short_paid": Decimal(rng.randint(1, 150)).scaleb(-2)}
        truth = [] if kind == "closed" else ids
        maker.line(due - less.get(kind, Decimal(0)), maker.payer(name), text, when, kind, truth)


def _noise_free(maker: _Maker, count: int, months: int) -> None:
    """Refunds, unrelated lines and strangers' money."""
    rng = maker.rng
    for n in range(count):
        when = maker.start + timedelta(days=rng.randint(0, 31 * months))
        kind = rng.choice(("unrelated", "unrelated", "unrelated", "unknown_payer"))
        if kind == "unknown_payer":
            amount = Decimal(rng.randint(5_000, 500_000)).scaleb(-2)
            maker.line(
                amount,
                f"STRANGER {rng.randint(1, 999)} GMBH",
                f"REF {rng.randint(10**6, 10**7)}",
                when,
                kind,
                [],
            )
            continue
        payer, text = rng.choice(_UNRELATED)
        amount = -Decimal(rng.randint(1_000, 900_000)).scaleb(-2)
        maker.line(amount, payer, text.format(q=n % 4 + 1, m=when.month, n=n), when, kind, [])


def _refunds(maker: _Maker, names: list[str], count: int) -> None:
    """Credit notes refunded by bank transfer (money out, quoting the credit note's number)."""
    for _ in range(count):
        slot = maker.free_slot(len(names), 12, "GBP", 1)
        if slot is None:
            continue
        client = slot[0]
        invoice = maker.invoice(client, names[client], slot[1], "GBP")
        credit = Decimal(maker.rng.randint(1_000, 50_000)).scaleb(-2)
        note = {**invoice, "item_id": f"cn-{len(maker.items) + 1:06d}", "item_kind": "credit_note",
                "number": f"{invoice['number']}-CN1", "total": -credit, "amount_due": -credit}  # fmt: skip
        maker.items.append(note)
        maker.line(-credit, names[client], f"REFUND {note['number']}", maker.paid_on(invoice), "refund",
                   [str(note["item_id"])])  # fmt: skip


def generate_labelled_set(
    seed: int = 15, invoices: int = 3000, clients: int = 300, months: int = 12, entity: str = "uk"
) -> LabelledSet:
    """A ledger of `invoices` (plus open invoices nobody pays yet) and the statement lines paying them."""
    maker = _Maker(seed, entity, date(2026, 1, 1))
    names = maker.clients(clients)
    kinds, weights = [*MIX, "exact"], [*MIX.values(), 1 - sum(MIX.values())]
    made = 0
    while made < invoices:
        kind = maker.rng.choices(kinds, weights)[0]
        currency = "EUR" if maker.rng.random() < 0.05 else "GBP"
        size = maker.rng.randint(2, 3) if kind.startswith("several") else 1
        slot = maker.free_slot(clients, months, "GBP" if size > 1 else currency, size)
        if slot is None:
            continue
        client, month, currency = slot
        group = [maker.invoice(client, names[client], month + k, currency, paid=kind == "closed")
                 for k in range(size)]  # fmt: skip
        _pay(maker, group[0], kind, group)
        made += size
    for _ in range(invoices // 10):  # open invoices not yet paid: candidates that must not be taken
        slot = maker.free_slot(clients, months, "GBP", 1)
        if slot is not None:
            maker.invoice(slot[0], names[slot[0]], slot[1], "GBP")
    _refunds(maker, names, invoices // 50)
    _noise_free(maker, invoices // 12, months)
    truth = pl.DataFrame(maker.truth, schema={"line_id": pl.String, "kind": pl.String,
                                              "true_item_ids": pl.List(pl.String)}, orient="row")  # fmt: skip
    return LabelledSet(
        items=pl.DataFrame(maker.items, schema=OPEN_ITEM_SCHEMA),
        lines=pl.DataFrame(maker.lines, schema=BANK_LINE_SCHEMA),
        truth=truth,
    )


def demo_statement(
    invoices: list[dict[str, object]], month: date, base_currency: str, seed: int = 15
) -> Statement:
    """The demo company's bank statement for `month`: its authorised sales invoices paid as customers do.

    Most quote the number; one in five pays by name only (a person confirms it in the workbench); one
    in seven pays net of a 10.00 bank fee; and a rent payment goes out. Each line is booked in `month`,
    in the entity's `base_currency` (an invoice in another currency at its own booking rate).
    """
    rng = Random(seed)
    last_day = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    lines: list[dict[str, object]] = []
    for n, invoice in enumerate(
        i for i in invoices if i.get("Status") == "AUTHORISED" and i.get("Type") == "ACCREC"
    ):
        due, number = Decimal(str(invoice["AmountDue"])), str(invoice["InvoiceNumber"])
        contact: dict[str, object] = invoice.get("Contact") or {}  # type: ignore[assignment]
        name = str(contact.get("Name", ""))
        when = month + timedelta(days=rng.randint(0, (last_day - month).days))
        text, amount = number, due
        if invoice.get("CurrencyCode") != base_currency:
            rate = Decimal(str(invoice.get("CurrencyRate") or 1))
            amount = round_decimal(due / rate, base_currency, FX_CONVERSION_RULE)
        elif n % 5 == 4:
            text = "THANK YOU"
        elif n % 7 == 6:
            amount = due - FEES[0]
        lines.append({"booking_date": when, "amount": amount, "currency": base_currency,
                      "counterparty_name": name.upper(), "remittance": text, "bank_reference": f"DEMO{n:05d}",
                      "charges": None})  # fmt: skip
    lines.append({"booking_date": last_day, "amount": Decimal("-2500.00"), "currency": base_currency,
                  "counterparty_name": "Landlord Properties", "remittance": "RENT", "bank_reference": "RENT",
                  "charges": None})  # fmt: skip
    lines.sort(key=lambda line: (line["booking_date"], line["bank_reference"]))  # type: ignore[return-value]
    return Statement(f"DEMO-{base_currency}-ACCOUNT", base_currency, f"DEMO-{month:%Y-%m}", month, last_day, Decimal("10000.00"),
                     tuple(lines))  # fmt: skip
