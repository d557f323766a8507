"""JSON texts that are hashed or stored, written by orjson exactly as the standard library wrote them (pure).

Two texts are hashed and kept, so their bytes must never change with the code that writes them:
- a PM record (`record_text`): `json.dumps(record, separators=(",", ":"), ensure_ascii=False,
  default=str)`, the source version, the hashed canonical payload and the sealed payload. At a
  million entries it was written three times a record, about a tenth of a group close's CPU;
- a document (`canonical_text`): `json.dumps(document, sort_keys=True, default=str,
  separators=(",", ":"))`, what an invoice's content hash is taken of, about a third of drafting.

orjson writes both about ten times faster. It agrees with the standard library on compact objects,
key order (sorted when asked), and every ASCII character, control characters included. Where it
differs, the standard library writes:
- floats below 1e-4 (`0.00001` and `1e-7` for `1e-05` and `1e-07`): a text holding `e-` or
  `0.0000` is checked for them;
- integers beyond 64 bits, unpaired surrogates, subclasses of the JSON types: orjson refuses them;
- NaN and infinities, which orjson writes as null: records are read by `rules.page_json.loads`,
  which makes each a `NonFiniteNumber`, a subclass orjson refuses. A plain float NaN would be written
  as null: read records with `page_json.loads`. A document holds no float at all (see below);
- dates and times (orjson writes ISO 8601 with a `T`, `str()` a space) and decimals: passed to
  `default=str`;
- a document's characters outside printable ASCII, which the standard library escapes (`\\u00e9`,
  surrogate pairs above U+FFFF) and orjson writes as UTF-8: escaped after;
- a document that is not flat dicts (or lists of them) of strings, integers, booleans, nulls,
  decimals and dates: written by the standard library whole.

Values are what JSON decodes to, or a document's plain values: orjson would write an Enum or a numpy
number its own way, and none holds one. tests/unit/test_record_json.py and test_canonical_json.py
hold both writers to the standard library's text.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

# Where orjson writes a float below 1e-4 unlike repr(): the substring tests are cheap, the pattern is not.
_SMALL_FLOAT = re.compile(rb"[0-9]e-|0\.0000")
_EXACT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
# A document's value types orjson writes as the standard library does (the last three by `default=str`).
_PLAIN = frozenset({str, int, bool, type(None), Decimal, date, datetime})
_NOT_PRINTABLE_ASCII = re.compile("[\x7f-\U0010ffff]")


def record_text(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)`, byte for byte, for a
    value read by `rules.page_json.loads` (or holding no NaN or infinity that is a plain float)."""
    try:
        written = orjson.dumps(value, option=_EXACT)
    except TypeError:  # orjson.JSONEncodeError: a subclass, a date, a huge integer, an unpaired surrogate
        return _stdlib_record_text(value)
    if (b"e-" in written or b"0.0000" in written) and _SMALL_FLOAT.search(written):
        return _stdlib_record_text(value)
    return written.decode("utf-8")


def _stdlib_record_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_text(value: dict[str, Any]) -> str:
    """`value` as `json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))` writes it.

    `value` is a document: a dict of flat dicts or lists of flat dicts. Anything else is written by
    the standard library itself.
    """
    if not _flat(value):
        return _stdlib_document_text(value)
    try:
        written = orjson.dumps(value, default=str, option=_SORTED)
    except TypeError:  # integers beyond 64 bits, unpaired surrogates
        return _stdlib_document_text(value)
    text = written.decode("utf-8")
    return text if written.isascii() and "\x7f" not in text else _NOT_PRINTABLE_ASCII.sub(_escaped, text)


def _stdlib_document_text(value: object) -> str:
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
