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


class NonFiniteNumber(float):
    """A NaN or infinity as a page held it: still a float to every rule, but not to orjson."""


def _float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else NonFiniteNumber(text)


# One decoder for every call: `json.loads` with hooks builds a new one each time, which costs as much
# as decoding a record (sealing decodes every payload it writes).
_DECODER = json.JSONDecoder(parse_float=_float, parse_constant=NonFiniteNumber)


def loads(text: str | bytes) -> Any:
    """A page's JSON, decoded as the standard library decodes it (NaN and infinities accepted), its
    non-finite numbers marked."""
    if isinstance(text, bytes | bytearray):
        return json.loads(text, parse_float=_float, parse_constant=NonFiniteNumber)  # finds the encoding
    return _DECODER.decode(text)


def read_back(text: str) -> Any:
    """A text this code wrote (a kept page, a stored payload) decoded exactly as `loads` decodes it.

    orjson decodes about five times faster, but it reads an integer beyond 64 bits as a float and
    refuses NaN. Its value is taken only when orjson writes it back to exactly `text`: then every
    number, string and key is what the standard library reads. Otherwise (a text the standard library
    wrote: NaN, a huge integer, a float below 1e-4, an unpaired surrogate) `loads` reads it.
    """
    try:
        value = orjson.loads(text)  # refuses NaN and unpaired surrogates, so both reach `loads`
    except orjson.JSONDecodeError:
        return loads(text)
    return value if orjson.dumps(value) == text.encode("utf-8") else loads(text)


def dumps(document: Any) -> str:
    """Compact JSON text of `document` that `loads` reads back equal (NaN stays NaN)."""
    try:
        return orjson.dumps(document).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError: a marked number, a huge integer, an unpaired surrogate
        return json.dumps(document, separators=(",", ":"))
