"""What the mapping document's intercompany policy says about a charge: its names, contact and tax code."""

from __future__ import annotations

from decimal import Decimal

from rules.documents import document_number_prefix
from rules.settings import BillbridgeConfig

SALE = "sale"
PURCHASE = "purchase"
DOCUMENT_TYPE = {SALE: "ACCREC", PURCHASE: "ACCPAY"}


def charge_reference(seller: str, buyer: str, period: str) -> str:
    """The reference both sides carry: `IC-UK-US-2026-10`."""
    return f"IC-{seller.upper()}-{buyer.upper()}-{period}"


def charge_document_number(seller: str, buyer: str, period: str) -> str:
    """The number of both the seller's invoice and the buyer's bill: `BB-UK-202610-IC-US`."""
    return f"{document_number_prefix(seller, period)}IC-{buyer.upper()}"


def legal_name(config: BillbridgeConfig, entity_id: str) -> str:
    """The name other entities' ledgers use for this entity as a contact (its configured legal name)."""
    accounts = config.mapping.intercompany.accounts(entity_id)
    return accounts.contact_name or config.entity(entity_id).name


def intercompany_tax(config: BillbridgeConfig, entity_id: str, side: str) -> tuple[str, Decimal]:
    """(tax code, rate percent) of the entity's intercompany documents on `side`.

    The code configured for the side (checked at load to be one of the entity's), else the
    entity's default code when it is 0%, else its first 0% code by name; an entity with no 0%
    code and none configured is a configuration error naming the key to set.
    """
    entity = config.entity(entity_id)
    rates = entity.tax_rates()
    accounts = config.mapping.intercompany.accounts(entity_id)
    chosen = accounts.sale_tax_type if side == SALE else accounts.purchase_tax_type
    if chosen is not None:
        return chosen, rates[chosen]
    if rates[entity.tax_type] == 0:
        return entity.tax_type, Decimal(0)
    zero = sorted(code for code, rate in rates.items() if rate == 0)
    if not zero:
        raise ValueError(
            f"{config.source_path}: entity {entity_id!r} has no 0% tax code for intercompany {side}s: set "
            f"mapping intercompany.entities[entity={entity_id}].{side}_tax_type to one of {sorted(rates)}"
        )
    return zero[0], Decimal(0)
