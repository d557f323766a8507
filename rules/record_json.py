"""A PM record's JSON text as the raw layer has always written it, through orjson (pure).

The raw layer writes a record as `json.dumps(record, separators=(",", ":"), ensure_ascii=False,
default=str)` and hashes that text; sealing writes it again with the personal fields encrypted. At a
million entries that text was written three times per record, about a tenth of a group close's CPU.
orjson writes it about ten times faster, but is not the standard library:

- it writes floats below 1e-4 in another form (`0.00001` and `1e-7` for `1e-05` and `1e-07`): a text
  holding `e-` or `0.0000` is checked for them and, if it holds one, written by the standard library;
- it refuses integers beyond 64 bits, unpaired surrogates, subclasses of the JSON types, dates and
  decimals: the standard library writes those;
- it writes NaN and infinities as null. Records are read by `rules.page_json.loads`, which makes every
  non-finite number a `NonFiniteNumber`, a subclass orjson refuses: so they too are written by the
  standard library. A plain float NaN would be written as null: read records with `page_json.loads`.

Values are what JSON decodes to: orjson would write an Enum or a numpy number its own way, and no
record holds one. tests/unit/test_record_json.py holds `record_text` to the standard library's text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# Where orjson writes a float below 1e-4 unlike repr(): the substring tests are cheap, the pattern is not.
_SMALL_FLOAT = re.compile(rb"[0-9]e-|0\.0000")
_EXACT = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def record_text(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)`, byte for byte, for a
    value read by `rules.page_json.loads` (or holding no NaN or infinity that is a plain float)."""
    try:
        written = orjson.dumps(value, option=_EXACT)
    except TypeError:  # orjson.JSONEncodeError: a subclass, a date, a huge integer, an unpaired surrogate
        return _stdlib_text(value)
    if (b"e-" in written or b"0.0000" in written) and _SMALL_FLOAT.search(written):
        return _stdlib_text(value)
    return written.decode("utf-8")


def _stdlib_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
