"""Settlement payments, entity x month: every accepted match of the month as the Payments that settle it,
in the outbound document shape, for the outbox to post exactly once (rules/reconciliation/payments.py)."""

from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import Partitions, month_slices
from assets.reconciliation.matches import BANK_MATCHES
from assets.reporting import money_totals
from resources.bank_statements_decisions import settlements_to_pay
from resources.bank_statements_rules import load_reconciliation_rules
from resources.bank_statements_store import reconciliation_transaction
from resources.configuration import Settings
from resources.warehouse import Warehouse, replace_slice
from rules.reconciliation.payments import ItemShare, SettlementToPay, payment_documents, payments_for

SETTLEMENT_PAYMENTS = dg.AssetKey(["reconciliation", "settlement_payments"])


def _payments(
    settlement: dict[str, Any], shares: list[dict[str, Any]], accounts: tuple[str, str, str]
) -> list[Any]:
    to_pay = SettlementToPay(settlement["decision_id"], settlement["entity"], settlement["period"],
                             settlement["booking_date"], settlement["bank_currency"], settlement["received"],
                             settlement["fee"], settlement["write_off"])  # fmt: skip
    items = [
        ItemShare(s["item_id"], s["item_kind"], s["item_number"], s["currency"], s["applied"]) for s in shares
    ]
    return payments_for(to_pay, items, *accounts)


def settlement_payments(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> dg.MaterializeResult:
    """The Payments that settle the month's accepted matches: cash per invoice, bank fees and write-offs from
    their accounts, foreign-currency payments at the bank's rate; posted by the outbox like any document."""
    rules = load_reconciliation_rules(entities=tuple(settings.entity_ids))
    frames = []
    for part in month_slices(context):
        entity = settings.entity(part.entity)
        rule = rules.entity(entity.id)
        accounts = (rule.bank_account_code, rule.bank_fees_account_code, rule.write_off_account_code)
        with reconciliation_transaction(warehouse, entity.id) as con:
            payments = [p for s, shares in settlements_to_pay(con, entity.id, part.period)
                        for p in _payments(s, shares, accounts)]  # fmt: skip
            headers, lines = payment_documents(
                payments, entity.base_currency, rules.version, context.run.run_id
            )
            where = "entity = ? AND period = ?"
            replace_slice(con, "reconciliation.payment_documents", headers, where, [entity.id, part.period])
            replace_slice(
                con, "reconciliation.payment_document_lines", lines, where, [entity.id, part.period]
            )
        frames.append(headers)
    headers = pl.concat(frames) if frames else pl.DataFrame()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": headers.height,
            "payments": money_totals(headers, "currency", "total") if headers.height else {},
        }
    )


def build_settlement_payments(partitions: Partitions) -> dg.AssetsDefinition:
    """`reconciliation/settlement_payments` over the configuration's entity-months."""
    return dg.asset(
        key=SETTLEMENT_PAYMENTS,
        deps=[BANK_MATCHES],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb"},
        group_name="reconciliation",
        owners=["team:finance-systems"],
    )(settlement_payments)
