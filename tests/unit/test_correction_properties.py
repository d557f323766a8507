"""Properties of corrections over generated invoices and edits (hypothesis).

- A correction followed by its reversal (the input returns to what was first booked) nets to zero
  per line key and in total, tax included, and leaves billed-so-far equal to the original.
- Re-running with unchanged input once a round is booked issues nothing (idempotent).
- Every round passes the write gate, totals equal the sums of lines, and billed + corrections
  equal the current drafts per line key (asserted inside `correct`).

The generated invoices are priced here with Python's Decimal (half-up to the cent), independently
of the code under test.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.corrections import Corrections
from rules.billing.differences import LINE_KEY
from tests.unit.test_corrections import UK, correct, line, originals, post, posted_invoice

CONFIG = load_config(DEFAULT_CONFIG_PATH)
UK_ENTITY = CONFIG.entity("uk")
TAX_PERCENT = {"OUTPUT2": Decimal(20), "ZERORATEDOUTPUT": Decimal(0)}
CENT = Decimal("0.01")

# A line key: (task, description, unit amount, tax code); quantities in quarter hours.
keys = st.lists(
    st.tuples(
        st.integers(7001, 7004),
        st.sampled_from(["Audit: Fieldwork", "Audit: Review", "Tax: Returns"]),
        st.decimals(Decimal("0.01"), Decimal("400"), places=2),
        st.sampled_from(sorted(TAX_PERCENT)),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda k: (k[0], k[1], k[2], k[3]),
)
quarters = st.integers(0, 160).map(lambda n: Decimal(n) / 4)


def priced(task: int, description: str, unit: Decimal, tax_type: str, hours: Decimal) -> dict[str, Any]:
    amount = (hours * unit).quantize(CENT, rounding=ROUND_HALF_UP)
    tax = (amount * TAX_PERCENT[tax_type] / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return line(description, str(hours), str(unit), str(amount), str(tax), tax_type=tax_type, task=task)


def invoice(spec: list[tuple[int, str, Decimal, str]], hours: list[Decimal]) -> list[dict[str, Any]]:
    return [priced(*key, h) for key, h in zip(spec, hours, strict=True) if h > 0]


def signed_per_key(done: Corrections) -> dict[tuple[Any, ...], tuple[Decimal, Decimal]]:
    """Each key's corrected amount and tax as the documents show them, signed (credit notes negative)."""
    kinds = done.documents.select("document_number", "document_kind")
    keyed = (
        done.lines.select("document_number", "line_no", "line_amount", "tax_amount")
        .join(kinds, on="document_number")
        .join(done.sources.select("document_number", "line_no", *LINE_KEY), on=["document_number", "line_no"])
    )
    totals: dict[tuple[Any, ...], tuple[Decimal, Decimal]] = {}
    for row in keyed.iter_rows(named=True):
        sign = -1 if row["document_kind"] == "credit_note" else 1
        key = tuple(row[c] for c in LINE_KEY)
        amount, tax = totals.get(key, (Decimal(0), Decimal(0)))
        totals[key] = (amount + sign * row["line_amount"], tax + sign * row["tax_amount"])
    return totals


def signed_total(done: Corrections) -> Decimal:
    sign = pl.when(pl.col("document_kind") == "credit_note").then(-pl.col("total")).otherwise(pl.col("total"))
    return Decimal(done.documents.select(sign.sum()).item() or 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), spec=keys)
def test_a_correction_and_its_reversal_net_to_zero(data: st.DataObject, spec: list[Any]) -> None:
    booked_hours = data.draw(st.lists(quarters, min_size=len(spec), max_size=len(spec)))
    edited_hours = data.draw(st.lists(quarters, min_size=len(spec), max_size=len(spec)))
    first_lines, edited_lines = invoice(spec, booked_hours), invoice(spec, edited_hours)
    if not first_lines:
        return  # nothing was ever invoiced
    known = originals(UK, base="GBP")
    original = posted_invoice(UK, first_lines, "GBP")

    forward = correct(UK_ENTITY, original, {UK: edited_lines}, known)
    booked, key_map = post(forward)
    posted = pl.concat([original, booked])
    # Idempotent: the booked round leaves nothing to correct for the same input.
    assert correct(UK_ENTITY, posted, {UK: edited_lines}, known, key_map=key_map).documents.height == 0

    back = correct(UK_ENTITY, posted, {UK: first_lines}, known, key_map=key_map)
    there, again = signed_per_key(forward), signed_per_key(back)
    assert there.keys() == again.keys()
    for key, (amount, tax) in there.items():
        assert (amount + again[key][0], tax + again[key][1]) == (Decimal(0), Decimal(0)), key
    assert signed_total(forward) + signed_total(back) == 0

    # Both rounds booked: billed-so-far is the original again, and nothing more is issued.
    booked_back, keys_back = post(back)
    settled = pl.concat([posted, booked_back])
    all_keys = pl.concat([key_map, keys_back])
    assert correct(UK_ENTITY, settled, {UK: first_lines}, known, key_map=all_keys).documents.height == 0
    numbers = [*forward.documents["document_number"], *back.documents["document_number"]]
    assert len(numbers) == len(set(numbers))  # a reversal never reuses a number
