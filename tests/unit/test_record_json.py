"""A PM record's JSON text (rules/record_json.py): read and written through orjson, and always exactly
what the standard library reads and writes, so no payload hash and no stored payload changes."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.page_json import NonFiniteNumber
from rules.page_json import loads as page_loads
from rules.record_json import parse_record, record_text


def _stdlib_text(value: Any) -> str:
    """How the raw layer has always written a record."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types, keys in the same order (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def test_where_orjson_and_the_standard_library_write_differently_the_standard_library_writes() -> None:
    written = {
        "1e-05": 1e-05, "1.5e-07": 1.5e-7, "NaN": float("nan"), "-Infinity": float("-inf"),
        "1180591620717411303424": 2**70, "0.25": 0.25, "1e+16": 1e16, '"Zoë \ud800"': "Zoë \ud800",
    }  # fmt: skip
    for text, value in written.items():  # one at a time: each must take the standard library's path itself
        assert record_text({"v": value, "locked": None}) == '{"v":' + text + ',"locked":null}'
    assert record_text([NonFiniteNumber("NaN")]) == "[NaN]"


def test_where_orjson_reads_differently_the_standard_library_reads() -> None:
    text = '{"id": 123456789012345678901, "low": -9223372036854775809, "hours": NaN, "x": 1e400}'
    record = parse_record(text)
    assert record["id"] == 123456789012345678901 and record["low"] == -9223372036854775809
    assert math.isnan(record["hours"]) and record["x"] == math.inf
    marked = page_loads(text)
    assert isinstance(marked["hours"], NonFiniteNumber) and marked["id"] == 123456789012345678901


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats() | st.floats(min_value=-1e-3, max_value=1e-3) | st.text()
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=25,
)


@settings(deadline=None, max_examples=500)
@given(_VALUES)
def test_any_record_is_written_as_the_standard_library_writes_it(value: Any) -> None:
    assert record_text(value) == _stdlib_text(value)


@settings(deadline=None, max_examples=500)
@given(_VALUES)
def test_any_text_is_read_as_the_standard_library_reads_it(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)  # NaN and infinities included, as a provider may send
    assert _same(parse_record(text), json.loads(text))
    assert _same(parse_record(text.encode("utf-8")), json.loads(text))
