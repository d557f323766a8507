"""Pricing and policy rules of the mapping document: rate rules, time rounding, expense markups, tax
overrides, discounts, contract rates, intercompany and corrections (rounding and retainers: rules/rounding_rules.py).

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


class DatedRule(_Strict):
    """A rule in force from `effective_from` to `effective_to` (inclusive; open-ended when absent)."""

    effective_from: date = date(1900, 1, 1)
    effective_to: date | None = None  # inclusive; open-ended when absent

    @model_validator(mode="after")
    def _ordered(self) -> DatedRule:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before effective_from {self.effective_from}"
            )
        return self

    def in_force_between(self, start: date, end: date) -> bool:
        """Whether the rule is in force on at least one day from `start` to `end` (inclusive)."""
        return self.effective_from <= end and start <= (self.effective_to or date.max)

    def in_force(self, day: date) -> bool:
        """Whether the rule is in force on `day`."""
        return self.in_force_between(day, day)

    def overlaps(self, other: DatedRule) -> bool:
        """Whether the two rules are in force on at least one common day."""
        return other.in_force_between(self.effective_from, self.effective_to or date.max)


class RateRule(DatedRule):
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


# ISO 4217 codes in use (plus HRK, which the ECB history still carries): a contract rate naming
# anything else is refused at load.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG ZWL""".split()  # noqa: SIM905 (a table, not a list literal)
)


class ContractRate(DatedRule):
    """A fixed conversion rate agreed with a client (or for one project), overriding the ECB rate.

    `rate` is units of `to_currency` per one `from_currency`, in force from `effective_from`
    (required: a contract has a start) to `effective_to` (inclusive; open-ended when absent).
    `entity` limits it to one entity's lines. Rate and currencies are checked by
    `contract_rate_conflicts`, so a bad document lists every problem at once.
    """

    id: str = Field(min_length=1, max_length=64)
    entity: str | None = None
    client: int | None = None
    project: int | None = None
    from_currency: str
    to_currency: str
    rate: Decimal = Field(max_digits=18, decimal_places=8)
    effective_from: date

    @model_validator(mode="after")
    def _one_scope(self) -> ContractRate:
        if (self.client is None) == (self.project is None):
            raise ValueError("name exactly one of client or project")
        return self

    @property
    def level(self) -> int:
        """Specificity: project and entity 4, project 3, client and entity 2, client 1."""
        return (3 if self.project is not None else 1) + (self.entity is not None)

    @property
    def scope(self) -> tuple[object, ...]:
        return (self.entity, self.client, self.project, self.from_currency, self.to_currency)


def contract_rate_conflicts(rules: list[ContractRate]) -> list[str]:
    """Every problem of the contract rates: duplicate ids, a rate not above zero, a currency that is
    not ISO 4217, a pair converting a currency to itself, two rates for one scope and pair on a day."""
    problems = []
    ids = [r.id for r in rules]
    problems += [
        f"contract rate id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    for rule in rules:
        if rule.rate <= 0:
            problems.append(f"contract rate {rule.id!r}: rate must be above 0 (got {rule.rate})")
        for side in ("from_currency", "to_currency"):
            code = getattr(rule, side)
            if code not in ISO_4217:
                problems.append(
                    f"contract rate {rule.id!r}: {side} {code!r} is not a known ISO 4217 currency"
                )
        if rule.from_currency == rule.to_currency:
            problems.append(f"contract rate {rule.id!r}: converts {rule.from_currency} to itself")
    for a, b in combinations(rules, 2):
        if a.scope == b.scope and a.overlaps(b):
            problems.append(
                f"contract rates {a.id!r} and {b.id!r} both fix {a.from_currency}->{a.to_currency} for the same "
                f"{'project' if a.project is not None else 'client'} on overlapping dates"
            )
    return problems


class IntercompanyMarkup(DatedRule):
    """The markup entity `seller` adds to the cost of its people's time on `buyer`'s projects."""

    id: str = Field(min_length=1, max_length=64)
    seller: str
    buyer: str
    markup_percent: Decimal = Field(ge=0, le=100, decimal_places=4)

    @model_validator(mode="after")
    def _two_entities(self) -> IntercompanyMarkup:
        if self.seller == self.buyer:
            raise ValueError(f"seller and buyer are the same entity {self.seller!r}")
        return self


class IntercompanyAccounts(_Strict):
    """How one entity books intercompany charges: accounts, tax codes, and the name others bill it by.

    Tax codes default to a 0% code of the entity (see `rules/intercompany.py`); a code
    given here must be one of the entity's (`tax_type` or `tax_codes`).
    """

    entity: str
    revenue_account_code: str = Field(default="260", min_length=1, max_length=10)
    cost_account_code: str = Field(default="310", min_length=1, max_length=10)
    sale_tax_type: str | None = None
    purchase_tax_type: str | None = None
    contact_name: str | None = Field(default=None, min_length=1, max_length=255)


class IntercompanyPolicy(_Strict):
    """Intercompany charges: cost plus a markup per seller-buyer pair, and each entity's accounts."""

    default_markup_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    markups: list[IntercompanyMarkup] = []
    entities: list[IntercompanyAccounts] = []

    @model_validator(mode="after")
    def _no_conflicts(self) -> IntercompanyPolicy:
        problems = []
        ids = [m.id for m in self.markups]
        problems += [
            f"intercompany markup id {i!r} is used twice"
            for i in sorted({i for i in ids if ids.count(i) > 1})
        ]
        for a, b in combinations(self.markups, 2):
            if (a.seller, a.buyer) == (b.seller, b.buyer) and a.overlaps(b):
                problems.append(
                    f"intercompany markups {a.id!r} and {b.id!r} both cover {a.seller}->{a.buyer} on overlapping dates"
                )
        named = [e.entity for e in self.entities]
        problems += [
            f"intercompany accounts for entity {e!r} are given twice"
            for e in sorted({e for e in named if named.count(e) > 1})
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def accounts(self, entity: str) -> IntercompanyAccounts:
        """The entity's intercompany accounts (defaults when the document does not list it)."""
        return next((e for e in self.entities if e.entity == entity), IntercompanyAccounts(entity=entity))


# Corrections after invoicing (docs/decisions/0012): what a credit note or supplementary invoice
# whose date falls inside the tenant's locked period does (rules/billing/lock_dates.py).
LockedPeriodPolicy = Literal["move_to_open_period", "wait"]


class CorrectionEntity(_Strict):
    """One entity's correction settings: its locked-period policy and, until the accounting
    connector reads it, the tenant's lock date (the later of PeriodLockDate and EndOfYearLockDate)."""

    entity: str
    locked_period: LockedPeriodPolicy | None = None  # absent: the document's default
    lock_date: date | None = None


class CorrectionPolicy(_Strict):
    """Corrections after invoicing: the default locked-period policy and per-entity settings."""

    locked_period: LockedPeriodPolicy = "move_to_open_period"
    entities: list[CorrectionEntity] = []

    @model_validator(mode="after")
    def _each_entity_once(self) -> CorrectionPolicy:
        named = [e.entity for e in self.entities]
        twice = sorted({e for e in named if named.count(e) > 1})
        if twice:
            raise ValueError("; ".join(f"corrections for entity {e!r} are given twice" for e in twice))
        return self

    def settings(self, entity: str) -> CorrectionEntity:
        """The entity's settings, its policy filled in from the default when not given."""
        given = next((e for e in self.entities if e.entity == entity), CorrectionEntity(entity=entity))
        return given.model_copy(update={"locked_period": given.locked_period or self.locked_period})
