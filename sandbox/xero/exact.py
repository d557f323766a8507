"""Exact JSON, money and dates as the accounting sandbox writes them.

Amounts are `Decimal` end to end: requests are parsed with `parse_float=Decimal` and answers
write every amount as a JSON number with its exact decimal digits (never through a float).
Dates are Xero's MS JSON form.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.0001")  # Xero keeps quantities to four decimal places
RATE_STEP = Decimal("0.000001")  # CurrencyRate: "max length = [18].[6]"


def dumps_exact(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text in which every Decimal is a JSON number with exactly its digits (never via float).

    Written by orjson, each Decimal as a fragment of its digits; the text is the one `_written_by_hand`
    writes (compact, strings as `json.dumps(s, ensure_ascii=False)`), about ten times faster. Whatever
    orjson refuses (non-string keys, integers beyond 64 bits, unpaired surrogates, a non-finite
    Decimal, a type the sandbox never stores) is written by hand, which writes or refuses it as before.
    Floats never reach here (requests are read with `parse_float=Decimal`); orjson would write one in
    its own shortest form.
    """
    try:
        return orjson.dumps(value, default=_fragment, option=_SORTED if sort_keys else _PLAIN).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError
        return _written_by_hand(_sorted(value) if sort_keys else value)


# Dates, times and dataclasses are refused by hand: orjson must not write them its own way.
_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_SORTED = _PLAIN | orjson.OPT_SORT_KEYS


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot serialize {type(value).__name__}")  # written (or refused) by hand


def _sorted(value: Any) -> Any:
    """`value` with every object's keys in sorted order, as orjson's OPT_SORT_KEYS orders them."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _written_by_hand(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return format(value, "f")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        items = (json.dumps(str(k), ensure_ascii=False) + ":" + _written_by_hand(v) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_written_by_hand(v) for v in value) + "]"
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not a valid JSON number")


def loads_exact(content: bytes | str) -> Any:
    """Parse JSON keeping every number with a fraction or exponent as a Decimal."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def round_half_up(value: Decimal, step: Decimal = CENT) -> Decimal:
    """Round to `step` with ties away from zero, as Xero rounds line amounts and tax."""
    return value.quantize(step, rounding=ROUND_HALF_UP)


def ms_date(moment: float | date, *, offset: bool = True) -> str:
    """Xero's MS JSON date: `/Date(1754006400000+0000)/` (a date is its midnight UTC)."""
    millis = calendar.timegm(moment.timetuple()) * 1000 if isinstance(moment, date) else int(moment * 1000)
    return f"/Date({millis}+0000)/" if offset else f"/Date({millis})/"


def ms_day(text: str) -> date:
    """The UTC calendar day of an MS JSON date (`/Date(1754006400000+0000)/`)."""
    millis = int(text.removeprefix("/Date(").split(")")[0].split("+")[0])
    return datetime.fromtimestamp(millis / 1000, UTC).date()


def iso_utc(moment: float) -> str:
    """A stored timestamp: ISO 8601 in UTC to the millisecond."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def utc_day(moment: float) -> date:
    """The UTC calendar day of a clock reading (Xero defaults a missing Date to today)."""
    return datetime.fromtimestamp(moment, UTC).date()
