"""Payload drift (pure): how the records of one extraction differ from what we expect of their list.

A profile counts, per field path (top level and one level into nested objects), how many records
carry the field, how many carry it as null, and which JSON types its values have. Comparing it
with a baseline (the previous extraction's profile, or the registered payload shape when there is
none) names new fields, missing fields, type changes and null rates that jumped. A type change of a
field money depends on (`priced` in the registry) is what blocks the layers below.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rules.pm_screening import json_type_of
from rules.schemas.payloads import INTEGER, NULL, NUMBER, PayloadSchema

NULL_RATE_JUMP = 0.25  # a field's share of nulls rising by more than this is reported
MIN_RECORDS_FOR_RATES = 20  # below this, a null rate says little


@dataclass
class FieldProfile:
    """One field across the records of an extraction."""

    present: int = 0
    nulls: int = 0
    types: Counter[str] = field(default_factory=Counter)

    @property
    def value_types(self) -> frozenset[str]:
        """The JSON types of its non-null values (an integer where numbers are allowed counts as a number)."""
        return frozenset(NUMBER if t == INTEGER else t for t in self.types if t != NULL)

    @property
    def dominant(self) -> str | None:
        """The JSON type most of its non-null values have (None when it is always null)."""
        merged = Counter({NUMBER if t == INTEGER else t: 0 for t in self.types if t != NULL})
        for kind, count in self.types.items():
            if kind != NULL:
                merged[NUMBER if kind == INTEGER else kind] += count
        return merged.most_common(1)[0][0] if merged else None


@dataclass(eq=False)
class PayloadProfile:
    """Field profiles of the records of one list, observed one record at a time.

    A record is observed as its shape (its fields' names and value classes), and the shapes are counted:
    a list's records share a few shapes, so the per-field counts are made once per shape when read.
    """

    records: int = 0
    _fields: dict[str, FieldProfile] = field(default_factory=dict, repr=False)
    _shapes: Counter[tuple[tuple[Any, ...], ...]] = field(default_factory=Counter, repr=False)

    @property
    def fields(self) -> dict[str, FieldProfile]:
        """Each field path (top level, and one level into nested objects) with its counts."""
        for shape, count in self._shapes.items():
            for path, value_class in _paths(shape):
                profile = self._fields.setdefault(path, FieldProfile())
                profile.present += count
                profile.nulls += count if value_class is _NONE else 0
                profile.types[json_type_of(value_class)] += count
        self._shapes.clear()
        return self._fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PayloadProfile):
            return NotImplemented
        return self.records == other.records and self.fields == other.fields

    def observe(self, record: Any) -> None:
        """Count one record (anything that is not an object is only counted)."""
        self.records += 1
        if not isinstance(record, dict):
            return
        shape: list[tuple[Any, ...]] = []
        for key, value in record.items():
            value_class = value.__class__
            shape.append((key, value_class))
            if value_class is dict:
                shape += [(key, inner, nested.__class__) for inner, nested in value.items()]
        self._shapes[tuple(shape)] += 1

    def null_rate(self, path: str) -> float:
        """The share of records where the field is absent or null."""
        profile = self.fields.get(path)
        if not self.records:
            return 0.0
        carried = (profile.present - profile.nulls) if profile else 0
        return 1 - carried / self.records

    def rows(self) -> list[dict[str, Any]]:
        """One row per field, for storing as the next baseline."""
        return [
            {"field": path, "present": p.present, "nulls": p.nulls, "types": ",".join(sorted(p.value_types))}
            for path, p in sorted(self.fields.items())
        ]

    @classmethod
    def from_rows(cls, records: int, rows: list[dict[str, Any]]) -> PayloadProfile:
        """A stored profile (see `rows`)."""
        profile = cls(records)
        for row in rows:
            types = Counter({t: 1 for t in str(row["types"]).split(",") if t})
            profile.fields[row["field"]] = FieldProfile(int(row["present"]), int(row["nulls"]), types)
        return profile


_NONE = type(None)


def _paths(shape: tuple[tuple[Any, ...], ...]) -> list[tuple[str, type]]:
    """(field path, value class) of each field in a record's shape."""
    return [(f"{item[0]}.{item[1]}", item[2]) if len(item) == 3 else (item[0], item[1]) for item in shape]


@dataclass(frozen=True)
class FieldDrift:
    """One difference between a profile and its baseline."""

    field: str
    change: str  # new_field, missing_field, type_change, null_rate_jump
    before: str
    after: str
    priced: bool
    # A field money depends on vanished or changed type for most records (not one malformed record,
    # which the screen rejects): lines priced from it would be wrong, so the layers below wait.
    blocking: bool = False


@dataclass(frozen=True)
class Drift:
    """Every difference found, and the baseline it was measured against."""

    baseline: str
    changes: tuple[FieldDrift, ...]

    @property
    def blocking(self) -> tuple[FieldDrift, ...]:
        return tuple(c for c in self.changes if c.blocking)

    def markdown(self) -> str:
        """The diff as a table for the UI."""
        if not self.changes:
            return f"No drift against {self.baseline}."
        lines = [
            f"Against {self.baseline}:",
            "",
            "| field | change | before | after | priced |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{c.field}` | {c.change} | {c.before} | {c.after} | {'yes' if c.priced else ''} |"
            for c in self.changes
        ]
        return "\n".join(lines)


def _types_text(types: frozenset[str]) -> str:
    return ",".join(sorted(types)) or "null only"


def compare(profile: PayloadProfile, baseline: PayloadProfile | None, schema: PayloadSchema) -> Drift:
    """How `profile` differs from `baseline` (or, without one, from the registered `schema`)."""
    if profile.records == 0:
        return Drift("nothing extracted", ())
    priced = {f.path for f in schema.fields if f.priced}
    if baseline is None or baseline.records == 0:
        return Drift(f"the registered {schema.name} {schema.version}", _against_schema(profile, schema))
    changes = [
        change
        for path in sorted(set(profile.fields) | set(baseline.fields))
        if (change := _field_drift(path, profile, baseline, path in priced)) is not None
    ]
    return Drift("the previous extraction", tuple(changes))


def _field_drift(
    path: str, profile: PayloadProfile, baseline: PayloadProfile, priced: bool
) -> FieldDrift | None:
    now, before = profile.fields.get(path), baseline.fields.get(path)
    if before is None:
        assert now is not None
        return FieldDrift(path, "new_field", "absent", _types_text(now.value_types), priced)
    was = _types_text(before.value_types)
    if now is None:
        return FieldDrift(path, "missing_field", was, "absent", priced, blocking=priced)
    if now.value_types and before.value_types and now.value_types != before.value_types:
        turned = now.dominant != before.dominant
        return FieldDrift(path, "type_change", was, _types_text(now.value_types), priced, turned and priced)
    if min(profile.records, baseline.records) >= MIN_RECORDS_FOR_RATES:
        rate_before, rate = baseline.null_rate(path), profile.null_rate(path)
        if rate - rate_before > NULL_RATE_JUMP:
            return FieldDrift(path, "null_rate_jump", f"{rate_before:.0%} null", f"{rate:.0%} null", priced)
    return None


def _against_schema(profile: PayloadProfile, schema: PayloadSchema) -> tuple[FieldDrift, ...]:
    changes = []
    for spec in schema.fields:
        seen = profile.fields.get(spec.path)
        expected = frozenset(NUMBER if t == INTEGER else t for t in spec.types if t != NULL)
        if seen is None:
            if spec.required:
                changes.append(
                    FieldDrift(
                        spec.path, "missing_field", _types_text(expected), "absent", spec.priced, spec.priced
                    )
                )
        elif seen.value_types and not seen.value_types <= expected:
            turned = seen.dominant not in expected
            became = _types_text(seen.value_types)
            changes.append(
                FieldDrift(
                    spec.path,
                    "type_change",
                    _types_text(expected),
                    became,
                    spec.priced,
                    turned and spec.priced,
                )
            )
    return tuple(changes)
