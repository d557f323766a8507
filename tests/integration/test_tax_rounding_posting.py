"""Per-invoice tax rounding posts to the accounting sandbox over real HTTP, and the ledger books the draft's total.

The draft sends each line's TaxAmount (per-invoice tax spread over the lines by largest remainder);
the sandbox books an override within one minor unit of its own per-line figure (decision 0009).
Money rounded half-even or per invoice posts too: every line is priced as the ledger prices it, and an
explicit rounding line carries the difference to the configured total.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from rules.billing.drafting import BillingRules, DraftingContext, Drafts, draft_invoices
from rules.outbound_payloads import outbound_document
from rules.rounding_rules import MoneyRounding, TaxRounding
from rules.settings import BillbridgeConfig
from sandbox.xero import XeroSandbox, dumps_exact, loads_exact
from tests.unit.drafting_gates import passes_the_gates
from tests.unit.test_money_rounding import AUGUST, RATES, _config, _lines, _three_ties, _uk_ties

pytestmark = pytest.mark.integration

TOKEN = "demo-xero-token"
UNLIMITED: dict[str, Any] = {"minute_limit": None, "day_limit": None, "concurrent_limit": None}


def _drafts(config: BillbridgeConfig, entity: str, entries: list[dict[str, Any]], currency: str) -> Drafts:
    """The entity's August drafts of `entries`, through every gate the asset applies."""
    return passes_the_gates(
        draft_invoices(
            _lines(config, entity, entries, currency),
            DraftingContext(config.entity(entity), *AUGUST, RATES, "run"),
            BillingRules.of(config),
        )
    )


@pytest.fixture
def xero(tmp_path: Path) -> Iterator[XeroSandbox]:
    tenants = [e.accounting_tenant_id for e in _config().entities]
    sandbox = XeroSandbox(tenants, db_path=tmp_path / "xero.sqlite", **UNLIMITED)
    with sandbox:
        yield sandbox
    sandbox.close()


def _post(xero: XeroSandbox, config: BillbridgeConfig, entity: str, drafts: Any) -> dict[str, Any]:
    """Post the draft's only invoice as the connector builds it; return what the ledger booked."""
    e = config.entity(entity)
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Xero-tenant-id": e.accounting_tenant_id,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    with httpx.Client(base_url=xero.url + "/", headers=headers, timeout=10) as http:
        made = http.put("Contacts", content=dumps_exact({"Contacts": [{"Name": "Initech Ltd"}]}))
        contact_id = loads_exact(made.content)["Contacts"][0]["ContactID"]
        h = drafts.invoices.row(0, named=True)
        header = {
            "document_kind": "invoice",
            "document_type": "ACCREC",
            "document_number": h["invoice_number"],
            "reference": h["reference"],
            "document_date": h["invoice_date"],
            "due_date": h["due_date"],
            "currency": h["currency"],
            "base_currency": h["base_currency"],
            "currency_rate": h["currency_rate"],
            "line_amount_types": h["line_amount_types"],
        }
        element = outbound_document(header, drafts.lines, e, contact_id)
        response = http.put("Invoices", content=dumps_exact({"Invoices": [element]}))
        assert response.status_code == 200, response.text
        return loads_exact(response.content)["Invoices"][0]  # type: ignore[no-any-return]


def test_per_invoice_tax_posts_and_the_booked_total_equals_the_draft(xero: XeroSandbox) -> None:
    # UK 20%: two lines of 48.13, unrounded tax 9.626 each. Per invoice: 19.252 -> 19.25, sent as
    # TaxAmounts 9.63 and 9.62 (the ledger's own per-line figure is 9.63: one cent off, booked).
    config = _config(tax=[TaxRounding(id="UK", entity="uk", level="invoice")])
    drafts = _drafts(config, "uk", _uk_ties(), "GBP")
    booked = _post(xero, config, "uk", drafts)
    assert [li["TaxAmount"] for li in booked["LineItems"]] == [D("9.63"), D("9.62")]
    assert (booked["SubTotal"], booked["TotalTax"], booked["Total"]) == (D("96.26"), D("19.25"), D("115.51"))
    assert booked["Total"] == drafts.invoices["total"][0]


def test_per_line_tax_books_the_same_total_as_the_draft(xero: XeroSandbox) -> None:
    # The same work taxed per line (the default): 9.63 + 9.63 = 19.26, total 115.52, a cent more.
    config = _config()
    drafts = _drafts(config, "uk", _uk_ties(), "GBP")
    booked = _post(xero, config, "uk", drafts)
    assert (booked["TotalTax"], booked["Total"]) == (D("19.26"), D("115.52"))
    assert booked["Total"] == drafts.invoices["total"][0]


def test_half_even_line_tax_is_booked_as_sent(xero: XeroSandbox) -> None:
    # UK 20%, money half-up per line: three lines of 0.35 h x 137.50 = 48.13 (tax 9.626 -> 9.63 either way)
    # and tax per invoice half-even: 28.878 -> 28.88, spread 9.63, 9.63, 9.62; total 144.39 + 28.88 = 173.27.
    config = _config(
        money=[MoneyRounding(id="UK", entity="uk")],
        tax=[TaxRounding(id="UK", entity="uk", mode="half_even", level="invoice")],
    )
    drafts = _drafts(config, "uk", _uk_three_ties(), "GBP")
    booked = _post(xero, config, "uk", drafts)
    assert [li["TaxAmount"] for li in booked["LineItems"]] == [D("9.63"), D("9.63"), D("9.62")]
    assert booked["Total"] == drafts.invoices["total"][0] == D("173.27")


def _uk_three_ties() -> list[dict[str, Any]]:
    # Three UK lines of 0.35 h x 137.50 = 48.125 each: a tie, 48.13 as the ledger prices it.
    return [{**e, "client": {**e["client"], "id": 5101, "currency": "GBP"}, "project": {**e["project"], "id": 6101}}
            for e in _three_ties("GBP")]  # fmt: skip


ROUNDED_TOTALS = [
    # (case, money rule, rounding line, subtotal, tax, total), by hand: the ledger prices 3 x 48.13 = 144.39,
    # 20% VAT per line 9.626 -> 9.63, 28.89; the rounding line is untaxed (NONE).
    ("invoice level: 144.375 -> 144.38, rounding -0.01",
     MoneyRounding(id="UK", entity="uk", level="invoice"), "-0.01", "144.38", "28.89", "173.27"),
    ("half-even per line: 48.125 -> 48.12 x 3 = 144.36, rounding -0.03",
     MoneyRounding(id="UK", entity="uk", mode="half_even"), "-0.03", "144.36", "28.89", "173.25"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "rounding", "subtotal", "tax", "total"),
    [c[1:] for c in ROUNDED_TOTALS],
    ids=[c[0] for c in ROUNDED_TOTALS],
)
def test_rounded_money_posts_with_a_rounding_line_and_books_the_draft_total(
    xero: XeroSandbox, rule: MoneyRounding, rounding: str, subtotal: str, tax: str, total: str
) -> None:
    config = _config(money=[rule])
    drafts = _drafts(config, "uk", _uk_three_ties(), "GBP")
    booked = _post(xero, config, "uk", drafts)  # before the rounding line: refused, a dead letter
    assert [(li["Description"], li["Quantity"], li["UnitAmount"], li["LineAmount"], li["TaxType"], li["TaxAmount"],
             li.get("AccountCode")) for li in booked["LineItems"][3:]] == [
        (f"Rounding ({rule.level}:{rule.mode})", D(1), D(rounding), D(rounding), "NONE", D(0), "860"),
    ]  # fmt: skip
    assert [li["LineAmount"] for li in booked["LineItems"][:3]] == [D("48.13")] * 3
    assert (booked["SubTotal"], booked["TotalTax"], booked["Total"]) == (D(subtotal), D(tax), D(total))
    assert booked["Total"] == drafts.invoices["total"][0]
