"""An entity-month's ledger as consolidation needs it: pure polars over the entity's own tables.

One row per ledger item, amounts positive in their natural sign, in the currency the entity
holds them in (its base currency; intercompany rows in the charge's currency):

| statement | line_item | from |
| --- | --- | --- |
| income | revenue | invoice drafts, per invoice and revenue account (base, net of tax) |
| income | intercompany_revenue | the sale side of each intercompany charge (cost + markup) |
| expense | direct_time_cost | own people's time (normalized lines, cost in base) |
| expense | direct_expense_cost | expenses at cost (billable or not: re-billed ones are also revenue) |
| expense | intercompany_time_cost | the seller's own people's cost of the time it charges out |
| expense | intercompany_cost | the purchase side of each intercompany charge |
| asset | receivables | invoice totals incl. tax (base) |
| asset | intercompany_receivables | sale side, net amount |
| liability | output_tax | invoice base total minus its revenue |
| liability | accrued_costs | the month's direct and intercompany time costs, not settled here |
| liability | intercompany_payables | purchase side, net amount |

Time worked by another entity's people (their home entity in the mapping document) is not the
entity's own direct cost: it is bought from the home entity through the intercompany charge.
So the month's income less expense equals its assets less liabilities, currency by currency
(`ledger_balances`), which is what makes the translation difference meaningful.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from rules.money import BASE_SPLIT_RULE, MONEY, allocate_largest_remainder, round_decimal

INCOME, EXPENSE, ASSET, LIABILITY, EQUITY = "income", "expense", "asset", "liability", "equity"
PROFIT_AND_LOSS = (INCOME, EXPENSE)
BALANCES = (ASSET, LIABILITY)
# Net-assets view: what a row adds to the month's result (P&L) or to its net assets (balances).
SIGN = {INCOME: 1, EXPENSE: -1, ASSET: 1, LIABILITY: -1, EQUITY: -1}

REVENUE = "revenue"
IC_REVENUE = "intercompany_revenue"
DIRECT_TIME_COST = "direct_time_cost"
DIRECT_EXPENSE_COST = "direct_expense_cost"
IC_TIME_COST = "intercompany_time_cost"
IC_COST = "intercompany_cost"
RECEIVABLES = "receivables"
IC_RECEIVABLES = "intercompany_receivables"
OUTPUT_TAX = "output_tax"
ACCRUED_COSTS = "accrued_costs"
IC_PAYABLES = "intercompany_payables"

LEDGER_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "period": pl.String(),
        "statement": pl.String(),
        "line_item": pl.String(),
        "account_code": pl.String(),
        "contact_name": pl.String(),
        "document_number": pl.String(),
        "reference": pl.String(),  # the intercompany reference both sides share
        "counterparty_entity": pl.String(),
        "currency": pl.String(),
        "amount": MONEY,
        "export_run_id": pl.String(),
    }
)
# The columns of billing.intercompany_charges consolidation reads (the charge's own schema has more).
CHARGE_COLUMNS = [
    "reference", "period", "seller_entity", "buyer_entity", "side", "currency", "hours", "cost_amount",
    "markup_amount", "net_amount", "document_number",
]  # fmt: skip


def _row(
    entity: str, period: str, statement: str, line_item: str, currency: str, amount: Decimal, **rest: object
) -> dict[str, object]:
    return {"entity": entity, "period": period, "statement": statement, "line_item": line_item,
            "currency": currency, "amount": amount, **rest}  # fmt: skip


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{**dict.fromkeys(LEDGER_SCHEMA), **r} for r in rows], schema=LEDGER_SCHEMA)


def invoice_rows(invoices: pl.DataFrame, invoice_lines: pl.DataFrame, entity: str, period: str) -> list[dict]:
    """Revenue per invoice and account, the receivable and the output tax, all in base currency.

    The draft's stored `total_base` is the receivable; its tax share is total_base x tax / total
    (BASE_SPLIT_RULE) and the revenue is the rest, split over the invoice's accounts in
    proportion to their net amounts (largest remainder), so revenue + tax == receivable exactly.
    """
    rows: list[dict] = []
    for inv in invoices.sort("invoice_number").iter_rows(named=True):
        number, base, total = inv["invoice_number"], inv["base_currency"], inv["total"]
        tax_base = (
            round_decimal(inv["total_base"] * inv["total_tax"] / total, base, BASE_SPLIT_RULE)
            if total != 0
            else Decimal(0)
        )
        revenue_base = inv["total_base"] - tax_base
        lines = invoice_lines.filter(pl.col("invoice_number") == number)
        inclusive = inv.get("line_amount_types") == "Inclusive"
        by_account = (
            lines.group_by("account_code")
            .agg(
                (pl.col("line_amount").sum() - (pl.col("tax_amount").sum() if inclusive else pl.lit(0)))
                .cast(MONEY)
                .alias("net")
            )
            .sort("account_code")
        )
        accounts: list[str] = by_account["account_code"].to_list() or [""]
        nets: list[Decimal] = by_account["net"].to_list() or [Decimal(0)]
        subtotal = sum(nets, Decimal(0))
        if len(accounts) == 1 or subtotal == 0:
            parts = [revenue_base] + [Decimal(0)] * (len(accounts) - 1)
        else:
            parts = allocate_largest_remainder(
                [revenue_base * n / subtotal for n in nets], revenue_base, base
            )
        common = {"contact_name": inv["contact_name"], "document_number": number}
        for account, part in zip(accounts, parts, strict=True):
            rows.append(
                _row(entity, period, INCOME, REVENUE, base, part, account_code=account or None, **common)
            )
        rows.append(_row(entity, period, ASSET, RECEIVABLES, base, inv["total_base"], **common))
        rows.append(_row(entity, period, LIABILITY, OUTPUT_TAX, base, tax_base, **common))
    return rows


def cost_rows(lines: pl.DataFrame, homes: dict[int, str], entity: str, period: str) -> list[dict]:
    """Direct costs per kind and client contact (base currency): own people's time and all expenses."""
    home = pl.col("person_id").replace_strict(homes, default=None, return_dtype=pl.String)
    own = lines.filter(
        (pl.col("source_kind") == "expense") | home.is_null() | (home == pl.lit(entity))
    ).with_columns(
        pl.when(pl.col("source_kind") == "time")
        .then(pl.lit(DIRECT_TIME_COST))
        .otherwise(pl.lit(DIRECT_EXPENSE_COST))
        .alias("line_item")
    )
    grouped = (
        own.group_by("line_item", "contact_name", "base_currency")
        .agg(pl.col("amount_cost_base").sum().cast(MONEY).alias("amount"))
        .filter(pl.col("amount") != 0)
        .sort("line_item", "contact_name", "base_currency")
    )
    return [
        _row(
            entity,
            period,
            EXPENSE,
            r["line_item"],
            r["base_currency"],
            r["amount"],
            contact_name=r["contact_name"],
        )
        for r in grouped.iter_rows(named=True)
    ]


def intercompany_rows(charges: pl.DataFrame, entity: str, period: str) -> list[dict]:
    """Both sides of the entity's intercompany charges, in the charge's currency, keyed by reference."""
    rows: list[dict] = []
    for c in charges.sort("reference", "side").iter_rows(named=True):
        common = {"reference": c["reference"], "document_number": c["document_number"]}
        if c["side"] == "sale":
            other = c["buyer_entity"]
            rows += [
                _row(entity, period, INCOME, IC_REVENUE, c["currency"], c["net_amount"], counterparty_entity=other,
                     **common),
                _row(entity, period, ASSET, IC_RECEIVABLES, c["currency"], c["net_amount"],
                     counterparty_entity=other, **common),
                _row(entity, period, EXPENSE, IC_TIME_COST, c["currency"], c["cost_amount"],
                     counterparty_entity=other, **common),
            ]  # fmt: skip
        elif c["side"] == "purchase":
            other = c["seller_entity"]
            rows += [
                _row(entity, period, EXPENSE, IC_COST, c["currency"], c["net_amount"], counterparty_entity=other,
                     **common),
                _row(entity, period, LIABILITY, IC_PAYABLES, c["currency"], c["net_amount"],
                     counterparty_entity=other, **common),
            ]  # fmt: skip
        else:
            raise ValueError(
                f"intercompany charge {c['reference']}: side {c['side']!r} is neither sale nor purchase"
            )
    return rows


def entity_ledger(
    *,
    entity: str,
    period: str,
    invoices: pl.DataFrame,
    invoice_lines: pl.DataFrame,
    lines: pl.DataFrame,
    charges: pl.DataFrame,
    homes: dict[int, str],
    run_id: str,
) -> pl.DataFrame:
    """The entity-month's ledger rows (LEDGER_SCHEMA), with the costs accrued as a liability."""
    rows = invoice_rows(invoices, invoice_lines, entity, period)
    rows += cost_rows(lines, homes, entity, period)
    rows += intercompany_rows(charges, entity, period)
    frame = _frame(rows)
    accrued = (
        frame.filter(pl.col("line_item").is_in([DIRECT_TIME_COST, DIRECT_EXPENSE_COST, IC_TIME_COST]))
        .group_by("currency")
        .agg(pl.col("amount").sum().cast(MONEY))
        .sort("currency")
    )
    accruals = [
        _row(entity, period, LIABILITY, ACCRUED_COSTS, cur, amount) for cur, amount in accrued.iter_rows()
    ]
    return pl.concat([frame, _frame(accruals)]).with_columns(pl.lit(run_id).alias("export_run_id"))


def signed(amount: pl.Expr) -> pl.Expr:
    """`amount` in the net-assets view: income and assets add, expenses and liabilities subtract."""
    return amount * pl.col("statement").replace_strict(SIGN, return_dtype=pl.Int8)


def ledger_balances(ledger: pl.DataFrame) -> tuple[bool, str]:
    """Per entity and currency, income less expense equals assets less liabilities."""
    if ledger.height == 0:
        return True, "no ledger rows"
    per = (
        ledger.with_columns(signed(pl.col("amount")).alias("signed"))
        .group_by("entity", "currency")
        .agg(
            pl.col("signed").filter(pl.col("statement").is_in(PROFIT_AND_LOSS)).sum().alias("result"),
            pl.col("signed").filter(pl.col("statement").is_in(BALANCES)).sum().alias("net_assets"),
        )
        .filter(pl.col("result") != pl.col("net_assets"))
    )
    if per.height:
        bad = ", ".join(
            f"{e} {c}: result {r} vs net assets {n}" for e, c, r, n in per.sort("entity").iter_rows()
        )
        return False, f"ledger does not balance: {bad}"
    return True, f"{ledger.height} rows balance: result == net assets per entity and currency"
