"""Mapping and rule changes enter the audit trail: the configuration folder's files, fingerprinted.

The configuration, the mapping document, the allocation rule set and its CSV inputs, and the
access file are edited as files, outside billbridge. Each command fingerprints them (SHA-256
per file) and, when the fingerprint differs from the one last recorded, appends one
`configuration.changed` entry naming the files that changed, who first ran billbridge with
them, and their old and new hashes. The last recorded fingerprint sits beside the audit log.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from resources.atomic_files import write_atomically
from resources.audit_log import AuditEvent, AuditLog
from resources.configuration import DEFAULT_CONFIG_PATH

WATCHED_SUFFIXES = (".yaml", ".yml", ".csv")


def configuration_folder() -> Path:
    """The folder of the configuration file in use."""
    return Path(os.environ.get("BILLBRIDGE_CONFIG") or DEFAULT_CONFIG_PATH).resolve().parent


def fingerprint(folder: Path) -> dict[str, str]:
    """SHA-256 of every configuration file in `folder`, by file name."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in WATCHED_SUFFIXES
    }


def note_configuration_change(log: AuditLog, actor: str) -> bool:
    """Append a `configuration.changed` entry when the files differ from the last recorded ones."""
    folder = configuration_folder()
    current = fingerprint(folder)
    seen_path = log.path.with_name("configuration.seen")
    seen = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    if seen.get("folder") == str(folder) and seen.get("files") == current:
        return False
    before: dict[str, str] = seen.get("files", {}) if seen.get("folder") == str(folder) else {}
    changed = {
        name: {"from": before.get(name), "to": current.get(name)}
        for name in sorted(set(before) | set(current))
        if before.get(name) != current.get(name)
    }
    log.append(AuditEvent(actor, "configuration.changed", str(folder), "ok", {"files": changed}))
    write_atomically(seen_path, json.dumps({"folder": str(folder), "files": current}).encode())
    return True
