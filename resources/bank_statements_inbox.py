"""The bank statement inbox: one folder per entity, `$BILLBRIDGE_HOME/inbox/bank/<entity>/`.

Drop camt.053, MT940 or CSV files there. Once stored in the warehouse (resources/bank_statements_store.py),
a file moves to `received/` (loaded, or held as an overlap or as a file seen before) or `quarantine/`
(unreadable or unbalanced), its name prefixed with the first 12 hex of its hash, so the inbox
itself shows what is still to do and nothing is ever deleted.
"""

from __future__ import annotations

from pathlib import Path

from resources.bank_statements_store import LOADED, OVERLAP, SEEN, FileOutcome

RECEIVED, QUARANTINE = "received", "quarantine"


def inbox_folder(home: str | Path, entity: str) -> Path:
    """The entity's inbox folder (created if missing)."""
    folder = Path(home) / "inbox" / "bank" / entity
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pending_files(folder: Path) -> list[Path]:
    """Files waiting in the inbox, oldest name first (hidden and partial files are skipped)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part")
    )


def file_away(path: Path, outcome: FileOutcome) -> Path:
    """Move a processed file to received/ or quarantine/ and return where it went."""
    kept = outcome.status in (LOADED, OVERLAP, SEEN)
    target = path.parent / (RECEIVED if kept else QUARANTINE) / f"{outcome.file_hash[:12]}-{path.name}"
    target.parent.mkdir(exist_ok=True)
    path.replace(target)
    return target
