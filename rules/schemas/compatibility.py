"""Compatibility rules between a released shape and today's, and the version bump each change needs (pure).

Tables: adding an optional column (nullable, or with a default) is minor; adding a required one,
removing or renaming a column (a rename is a removal plus an addition) is major; widening a type
(INTEGER to BIGINT, a decimal with at least as many integer and fraction digits, NOT NULL to
nullable) is minor; narrowing is major. Payloads: a new field or a type allowed in addition is
minor; a field we rely on removed, a type no longer allowed, or a field becoming required is major.
A change whose bump is not declared in the version fails `undeclared` (docs/decisions/0022).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rules.schemas.payloads import PayloadSchema
from rules.schemas.registry import TableSchema

MAJOR, MINOR = "major", "minor"
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class Change:
    """One difference between a released shape and today's."""

    subject: str  # table or payload name
    what: str
    level: str  # MAJOR or MINOR


def snapshot(tables: dict[str, TableSchema], payloads: dict[str, PayloadSchema]) -> dict[str, Any]:
    """Every shape as plain data, for keeping a release in the repository (docs/schemas/)."""
    return {
        "tables": {
            t.name: {
                "version": t.version,
                "columns": [
                    {"name": c.name, "type": c.type, "nullable": c.nullable, "default": c.default}
                    for c in t.columns
                ],
                "primary_key": list(t.primary_key),
            }
            for t in sorted(tables.values(), key=lambda t: t.name)
        },
        "payloads": {
            p.name: {
                "version": p.version,
                "fields": [
                    {"path": f.path, "types": sorted(f.types), "required": f.required} for f in p.fields
                ],
            }
            for p in sorted({p.name: p for p in payloads.values()}.values(), key=lambda p: p.name)
        },
    }


def _widens(old: str, new: str) -> bool:
    if (old, new) == ("INTEGER", "BIGINT"):
        return True
    was, now = _DECIMAL.match(old), _DECIMAL.match(new)
    if was and now:
        (p1, s1), (p2, s2) = (int(was[1]), int(was[2])), (int(now[1]), int(now[2]))
        return s2 >= s1 and p2 - s2 >= p1 - s1
    return False


def table_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed in one table between two snapshots' entries."""
    before = {c["name"]: c for c in old["columns"]}
    after = {c["name"]: c for c in new["columns"]}
    changes = [Change(name, f"column {c} removed or renamed", MAJOR) for c in before if c not in after]
    for column, spec in after.items():
        if column not in before:
            optional = spec["nullable"] or spec.get("default") is not None
            changes.append(
                Change(
                    name,
                    f"column {column} added ({'optional' if optional else 'required'})",
                    MINOR if optional else MAJOR,
                )
            )
            continue
        was = before[column]
        if was["type"] != spec["type"]:
            level = MINOR if _widens(was["type"], spec["type"]) else MAJOR
            word = "widened" if level == MINOR else "narrowed or changed"
            changes.append(Change(name, f"column {column} {word}: {was['type']} -> {spec['type']}", level))
        if was["nullable"] != spec["nullable"]:
            level = MINOR if spec["nullable"] else MAJOR
            changes.append(
                Change(
                    name,
                    f"column {column} {'may now be null' if spec['nullable'] else 'became NOT NULL'}",
                    level,
                )
            )
    if old.get("primary_key", []) != new.get("primary_key", []):
        changes.append(
            Change(name, f"primary key {old.get('primary_key')} -> {new.get('primary_key')}", MAJOR)
        )
    return changes


def payload_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed in one payload's registered fields between two snapshots' entries."""
    before = {f["path"]: f for f in old["fields"]}
    after = {f["path"]: f for f in new["fields"]}
    changes = [Change(name, f"field {p} no longer read", MINOR) for p in before if p not in after]
    for path, spec in after.items():
        if path not in before:
            level = MAJOR if spec["required"] else MINOR
            changes.append(Change(name, f"field {path} added", level))
            continue
        dropped, added = (
            set(before[path]["types"]) - set(spec["types"]),
            set(spec["types"]) - set(before[path]["types"]),
        )
        if dropped:
            changes.append(Change(name, f"field {path} no longer allows {', '.join(sorted(dropped))}", MAJOR))
        if added:
            changes.append(Change(name, f"field {path} also allows {', '.join(sorted(added))}", MINOR))
        if spec["required"] and not before[path]["required"]:
            changes.append(Change(name, f"field {path} became required", MAJOR))
    return changes


def _bump(old: str, new: str) -> str | None:
    (a1, b1, _), (a2, b2, _) = (tuple(int(x) for x in v.split(".")) for v in (old, new))
    if a2 > a1:
        return MAJOR
    return MINOR if (a2 == a1 and b2 > b1) else None


def undeclared(released: dict[str, Any], current: dict[str, Any], retired: dict[str, str]) -> list[str]:
    """One line per change whose version bump is missing (an empty list: compatible as declared).

    A table or payload gone from today's registry must be listed in `retired` with the reason.
    """
    problems: list[str] = []
    for kind, diff in (("tables", table_changes), ("payloads", payload_changes)):
        for name, old in released[kind].items():
            new = current[kind].get(name)
            if new is None:
                if name not in retired:
                    problems.append(f"{name}: removed without being listed as retired (a breaking change)")
                continue
            changes = diff(name, old, new)
            needed = MAJOR if any(c.level == MAJOR for c in changes) else MINOR if changes else None
            declared = _bump(old["version"], new["version"])
            if needed == MAJOR and declared != MAJOR:
                what = "; ".join(c.what for c in changes if c.level == MAJOR)
                problems.append(
                    f"{name}: undeclared breaking change ({what}): bump {old['version']} to the next major"
                )
            elif needed == MINOR and declared is None:
                what = "; ".join(c.what for c in changes)
                problems.append(
                    f"{name}: undeclared change ({what}): bump {old['version']} to the next minor"
                )
    return problems
