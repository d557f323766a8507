"""A PM record's JSON text as the raw layer has always written and read it, through orjson (pure).

The raw layer writes a record as `json.dumps(record, separators=(",", ":"), ensure_ascii=False,
default=str)` and hashes that text; sealing reads the payload back and writes it again. At a million
entries that text was written three times and read twice per record, about a sixth of a group
close's CPU. orjson does both about ten times faster, but is not the standard library:

- it reads integers beyond 64 bits as floats, and refuses NaN, infinities, too large floats and
  unpaired surrogates: text holding a run of 19 digits, or that orjson refuses, is read by the
  standard library;
- it writes floats below 1e-4 in another form (`0.00001`, `1e-7` for `1e-05`, `1e-07`), NaN and
  infinities as null, and refuses integers beyond 64 bits, subclasses of the JSON types, dates and
  decimals: a text holding a digit before `e-` or `0.0000`, or a null where the value holds a
  non-finite float, or a value orjson refuses, is written by the standard library.

Values are what JSON decodes to (and `rules.page_json.NonFiniteNumber`): orjson would write an Enum or
a numpy number its own way, and no record holds one.

So `record_text` is byte for byte the standard library's text and `parse_record` its value, always
(the property tests in tests/unit/test_record_json.py hold both to it).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

_LONG_DIGITS = re.compile(r"\d{19}")  # an integer orjson might read as a float (or a long float)
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")
_SMALL_FLOAT = re.compile(rb"\de-|0\.0000")  # where orjson writes a float below 1e-4 unlike repr()
_EXACT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
NOT_DECODED = object()


def fast_loads(text: str | bytes) -> Any:
    """What `json.loads(text)` returns, when orjson can decode it to exactly that; else NOT_DECODED."""
    long_digits = _LONG_DIGITS_BYTES if isinstance(text, bytes) else _LONG_DIGITS
    if long_digits.search(text):  # type: ignore[arg-type]
        return NOT_DECODED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, infinities, floats beyond range, unpaired surrogates, bad JSON
        return NOT_DECODED


def parse_record(text: str | bytes) -> Any:
    """`json.loads(text)`: the same values of the same types, keys in the same order."""
    value = fast_loads(text)
    return json.loads(text) if value is NOT_DECODED else value


def record_text(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)`, byte for byte."""
    try:
        written = orjson.dumps(value, option=_EXACT)
    except TypeError:  # orjson.JSONEncodeError: a subclass, a date, a huge integer, an unpaired surrogate
        return _stdlib_text(value)
    if _SMALL_FLOAT.search(written) or (b"null" in written and _holds_non_finite(value)):
        return _stdlib_text(value)
    return written.decode("utf-8")


def _stdlib_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _holds_non_finite(value: Any) -> bool:
    """Whether a NaN or an infinity is anywhere in `value` (orjson wrote it as null)."""
    kind = type(value)
    if kind is float:
        return not math.isfinite(value)
    if kind is dict:
        return any(_holds_non_finite(item) for item in value.values())
    if kind is list:
        return any(_holds_non_finite(item) for item in value)
    return False
