"""The audit trail: an append-only, hash-chained log of who did what to the firm's money and data.

`$BILLBRIDGE_HOME/audit/audit.log`, one entry a line: `<hash> <payload>`, where the payload is
canonical JSON (sorted keys, ASCII, no newlines) carrying the entry's sequence number, time,
actor, action, target, outcome and detail, and

    hash_n = SHA-256(hash_(n-1) + "\\n" + payload_n), hash_0 = 64 zeros.

Editing a payload, deleting or reordering lines breaks the chain at the first line touched;
cutting the tail is caught by the head anchor (`audit.head`: the last sequence number and hash,
rewritten after every append). Whoever can write the folder can still rewrite everything from
scratch, so the head is meant to be copied off the machine too (`billbridge audit verify`
prints it; compare with `--expect-head`). Plain SHA-256, not a keyed MAC, so an auditor can
verify without holding a secret.

Appends from several processes (CLI, runs, the webhook server) are serialised by an exclusive
file lock and each is flushed to disk before the command goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from resources.private_files import PRIVATE_FILE_MODE, private_dir
from resources.warehouse import default_home

GENESIS = "0" * 64
AUDIT_ENV = "BILLBRIDGE_AUDIT_LOG"


def default_audit_path() -> Path:
    """$BILLBRIDGE_AUDIT_LOG, else $BILLBRIDGE_HOME/audit/audit.log."""
    explicit = os.environ.get(AUDIT_ENV)
    return Path(explicit) if explicit else Path(default_home()) / "audit" / "audit.log"


@dataclass(frozen=True)
class AuditEvent:
    """What one entry says: `actor` did `action` to `target` with `outcome` (`ok`, `refused`, `failed`)."""

    actor: str
    action: str
    target: str = ""
    outcome: str = "ok"
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class Verdict:
    """The result of verifying the chain: `problems` is empty when the log is intact."""

    entries: int
    head: str
    problems: list[str]


def chain_hash(previous: str, payload: bytes) -> str:
    """The hash an entry carries: SHA-256 of the previous entry's hash, a newline and the payload."""
    return hashlib.sha256(previous.encode("ascii") + b"\n" + payload).hexdigest()


def _payload(seq: int, event: AuditEvent, at: datetime) -> bytes:
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "detail": event.detail or {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode(
        "ascii"
    )


class AuditLog:
    """The log file, its head anchor and its lock."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_audit_path()
        self.head_path = self.path.with_name(self.path.name + ".head")

    def _last(self) -> tuple[int, str]:
        """(sequence number, hash) of the last complete line; (0, GENESIS) for an empty log."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        with self.path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            chunk = 4096
            while True:
                handle.seek(max(0, size - chunk))
                tail = handle.read()
                lines = tail.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or chunk >= size:
                    break
                chunk *= 4
        digest, _, payload = lines[-1].partition(b" ")
        return int(json.loads(payload)["seq"]), digest.decode("ascii")

    def append(self, event: AuditEvent) -> int:
        """Append one entry; its sequence number."""
        return self.append_many([event])

    def append_many(self, events: Iterable[AuditEvent], at: datetime | None = None) -> int:
        """Append entries in order, durably, under the lock; the last sequence number."""
        private_dir(self.path.parent)
        with FileLock(self.path.with_name(self.path.name + ".lock"), timeout=60, mode=PRIVATE_FILE_MODE):
            seq, previous = self._last()
            lines = []
            for event in events:
                seq += 1
                payload = _payload(seq, event, at or datetime.now(UTC))
                previous = chain_hash(previous, payload)
                lines.append(previous.encode("ascii") + b" " + payload + b"\n")
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
            with os.fdopen(descriptor, "ab") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fsync(handle.fileno())
            self._write_head(seq, previous)
        return seq

    def _write_head(self, seq: int, digest: str) -> None:
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(f"{seq} {digest}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.head_path)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry's payload, oldest first (not verified: use `verify`)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for line in handle:
                yield json.loads(line.rstrip(b"\n").partition(b" ")[2])

    def verify(self, expect_head: str | None = None) -> Verdict:
        """Recompute the chain; name the first line that was edited, deleted, inserted or moved."""
        problems: list[str] = []
        previous, count = GENESIS, 0
        if self.path.exists():
            with self.path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    digest, _, payload = line.rstrip(b"\n").partition(b" ")
                    expected = chain_hash(previous, payload)
                    if digest.decode("ascii", errors="replace") != expected:
                        problems.append(_first_break(number, payload))
                        break
                    previous, count = expected, number
        if not problems:  # the anchors speak about the end of an intact chain only
            problems = self._check_head(count, previous, expect_head)
        return Verdict(count, previous, problems)

    def _check_head(self, count: int, head: str, expect_head: str | None) -> list[str]:
        found = []
        if self.head_path.exists():
            seq_text, _, digest = self.head_path.read_text(encoding="ascii").strip().partition(" ")
            anchored = int(seq_text)
            if anchored > count:
                found.append(
                    f"the log ends at entry {count} but entry {anchored} was written: entries were deleted"
                )
            elif anchored == count and digest != head:
                found.append(f"entry {count} does not match the head anchor: the log was rewritten")
        if expect_head is not None and expect_head != head:
            found.append(f"head {head} is not the expected {expect_head}: the log was rewritten or cut")
        return found


def _first_break(number: int, payload: bytes) -> str:
    """Say what the first broken line looks like: an edit, or an entry out of place."""
    try:
        seq = int(json.loads(payload)["seq"])
    except (ValueError, KeyError, TypeError):
        return f"line {number}: not an audit entry (edited or corrupted)"
    if seq != number:
        return f"line {number} holds entry {seq}: entries were deleted, inserted or reordered before it"
    return f"the chain breaks at line {number} (entry {seq}): it, or the entry before it, was edited"
