"""The layers import one way only: pipelines → assets → checks / resources → rules.

`rules/` is the ground floor of pure domain code: it imports neither Dagster nor any
connector, nor any floor above it. `checks/` and `resources/` sit side by side and do not
import each other's floor above (`assets`, `pipelines`). `sandbox/` stands apart: product
code never imports it, and it imports no product floor but the pure rules and the shared
HTTP server base. The README's "Layout" section states the same rule for people.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each top-level package may import from the project's own packages.
ALLOWED: dict[str, set[str]] = {
    "pipelines": {"pipelines", "assets", "checks", "resources", "rules", "sandbox", "web"},
    "assets": {"assets", "checks", "resources", "rules"},
    "checks": {"checks", "rules"},
    "resources": {"resources", "rules"},
    "rules": {"rules"},
    "sandbox": {"sandbox", "rules", "resources.http_server"},
    # The workbench stands apart like the sandbox: it calls the same resources and rules.
    "web": {"web", "resources", "rules"},
}
PROJECT = set(ALLOWED)
# Third-party modules the pure floor must never import: orchestration and I/O.
FORBIDDEN_IN_RULES = {"dagster", "httpx", "psycopg2", "sqlite3", "requests", "socket", "urllib", "subprocess"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend([(node.lineno, node.module)])
    return found


def _allowed(floor: str, module: str) -> bool:
    if module.split(".")[0] not in PROJECT:
        return not (floor == "rules" and module.split(".")[0] in FORBIDDEN_IN_RULES)
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[floor])


def violations(root: Path = ROOT) -> list[str]:
    """Every import in the product packages that runs against the direction, as `file:line imports m`."""
    found = []
    for floor in ALLOWED:
        for path in sorted((root / floor).rglob("*.py")):
            for line, module in _imports(path):
                if not _allowed(floor, module):
                    found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_imports_run_one_way() -> None:
    assert violations() == []


def test_pipelines_is_the_only_floor_that_may_start_the_sandbox() -> None:
    product = [p for f in ("assets", "checks", "resources", "rules", "web") for p in (ROOT / f).rglob("*.py")]
    offenders = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in product
        for line, module in _imports(p)
        if module.split(".")[0] == "sandbox"
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("floor", "source", "should_flag"),
    [
        ("rules", "import dagster as dg\n", True),
        ("rules", "from resources.warehouse import Warehouse\n", True),
        ("assets", "from pipelines.jobs import X\n", True),
        ("checks", "from resources.xero import XeroClient\n", True),
        ("resources", "from checks.schemas import RawRecords\n", True),
        ("sandbox", "from assets.partitions import X\n", True),
        ("sandbox", "from resources.xero import XeroClient\n", True),
        ("assets", "from rules.money import MONEY\n", False),
        ("sandbox", "from resources.http_server import JsonServer\n", False),
        ("rules", "import polars as pl\n", False),
        ("web", "from assets.partitions import X\n", True),
        ("web", "from resources.warehouse import Warehouse\n", False),
    ],
)
def test_the_rule_itself_flags_a_backward_import(
    tmp_path: Path, floor: str, source: str, should_flag: bool
) -> None:
    (tmp_path / floor).mkdir()
    (tmp_path / floor / "module.py").write_text(source)
    assert bool(violations(tmp_path)) is should_flag
