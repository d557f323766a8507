"""Payload drift, measured against the registered shape or the previous extraction (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.drift import PayloadProfile, compare
from rules.schemas.payloads import HARVEST_TIME_ENTRY
from tests.factories import time_entry


def _profile(records: list[dict[str, Any]]) -> PayloadProfile:
    profile = PayloadProfile()
    for record in records:
        profile.observe(record)
    return profile


def _entries(n: int = 30, **changes: Any) -> list[dict[str, Any]]:
    return [{**time_entry(i, 1.5, 150.0), **changes} for i in range(1, n + 1)]


def test_payloads_matching_the_registered_shape_show_no_drift() -> None:
    drift = compare(_profile(_entries()), None, HARVEST_TIME_ENTRY)
    assert drift.changes == () and "harvest.time_entry 2.0.0" in drift.baseline


def test_a_priced_field_turning_string_for_most_records_blocks() -> None:
    drift = compare(_profile(_entries(hours="1.5")), None, HARVEST_TIME_ENTRY)
    [change] = drift.changes
    assert (change.field, change.change, change.before, change.after, change.blocking) == (
        "hours", "type_change", "number", "string", True,
    )  # fmt: skip


def test_one_malformed_record_warns_but_does_not_block() -> None:
    baseline = _profile(_entries())
    now = _profile([*_entries(29), {**time_entry(99, "1.5", 150.0)}])
    [change] = compare(now, baseline, HARVEST_TIME_ENTRY).changes
    assert (change.field, change.change, change.after, change.blocking) == (
        "hours",
        "type_change",
        "number,string",
        False,
    )


def test_new_and_missing_fields_and_null_rate_jumps_against_the_previous_extraction() -> None:
    baseline = _profile(_entries())
    records = [
        {k: v for k, v in r.items() if k != "started_time"} | {"rounded_hours": 1.5} for r in _entries()
    ]
    for record in records[:20]:
        record["task"] = None
    drift = compare(_profile(records), baseline, HARVEST_TIME_ENTRY)
    found = {(c.field, c.change) for c in drift.changes}
    assert ("rounded_hours", "new_field") in found
    assert ("started_time", "missing_field") in found
    assert ("task", "null_rate_jump") in found
    assert not drift.blocking  # none of them is a field money depends on changing type
    assert "| `rounded_hours` | new_field |" in drift.markdown()


def test_a_priced_field_vanishing_blocks() -> None:
    baseline = _profile(_entries())
    records = [{k: v for k, v in r.items() if k != "billable_rate"} for r in _entries()]
    [change] = compare(_profile(records), baseline, HARVEST_TIME_ENTRY).changes
    assert (change.field, change.change, change.blocking) == ("billable_rate", "missing_field", True)


def test_a_stored_profile_reads_back_the_same() -> None:
    profile = _profile(_entries())
    again = PayloadProfile.from_rows(profile.records, profile.rows())
    assert compare(profile, again, HARVEST_TIME_ENTRY).changes == ()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3),
    max_leaves=6,
)


@settings(deadline=None)  # the first example pays for imports
@given(
    st.lists(st.dictionaries(st.sampled_from(["id", "hours", "user", "notes"]), _JSON_VALUES), max_size=12)
)
def test_the_profile_counts_each_field_as_a_record_by_record_count_does(
    records: list[dict[str, Any]],
) -> None:
    expected: dict[str, tuple[int, int, dict[str, int]]] = {}
    for record in records:  # the oracle: every field path of every record, counted one at a time
        pairs = list(record.items())
        pairs += [(f"{k}.{i}", v) for k, n in record.items() if isinstance(n, dict) for i, v in n.items()]
        for path, value in pairs:
            present, nulls, types = expected.get(path, (0, 0, {}))
            kind = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}.get(
                type(value), "object" if isinstance(value, dict) else "array"
            )
            expected[path] = (present + 1, nulls + (value is None), {**types, kind: types.get(kind, 0) + 1})
    profile = _profile([*records, "not an object"])  # type: ignore[list-item]
    assert profile.records == len(records) + 1
    counted = {path: (p.present, p.nulls, dict(p.types)) for path, p in profile.fields.items()}
    assert counted == expected
