"""The release rule (decision 0039): the pyproject version, the CHANGELOG's headings and the released
shapes agree; a breaking shape needs a major bump; every changed shape has an Unreleased entry."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli_schemas import latest_release
from rules.schemas.catalog import PAYLOADS, TABLES
from rules.schemas.compatibility import snapshot
from rules.schemas.releases import release_problems

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_keeps_the_release_rule() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert release_problems(version, changelog, latest_release(), snapshot(TABLES, PAYLOADS)) == []


COLUMN = {"name": "id", "type": "BIGINT", "nullable": False, "default": None}
RELEASED: dict[str, Any] = {
    "release": "1.2.0",
    "tables": {"billing.things": {"version": "1.0.0", "columns": [COLUMN], "primary_key": []}},
    "payloads": {},
}


def _changelog(unreleased: str = "", newest: str = "1.2.0") -> str:
    return f"# Changelog\n\n## Unreleased\n\n{unreleased}\n\n## {newest}\n\n- things\n\n## 1.1.0\n- older\n"


def _with(change: str) -> dict[str, Any]:
    current = copy.deepcopy(RELEASED)
    table = current["tables"]["billing.things"]
    if change == "optional column":
        table["columns"].append({"name": "note", "type": "VARCHAR", "nullable": True, "default": None})
        table["version"] = "1.1.0"
    elif change == "dropped column":
        table["columns"] = [{"name": "key", "type": "VARCHAR", "nullable": False, "default": None}]
        table["version"] = "2.0.0"
    return current


CASES = [
    # (case, pyproject version, unreleased text, newest heading, change, expected problem or None)
    ("nothing changed, version is the newest heading", "1.2.0", "", "1.2.0", None, None),
    ("version behind the newest heading", "1.1.0", "", "1.2.0", None, "disagree"),
    ("version bumped with nothing unreleased", "1.3.0", "", "1.2.0", None, "disagree"),
    ("version two steps ahead", "1.4.0", "- x", "1.2.0", None, "disagree"),
    ("an optional column named in Unreleased, version unchanged", "1.2.0",
     "- `billing.things` 1.1.0: note", "1.2.0", "optional column", None),
    ("an optional column without an Unreleased entry", "1.2.0", "- other work", "1.2.0", "optional column",
     "without an Unreleased CHANGELOG entry naming it: billing.things"),
    ("a breaking column change on a minor bump", "1.3.0", "- `billing.things` 2.0.0", "1.2.0", "dropped column",
     "breaking change of billing.things since release 1.2.0 needs a major version bump"),
    ("a breaking column change on a major bump", "2.0.0", "- `billing.things` 2.0.0", "1.2.0", "dropped column",
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "unreleased", "newest", "change", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_the_rule_names_each_disagreement(
    version: str, unreleased: str, newest: str, change: str | None, expected: str | None
) -> None:
    problems = release_problems(version, _changelog(unreleased, newest), RELEASED, _with(change or ""))
    if expected is None:
        assert problems == []
    else:
        assert problems and expected in problems[0], problems


def test_below_one_a_minor_bump_is_the_major_one() -> None:
    released = {**RELEASED, "release": "0.1.0"}
    changelog = "## Unreleased\n- `billing.things` 2.0.0\n\n## 0.1.0\n- first\n"
    assert release_problems("0.2.0", changelog, released, _with("dropped column")) == []
    assert (
        "needs a major version bump"
        in release_problems("0.1.1", changelog, released, _with("dropped column"))[0]
    )
    assert release_problems("0.1.0", "## Unreleased\n", released, released) == [
        "CHANGELOG.md has no released version heading (## X.Y.Z)"
    ]
