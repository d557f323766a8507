"""The versioned mapping document (config/mapping.yaml) as validated models: who bills which client,
project and person, how PM fields become invoice fields, and the pricing rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.config_types import EntityId
from rules.rounding_rules import MoneyRounding, Retainer, TaxRounding, retainer_conflicts, rounding_conflicts
from rules.rule_sets import (
    ContractRate,
    CorrectionPolicy,
    Discount,
    ExpenseMarkup,
    IntercompanyPolicy,
    RateRule,
    TaxOverride,
    TimeRounding,
    contract_rate_conflicts,
    discount_conflicts,
    rate_conflicts,
    scoped_conflicts,
    tax_override_conflicts,
)
from rules.shadow_candidates import ShadowCandidate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientMapping(_Strict):
    """A PM client, the entity that bills it and the accounting contact it is billed to."""

    pm_client_id: int
    entity: EntityId
    contact_name: str = Field(min_length=1, max_length=255)
    # The firm itself: work for it is a cost of each person's home entity, never billed.
    internal: bool = False


class ProjectCodePrefix(_Strict):
    """Projects whose code starts with `prefix` belong to `entity`."""

    prefix: str = Field(min_length=1)
    entity: EntityId


class PersonMapping(_Strict):
    """A person's home entity: their internal (non-client) time is that entity's cost."""

    pm_user_id: int
    home_entity: EntityId


class ProjectMapping(_Strict):
    """A project whose entity differs from its client's."""

    pm_project_id: int
    entity: EntityId


class FieldMapping(_Strict):
    """How PM fields become invoice fields."""

    time_line_description: str = "{project_name}: {task_name}"
    expense_line_description: str = "{project_name}: expense {category_name}"
    reference_when_no_code: str = "NO-CODE"

    @field_validator("time_line_description", "expense_line_description")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        allowed = {
            "project_name": "p",
            "project_code": "c",
            "task_name": "t",
            "client_name": "n",
            "unit_price": "u",
            "category_name": "k",
        }
        try:
            value.format(**allowed)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"placeholders limited to {{{'}, {'.join(sorted(allowed))}}}; got {value!r}"
            ) from exc
        return value


class MappingDocument(_Strict):
    """The versioned mapping document (config/mapping.yaml)."""

    version: str = Field(min_length=1)
    clients: list[ClientMapping]
    projects: list[ProjectMapping] = []
    project_code_prefixes: list[ProjectCodePrefix] = []
    people: list[PersonMapping] = []
    field_mapping: FieldMapping = FieldMapping()
    rates: list[RateRule] = []
    time_rounding: list[TimeRounding] = []
    expense_markups: list[ExpenseMarkup] = []
    tax_overrides: list[TaxOverride] = []
    discounts: list[Discount] = []
    # Fixed conversion rates per client or project, overriding the ECB rate (docs/decisions/0010).
    fx_contract_rates: list[ContractRate] = []
    # Charges between entities for people working on another entity's projects (docs/decisions/0010).
    intercompany: IntercompanyPolicy = IntercompanyPolicy()
    # Credit notes and supplementary invoices after invoicing: lock-date policy (docs/decisions/0012).
    corrections: CorrectionPolicy = CorrectionPolicy()
    # Money and tax rounding, retainers (docs/decisions/0009).
    money_rounding: list[MoneyRounding] = []
    tax_rounding: list[TaxRounding] = []
    retainers: list[Retainer] = []
    # Candidate billing rules drafted in shadow beside these, per entity (docs/decisions/0039).
    shadow: list[ShadowCandidate] = []

    @model_validator(mode="after")
    def _rounding_and_retainers_consistent(self) -> MappingDocument:
        problems = rounding_conflicts(self.money_rounding, self.tax_rounding)
        problems += retainer_conflicts(self.retainers)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _contract_rates_consistent(self) -> MappingDocument:
        problems = contract_rate_conflicts(self.fx_contract_rates)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _no_duplicates(self) -> MappingDocument:
        problems = rate_conflicts(self.rates)
        problems += scoped_conflicts(self.time_rounding, "time rounding")
        problems += scoped_conflicts(self.expense_markups, "expense markup")
        problems += tax_override_conflicts(self.tax_overrides)
        problems += discount_conflicts(self.discounts)
        seen: set[int] = set()
        for client in self.clients:
            if client.pm_client_id in seen:
                problems.append(f"client {client.pm_client_id} is mapped twice")
            seen.add(client.pm_client_id)
        seen = set()
        for project in self.projects:
            if project.pm_project_id in seen:
                problems.append(f"project {project.pm_project_id} is mapped twice")
            seen.add(project.pm_project_id)
        if problems:
            raise ValueError("; ".join(problems))
        return self
