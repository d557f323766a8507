"""Load and validate the allocation rule set and its two documented inputs (overheads, usage).

Like the main configuration, bad input stops at load naming the file, the key (or CSV line
and column) and what was expected. The models live in `rules/allocation/rule_set.py`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

from pydantic import ValidationError

from resources.configuration import REPO_ROOT, validated_document
from rules.allocation.rule_set import AllocationInputs, OverheadRow, RuleSetDocument, UsageRow, _Strict
from rules.config_types import ConfigurationError

DEFAULT_RULES_PATH = REPO_ROOT / "config" / "allocation_rules.yaml"


def _read_csv(path: Path, model: type[_Strict]) -> list[_Strict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read allocation input ({exc.strerror})") from exc
    reader = csv.DictReader(io.StringIO(text))
    expected = set(model.model_fields)
    header = set(reader.fieldnames or [])
    if header != expected:
        raise ConfigurationError(
            f"{path}: header must be exactly {sorted(expected)}; "
            f"missing {sorted(expected - header)}, unexpected {sorted(header - expected)}"
        )
    rows, problems = [], []
    for line_no, raw in enumerate(reader, start=2):
        cleaned = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
        try:
            rows.append(model.model_validate(cleaned))
        except ValidationError as exc:
            for error in exc.errors():
                column = ".".join(str(p) for p in error["loc"]) or "(row)"
                problems.append(
                    f"  - line {line_no}, column {column}: {error['msg']} (got {error.get('input')!r})"
                )
    if problems:
        raise ConfigurationError(
            f"{path}: invalid allocation input ({len(problems)} problem(s)):\n" + "\n".join(problems)
        )
    return rows


def load_allocation_inputs(path: str | os.PathLike[str] | None = None) -> AllocationInputs:
    """Read and validate the rule set at `path` (default $BILLBRIDGE_ALLOCATION_RULES, then the demo's).

    The overheads and usage files are read relative to the rule set. Raises ConfigurationError
    naming the file, the key or CSV line, and what was expected.
    """
    rules_path = Path(path or os.environ.get("BILLBRIDGE_ALLOCATION_RULES") or DEFAULT_RULES_PATH).resolve()
    rules = validated_document(rules_path, RuleSetDocument)
    overheads = _read_csv((rules_path.parent / rules.overheads).resolve(), OverheadRow)
    usage = _read_csv((rules_path.parent / rules.usage).resolve(), UsageRow)
    references = [o.reference for o in overheads]  # type: ignore[attr-defined]
    twice = sorted({r for r in references if references.count(r) > 1})
    if twice:
        raise ConfigurationError(
            f"{rules_path.parent / rules.overheads}: column reference: {twice} appear twice"
        )
    digest = hashlib.sha256(rules_path.read_bytes()).hexdigest()
    return AllocationInputs(
        rules=rules,
        version=f"{rules.version}+{digest[:12]}",
        source_path=str(rules_path),
        overheads=tuple(overheads),  # type: ignore[arg-type]
        usage=tuple(usage),  # type: ignore[arg-type]
    )
