"""Corrections after invoicing: what was booked vs. what the drafts now say (pure polars).

Once an invoice is posted it is never rewritten. When a later run drafts it differently (hours
edited, an entry deleted, a project reassigned), the difference is issued as new documents:

- billed-so-far per line key = the original invoice's booked lines, plus supplementary
  invoices, minus credit notes (posting.posted_lines; amounts there are as shown, positive);
- the difference per line key = current draft - billed-so-far; a vanished invoice has no
  current lines, so all of it is credited;
- over-billed keys become the lines of one credit note (ACCRECCREDIT), under-billed keys the
  lines of one supplementary invoice (ACCREC), per original invoice and round; both carry
  `original_number` (so the outbox can allocate the credit note: a refund) and the reference
  "Correction of <original>", and are numbered `<original>-CN<n>` / `<original>-S<n>`, n the next
  after those already used for that original;
- each line is priced as the ledger books it: quantity x unit amount where that reproduces the
  difference exactly (LINE_AMOUNT_RULE), else 1 x the difference; tax per line by drafting's
  `line_tax` (LINE_TAX_RULE); totals are sums of lines;
- dated like the invoice they correct, unless that is inside the tenant's locked period
  (rules/billing/lock_dates.py: moved to the first open day, or held with the reason).

The line key is what a bookkeeper compares two versions of an invoice by: the line's description,
unit amount, account and tax code, with its project, task and kind (LINE_KEY). A correction line
cannot always show the key's unit amount, so `billing.correction_sources` keeps every correction
line's key; a booked correction line is mapped back to its key through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from rules.billing.lock_dates import HELD, MOVED, date_outside_lock
from rules.billing.tax import line_tax
from rules.documents import (
    DOCUMENT_HEADER_SCHEMA,
    DOCUMENT_LINE_SCHEMA,
    RATE,
    content_hash,
    document_number_prefix,
)
from rules.money import LINE_AMOUNT_RULE, MONEY, WIDE, exact_product, round_to_minor_units
from rules.rule_sets import LockedPeriodPolicy
from rules.settings import EntityConfig

LINE_KEY = ("source_kind", "project_id", "task_id", "description", "unit_amount", "tax_type", "account_code")
KEY_SCHEMA = pl.Schema(
    {
        "source_kind": pl.String(),
        "project_id": pl.Int64(),
        "task_id": pl.Int64(),
        "description": pl.String(),
        "unit_amount": MONEY,
        "tax_type": pl.String(),
        "account_code": pl.String(),
    }
)
CREDIT_NOTE = ("credit_note", "ACCRECCREDIT", "CN")  # kind, type, number suffix
SUPPLEMENTARY = ("invoice", "ACCREC", "S")
# A correction line's status in billing.correction_sources, and a hold's when nothing could be issued.
DRAFTED = "drafted"
BLOCKED = "blocked"

# What the caller knows of each posted invoice that is not on its booked lines.
ORIGINAL_SCHEMA = pl.Schema(
    {
        "original_number": pl.String(),
        "contact_name": pl.String(),  # null: unknown, the original's corrections are blocked
        "base_currency": pl.String(),
        "currency_rate": RATE,  # the rate the original was booked at; null: blocked
        "line_amount_types": pl.String(),
        "blocked_reason": pl.String(),  # why the caller could not resolve the above, else null
    }
)
SOURCES_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "line_no": pl.Int32(),
        "entity": pl.String(),
        "period": pl.String(),
        "original_number": pl.String(),
        "document_kind": pl.String(),
        "status": pl.String(),  # drafted | held
        **dict(KEY_SCHEMA),
        "billed_quantity": MONEY,
        "billed_amount": MONEY,
        "billed_tax": MONEY,
        "current_quantity": MONEY,
        "current_amount": MONEY,
        "current_tax": MONEY,
        "correction_quantity": MONEY,  # signed: + supplementary, - credit note
        "correction_amount": MONEY,
        "correction_tax": MONEY,
        "tax_residual": MONEY,  # billed + correction - current tax: the ledger's per-line rounding
        "current_line_ids": pl.List(pl.String()),
        "run_id": pl.String(),
    }
)
HOLDS_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "period": pl.String(),
        "original_number": pl.String(),
        "document_number": pl.String(),
        "document_kind": pl.String(),
        "status": pl.String(),  # moved | held | blocked
        "reason": pl.String(),
        "intended_date": pl.Date(),
        "document_date": pl.Date(),
        "lock_date": pl.Date(),
        "currency": pl.String(),
        "total": MONEY,
        "run_id": pl.String(),
    }
)
# The key a booked correction line was drafted under (billing.correction_sources of posted documents).
KEY_MAP_SCHEMA = pl.Schema(
    {"document_number": pl.String(), "line_no": pl.Int32(), **dict(KEY_SCHEMA), "correction_quantity": MONEY}
)
_AMOUNTS = ("quantity", "amount", "tax")


@dataclass(frozen=True)
class Corrections:
    """One entity-month's correction documents, their lines, each line's trace, and the holds."""

    documents: pl.DataFrame  # DOCUMENT_HEADER_SCHEMA
    lines: pl.DataFrame  # DOCUMENT_LINE_SCHEMA
    sources: pl.DataFrame  # SOURCES_SCHEMA (held documents' lines too, status held)
    holds: pl.DataFrame  # HOLDS_SCHEMA

    def withhold(self, reasons: Mapping[str, str], entity: str, period: str, run_id: str) -> Corrections:
        """These documents (number -> reason) are not issued this round: moved to the holds as blocked."""
        if not reasons:
            return self
        numbers = list(reasons)
        gone = self.documents.filter(pl.col("document_number").is_in(numbers))
        blocked = gone.select(
            pl.lit(entity).alias("entity"),
            pl.lit(period).alias("period"),
            "original_number",
            "document_number",
            "document_kind",
            pl.lit(BLOCKED).alias("status"),
            pl.col("document_number").replace_strict(dict(reasons), return_dtype=pl.String).alias("reason"),
            pl.col("document_date").alias("intended_date"),
            pl.lit(None, pl.Date).alias("document_date"),
            pl.lit(None, pl.Date).alias("lock_date"),
            "currency",
            "total",
            pl.lit(run_id).alias("run_id"),
        )
        return Corrections(
            documents=self.documents.filter(~pl.col("document_number").is_in(numbers)),
            lines=self.lines.filter(~pl.col("document_number").is_in(numbers)),
            sources=self.sources.filter(~pl.col("document_number").is_in(numbers)),
            holds=pl.concat(
                [self.holds.filter(~pl.col("document_number").is_in(numbers)), blocked.cast(HOLDS_SCHEMA)]
            ),
        )


def drafted_invoice_numbers(entity: str, period: str) -> str:
    """Regex of the invoice numbers drafting issues for the entity-month (BB-US-202608-5001-USD).

    Only these are corrected here: intercompany invoices, journals and the corrections themselves
    have numbers of their own and producers of their own.
    """
    return "^" + re.escape(document_number_prefix(entity, period)) + r"\d+-[A-Z]{3}$"


def client_of(original_number: str) -> int:
    """The PM client id a drafted invoice number names (BB-US-202608-5001-USD -> 5001)."""
    return int(original_number.split("-")[-2])


def next_number(original: str, suffix: str, used: Sequence[str]) -> str:
    """`<original>-<suffix><n>`, n one more than the highest already used for that original."""
    pattern = re.compile(re.escape(f"{original}-{suffix}") + r"(\d+)$")
    taken = [int(m.group(1)) for m in map(pattern.match, used) if m]
    return f"{original}-{suffix}{max(taken, default=0) + 1}"


def billed_so_far(posted: pl.DataFrame, key_map: pl.DataFrame, entity: str, period: str) -> pl.DataFrame:
    """Net booked quantity, amount and tax per original invoice and line key.

    `posted`: posting.posted_lines of the entity-month. The original's lines count as booked,
    supplementary invoices add and credit notes subtract. A correction line counts under the key
    it was drafted for (`key_map`, from billing.correction_sources) with the key's quantity
    difference; one without (written by hand) under its own columns.
    """
    ours = posted.filter(
        pl.col("original_number").str.contains(drafted_invoice_numbers(entity, period))
        & pl.col("original_number").is_in(
            posted.filter(pl.col("document_number") == pl.col("original_number"))["document_number"].to_list()
        )
    )
    sign = pl.when(pl.col("document_kind") == "credit_note").then(-1).otherwise(1)
    mapped = ours.join(
        key_map.rename({c: f"{c}_key" for c in [*LINE_KEY, "correction_quantity"]}).with_columns(
            pl.lit(True).alias("_mapped")
        ),
        on=["document_number", "line_no"],
        how="left",
    )
    is_mapped = pl.col("_mapped").fill_null(False) & (pl.col("document_number") != pl.col("original_number"))
    keyed = mapped.select(
        "original_number",
        *[pl.when(is_mapped).then(pl.col(f"{c}_key")).otherwise(pl.col(c)).alias(c) for c in LINE_KEY],
        pl.when(is_mapped)
        .then(pl.col("correction_quantity_key"))
        .otherwise(pl.col("quantity") * sign)
        .cast(MONEY)
        .alias("quantity"),
        (pl.col("line_amount") * sign).cast(MONEY).alias("amount"),
        (pl.col("tax_amount") * sign).cast(MONEY).alias("tax"),
    )
    return _per_key(keyed, "billed")


def _per_key(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return (
        frame.cast(dict(KEY_SCHEMA))  # type: ignore[arg-type]
        .group_by("original_number", *LINE_KEY)
        .agg(*[pl.col(a).sum().cast(MONEY).alias(f"{prefix}_{a}") for a in _AMOUNTS])
    )


def current_per_key(draft_lines: pl.DataFrame, draft_sources: pl.DataFrame) -> pl.DataFrame:
    """The current drafts per invoice and line key, with the normalized lines billed under each key."""
    ids = draft_sources.group_by("invoice_number", "line_no").agg(pl.col("line_id"))
    lines = draft_lines.join(ids, on=["invoice_number", "line_no"], how="left").select(
        pl.col("invoice_number").alias("original_number"),
        *LINE_KEY,
        pl.col("quantity").alias("quantity"),
        pl.col("line_amount").alias("amount"),
        pl.col("tax_amount").alias("tax"),
        pl.col("line_id").fill_null(pl.lit([], pl.List(pl.String))),
    )
    sums = _per_key(lines.drop("line_id"), "current")
    line_ids = (
        lines.cast(dict(KEY_SCHEMA))  # type: ignore[arg-type]
        .explode("line_id")
        .group_by("original_number", *LINE_KEY)
        .agg(pl.col("line_id").drop_nulls().unique().sort().alias("current_line_ids"))
    )
    return sums.join(line_ids, on=["original_number", *LINE_KEY], how="left", nulls_equal=True)


def _differences(billed: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Per original and key: billed, current and current - billed (only the keys whose amount differs)."""
    keys = ["original_number", *LINE_KEY]
    current = current.join(billed.select("original_number").unique(), on="original_number", how="semi")
    both = billed.join(current, on=keys, how="full", coalesce=True, nulls_equal=True)
    zero = pl.lit(Decimal(0), MONEY)
    filled = both.with_columns(
        *[pl.col(f"{side}_{a}").fill_null(zero) for side in ("billed", "current") for a in _AMOUNTS],
        pl.col("current_line_ids").fill_null(pl.lit([], pl.List(pl.String))),
    )
    return filled.with_columns(
        *[(pl.col(f"current_{a}") - pl.col(f"billed_{a}")).cast(MONEY).alias(f"delta_{a}") for a in _AMOUNTS]
    ).filter(pl.col("delta_amount") != 0)


def _priced(delta: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """Each difference as a document line: kind, quantity, unit amount, amount as shown, tax."""
    doc_amount = pl.col("delta_amount").abs()
    qty, unit = pl.col("delta_quantity").abs(), pl.col("unit_amount").abs()
    as_hours = round_to_minor_units(exact_product(qty, unit), pl.col("currency"), LINE_AMOUNT_RULE)
    # Quantity x unit reads best; it is used only where the ledger's rounding of it gives the
    # difference exactly (and points the right way), else the line is 1 x the difference.
    readable = (
        (pl.col("delta_quantity") != 0)
        & (((pl.col("delta_quantity") > 0) == (pl.col("unit_amount") > 0)) == (pl.col("delta_amount") > 0))
        & (as_hours == doc_amount)
    )
    fractions = pl.DataFrame(
        {
            "tax_type": list(entity.tax_rates()),
            "tax_fraction": [rate / 100 for rate in entity.tax_rates().values()],
        },
        schema={"tax_type": pl.String, "tax_fraction": WIDE},
    )
    lines = delta.with_columns(
        pl.when(pl.col("delta_amount") > 0)
        .then(pl.lit(SUPPLEMENTARY[0]))
        .otherwise(pl.lit(CREDIT_NOTE[0]))
        .alias("document_kind"),
        pl.when(readable).then(qty).otherwise(pl.lit(Decimal(1), MONEY)).cast(MONEY).alias("quantity"),
        pl.when(readable).then(unit).otherwise(doc_amount).cast(MONEY).alias("unit_shown"),
        doc_amount.cast(MONEY).alias("line_amount"),
    ).join(fractions, on="tax_type", how="left")
    taxed = [
        part.with_columns(
            line_tax(pl.col("line_amount"), pl.col("tax_fraction"), pl.col("currency"), kind).cast(MONEY)
        )
        for kind, part in (
            (kind, lines.filter(pl.col("line_amount_types") == kind)) for kind in ("Exclusive", "Inclusive")
        )
        if part.height
    ]
    if sum(part.height for part in taxed) != lines.height:  # the caller resolves every original's basis
        raise ValueError("every corrected invoice needs line_amount_types Exclusive or Inclusive")
    return pl.concat(taxed) if taxed else lines.with_columns(pl.lit(None, MONEY).alias("tax_amount"))


def correct_invoices(
    posted: pl.DataFrame,
    key_map: pl.DataFrame,
    draft_lines: pl.DataFrame,
    draft_sources: pl.DataFrame,
    originals: pl.DataFrame,
    entity: EntityConfig,
    period: str,
    *,
    lock_date: date | None,
    locked_period: LockedPeriodPolicy,
    used_numbers: Sequence[str],
    rule_set_version: str,
    run_id: str,
) -> Corrections:
    """The credit notes and supplementary invoices that bring what was booked to the current drafts.

    `posted`: posting.posted_lines of the entity-month; `key_map`: the keys of booked correction
    lines (KEY_MAP_SCHEMA); `draft_lines`, `draft_sources`: billing.invoice_draft_lines and
    billing.invoice_line_sources of the month; `originals`: ORIGINAL_SCHEMA per posted invoice;
    `used_numbers`: document numbers already taken (booked, or closed in the outbox), which the
    next correction of an original numbers after. Unchanged input: no documents.
    """
    billed = billed_so_far(posted, key_map, entity.id, period)
    booked = (
        posted.filter(pl.col("document_number") == pl.col("original_number"))
        .group_by("original_number")
        .agg(pl.first("currency"), pl.col("document_date").min().alias("intended_date"))
    )
    delta = (
        _differences(billed, current_per_key(draft_lines, draft_sources))
        .join(booked, on="original_number", how="left")
        .join(originals, on="original_number", how="left")
    )
    tax_rates = entity.tax_rates()
    problems = delta.group_by("original_number").agg(
        pl.first("blocked_reason"),
        pl.col("contact_name").is_null().any().alias("no_contact"),
        pl.col("currency_rate").is_null().any().alias("no_rate"),
        pl.col("tax_type")
        .filter(~pl.col("tax_type").is_in(list(tax_rates)))
        .unique()
        .sort()
        .alias("bad_tax"),
    )
    reasons: dict[str, str] = {}
    for row in problems.iter_rows(named=True):
        why = [row["blocked_reason"]] if row["blocked_reason"] else []
        why += ["the accounting contact is unknown"] if row["no_contact"] and not why else []
        why += ["the rate the invoice was booked at is unknown"] if row["no_rate"] and not why else []
        why += [
            f"tax code {code!r} is not a tax code of entity {entity.id!r} (known: {', '.join(sorted(tax_rates))})"
            for code in row["bad_tax"]
        ]
        if why:
            reasons[row["original_number"]] = "cannot correct: " + "; ".join(why)
    holds = [
        _blocked(entity.id, period, number, reason, run_id) for number, reason in sorted(reasons.items())
    ]
    lines = _priced(delta.filter(~pl.col("original_number").is_in(list(reasons))), entity)

    documents: list[dict[str, object]] = []
    doc_lines: list[pl.DataFrame] = []
    sources: list[pl.DataFrame] = []
    for (original, kind), group in sorted(
        lines.partition_by("original_number", "document_kind", as_dict=True).items(),
        key=lambda item: (str(item[0][0]), str(item[0][1]) != CREDIT_NOTE[0]),
    ):
        original, kind = str(original), str(kind)
        _, doc_type, suffix = CREDIT_NOTE if kind == CREDIT_NOTE[0] else SUPPLEMENTARY
        number = next_number(original, suffix, used_numbers)
        group = group.sort(*LINE_KEY, nulls_last=True).with_columns(
            pl.int_range(1, pl.len() + 1).cast(pl.Int32).alias("line_no"),
            pl.lit(number).alias("document_number"),
        )
        first = group.row(0, named=True)
        dating = date_outside_lock(first["intended_date"], lock_date, locked_period)
        header = _header(group, first, entity, period, number, kind, doc_type, dating.document_date)
        if dating.status in (MOVED, HELD):
            holds.append(
                {
                    "entity": entity.id, "period": period, "original_number": original,
                    "document_number": number, "document_kind": kind, "status": dating.status,
                    "reason": dating.reason, "intended_date": first["intended_date"],
                    "document_date": dating.document_date, "lock_date": lock_date,
                    "currency": first["currency"], "total": header["total"], "run_id": run_id,
                }
            )  # fmt: skip
        status = HELD if dating.status == HELD else DRAFTED
        sources.append(_sources(group, entity.id, period, kind, status, run_id))
        if status == HELD:
            continue
        shown = group.select(
            "document_number",
            "line_no",
            pl.lit(entity.id).alias("entity"),
            pl.lit(period).alias("period"),
            "description",
            "quantity",
            pl.col("unit_shown").alias("unit_amount"),
            "line_amount",
            "tax_type",
            "tax_amount",
            "account_code",
        ).cast(dict(DOCUMENT_LINE_SCHEMA))  # type: ignore[arg-type]
        hashed = {k: v for k, v in header.items() if k not in ("content_hash", "rule_set_version", "run_id")}
        header.update(
            content_hash=content_hash(hashed, shown.to_dicts()),
            rule_set_version=rule_set_version,
            run_id=run_id,
        )
        documents.append(header)
        doc_lines.append(shown)
    return Corrections(
        documents=pl.DataFrame(documents, schema=DOCUMENT_HEADER_SCHEMA),
        lines=pl.concat([pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA), *doc_lines]),
        sources=pl.concat([pl.DataFrame(schema=SOURCES_SCHEMA), *sources]),
        holds=pl.DataFrame(holds, schema=HOLDS_SCHEMA),
    )


def _header(
    group: pl.DataFrame,
    first: dict[str, object],
    entity: EntityConfig,
    period: str,
    number: str,
    kind: str,
    doc_type: str,
    document_date: date | None,
) -> dict[str, object]:
    line_sum = sum(group["line_amount"], Decimal(0))
    total_tax = sum(group["tax_amount"], Decimal(0))
    inclusive = first["line_amount_types"] == "Inclusive"
    subtotal = line_sum - total_tax if inclusive else line_sum
    return {
        "document_number": number,
        "document_kind": kind,
        "document_type": doc_type,
        "entity": entity.id,
        "period": period,
        "contact_name": first["contact_name"],
        "reference": f"Correction of {first['original_number']}",
        "document_date": document_date,
        "due_date": (
            document_date + timedelta(days=entity.payment_terms_days)
            if kind == SUPPLEMENTARY[0] and document_date is not None
            else None
        ),
        "currency": first["currency"],
        "base_currency": first["base_currency"],
        "currency_rate": first["currency_rate"],
        "line_amount_types": first["line_amount_types"],
        "subtotal": subtotal,
        "total_tax": total_tax,
        "total": subtotal + total_tax,
        "original_number": first["original_number"],
        "content_hash": "",
        "rule_set_version": "",
        "run_id": "",
    }


def _sources(
    group: pl.DataFrame, entity: str, period: str, kind: str, status: str, run_id: str
) -> pl.DataFrame:
    sign = -1 if kind == CREDIT_NOTE[0] else 1
    return group.select(
        "document_number",
        "line_no",
        pl.lit(entity).alias("entity"),
        pl.lit(period).alias("period"),
        "original_number",
        pl.lit(kind).alias("document_kind"),
        pl.lit(status).alias("status"),
        *LINE_KEY,
        "billed_quantity",
        "billed_amount",
        "billed_tax",
        "current_quantity",
        "current_amount",
        "current_tax",
        pl.col("delta_quantity").alias("correction_quantity"),
        pl.col("delta_amount").alias("correction_amount"),
        (pl.col("tax_amount") * sign).alias("correction_tax"),
        (pl.col("billed_tax") + pl.col("tax_amount") * sign - pl.col("current_tax")).alias("tax_residual"),
        "current_line_ids",
        pl.lit(run_id).alias("run_id"),
    ).cast(dict(SOURCES_SCHEMA))  # type: ignore[arg-type]


def _blocked(entity: str, period: str, original: str, reason: str, run_id: str) -> dict[str, object]:
    return {
        "entity": entity, "period": period, "original_number": original, "document_number": None,
        "document_kind": None, "status": BLOCKED, "reason": reason, "intended_date": None,
        "document_date": None, "lock_date": None, "currency": None, "total": None, "run_id": run_id,
    }  # fmt: skip


def blocked_originals(entity: str, period: str, reasons: Mapping[str, str], run_id: str) -> pl.DataFrame:
    """Holds for originals the caller could not correct at all (number -> reason), as HOLDS_SCHEMA rows."""
    rows = [_blocked(entity, period, number, reason, run_id) for number, reason in sorted(reasons.items())]
    return pl.DataFrame(rows, schema=HOLDS_SCHEMA)


def reconciles(
    posted: pl.DataFrame,
    key_map: pl.DataFrame,
    draft_lines: pl.DataFrame,
    corrections: Corrections,
    entity: str,
    period: str,
) -> tuple[bool, str]:
    """The check: billed-so-far + this round's corrections == the current drafts, per line key.

    Amounts only, exactly; corrections count by the amounts their documents show (held ones by
    their traced amounts). Originals blocked from correction are left out and named.
    """
    blocked = corrections.holds.filter(pl.col("status") == BLOCKED)["original_number"].unique().to_list()
    billed = billed_so_far(posted, key_map, entity, period).select(
        "original_number", *LINE_KEY, pl.col("billed_amount").alias("amount")
    )
    kinds = corrections.documents.select("document_number", "document_kind")
    keys = corrections.sources.select("document_number", "line_no", "original_number", *LINE_KEY)
    shown = (
        corrections.lines.select("document_number", "line_no", "line_amount")
        .join(kinds, on="document_number")
        .join(keys, on=["document_number", "line_no"])
        .select(
            "original_number",
            *LINE_KEY,
            pl.when(pl.col("document_kind") == CREDIT_NOTE[0])
            .then(-pl.col("line_amount"))
            .otherwise(pl.col("line_amount"))
            .alias("amount"),
        )
    )
    held = corrections.sources.filter(pl.col("status") == HELD).select(
        "original_number", *LINE_KEY, pl.col("correction_amount").alias("amount")
    )
    current = draft_lines.select(
        pl.col("invoice_number").alias("original_number"), *LINE_KEY, pl.col("line_amount").alias("amount")
    ).join(billed.select("original_number").unique(), on="original_number", how="semi")
    net = pl.concat(
        [
            frame.select("original_number", *LINE_KEY, pl.col("amount").cast(MONEY)).cast(
                dict(KEY_SCHEMA)  # type: ignore[arg-type]
            )
            for frame in (billed, shown, held, current.with_columns(-pl.col("amount")))
        ]
    )
    off = (
        net.filter(~pl.col("original_number").is_in(blocked))
        .group_by("original_number", *LINE_KEY)
        .agg(pl.col("amount").sum())
        .filter(pl.col("amount") != 0)
    )
    note = f"; {len(blocked)} original(s) blocked: {', '.join(sorted(blocked))}" if blocked else ""
    if off.height:
        examples = ", ".join(
            f"{r['original_number']} {r['description']!r}" for r in off.head(5).iter_rows(named=True)
        )
        return (
            False,
            f"{off.height} line key(s) where billed + corrections != current draft: {examples}{note}",
        )
    originals = billed.select("original_number").unique().height
    return (
        True,
        f"{originals} posted invoice(s): billed + corrections equal the current drafts per line key{note}",
    )
