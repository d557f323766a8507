"""Pricing rules of the mapping document: rate rules, time rounding and expense markups.

Rate resolution is "most specific wins", in this order (level, highest first):
5 person on task on project, 4 task on project, 3 person on project, 2 project,
1 client, 0 entity default. Two rules of the same level for the same scope whose
dates overlap contradict each other and are refused at load, all of them listed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")]

LEVEL_NAMES = {
    5: "person on task on project",
    4: "task on project",
    3: "person on project",
    2: "project",
    1: "client",
    0: "entity default",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Dated(_Strict):
    effective_from: date = date(1900, 1, 1)
    effective_to: date | None = None  # inclusive; open-ended when absent

    @model_validator(mode="after")
    def _ordered(self) -> _Dated:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before effective_from {self.effective_from}"
            )
        return self

    def overlaps(self, other: _Dated) -> bool:
        """Whether the two rules are in force on at least one common day."""
        end_a = self.effective_to or date.max
        end_b = other.effective_to or date.max
        return self.effective_from <= end_b and other.effective_from <= end_a


class RateRule(_Dated):
    """A billable rate for a scope; `share_percent` bills only part of the hours (e.g. 50% of travel)."""

    id: str = Field(min_length=1, max_length=64)
    entity: str | None = None
    client: int | None = None
    project: int | None = None
    task: int | None = None
    person: int | None = None
    rate: Decimal = Field(ge=0, max_digits=18, decimal_places=4)
    currency: CurrencyCode
    share_percent: Decimal = Field(default=Decimal(100), gt=0, le=100, decimal_places=4)

    @model_validator(mode="after")
    def _valid_scope(self) -> RateRule:
        if self.client is not None and any(v is not None for v in (self.project, self.task, self.person)):
            raise ValueError("a client rule names only the client (project rules already imply their client)")
        if self.project is None and (self.task is not None or self.person is not None):
            raise ValueError("task and person rules are scoped to a project: add `project`")
        if all(v is None for v in (self.entity, self.client, self.project)):
            raise ValueError("a rule needs a scope: entity (default rate), client or project")
        return self

    @property
    def level(self) -> int:
        """Specificity: 5 (person on task on project) down to 0 (entity default)."""
        if self.project is not None:
            return {(True, True): 5, (True, False): 4, (False, True): 3, (False, False): 2}[
                (self.task is not None, self.person is not None)
            ]
        return 1 if self.client is not None else 0

    @property
    def scope(self) -> tuple[object, ...]:
        return (self.level, self.entity, self.client, self.project, self.task, self.person)


class TimeRounding(_Strict):
    """Invoiceable units for a client or project: hours rounded up to an increment."""

    id: str = Field(min_length=1, max_length=64)
    client: int | None = None
    project: int | None = None
    increment_minutes: Literal[0, 6, 15, 30]
    apply: Literal["per_entry", "per_line"] = "per_entry"
    minimum_minutes: int = Field(default=0, ge=0, le=480)

    @model_validator(mode="after")
    def _one_scope(self) -> TimeRounding:
        if (self.client is None) == (self.project is None):
            raise ValueError("name exactly one of client or project")
        return self


class ExpenseMarkup(_Strict):
    """Re-billable expenses of a client or project are billed at cost plus this percentage."""

    id: str = Field(min_length=1, max_length=64)
    client: int | None = None
    project: int | None = None
    markup_percent: Decimal = Field(ge=0, le=1000, decimal_places=4)

    @model_validator(mode="after")
    def _one_scope(self) -> ExpenseMarkup:
        if (self.client is None) == (self.project is None):
            raise ValueError("name exactly one of client or project")
        return self


def rate_conflicts(rules: list[RateRule]) -> list[str]:
    """Every pair of rules of equal specificity for the same scope with overlapping dates, and duplicate ids."""
    problems = []
    ids = [r.id for r in rules]
    problems += [f"rate rule id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for a, b in combinations(rules, 2):
        if a.scope == b.scope and a.overlaps(b):
            problems.append(
                f"rate rules {a.id!r} and {b.id!r} both set the {LEVEL_NAMES[a.level]} rate for the same scope "
                f"on overlapping dates"
            )
    return problems


def scoped_conflicts(rules: list[TimeRounding] | list[ExpenseMarkup], kind: str) -> list[str]:
    """Two rules of a kind for the same client or project contradict each other."""
    seen: dict[tuple[int | None, int | None], str] = {}
    problems = []
    for rule in rules:
        key = (rule.client, rule.project)
        if key in seen:
            problems.append(f"{kind} rules {seen[key]!r} and {rule.id!r} cover the same client/project")
        seen[key] = rule.id
    return problems


class TaxOverride(_Strict):
    """A client's tax treatment, overriding its entity's default tax code.

    `tax_type` must be one of the entity's tax codes (`tax_type` or `tax_codes` in the
    entity configuration); exempt, zero-rated and reverse-charge treatments charge no tax.
    """

    id: str = Field(min_length=1, max_length=64)
    client: int
    treatment: Literal["standard", "exempt", "zero_rated", "reverse_charge"]
    tax_type: str = Field(min_length=1)


def tax_override_conflicts(rules: list[TaxOverride]) -> list[str]:
    """Two tax treatments for one client contradict each other."""
    seen: dict[int, str] = {}
    problems = []
    for rule in rules:
        if rule.client in seen:
            problems.append(
                f"tax overrides {seen[rule.client]!r} and {rule.id!r} both cover client {rule.client}"
            )
        seen[rule.client] = rule.id
    return problems


class Discount(_Strict):
    """A discount for a client or project: a percentage or a fixed amount, per invoice line or per invoice.

    Shown on the invoice as its own negative line, so the customer sees the discount.
    """

    id: str = Field(min_length=1, max_length=64)
    client: int | None = None
    project: int | None = None
    kind: Literal["percent", "fixed"]
    value: Decimal = Field(gt=0, decimal_places=4)
    level: Literal["line", "invoice"] = "invoice"
    applies_to: Literal["time", "expense", "all"] = "time"

    @model_validator(mode="after")
    def _valid(self) -> Discount:
        if (self.client is None) == (self.project is None):
            raise ValueError("name exactly one of client or project")
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent discount is at most 100")
        return self


def discount_conflicts(rules: list[Discount]) -> list[str]:
    """Two discounts at the same level for the same client or project, on the same kind of work."""
    seen: dict[tuple[int | None, int | None, str, str], str] = {}
    problems = []
    for rule in rules:
        key = (rule.client, rule.project, rule.level, rule.applies_to)
        if key in seen:
            problems.append(
                f"discounts {seen[key]!r} and {rule.id!r} cover the same client/project and level"
            )
        seen[key] = rule.id
    return problems
