"""A PM record's JSON text (rules/exact_json.py): written through orjson, and always exactly what the
standard library writes, so no payload hash and no stored payload changes."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.exact_json import record_text
from rules.page_json import NonFiniteNumber
from rules.page_json import loads as page_loads


def _stdlib_text(value: Any) -> str:
    """How the raw layer has always written a record."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def test_where_orjson_and_the_standard_library_write_differently_the_standard_library_writes() -> None:
    written = {
        "1e-05": 1e-05, "1.5e-07": 1.5e-7, "NaN": NonFiniteNumber("NaN"), "-Infinity": NonFiniteNumber("-inf"),
        "1180591620717411303424": 2**70, "0.25": 0.25, "1e+16": 1e16, '"Zoë \ud800"': "Zoë \ud800",
        '"e-mail 0.00001"': "e-mail 0.00001",
    }  # fmt: skip
    for text, value in written.items():  # one at a time: each must take the standard library's path itself
        assert record_text({"v": value, "locked": None}) == '{"v":' + text + ',"locked":null}'


def test_a_record_read_from_a_page_is_written_back_as_sent() -> None:
    sent = '{"id":7,"hours":NaN,"rate":Infinity,"big":1e400,"small":1e-05,"notes":null}'
    assert (
        record_text(page_loads(sent))
        == '{"id":7,"hours":NaN,"rate":Infinity,"big":Infinity,"small":1e-05,"notes":null}'
    )


def _marked(value: float) -> float:
    """A float as `page_json.loads` reads it: non-finite numbers marked."""
    return value if math.isfinite(value) else NonFiniteNumber(value)


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats().map(_marked) | st.floats(min_value=-1e-3, max_value=1e-3) | st.text()
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


@settings(deadline=None, max_examples=300)
@given(_VALUES)
def test_any_text_read_as_a_page_is_written_back_as_the_standard_library_writes_it(value: Any) -> None:
    read = page_loads(json.dumps(value, ensure_ascii=False))
    assert record_text(read) == _stdlib_text(read)
