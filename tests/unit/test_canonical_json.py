"""The text a document's content hash is taken of (rules/exact_json.py): written by orjson, and
byte for byte what the standard library wrote, so no posted document's hash changes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.documents import content_hash
from rules.exact_json import canonical_text


def _stdlib(value: Any) -> str:
    """The text every content hash has been taken of since the first document was hashed."""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def test_a_document_hashes_as_it_always_has() -> None:
    header = {"invoice_number": "BB-US-202511-0001", "contact_name": "Müller & Söhne", "total": Decimal("1210.50"),
              "date": date(2025, 11, 30), "sent_at": datetime(2025, 12, 1, 9, 30, tzinfo=UTC), "lines": 2}  # fmt: skip
    lines = [{"description": "Design ☕ 𝄞", "quantity": Decimal("7.25"), "billable": True, "task": None}]
    # The SHA-256 of the standard library's text, computed once with `hashlib.sha256(json.dumps(...))`
    # and written out: the hash itself, not only its text, must not move.
    assert content_hash(header, lines) == "f7dbe3ddb1c931d00b97694bfc11a553c8844fe551f7a040a5ef299bf30e9c79"


def test_characters_outside_printable_ascii_are_escaped_as_the_standard_library_escapes_them() -> None:
    value = {"header": {"name": 'é\x7f\x1f\n"\\/ 𝄞', "é": 1}, "lines": []}
    assert (
        canonical_text(value)
        == '{"header":{"name":"\\u00e9\\u007f\\u001f\\n\\"\\\\/ \\ud834\\udd1e","\\u00e9":1},"lines":[]}'
    )


def test_dates_and_times_are_written_as_str_writes_them() -> None:
    value = {"header": {"at": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "day": date(2025, 1, 2)}}
    assert canonical_text(value) == '{"header":{"at":"2025-01-02 03:04:05.000006+00:00","day":"2025-01-02"}}'


_KEYS = st.text(max_size=4)
_PLAIN = (
    st.none() | st.booleans() | st.integers() | st.text() | st.decimals(allow_nan=False, places=4)
    | st.dates() | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))]))
    | st.floats()  # not in a document, but written by the standard library if ever there
)  # fmt: skip
_RECORDS = st.dictionaries(_KEYS, _PLAIN, max_size=6)
_NESTED = st.dictionaries(_KEYS, st.lists(_PLAIN, max_size=2) | _RECORDS, max_size=2)


@settings(deadline=None, max_examples=400)
@given(st.fixed_dictionaries({"header": _RECORDS | _NESTED, "lines": st.lists(_RECORDS, max_size=4)}))
def test_any_document_is_written_as_the_standard_library_writes_it(document: dict[str, Any]) -> None:
    assert canonical_text(document) == _stdlib(document)
