"""Retainers and prepayments on invoice drafts (pure polars and Decimal; docs/decisions/0009).

A retainer (rules/rule_sets.py `Retainer`) belongs to one client, entity and currency.
Each period, on that client's invoice in that currency:

- the top-up is billed in advance as its own line on the retainer's account (deferred revenue);
- available = opening balance + top-up;
- drawn = min(available, the period's billable work for the retainer (its project's lines,
  or all the client's lines), the invoice's lines before the retainer) — the work is paid
  from the balance before anything is invoiced for it, never more than the balance, and the
  invoice never goes below zero;
- the draw is a negative "Retainer applied" line on the same account, taxed like the work it
  covers (the tax was charged when the top-up was invoiced);
- closing = available - drawn, which is the next period's opening balance.

Periods are computed in order: the opening of a period is the previous period's closing as
written to `billing.retainer_balances`; the first period of a retainer (the later of its
`effective_from` month and `billing_start`) opens at its configured `opening_balance`. A later
period whose previous period has no balance row is refused (`RetainerPeriodMissing`), never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from rules.billing.tax import with_tax
from rules.calendar import period_of, previous_period
from rules.money import MONEY, QUANTITY, minor_units
from rules.rounding_rules import Retainer

RETAINER_TOP_UP = "retainer_top_up"
RETAINER_APPLIED = "retainer_applied"
RETAINER_KINDS = (RETAINER_TOP_UP, RETAINER_APPLIED)
RETAINER_PROJECT = 0  # project_id of a retainer line for the whole client (as invoice-level discounts)
RETAINER_RULE = "retainer:configured_amount"  # retainer lines carry configured amounts: nothing is rounded

BALANCE_SCHEMA = pl.Schema(
    {
        "entity": pl.String(), "period": pl.String(), "client_id": pl.Int64(), "currency": pl.String(),
        "retainer_id": pl.String(), "opening": MONEY, "top_up": MONEY, "drawn": MONEY, "closing": MONEY,
    }
)  # fmt: skip


class RetainerPeriodMissing(ValueError):
    """A retainer's previous period has no balance: periods must be drafted in order."""


@dataclass(frozen=True)
class RetainerAccount:
    """A retainer in force in the period, with its opening balance and the contact its invoice goes to."""

    retainer: Retainer
    opening: Decimal
    contact_name: str


def in_force(
    retainers: Sequence[Retainer], entity: str, period_start: date, period_end: date
) -> list[Retainer]:
    """The entity's retainers in force on at least one day of the period."""
    return [r for r in retainers if r.entity == entity and r.in_force_between(period_start, period_end)]


def first_period(retainer: Retainer, billing_start: date) -> str:
    """The first period a retainer is drafted in: its start month, or billing_start's if that is later."""
    return max(period_of(retainer.effective_from), period_of(billing_start))


def opening_balances(
    retainers: Sequence[Retainer],
    period: str,
    previous_closing: dict[str, Decimal],
    billing_start: date,
    contacts: dict[int, str],
) -> list[RetainerAccount]:
    """Each retainer's opening for `period`: its configured opening in its first period, else the
    previous period's closing (`previous_closing`, by retainer id). Raises RetainerPeriodMissing,
    naming every retainer whose previous period was never drafted."""
    accounts, missing = [], []
    for retainer in retainers:
        if period == first_period(retainer, billing_start):
            opening = retainer.opening_balance
        elif retainer.id in previous_closing:
            opening = previous_closing[retainer.id]
        else:
            missing.append(retainer.id)
            continue
        accounts.append(RetainerAccount(retainer, opening, contacts[retainer.client]))
    if missing:
        raise RetainerPeriodMissing(
            f"retainer(s) {', '.join(missing)}: no balance for {previous_period(period)}; draft "
            f"{previous_period(period)} before {period} (each period opens at the previous one's closing)"
        )
    return accounts


def applied_description(retainer: Retainer, drawn: Decimal, available: Decimal) -> str:
    """The text of a "Retainer applied" line: what was drawn, of what, and what is carried forward."""

    def text(value: Decimal) -> str:  # amounts in the currency's minor units, as on the invoice
        return str(value.quantize(Decimal(1).scaleb(-minor_units(retainer.currency))))

    return (
        f"Retainer applied ({retainer.id}): {text(drawn)} of {text(available)} {retainer.currency}, "
        f"{text(available - drawn)} carried forward"
    )


def _sum(frame: pl.DataFrame) -> Decimal:
    total = frame["line_amount"].sum() if frame.height else None
    return Decimal(total) if total is not None else Decimal(0)


def retainer_lines(
    priced: pl.DataFrame, accounts: Sequence[RetainerAccount], entity: str, period: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The top-up and "Retainer applied" lines for `priced` (work and discount lines with `line_amount`,
    same columns), and each retainer's balance row for the period (BALANCE_SCHEMA)."""
    rows: list[dict[str, object]] = []
    balances: list[dict[str, object]] = []
    # One retainer ending and another starting within the period share an invoice: what the
    # first drew is no longer there for the second.
    drawn_before: dict[tuple[int, str], Decimal] = {}
    for account in accounts:
        r = account.retainer
        invoice = priced.filter((pl.col("client_id") == r.client) & (pl.col("txn_currency") == r.currency))
        covered = invoice if r.project is None else invoice.filter(pl.col("project_id") == r.project)
        available = account.opening + r.top_up
        earlier = drawn_before.get((r.client, r.currency), Decimal(0))
        drawn = max(Decimal(0), min(available, _sum(covered) - earlier, _sum(invoice) - earlier))
        drawn_before[(r.client, r.currency)] = earlier + drawn
        closing = available - drawn
        common = {
            "client_id": r.client,
            "txn_currency": r.currency,
            "project_id": r.project if r.project is not None else RETAINER_PROJECT,
            "contact_name": account.contact_name,
            "client_name": account.contact_name,
            "quantity": Decimal(1),
            "rate_source": f"retainer {r.id}",
            "account_code": r.account_code,
        }
        if r.top_up > 0:
            rows.append(
                {**common, "source_kind": RETAINER_TOP_UP, "unit_price": r.top_up, "line_amount": r.top_up,
                 "description": f"{r.description} {period} ({r.id})"}
            )  # fmt: skip
        if drawn > 0:
            rows.append(
                {**common, "source_kind": RETAINER_APPLIED, "unit_price": -drawn, "line_amount": -drawn,
                 "description": applied_description(r, drawn, available)}
            )  # fmt: skip
        balances.append(
            {"entity": entity, "period": period, "client_id": r.client, "currency": r.currency,
             "retainer_id": r.id, "opening": account.opening, "top_up": r.top_up, "drawn": drawn,
             "closing": closing}
        )  # fmt: skip
    columns = []
    added = pl.DataFrame(rows, schema_overrides={"quantity": QUANTITY}, infer_schema_length=None)
    for name, dtype in priced.schema.items():
        if name == "line_ids":
            expr = pl.lit([], pl.List(pl.String))
        elif name == "rounding_rule":
            expr = pl.lit(RETAINER_RULE)
        else:
            expr = pl.col(name) if name in added.columns else pl.lit(None)
        columns.append(expr.cast(dtype).alias(name))
    lines = added.select(columns) if added.height else priced.head(0)
    return lines, pl.DataFrame(balances, schema=BALANCE_SCHEMA)


def reduce_draw(balances: pl.DataFrame, retainer_id: str, by: Decimal) -> pl.DataFrame:
    """The balances with `retainer_id`'s draw reduced by `by` (and its closing raised by as much)."""
    hit = pl.col("retainer_id") == retainer_id
    return balances.with_columns(
        pl.when(hit).then(pl.col("drawn") - pl.lit(by, MONEY)).otherwise(pl.col("drawn")).cast(MONEY),
        pl.when(hit).then(pl.col("closing") + pl.lit(by, MONEY)).otherwise(pl.col("closing")).cast(MONEY),
    )


def keep_totals_non_negative(
    priced: pl.DataFrame,
    balances: pl.DataFrame,
    accounts: Sequence[RetainerAccount],
    line_amount_types: str,
    mode: str,
    level: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Exclusive prices with tax per line: a retainer that covers the whole invoice can leave the
    per-line taxes of the work a cent or two below the tax of the draw, so a total below zero.
    Draw that much less: the subtotal rises by it and the draw's tax can only fall, so one step
    brings the total to zero or above."""
    totals = priced.group_by("invoice_number").agg(
        (pl.col("line_amount").sum() + pl.col("tax_amount").sum()).alias("t")
    )
    short = dict(totals.filter(pl.col("t") < 0).iter_rows())
    applied = priced.filter(
        (pl.col("source_kind") == RETAINER_APPLIED) & pl.col("invoice_number").is_in(list(short))
    )
    if applied.height == 0:
        return priced, balances
    by_id = {f"retainer {a.retainer.id}": a for a in accounts}
    # One draw per short invoice is enough (see above): the last one, should two retainers share it.
    for row in applied.unique("invoice_number", keep="last", maintain_order=True).iter_rows(named=True):
        account, deficit = by_id[row["rate_source"]], Decimal(short[row["invoice_number"]]) * -1
        drawn = -Decimal(row["line_amount"]) - deficit
        hit = (pl.col("invoice_number") == row["invoice_number"]) & (pl.col("line_no") == row["line_no"])
        priced = priced.with_columns(
            pl.when(hit).then(pl.lit(-drawn, MONEY)).otherwise(pl.col("line_amount")).alias("line_amount"),
            pl.when(hit)
            .then(pl.lit(-drawn, MONEY))
            .otherwise(pl.col("unit_price"))
            .cast(priced.schema["unit_price"])
            .alias("unit_price"),
            pl.when(hit)
            .then(
                pl.lit(
                    applied_description(account.retainer, drawn, account.opening + account.retainer.top_up)
                )
            )
            .otherwise(pl.col("description"))
            .alias("description"),
        )
        balances = reduce_draw(balances, account.retainer.id, deficit)
    return with_tax(priced, line_amount_types, mode, level), balances
