"""Accepted matches as Payments, to the cent: cash, fee, write-off and FX rate, worked out by hand."""

from datetime import date
from decimal import Decimal as D

from rules.reconciliation.payments import ItemShare, SettlementToPay, payments_for


def _settlement(
    received: str, fee: str = "0", write_off: str = "0", currency: str = "GBP"
) -> SettlementToPay:
    return SettlementToPay("abcdef1234567890", "uk", "2026-10", date(2026, 10, 12), currency, D(received), D(fee),
                           D(write_off))  # fmt: skip


def _share(item: str, applied: str, currency: str = "GBP", kind: str = "invoice") -> ItemShare:
    return ItemShare(item, kind, f"BB-UK-202609-{item}-{currency}", currency, D(applied))


def test_net_of_fee_and_a_write_off_pays_the_invoice_in_full() -> None:
    # 1,250.00 due: 1,236.30 arrived, 12.50 known fee, 1.20 written off: 1,236.30 + 12.50 + 1.20 = 1,250.00.
    payments = payments_for(
        _settlement("1236.30", "12.50", "1.20"), [_share("5101", "1250.00")], "090", "404", "480"
    )
    assert [(p.account_code, p.amount, p.purpose) for p in payments] == [
        ("090", D("1236.30"), "cash"), ("404", D("12.50"), "bank_fee"), ("480", D("1.20"), "write_off"),
    ]  # fmt: skip
    assert [p.reference for p in payments] == [f"BB-UK-202610-PAY-abcdef123456-{n}" for n in (1, 2, 3)]


def test_one_payment_for_two_invoices_pays_each_its_share() -> None:
    # 800.00 + 450.00 = 1,250.00 received less a 12.50 fee: the older invoice in full, the fee on the last.
    shares = [_share("5102", "800.00"), _share("5103", "450.00")]
    payments = payments_for(_settlement("1237.50", "12.50"), shares, "090", "404", "480")
    assert [(p.item_id, p.amount, p.purpose) for p in payments] == [
        ("5102", D("800.00"), "cash"), ("5103", D("437.50"), "cash"), ("5103", D("12.50"), "bank_fee"),
    ]  # fmt: skip


def test_foreign_currency_invoice_is_paid_at_the_banks_rate() -> None:
    # EUR 1,000.00 settled by GBP 845.20: CurrencyRate = 1000 / 845.20 = 1.183151916... -> 1.18315192.
    (payment,) = payments_for(_settlement("845.20"), [_share("5201", "1000.00", "EUR")], "090", "404", "480")
    assert (payment.amount, payment.currency, payment.currency_rate) == (D("1000.00"), "EUR", D("1.18315192"))


def test_a_refund_pays_the_credit_note() -> None:
    (payment,) = payments_for(_settlement("-120.00"), [_share("cn1", "-120.00", kind="credit_note")], "090", "404",
                              "480")  # fmt: skip
    assert (payment.item_kind, payment.amount, payment.account_code) == ("credit_note", D("120.00"), "090")


def test_payments_in_the_outbound_document_shape() -> None:
    from rules.reconciliation.payments import payment_documents

    payments = payments_for(_settlement("1237.50", "12.50"), [_share("5101", "1250.00")], "090", "404", "480")
    headers, lines = payment_documents(payments, "GBP", "v1", "run")
    assert headers["document_kind"].to_list() == ["payment", "payment"]
    assert headers["original_number"].to_list() == ["BB-UK-202609-5101-GBP"] * 2
    assert headers["total"].to_list() == [D("1237.50"), D("12.50")]
    assert lines["account_code"].to_list() == ["090", "404"]
    assert headers["content_hash"].n_unique() == 2
