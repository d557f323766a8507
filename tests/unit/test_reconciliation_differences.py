"""Fees, write-offs and FX differences to the cent; every expected amount worked out by hand."""

from decimal import Decimal as D

from rules.reconciliation.differences import percent_limit, settle_other_currency, settle_same_currency
from rules.reconciliation.rule_file import CurrencyRule

RULE = CurrencyRule(
    write_off_absolute=D("2.00"),
    write_off_percent=D("0.5"),
    fee_amounts=(D("12.50"),),
    fx_tolerance_percent=D("3"),
)


def test_a_known_bank_fee_goes_to_fees_and_settles_the_invoice() -> None:
    # 1,250.00 due, 1,237.50 arrived: the 12.50 gap is the bank's tariff for an incoming transfer.
    s = settle_same_currency(D("1237.50"), D("1250.00"), None, RULE, "GBP")
    assert (s.fee, s.write_off, s.still_due, s.settled_in_item_currency) == (D("12.50"), 0, 0, D("1250.00"))
    assert s.explained


def test_stated_charges_then_the_rest_within_the_write_off_rule() -> None:
    # 1,000.00 due, 991.50 arrived, the statement names 7.30 charges: 8.50 short = 7.30 fee + 1.20 left;
    # 1.20 <= 2.00 and <= 0.5% of 1,000.00 (5.00): written off.
    s = settle_same_currency(D("991.50"), D("1000.00"), D("7.30"), RULE, "GBP")
    assert (s.fee, s.write_off, s.still_due) == (D("7.30"), D("1.20"), 0)
    assert "write-off rule" in s.reason


def test_the_percentage_limit_binds_on_a_small_invoice() -> None:
    # 100.00 due, 99.20 arrived: 0.80 short is under 2.00 but over 0.5% of 100.00 (0.50): never written off.
    s = settle_same_currency(D("99.20"), D("100.00"), None, RULE, "GBP")
    assert (s.write_off, s.still_due, s.settled_in_item_currency) == (0, D("0.80"), D("99.20"))
    assert not s.explained


def test_percent_limit_rounds_half_up_to_the_cent() -> None:
    # 0.5% of 101.00 is 0.505: PERCENT_LIMIT_RULE (half-up) makes the limit 0.51.
    assert percent_limit(D("101.00"), D("0.5"), "GBP") == D("0.51")
    assert settle_same_currency(D("100.49"), D("101.00"), None, RULE, "GBP").write_off == D("0.51")
    assert settle_same_currency(D("100.48"), D("101.00"), None, RULE, "GBP").still_due == D("0.52")
    # JPY has no minor units: 0.5% of 10,101 is 50.505 -> 51.
    assert percent_limit(D("10101"), D("0.5"), "JPY") == D("51")


def test_small_overpayment_is_written_off_as_a_gain_a_large_one_is_unapplied_cash() -> None:
    small = settle_same_currency(D("500.40"), D("500.00"), None, RULE, "GBP")
    assert (small.write_off, small.unapplied) == (D("-0.40"), 0)
    large = settle_same_currency(D("650.00"), D("500.00"), None, RULE, "GBP")
    assert (large.write_off, large.unapplied, large.settled_in_item_currency) == (0, D("150.00"), D("500.00"))


def test_foreign_currency_invoice_paid_at_another_rate_books_a_realised_loss() -> None:
    # EUR 1,000.00 booked at 1.175 EUR per GBP: 1000 / 1.175 = 851.0638... -> GBP 851.06 (half-up).
    # GBP 845.20 arrived: loss 5.86, within 3% of 851.06 (25.53): the invoice is paid in full.
    s = settle_other_currency(D("845.20"), D("1000.00"), "EUR", D("1.17500000"), "GBP", RULE)
    assert (s.expected, s.fx_difference, s.settled_in_item_currency) == (
        D("851.06"),
        D("-5.86"),
        D("1000.00"),
    )
    assert "loss 5.86" in s.reason


def test_foreign_currency_gain_and_a_gap_beyond_tolerance_is_partial() -> None:
    # 1000 / 1.16 = 862.0689... -> 862.07; 870.00 arrived: gain 7.93.
    gain = settle_other_currency(D("870.00"), D("1000.00"), "EUR", D("1.16000000"), "GBP", RULE)
    assert gain.fx_difference == D("7.93")
    # 800.00 is 7.2% under 862.07: not an FX difference but a partial payment of 800.00 x 1.16 = EUR 928.00.
    part = settle_other_currency(D("800.00"), D("1000.00"), "EUR", D("1.16000000"), "GBP", RULE)
    assert (part.fx_difference, part.still_due, part.settled_in_item_currency) == (0, D("62.07"), D("928.00"))


def test_reasons_write_amounts_to_the_currencys_minor_units() -> None:
    # Amounts are stored with four places (DECIMAL(18,4)); a person reads 1.50, not 1.5000.
    written_off = settle_same_currency(D("998.5000"), D("1000.0000"), None, RULE, "GBP")
    assert written_off.reason == "difference 1.50 within the write-off rule (<= 2.00 and <= 0.5%)"
    partial = settle_same_currency(D("900.0000"), D("1000.0000"), None, RULE, "GBP")
    assert partial.reason == "partial payment: 100.00 stays due"
    no_cents = settle_same_currency(D("9000.0000"), D("10000.0000"), None, RULE, "JPY")
    assert no_cents.reason == "partial payment: 1000 stays due"
    fx = settle_other_currency(D("845.2000"), D("1000.0000"), "EUR", D("1.17500000"), "GBP", RULE)
    assert fx.reason.endswith("realised FX loss 5.86 GBP")
