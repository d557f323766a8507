"""The canonical JSON text a document's content hash is taken of, written by orjson (pure).

The text is, byte for byte, what `json.dumps(value, sort_keys=True, default=str,
separators=(",", ":"))` writes, as it has been since the first document was hashed: a posted
document's hash must not change because the code that writes its text did. orjson writes it about
ten times faster, which drafting a month of a large entity's invoices needs (the hash was about a
third of drafting).

orjson and the standard library agree on compact, key-sorted objects and on every ASCII character
(control characters as the same escapes). They differ in three places, each handled here:
- the standard library escapes every character outside printable ASCII (`\\u00e9`, surrogate pairs
  above U+FFFF); orjson writes UTF-8, so those characters are escaped after;
- dates and times: orjson writes ISO 8601 with a `T`, the standard library `str()` (a space), so
  orjson is told to pass them to `default=str` too;
- floats, integers beyond 64 bits, nested and any other types: the standard library writes them,
  as before (documents hold strings, exact decimals, dates, integers, booleans and nulls).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
# Value types orjson writes exactly as the standard library does (with `default=str` for the last three).
_PLAIN = frozenset({str, int, bool, type(None), Decimal, date, datetime})
_NOT_PRINTABLE_ASCII = re.compile("[\x7f-\U0010ffff]")


def canonical_text(value: dict[str, Any]) -> str:
    """`value` as `json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))` writes it.

    `value` is a document: a dict of flat dicts or lists of flat dicts. Anything else is written by
    the standard library itself.
    """
    if not _flat(value):
        return _stdlib_text(value)
    try:
        written = orjson.dumps(value, default=str, option=_OPTIONS)
    except TypeError:  # integers beyond 64 bits, unpaired surrogates
        return _stdlib_text(value)
    text = written.decode("utf-8")
    return text if written.isascii() and "\x7f" not in text else _NOT_PRINTABLE_ASCII.sub(_escaped, text)


def _stdlib_text(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _flat(value: dict[str, Any]) -> bool:
    """Every part of `value` is a flat dict (or a list of them) of _PLAIN values under string keys."""
    for part in value.values():
        records = part if type(part) is list else [part]
        for record in records:
            if type(record) is not dict:
                return False
            for key, item in record.items():
                if type(key) is not str or type(item) not in _PLAIN:
                    return False
    return True


def _escaped(match: re.Match[str]) -> str:
    """A character as the standard library escapes it outside ASCII: `\\uXXXX`, or a surrogate pair."""
    point = ord(match.group())
    if point < 0x10000:
        return f"\\u{point:04x}"
    point -= 0x10000
    return f"\\u{0xD800 | (point >> 10):04x}\\u{0xDC00 | (point & 0x3FF):04x}"
