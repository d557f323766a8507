"""The release rule (decision 0039): the package version, the CHANGELOG and the released shapes agree.

- The pyproject version is the newest released CHANGELOG heading (`## X.Y.Z`), or, while the
  `## Unreleased` section has entries, the one version a step above it that the next release carries.
- A breaking change of a registered shape since the newest released snapshot (docs/schemas/) needs
  a major bump of the package version over that release (below 1.0, semver's 0.y rule: the minor).
- Every shape added, removed or changed since that snapshot is named in the Unreleased section.

Pure: the caller reads the files and passes their text and the two snapshots.
"""

from __future__ import annotations

import re
from typing import Any

from rules.schemas.compatibility import MAJOR, payload_changes, table_changes

_HEADING = re.compile(r"^## +\[?(Unreleased|\d+\.\d+\.\d+)\]?", re.MULTILINE | re.IGNORECASE)
Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """`1.2.3` as (1, 2, 3); ValueError for anything else."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if match is None:
        raise ValueError(f"not a version X.Y.Z: {text!r}")
    return int(match[1]), int(match[2]), int(match[3])


def changelog_sections(text: str) -> tuple[str, list[Version]]:
    """The Unreleased section's text (empty when absent) and the released headings, newest first."""
    headings = list(_HEADING.finditer(text))
    unreleased, released = "", []
    for n, heading in enumerate(headings):
        end = headings[n + 1].start() if n + 1 < len(headings) else len(text)
        if heading[1].lower() == "unreleased":
            unreleased = text[heading.end() : end]
        else:
            released.append(parse_version(heading[1]))
    return unreleased, sorted(released, reverse=True)


def next_versions(version: Version) -> set[Version]:
    """The versions one step above `version`: next patch, minor and major."""
    major, minor, patch = version
    return {(major, minor, patch + 1), (major, minor + 1, 0), (major + 1, 0, 0)}


def is_major_bump(old: Version, new: Version) -> bool:
    """Whether `new` may break what `old` promised (semver; below 1.0 the minor counts as major)."""
    return new[0] > old[0] or (old[0] == new[0] == 0 and new[1] > old[1])


def changed_shapes(released: dict[str, Any], current: dict[str, Any]) -> dict[str, bool]:
    """Every table or payload added, removed or changed since `released`: name -> whether it breaks."""
    found: dict[str, bool] = {}
    for kind, diff in (("tables", table_changes), ("payloads", payload_changes)):
        old_shapes, new_shapes = released[kind], current[kind]
        for name in sorted(set(old_shapes) | set(new_shapes)):
            old, new = old_shapes.get(name), new_shapes.get(name)
            if old == new:
                continue
            if old is None or new is None:
                found[name] = new is None  # a removal breaks; an addition does not
                continue
            changes = diff(name, old, new)
            found[name] = any(c.level == MAJOR for c in changes) or int(new["version"].split(".")[0]) > int(
                old["version"].split(".")[0]
            )
    return found


def _text(version: Version) -> str:
    return ".".join(map(str, version))


def release_problems(
    package_version: str, changelog: str, released: dict[str, Any], current: dict[str, Any]
) -> list[str]:
    """One line per way the version, the CHANGELOG and the shapes disagree (empty: they agree)."""
    version = parse_version(package_version)
    unreleased, headings = changelog_sections(changelog)
    pending = bool(unreleased.strip())
    problems = []
    if not headings:
        problems.append("CHANGELOG.md has no released version heading (## X.Y.Z)")
    elif version != headings[0] and not (pending and version in next_versions(headings[0])):
        problems.append(
            f"pyproject version {_text(version)} and the newest released CHANGELOG heading "
            f"{_text(headings[0])} disagree: the version is that heading, or one step above it while "
            "## Unreleased has entries"
        )
    release = parse_version(released["release"])
    if version < release:
        problems.append(f"pyproject version {_text(version)} is older than released shapes {_text(release)}")
    shapes = changed_shapes(released, current)
    breaking = sorted(name for name, breaks in shapes.items() if breaks)
    if breaking and not is_major_bump(release, version):
        problems.append(
            f"breaking change of {', '.join(breaking)} since release {_text(release)} needs a major version "
            f"bump (pyproject says {_text(version)})"
        )
    unnamed = [name for name in shapes if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", unreleased)]
    if unnamed:
        problems.append(
            f"schema changed without an Unreleased CHANGELOG entry naming it: {', '.join(unnamed)}"
        )
    return problems
