"""What every configuration file shares: entity ids, currency codes, and the error a bad file raises.

Kept apart from the models (rules/settings.py, rules/mapping_document.py) so both use one
definition of each.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Annotated

from pydantic import AfterValidator, Field

from rules.rule_sets import ISO_4217


def _known_currency(code: str) -> str:
    """An ISO 4217 code in use, or a ValueError that suggests the nearest ones (GPB: did you mean GBP?)."""
    if code not in ISO_4217:
        # Swapped letters first (GPB -> GBP), then codes that merely look alike.
        swapped = [c for c in sorted(ISO_4217) if sorted(c) == sorted(code)]
        alike = get_close_matches(code, sorted(ISO_4217), n=3, cutoff=0.6)
        near = list(dict.fromkeys(swapped + alike))[:3]
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        raise ValueError(f"{code!r} is not an ISO 4217 currency code{hint}")
    return code


# A typo in a ledger currency would quarantine every record of the entity at run time
# (no FX rate for it): refuse it at load instead.
CurrencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD"),
    AfterValidator(_known_currency),
]
# An entity id names files and partitions, so it can never hold a path separator or a dot.
ENTITY_ID_PATTERN = r"^[a-z][a-z0-9_]{0,15}$"
EntityId = Annotated[str, Field(pattern=ENTITY_ID_PATTERN, description="lower-case entity id")]


class ConfigurationError(Exception):
    """Raised when a configuration file is missing, unreadable or invalid."""
