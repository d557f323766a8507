"""The kept pages' JSON (rules/page_json.py): written fast, read back as the provider sent it."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.exact_json import record_text
from rules.page_json import NonFiniteNumber, dumps, loads, read_back


def test_non_finite_numbers_are_written_back_as_sent_not_as_null() -> None:
    page = loads('{"hours": NaN, "rate": Infinity, "cost": -Infinity, "big": 1e400, "ok": 1.25}')
    assert isinstance(page["hours"], NonFiniteNumber) and math.isnan(page["hours"])
    assert dumps(page) == '{"hours":NaN,"rate":Infinity,"cost":-Infinity,"big":Infinity,"ok":1.25}'


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    page = loads('{"id": 123456789012345678901234567890, "notes": "\\ud800 alone"}')
    assert loads(dumps(page)) == {"id": 123456789012345678901234567890, "notes": "\ud800 alone"}


def test_an_ordinary_page_is_compact_utf8_json() -> None:
    page = {"records": [{"id": 1, "hours": 1.5, "notes": "Café ☕", "billable": True, "task": None}]}
    assert dumps(page) == '{"records":[{"id":1,"hours":1.5,"notes":"Café ☕","billable":true,"task":null}]}'


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@settings(deadline=None)
@given(_VALUES)
def test_a_page_read_back_is_the_page_the_standard_library_reads(value: Any) -> None:
    sent = json.dumps(value)  # what a provider might send, NaN included
    kept = dumps(loads(sent))
    assert json.dumps(loads(kept)) == json.dumps(json.loads(sent))


def _typed(value: Any) -> Any:
    """`value` with every scalar's exact type beside it, so 1 and 1.0 (and a marked NaN) differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return (type(value).__name__, "nan")
    return (type(value).__name__, value)


_KEPT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats() | st.floats(min_value=-1e-3, max_value=1e-3) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@settings(deadline=None, max_examples=400)
@given(_KEPT)
def test_a_kept_text_is_read_back_as_loads_reads_it(value: Any) -> None:
    for kept in (dumps(loads(json.dumps(value))), record_text(loads(json.dumps(value)))):
        assert _typed(read_back(kept)) == _typed(loads(kept))


def test_what_orjson_would_read_otherwise_is_read_by_the_standard_library() -> None:
    for kept in ('{"id":123456789012345678901234567890}', '{"h":NaN}', '{"a":1,"a":2}', '{"r":1e+16}'):
        assert _typed(read_back(kept)) == _typed(loads(kept))
    assert isinstance(read_back('{"h":NaN}')["h"], NonFiniteNumber)
    assert read_back('{"id":18446744073709551616}')["id"] == 2**64  # orjson would give a float
