"""JSON text of the PM account's pages as kept between runs (resources/account_pages.py): read with the
standard library, written with orjson, and the two agree on every page.

orjson writes JSON about ten times faster than `json.dumps`, which made writing a million entries'
reading and its entities' shares a quarter of the first extraction's CPU. It differs on what a page
may hold and JSON cannot: it writes NaN and infinities as null, and refuses integers beyond 64 bits and
unpaired surrogates. The screen must see the NaN a provider sent, so every non-finite number a page
decodes to (`NaN`, `Infinity`, or a literal too large for a float) becomes a `NonFiniteNumber`, which
orjson refuses; whatever orjson refuses is written by the standard library, as before (docs/decisions/0051).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from rules.record_json import NOT_DECODED, fast_loads


class NonFiniteNumber(float):
    """A NaN or infinity as a page held it: still a float to every rule, but not to orjson."""


def _float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else NonFiniteNumber(text)


def loads(text: str | bytes) -> Any:
    """A page's JSON, decoded as the standard library decodes it (NaN and infinities accepted), its
    non-finite numbers marked. orjson decodes what it decodes exactly as the standard library does
    (rules/record_json.py), which is every page but one holding a non-finite number or a long integer."""
    value = fast_loads(text)
    if value is NOT_DECODED:
        return json.loads(text, parse_float=_float, parse_constant=NonFiniteNumber)
    return value


def dumps(document: Any) -> str:
    """Compact JSON text of `document` that `loads` reads back equal (NaN stays NaN)."""
    try:
        return orjson.dumps(document).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a marked number, a huge integer, an unpaired surrogate
        return json.dumps(document, separators=(",", ":"))
