"""The accounting sandbox's JSON text (sandbox/xero/exact.py): written through orjson, and always the
text the sandbox wrote by hand before, so stored documents, answers and idempotency fingerprints
keep their bytes."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.xero.exact import dumps_exact
from sandbox.xero.idempotency import request_fingerprint


def _by_hand(value: Any, sort_keys: bool = False) -> str:
    """How the sandbox always wrote a value, written out here: compact, each Decimal's own digits,
    strings as the standard library writes them without escaping beyond ASCII."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        keys = sorted(value) if sort_keys else list(value)
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_by_hand(value[k], sort_keys)}" for k in keys)
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_by_hand(v, sort_keys) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_any_json_value_is_written_as_by_hand(value: Any) -> None:
    assert dumps_exact(value) == _by_hand(value)
    assert dumps_exact(value, sort_keys=True) == _by_hand(value, sort_keys=True)


def test_what_orjson_refuses_is_written_or_refused_as_before() -> None:
    assert (
        dumps_exact({"big": 2**70, "amount": Decimal("1E+2")})
        == '{"big":1180591620717411303424,"amount":100}'
    )
    assert dumps_exact({1: "one", "b": Decimal("-0.50")}) == '{"1":"one","b":-0.50}'
    assert dumps_exact({"odd": "a\ud800b"}) == '{"odd":"a\ud800b"}'
    with pytest.raises(ValueError, match="cannot write NaN"):
        dumps_exact({"amount": Decimal("NaN")})
    with pytest.raises(TypeError, match="cannot serialize date"):
        dumps_exact({"Date": date(2026, 10, 31)})


def test_a_fingerprint_ignores_key_order_and_whitespace_but_not_digits() -> None:
    one = request_fingerprint("PUT", "/Invoices", False, None, b'{"b": 1.50, "a": {"y": 1, "x": "\xc3\xa9"}}')
    same = request_fingerprint("PUT", "/Invoices", False, None, b'{"a":{"x":"\\u00e9","y":1},"b":1.50}')
    other = request_fingerprint("PUT", "/Invoices", False, None, b'{"a":{"x":"\\u00e9","y":1},"b":1.5}')
    assert one == same != other
