"""Load and validate the reconciliation rules file (config/reconciliation_rules.yaml).

Like the main configuration, a bad file stops at load naming the file, every bad key and what
was expected; the models live in rules/reconciliation/rule_file.py. The version every match log
row records is `<version>+<first 12 hex of the file's sha256>`, so an edited file is a new version.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from resources.configuration import REPO_ROOT, validated_document
from rules.config_types import ConfigurationError
from rules.reconciliation.rule_file import ReconciliationRules, RulesDocument

DEFAULT_RULES_PATH = REPO_ROOT / "config" / "reconciliation_rules.yaml"
RULES_ENV = "BILLBRIDGE_RECONCILIATION_RULES"


def load_reconciliation_rules(
    path: str | os.PathLike[str] | None = None, entities: tuple[str, ...] = ()
) -> ReconciliationRules:
    """Read and validate the rules at `path` (default $BILLBRIDGE_RECONCILIATION_RULES, then the demo's).

    `entities`, when given, must each have a rule: a missing one stops the load too.
    """
    rules_path = Path(path or os.environ.get(RULES_ENV) or DEFAULT_RULES_PATH).resolve()
    document = validated_document(rules_path, RulesDocument)
    missing = sorted(set(entities) - {e.entity for e in document.entities})
    if missing:
        raise ConfigurationError(
            f"{rules_path}: key entities: expected a rule for every configured entity; missing {missing}"
        )
    digest = hashlib.sha256(rules_path.read_bytes()).hexdigest()
    return ReconciliationRules(document=document, version=f"{document.version}+{digest[:12]}")
