"""Money and tax rounding rules and retainers of the mapping document
(docs/decisions/0009-money-and-tax-rounding-and-retainers.md), with the conflicts refused at load."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations
from typing import Literal

from pydantic import Field, model_validator

from rules.money import minor_units
from rules.rule_sets import ISO_4217, CurrencyCode, DatedRule

RoundingMode = Literal["half_up", "half_even"]
RoundingLevel = Literal["line", "invoice"]


class MoneyRounding(DatedRule):
    """How line amounts are rounded: an entity's default, or one client's override.

    `mode`: half_up (ties away from zero, what the accounting system does) or half_even
    (banker's). `level`: line (each line rounded on its own) or invoice (lines keep full
    precision, the invoice total is rounded once and spread back over the lines by
    largest remainder, so the lines still sum to it exactly).
    """

    id: str = Field(min_length=1, max_length=64)
    entity: str | None = None
    client: int | None = None
    mode: RoundingMode = "half_up"
    level: RoundingLevel = "line"

    @model_validator(mode="after")
    def _one_scope(self) -> MoneyRounding:
        if (self.entity is None) == (self.client is None):
            raise ValueError("name exactly one of entity (the default) or client (an override)")
        return self


class TaxRounding(DatedRule):
    """How an entity's tax is rounded, as its jurisdiction requires: per line, or once per invoice."""

    id: str = Field(min_length=1, max_length=64)
    entity: str
    mode: RoundingMode = "half_up"
    level: RoundingLevel = "line"


class Retainer(DatedRule):
    """A client's retainer with one entity, in one currency: a top-up each period and/or an opening balance.

    The top-up is invoiced on the period's invoice as its own line on `account_code` (deferred
    revenue); billable work of the period (of `project` only, when given) draws the balance
    down, shown as a negative "Retainer applied" line on the same account.
    """

    id: str = Field(min_length=1, max_length=64)
    entity: str
    client: int
    project: int | None = None
    currency: CurrencyCode
    top_up: Decimal = Field(default=Decimal(0), ge=0, max_digits=18, decimal_places=4)
    opening_balance: Decimal = Field(default=Decimal(0), ge=0, max_digits=18, decimal_places=4)
    account_code: str = Field(default="2100", min_length=1, max_length=10)
    description: str = Field(default="Retainer top-up", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _funded(self) -> Retainer:
        if self.top_up == 0 and self.opening_balance == 0:
            raise ValueError("a retainer needs a top_up or an opening_balance above 0")
        return self


def _duplicate_ids(kind: str, ids: list[str]) -> list[str]:
    return [f"{kind} id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]


def rounding_conflicts(money: list[MoneyRounding], tax: list[TaxRounding]) -> list[str]:
    """Two money-rounding rules for one entity or client, or two tax-rounding rules for one entity, on a common day."""
    problems = _duplicate_ids("money rounding", [r.id for r in money])
    problems += _duplicate_ids("tax rounding", [r.id for r in tax])
    for a, b in combinations(money, 2):
        if (a.entity, a.client) == (b.entity, b.client) and a.overlaps(b):
            scope = f"entity {a.entity!r}" if a.entity is not None else f"client {a.client}"
            problems.append(
                f"money rounding rules {a.id!r} and {b.id!r} both cover {scope} on overlapping dates"
            )
    for c, d in combinations(tax, 2):
        if c.entity == d.entity and c.overlaps(d):
            problems.append(
                f"tax rounding rules {c.id!r} and {d.id!r} both cover entity {c.entity!r} on overlapping dates"
            )
    return problems


def retainer_conflicts(retainers: list[Retainer]) -> list[str]:
    """Duplicate ids, amounts finer than the currency's minor units, unknown currencies, and two
    retainers for one client, entity and currency on a common day (which would draw first is undefined)."""
    problems = _duplicate_ids("retainer", [r.id for r in retainers])
    for rule in retainers:
        if rule.currency not in ISO_4217:
            problems.append(
                f"retainer {rule.id!r}: currency {rule.currency!r} is not a known ISO 4217 currency"
            )
        places = minor_units(rule.currency)
        for name in ("top_up", "opening_balance"):
            value: Decimal = getattr(rule, name)
            if value != round(value, places):
                problems.append(
                    f"retainer {rule.id!r}: {name} {value} has more decimals than {rule.currency} has ({places})"
                )
    for a, b in combinations(retainers, 2):
        if (a.entity, a.client, a.currency) == (b.entity, b.client, b.currency) and a.overlaps(b):
            problems.append(
                f"retainers {a.id!r} and {b.id!r} both cover client {a.client} in {a.currency} with entity "
                f"{a.entity!r} on overlapping dates"
            )
    return problems
