"""The reconciliation rules file (config/reconciliation_rules.yaml) as validated models.

Every threshold the matcher uses lives here, versioned like the mapping document: each match
log row stores `<version>+<hash of the file>`. Unknown keys are refused, weights must sum to 1,
and the auto-accept threshold must sit above the propose threshold, so a bad file stops at load
naming the file, the key and what was expected (resources/bank_statements_config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD")]
Share = Annotated[Decimal, Field(ge=0, le=1)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)]
COMPONENTS = ("reference", "amount", "party", "date")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreWeights(_Strict):
    """How much each named score component counts in the confidence (they sum to 1)."""

    reference: Share
    amount: Share
    party: Share
    date: Share

    @model_validator(mode="after")
    def _sum_to_one(self) -> ScoreWeights:
        total = self.reference + self.amount + self.party + self.date
        if total != 1:
            raise ValueError(f"weights must sum to 1, they sum to {total}")
        return self

    def as_dict(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in COMPONENTS}


class Thresholds(_Strict):
    """Confidence at or above `auto_accept` is matched; at or above `propose` goes to a person."""

    auto_accept: Share
    propose: Share

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.propose >= self.auto_accept:
            raise ValueError(f"propose ({self.propose}) must be below auto_accept ({self.auto_accept})")
        return self


class Matching(_Strict):
    """The ladder's search bounds and partial scores (docs/decisions/0024)."""

    typo_reference_score: Share = Decimal("0.8")
    partial_payment_amount_score: Share = Decimal("0.4")
    explained_difference_amount_score: Share = Decimal("0.9")
    party_min_similarity: int = Field(default=85, ge=50, le=100)
    days_before_invoice: int = Field(default=5, ge=0, le=365)
    days_after_due: int = Field(default=120, ge=0, le=3650)
    max_combination_items: int = Field(default=4, ge=1, le=8)
    max_combination_candidates: int = Field(default=12, ge=1, le=24)
    ambiguity_margin: Share = Decimal("0.02")
    reference_ngram_tokens: int = Field(default=3, ge=1, le=6)


class CurrencyRule(_Strict):
    """Tolerances and write-off limits of one entity in one currency (both limits must hold)."""

    amount_tolerance_absolute: Money = Decimal("25")
    amount_tolerance_percent: Percent = Decimal("2")
    write_off_absolute: Money = Decimal("2")
    write_off_percent: Percent = Decimal("0.5")
    fee_amounts: tuple[Money, ...] = ()
    fx_tolerance_percent: Percent = Decimal("3")


class EntityRule(_Strict):
    """Accounts and per-currency rules of one entity; `currencies` override `default`."""

    entity: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    bank_account_code: str = Field(min_length=1, max_length=10)
    bank_fees_account_code: str = Field(default="404", min_length=1, max_length=10)
    write_off_account_code: str = Field(min_length=1, max_length=10)
    fx_gain_loss_account_code: str = Field(min_length=1, max_length=10)
    default: CurrencyRule = CurrencyRule()
    currencies: dict[CurrencyCode, CurrencyRule] = {}


class RulesDocument(_Strict):
    """The whole rules file."""

    version: str = Field(min_length=1)
    weights: ScoreWeights
    thresholds: Thresholds
    matching: Matching = Matching()
    entities: list[EntityRule]

    @model_validator(mode="after")
    def _entities_once(self) -> RulesDocument:
        ids = [e.entity for e in self.entities]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"entities {twice} appear twice")
        return self


@dataclass(frozen=True)
class ReconciliationRules:
    """The validated rules with the version every decision records."""

    document: RulesDocument
    version: str  # "<version>+<first 12 hex of the file's sha256>"

    def entity(self, entity: str) -> EntityRule:
        """The entity's rule; a missing entity is a configuration error caught at load."""
        for rule in self.document.entities:
            if rule.entity == entity:
                return rule
        raise KeyError(f"no reconciliation rule for entity {entity!r}")

    def currency(self, entity: str, currency: str) -> CurrencyRule:
        """The entity's rule for `currency` (its `default` when none is listed)."""
        rule = self.entity(entity)
        return rule.currencies.get(currency, rule.default)
