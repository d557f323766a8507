"""Screening PM records before they enter the raw layer (pure): each record is read through the
translator of its source version, then judged against its registered payload shape
(rules/schemas/payloads.py). A record that fails is rejected with a reason naming the record, the
field and the value; the rest proceed. Duplicates within one extraction collapse to one version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from rules.exact_json import record_text
from rules.schemas.payloads import (
    AMOUNT,
    BOOLEAN,
    DATE,
    ID,
    INTEGER,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    PayloadField,
    PayloadSchema,
)

MAX_ID = 2**63 - 1  # raw rows key records by BIGINT
MAX_AMOUNT = 10**12  # the largest magnitude our decimal text rule reads (12 integer digits)
VALUE_EXCERPT = 120

# Record shapes by source version. Harvest's v1 called the day `spent_at`; v2 renamed it
# `spent_date`. An account answering with the old name is read through the legacy translator,
# so it extracts the same rows (docs/decisions/0021).
RECORD_V2 = "v2"
RECORD_LEGACY = "v2-legacy-spent_at"
LEGACY_RENAMES = {"spent_at": "spent_date"}
# Source versions still read but announced for removal (README, "Deprecation policy"): an extraction
# that meets one says so in its payload drift check.
DEPRECATED_RECORD_VERSIONS = {RECORD_LEGACY: "Harvest v1 field names (spent_at), deprecated in 0.2.0"}


@dataclass(frozen=True)
class Rejection:
    """A record (or page) held back from the raw layer, and why."""

    record_ref: str  # the id as sent (JSON text), or "#n" (its position) when it has no usable id
    field: str
    value: str  # the offending value as JSON text, cut short
    reason: str  # a short code: missing_field, wrong_type, invalid_id, invalid_date, not_finite, out_of_range
    detail: str  # one line naming record, field and value
    payload: str
    day: date | None
    record_id: int | None = None  # the id when it is a usable one: the record's last good version is kept


@dataclass(frozen=True)
class Screened:
    """One page's records after screening: the records that proceed (translated), and the rejected."""

    accepted: list[tuple[dict[str, Any], str]]  # (record, record shape version)
    rejected: list[Rejection]


def translate_record(record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The record in today's shape and the source version it was read as."""
    if any(old in record and new not in record for old, new in LEGACY_RENAMES.items()):
        renamed = {LEGACY_RENAMES.get(key, key): value for key, value in record.items()}
        return renamed, RECORD_LEGACY
    return record, RECORD_V2


def json_type(value: Any) -> str:
    """The JSON type of a decoded value (a bool is never an integer)."""
    return json_type_of(value.__class__)


# The classes JSON decodes to, found without the subclass checks (screening asks for every field).
_JSON_TYPES = {
    type(None): NULL,
    bool: BOOLEAN,
    int: INTEGER,
    float: NUMBER,
    str: STRING,
    dict: OBJECT,
    list: "array",
}


def json_type_of(value_class: type) -> str:
    """The JSON type of the values of a decoded value's class (rules/drift.py counts classes)."""
    kind = _JSON_TYPES.get(value_class)
    if kind is not None:
        return kind
    if value_class is type(None):
        return NULL
    if issubclass(value_class, bool):
        return BOOLEAN
    if issubclass(value_class, int):
        return INTEGER
    if issubclass(value_class, float):
        return NUMBER
    if issubclass(value_class, str):
        return STRING
    return OBJECT if issubclass(value_class, dict) else "array"


def excerpt(value: Any) -> str:
    """A value as JSON text, cut to VALUE_EXCERPT characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_EXCERPT else text[: VALUE_EXCERPT - 1] + "…"


_MISSING = object()


def _lookup(record: dict[str, Any], parts: tuple[str, ...]) -> Any:
    value: Any = record
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _format_problem(spec: PayloadField, value: Any) -> tuple[str, str] | None:
    """(reason, expectation) when a value of an allowed type breaks the field's format."""
    if value is None:
        return None
    if spec.format == ID and not 1 <= value <= MAX_ID:
        return "invalid_id", f"an id between 1 and {MAX_ID}"
    if spec.format == DATE:
        return None if _calendar_day(value) else ("invalid_date", "a calendar date YYYY-MM-DD")
    if spec.format == AMOUNT:
        if isinstance(value, float) and not math.isfinite(value):
            return "not_finite", "a finite number"
        if abs(value) >= MAX_AMOUNT:
            return "out_of_range", f"a number below {MAX_AMOUNT:.0e} in magnitude"
    return None


def _calendar_day(value: str) -> date | None:
    if len(value) != 10:  # fromisoformat also takes 20260814 and week dates; the contract says YYYY-MM-DD
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def field_problem(spec: PayloadField, record: dict[str, Any]) -> tuple[str, Any, str] | None:
    """(reason, value, expectation) for the first way `record` breaks `spec`, else None."""
    value = _lookup(record, spec.parts)
    if value is _MISSING or value is None:
        return ("missing_field", None, "a value") if spec.required else None
    kind = json_type(value)
    if kind not in spec.accepted:
        expected = " or ".join(sorted(spec.types - {NULL}))
        return "wrong_type", value, f"a JSON {expected}, not a {kind}"
    problem = _format_problem(spec, value)
    return (problem[0], value, problem[1]) if problem else None


def _ref(record: Any, position: int) -> str:
    value = record.get("id") if isinstance(record, dict) else None
    return f"id={excerpt(value)}" if value is not None else f"#{position}"


def usable_id(record: dict[str, Any]) -> int | None:
    """The record's id when it can key a raw row (an integer in 1 .. 2^63 - 1), else None."""
    value = record.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 1 <= value <= MAX_ID else None


def screen_record(
    resource: str, schema: PayloadSchema, record: Any, position: int
) -> tuple[dict[str, Any], str] | Rejection:
    """The translated record and its source version, or the Rejection naming what is wrong with it."""
    if not isinstance(record, dict):
        kind = json_type(record)
        detail = f"{resource} item #{position}: not an object but a {kind}: {excerpt(record)}"
        return Rejection(
            f"#{position}", "(record)", excerpt(record), "not_an_object", detail, record_text(record), None
        )
    translated, version = translate_record(record)
    day = _calendar_day(translated["spent_date"]) if isinstance(translated.get("spent_date"), str) else None
    for spec in schema.fields:
        problem = field_problem(spec, translated)
        if problem is not None:
            reason, value, expected = problem
            ref = _ref(translated, position)
            detail = f"{resource} record {ref}: field {spec.path} = {excerpt(value)}: {reason}, expected {expected}"
            # The text as sent, written only for the few rejected (it was a tenth of screening).
            return Rejection(
                ref,
                spec.path,
                excerpt(value),
                reason,
                detail,
                record_text(record),
                day,
                usable_id(translated),
            )
    return translated, version


def screen_page(resource: str, schema: PayloadSchema, records: Iterable[Any]) -> Screened:
    """Screen every record of a page, keeping the page's order."""
    accepted: list[tuple[dict[str, Any], str]] = []
    rejected: list[Rejection] = []
    for position, record in enumerate(records):
        outcome = screen_record(resource, schema, record, position)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
        else:
            accepted.append(outcome)
    return Screened(accepted, rejected)


def spent_day(record: dict[str, Any]) -> date:
    """The day of a screened dated record (screening guarantees a calendar date)."""
    day = _calendar_day(record["spent_date"])
    assert day is not None, "screened records carry a calendar spent_date"
    return day
