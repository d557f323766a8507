"""The allocation rule set and its two documented inputs (overheads, usage), as validated models.

The rule set (config/allocation_rules.yaml) names the cost pools, the allocation rules
(pool, driver, target set, effective dates) and the Capex classification; it points at
the overheads and usage CSV files beside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.rule_sets import DatedRule

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$", description="an id")]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CostCentre(_Strict):
    """A group of PM projects that can receive allocations as one cost object."""

    id: Identifier
    projects: list[int] = Field(min_length=1)


class CapexTreatment(_Strict):
    """How a capitalized pool is booked and depreciated (straight line, monthly)."""

    capitalization_account: str = Field(min_length=1)
    cost_account: str = Field(min_length=1, description="account the cost was first expensed to")
    depreciation_expense_account: str = Field(min_length=1)
    accumulated_depreciation_account: str = Field(min_length=1)
    life_months: int = Field(ge=1, le=600)


class Pool(_Strict):
    """A shared cost pool and where its costs come from."""

    id: Identifier
    source: Literal["internal_time", "nonbillable_expenses", "overhead"]
    description: str = ""
    # internal_time / nonbillable_expenses: restrict to these PM projects (default: every
    # internal project for time; every internal project for expenses unless include_client_projects).
    project_ids: list[int] = []
    include_client_projects: bool = False
    # overhead: the category of the overheads file rows this pool collects.
    category: str | None = None
    cost_class: Literal["opex", "capex"] = "opex"
    capex: CapexTreatment | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Pool:
        if self.source == "overhead" and not self.category:
            raise ValueError(f"pool {self.id!r}: an overhead pool needs a category")
        if self.source != "overhead" and self.category:
            raise ValueError(f"pool {self.id!r}: category applies only to overhead pools")
        if self.cost_class == "capex" and self.capex is None:
            raise ValueError(f"pool {self.id!r}: a capex pool needs its capex treatment (accounts, life)")
        if self.cost_class == "opex" and self.capex is not None:
            raise ValueError(f"pool {self.id!r}: capex treatment given on an opex pool")
        return self


class AllocationRule(DatedRule):
    """Spread one pool over a target set by a driver, in force between two dates (inclusive)."""

    id: Identifier
    pool: Identifier
    driver: Literal["hours", "headcount", "usage"]
    usage_metric: str | None = None
    targets: Literal["projects", "clients", "cost_centres"]
    target_ids: list[str] = Field(
        default_factory=list
    )  # restrict (and always include) these targets; empty: every active one
    effective_from: date  # required here: a methodology states when it starts
    allow_negative: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> AllocationRule:
        if self.driver == "usage" and not self.usage_metric:
            raise ValueError(f"rule {self.id!r}: a usage driver needs usage_metric")
        if self.driver != "usage" and self.usage_metric:
            raise ValueError(f"rule {self.id!r}: usage_metric applies only to the usage driver")
        return self

    def content_hash(self) -> str:
        """A hash of the rule's content: the diff tells a rule change from a driver change by it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class RuleSetDocument(_Strict):
    """The versioned allocation methodology."""

    version: str = Field(min_length=1)
    internal_projects: list[int] = []
    overheads: str = "overheads.csv"
    usage: str = "usage.csv"
    cost_centres: list[CostCentre] = []
    pools: list[Pool] = Field(min_length=1)
    rules: list[AllocationRule] = []

    @model_validator(mode="after")
    def _no_conflicts(self) -> RuleSetDocument:
        problems: list[str] = []
        pool_ids = [p.id for p in self.pools]
        problems += [
            f"pool {i!r} is defined twice" for i in sorted({i for i in pool_ids if pool_ids.count(i) > 1})
        ]
        rule_ids = [r.id for r in self.rules]
        problems += [
            f"rule {i!r} is defined twice" for i in sorted({i for i in rule_ids if rule_ids.count(i) > 1})
        ]
        capex = {p.id for p in self.pools if p.cost_class == "capex"}
        for rule in self.rules:
            if rule.pool not in pool_ids:
                problems.append(f"rule {rule.id!r} names unknown pool {rule.pool!r}")
            elif rule.pool in capex:
                problems.append(f"rule {rule.id!r} allocates capex pool {rule.pool!r} (capex is capitalized)")
        for i, a in enumerate(self.rules):
            for b in self.rules[i + 1 :]:
                if a.pool == b.pool and a.overlaps(b):
                    problems.append(
                        f"rules {a.id!r} and {b.id!r} both allocate pool {a.pool!r} on common days"
                    )
        centre_ids = [c.id for c in self.cost_centres]
        problems += [
            f"cost centre {i!r} is defined twice"
            for i in sorted({i for i in centre_ids if centre_ids.count(i) > 1})
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rule(self, rule_id: str) -> AllocationRule:
        """The rule with this id."""
        return next(r for r in self.rules if r.id == rule_id)


class OverheadRow(_Strict):
    """One overhead cost (rent, software, management time) in the entity's base currency."""

    reference: Identifier
    entity: str = Field(min_length=1)
    date: date
    category: str = Field(min_length=1)
    description: str = ""
    amount: Decimal = Field(max_digits=18, decimal_places=4)


class UsageRow(_Strict):
    """One usage measure (seats, compute hours) of a project in an entity-month."""

    entity: str = Field(min_length=1)
    period: Period
    metric: str = Field(min_length=1)
    project_id: int
    quantity: Decimal = Field(max_digits=18, decimal_places=4)


@dataclass(frozen=True)
class AllocationInputs:
    """The loaded rule set, its version, and the overheads and usage it reads."""

    rules: RuleSetDocument
    version: str  # "<version>+<12 hex of the rule set file's hash>"
    source_path: str
    overheads: tuple[OverheadRow, ...]
    usage: tuple[UsageRow, ...]
