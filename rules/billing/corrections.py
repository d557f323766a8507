"""Corrections after invoicing: credit notes and supplementary invoices for what changed (pure polars).

Once an invoice is posted it is never rewritten. When a later run drafts it differently (hours
edited, an entry deleted, a project reassigned), the difference per line key (differences.py: current
draft - billed so far) is issued as new documents:

- over-billed keys become the lines of one credit note (ACCRECCREDIT), under-billed keys the
  lines of one supplementary invoice (ACCREC), per original invoice and round; both carry
  `original_number` (so the outbox can allocate the credit note: a refund) and the reference
  "Correction of <original>", and are numbered `<original>-CN<n>` / `<original>-S<n>`, n the next
  after those already used for that original;
- each line is priced as the ledger books it: quantity x unit amount where that reproduces the
  difference exactly (LINE_AMOUNT_RULE), else 1 x the difference; tax per line by
  `line_tax` (LINE_TAX_RULE); totals are sums of lines;
- dated like the invoice they correct, unless that is inside the tenant's locked period
  (rules/billing/lock_dates.py: moved to the first open day, or held with the reason).

A correction line cannot always show the key's unit amount, so `billing.correction_sources` keeps
every correction line's key; a booked correction line is mapped back to its key through it.
The blocking check that booked + corrections = drafts is correction_check.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from rules.billing.differences import (
    CREDIT_NOTE,
    KEY_SCHEMA,
    LINE_KEY,
    SUPPLEMENTARY,
    billed_so_far,
    current_per_key,
    differences,
    priced_differences,
)
from rules.billing.lock_dates import HELD, MOVED, date_outside_lock
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA, RATE, content_hash
from rules.money import MONEY
from rules.rule_sets import LockedPeriodPolicy
from rules.settings import EntityConfig

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


@dataclass(frozen=True)
class BookedInvoices:
    """What the ledger holds of the entity-month's drafted invoices, as the caller read it.

    `posted`: posting.posted_lines of the entity-month; `key_map`: the keys of booked correction
    lines (KEY_MAP_SCHEMA, from billing.correction_sources); `originals`: ORIGINAL_SCHEMA per posted
    invoice; `used_numbers`: document numbers already taken (booked, or closed in the outbox), which
    the next correction of an original numbers after.
    """

    posted: pl.DataFrame
    key_map: pl.DataFrame
    originals: pl.DataFrame
    used_numbers: Sequence[str] = ()


@dataclass(frozen=True)
class CorrectionRound:
    """One entity-month's round of corrections: the tenant's binding lock date, the rule set's
    `locked_period` policy, and the run that issues them."""

    entity: EntityConfig
    period: str
    lock_date: date | None
    locked_period: LockedPeriodPolicy
    rule_set_version: str
    run_id: str


def client_of(original_number: str) -> int:
    """The PM client id a drafted invoice number names (BB-US-202608-5001-USD -> 5001)."""
    return int(original_number.split("-")[-2])


def next_number(original: str, suffix: str, used: Sequence[str]) -> str:
    """`<original>-<suffix><n>`, n one more than the highest already used for that original."""
    pattern = re.compile(re.escape(f"{original}-{suffix}") + r"(\d+)$")
    taken = [int(m.group(1)) for m in map(pattern.match, used) if m]
    return f"{original}-{suffix}{max(taken, default=0) + 1}"


def correct_invoices(
    booked: BookedInvoices, draft_lines: pl.DataFrame, draft_sources: pl.DataFrame, issue: CorrectionRound
) -> Corrections:
    """The credit notes and supplementary invoices that bring what was booked to the current drafts.

    `draft_lines`, `draft_sources`: billing.invoice_draft_lines and billing.invoice_line_sources of
    the month. Unchanged input: no documents. An original the caller could not resolve (or whose
    lines name a tax code the entity does not have) is held as blocked, with every reason.
    """
    delta = _delta(booked, draft_lines, draft_sources, issue)
    reasons = _reasons_not_to_correct(delta, issue.entity)
    blocked = [
        _blocked(issue.entity.id, issue.period, number, why, issue.run_id)
        for number, why in sorted(reasons.items())
    ]
    lines = priced_differences(delta.filter(~pl.col("original_number").is_in(list(reasons))), issue.entity)
    # Per original: its credit note first, then its supplementary invoice.
    parts = [
        _issue(str(original), str(kind), group, booked.used_numbers, issue)
        for (original, kind), group in sorted(
            lines.partition_by("original_number", "document_kind", as_dict=True).items(),
            key=lambda item: (str(item[0][0]), str(item[0][1]) != CREDIT_NOTE[0]),
        )
    ]
    return Corrections(
        documents=pl.concat([pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA), *[p.documents for p in parts]]),
        lines=pl.concat([pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA), *[p.lines for p in parts]]),
        sources=pl.concat([pl.DataFrame(schema=SOURCES_SCHEMA), *[p.sources for p in parts]]),
        holds=pl.concat([pl.DataFrame(blocked, schema=HOLDS_SCHEMA), *[p.holds for p in parts]]),
    )


def _delta(
    booked: BookedInvoices, draft_lines: pl.DataFrame, draft_sources: pl.DataFrame, issue: CorrectionRound
) -> pl.DataFrame:
    """Per original and line key whose amount changed: billed, current and the difference, with the
    original's currency and date, and what the caller resolved of it (ORIGINAL_SCHEMA)."""
    billed = billed_so_far(booked.posted, booked.key_map, issue.entity.id, issue.period)
    invoices = (
        booked.posted.filter(pl.col("document_number") == pl.col("original_number"))
        .group_by("original_number")
        .agg(pl.first("currency"), pl.col("document_date").min().alias("intended_date"))
    )
    return (
        differences(billed, current_per_key(draft_lines, draft_sources))
        .join(invoices, on="original_number", how="left")
        .join(booked.originals, on="original_number", how="left")
    )


def _reasons_not_to_correct(delta: pl.DataFrame, entity: EntityConfig) -> dict[str, str]:
    """Original number -> why it cannot be corrected this round (absent: it can)."""
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
    return reasons


def _issue(
    original: str, kind: str, group: pl.DataFrame, used_numbers: Sequence[str], issue: CorrectionRound
) -> Corrections:
    """One correction document of `original`: numbered, dated outside the lock (a hold says when it
    was moved or held), its lines traced; a held document is traced but not issued."""
    suffix = CREDIT_NOTE[2] if kind == CREDIT_NOTE[0] else SUPPLEMENTARY[2]
    number = next_number(original, suffix, used_numbers)
    group = group.sort(*LINE_KEY, nulls_last=True).with_columns(
        pl.int_range(1, pl.len() + 1).cast(pl.Int32).alias("line_no"),
        pl.lit(number).alias("document_number"),
    )
    first = group.row(0, named=True)
    dating = date_outside_lock(first["intended_date"], issue.lock_date, issue.locked_period)
    header = _header(group, number, kind, dating.document_date, issue)
    holds = []
    if dating.status in (MOVED, HELD):
        holds.append(
            {
                "entity": issue.entity.id, "period": issue.period, "original_number": original,
                "document_number": number, "document_kind": kind, "status": dating.status,
                "reason": dating.reason, "intended_date": first["intended_date"],
                "document_date": dating.document_date, "lock_date": issue.lock_date,
                "currency": first["currency"], "total": header["total"], "run_id": issue.run_id,
            }
        )  # fmt: skip
    status = HELD if dating.status == HELD else DRAFTED
    sources = _sources(group, issue.entity.id, issue.period, kind, status, issue.run_id)
    if status == HELD:
        return Corrections(
            pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA), sources,
            pl.DataFrame(holds, schema=HOLDS_SCHEMA),
        )  # fmt: skip
    shown = group.select(
        "document_number",
        "line_no",
        pl.lit(issue.entity.id).alias("entity"),
        pl.lit(issue.period).alias("period"),
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
        rule_set_version=issue.rule_set_version,
        run_id=issue.run_id,
    )
    return Corrections(
        pl.DataFrame([header], schema=DOCUMENT_HEADER_SCHEMA),
        shown,
        sources,
        pl.DataFrame(holds, schema=HOLDS_SCHEMA),
    )


def _header(
    group: pl.DataFrame, number: str, kind: str, document_date: date | None, issue: CorrectionRound
) -> dict[str, object]:
    """The document's header: totals as sums of its lines, on the original's currency, rate and basis."""
    first = group.row(0, named=True)
    entity = issue.entity
    line_sum = sum(group["line_amount"], Decimal(0))
    total_tax = sum(group["tax_amount"], Decimal(0))
    inclusive = first["line_amount_types"] == "Inclusive"
    subtotal = line_sum - total_tax if inclusive else line_sum
    return {
        "document_number": number,
        "document_kind": kind,
        "document_type": (CREDIT_NOTE if kind == CREDIT_NOTE[0] else SUPPLEMENTARY)[1],
        "entity": entity.id,
        "period": issue.period,
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
