"""A candidate version of the billing rules, drafted in shadow beside the rules in force (decision 0039).

The mapping document's `shadow` section names, per entity, the billing-rule sections the candidate
replaces (a section left out is the current one). The candidate is off until `enabled`; `serving`
says which version the real drafts use: `current` (the document's own rules, the candidate in shadow)
or `candidate` (promoted: the candidate drafts for real and the document's own rules run in shadow,
so switching back is one word again). Only `billbridge shadow promote` / `revert` need change it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.rounding_rules import MoneyRounding, TaxRounding, rounding_conflicts
from rules.rule_sets import (
    Discount,
    TaxOverride,
    TimeRounding,
    discount_conflicts,
    scoped_conflicts,
    tax_override_conflicts,
)

Serving = Literal["current", "candidate"]
# The sections of the mapping document a candidate may replace: those BillingRules carries.
CANDIDATE_SECTIONS = ("money_rounding", "tax_rounding", "discounts", "time_rounding", "tax_overrides")


class ShadowCandidate(BaseModel):
    """One entity's candidate billing rules: the flag, which version serves, and the replaced sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str = Field(min_length=1)
    version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    enabled: bool = False  # the flag: a candidate is drafted in shadow only when true
    serving: Serving = "current"
    money_rounding: list[MoneyRounding] | None = None
    tax_rounding: list[TaxRounding] | None = None
    discounts: list[Discount] | None = None
    time_rounding: list[TimeRounding] | None = None
    tax_overrides: list[TaxOverride] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ShadowCandidate:
        problems = rounding_conflicts(self.money_rounding or [], self.tax_rounding or [])
        problems += discount_conflicts(self.discounts or [])
        problems += scoped_conflicts(self.time_rounding or [], "time rounding")
        problems += tax_override_conflicts(self.tax_overrides or [])
        if all(getattr(self, name) is None for name in CANDIDATE_SECTIONS):
            problems.append(
                f"shadow candidate {self.version!r} replaces no section ({', '.join(CANDIDATE_SECTIONS)})"
            )
        if problems:
            raise ValueError("; ".join(f"shadow candidate {self.version!r}: {p}" for p in problems))
        return self

    def replaced(self) -> dict[str, list[object]]:
        """The sections this candidate replaces, by name."""
        return {name: getattr(self, name) for name in CANDIDATE_SECTIONS if getattr(self, name) is not None}


def shadow_conflicts(candidates: list[ShadowCandidate], entities: set[str]) -> list[str]:
    """Candidates naming an unknown entity, and two candidates for one entity (which would serve is undefined)."""
    problems = [
        f"shadow candidate {c.version!r} names unknown entity {c.entity!r}"
        for c in candidates
        if c.entity not in entities
    ]
    named = [c.entity for c in candidates]
    problems += [
        f"entity {e!r} has two shadow candidates" for e in sorted({e for e in named if named.count(e) > 1})
    ]
    return problems


class SwitchRefused(ValueError):
    """The mapping document cannot be switched as asked; the message says why."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _candidate_block(lines: list[str], entity: str) -> tuple[int, int]:
    """(first, end) line indexes of `entity`'s item in the top-level `shadow:` list (block style)."""
    start = next((n for n, line in enumerate(lines) if line.split("#")[0].rstrip() == "shadow:"), None)
    if start is None:
        raise SwitchRefused("the mapping document has no `shadow:` section")
    items: list[int] = []
    end = len(lines)
    for n in range(start + 1, len(lines)):
        text = lines[n].split("#")[0].rstrip()
        if text and _indent(lines[n]) == 0:
            end = n
            break
        if text.lstrip().startswith("- ") and (not items or _indent(lines[n]) == _indent(lines[items[0]])):
            items.append(n)
    for first, after in zip(items, [*items[1:], end], strict=True):
        keys = [lines[first].replace("- ", "  ", 1), *lines[first + 1 : after]]
        if any(k.split("#")[0].strip().replace(" ", "") == f"entity:{entity}" for k in keys):
            if "{" in lines[first].split("#")[0]:
                raise SwitchRefused(
                    f"the shadow candidate of entity {entity!r} must be written in block style"
                )
            return first, after
    raise SwitchRefused(f"entity {entity!r} has no shadow candidate in the mapping document")


def switched_text(text: str, entity: str, serving: Serving) -> str:
    """The mapping document's text with `entity`'s candidate set to `serving`, everything else kept
    byte for byte (comments included), so a promote then a revert give back the original file."""
    lines = text.splitlines(keepends=True)
    first, after = _candidate_block(lines, entity)
    key_indent = _indent(lines[first]) + 2
    for n in range(first, after):
        body = lines[n].replace("- ", "  ", 1) if n == first else lines[n]
        if _indent(body) == key_indent and body.lstrip().startswith("serving:"):
            old = body.split("#")[0].split(":", 1)[1].strip()
            lines[n] = lines[n].replace(f"serving: {old}", f"serving: {serving}", 1)
            return "".join(lines)
    lines.insert(first + 1, " " * key_indent + f"serving: {serving}\n")
    return "".join(lines)
