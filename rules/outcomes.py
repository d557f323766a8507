"""Whether an entity-month's job is done, as one line per finding (pure: no Dagster, no I/O).

A run that finished without an exception has not necessarily done its job: posting can stop
at an open circuit, documents can go to the dead letters, a wrong token can leave the outbox
pending, and a bad mapping can quarantine most of a month. These rules turn the states the
warehouse records into findings: `failed` ones mean the job is not done (the run fails, the
CLI exits non-zero, the run-failure alert fires); the others are deliberate waits a person
should see (the kill switch, a document held by the tenant's lock date).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

# Runbooks in docs/runbooks/, by the problem they settle.
RUNBOOKS = {
    "rate_limits": "429-storm.md",
    "credentials": "expired-credentials.md",
    "lock_date": "lock-date.md",
    "dead_letters": "dead-letters.md",
    "schema_drift": "schema-drift.md",
    "wrong_posting": "wrong-posting.md",
    "quarantine": "quarantine.md",
}

# Words in an error that name its runbook, first match wins (lower case).
_RUNBOOK_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("401", "403", "unauthorized", "invalid_token", "forbidden", "access_token"), "credentials"),
    (("429", "rate limit", "circuit", "daily call limit", "retry-after"), "rate_limits"),
    (("dead letter", "dead-letter", "dead_letter"), "dead_letters"),
    (("lock date", "locked period", "held:"), "lock_date"),
    (("schema", "pandera", "column", "drift"), "schema_drift"),
    (("quarantine",), "quarantine"),
)


@dataclass(frozen=True)
class Finding:
    """One thing about an entity-month a person must know: `failed` when the job is not done."""

    scope: str  # "us 2026-09"
    text: str
    failed: bool = True
    runbook: str = ""  # a key of RUNBOOKS

    def line(self, runbook_base: str = "docs/runbooks/") -> str:
        """One line: scope, what happened and what to do, and the runbook when there is one."""
        link = f"  [runbook: {runbook_base}{RUNBOOKS[self.runbook]}]" if self.runbook else ""
        return f"{self.scope}: {self.text}{link}"


@dataclass(frozen=True)
class DocumentState:
    """One drafted document of the month and its outbox row (status None: no row yet)."""

    number: str
    status: str | None
    last_error: str | None = None


@dataclass(frozen=True)
class QuarantineLimits:
    """Above `max_share` of the records quarantined (and at least `min_records` records), a partition
    is not done: something systematic (a mapping, a currency, a contract change) is wrong."""

    max_share: Decimal = Decimal("0.5")
    min_records: int = 20


def _hint(word: str) -> str:
    # A status code is a whole number: port 40335 or a request id holding "403" names no runbook.
    return rf"(?<!\d){word}(?!\d)" if word.isdigit() else re.escape(word)


_RUNBOOK_PATTERNS = tuple(
    (re.compile("|".join(_hint(word) for word in words)), runbook) for words, runbook in _RUNBOOK_HINTS
)


def runbook_for(error: str) -> str:
    """The RUNBOOKS key an error's words point at, or "" when none does."""
    lowered = error.lower()
    return next((runbook for pattern, runbook in _RUNBOOK_PATTERNS if pattern.search(lowered)), "")


def is_held(state: DocumentState) -> bool:
    """Whether the document waits because it is dated inside the tenant's locked period."""
    return state.status == "pending" and (state.last_error or "").startswith("held:")


def posting_findings(
    scope: str, documents: Sequence[DocumentState], *, disabled: str | None = None, stopped: str | None = None
) -> list[Finding]:
    """What keeps the month's posting from being done.

    `disabled` is the kill switch's reason when posting is off; `stopped` is why the last posting
    pass stopped early (an open circuit, the daily limit), when it said so.
    """
    findings: list[Finding] = []
    dead = [d for d in documents if d.status == "dead_letter"]
    if dead:
        first = dead[0]
        findings.append(
            Finding(
                scope,
                f"{len(dead)} document(s) in the dead letters ({first.number}: {_short(first.last_error)}); "
                f"fix the cause, then `billbridge dlq list --entity {scope.split()[0]}` and replay",
                runbook="dead_letters",
            )
        )
    held = [d for d in documents if is_held(d)]
    if held:
        findings.append(
            Finding(
                scope,
                f"{len(held)} document(s) held, dated inside the tenant's locked period "
                f"({held[0].number}: {_short(held[0].last_error)})",
                failed=False,
                runbook="lock_date",
            )
        )
    waiting = [d for d in documents if d.status in (None, "pending", "sent") and not is_held(d)]
    if not waiting:
        return findings
    if disabled:
        findings.append(
            Finding(scope, f"{len(waiting)} document(s) not sent: posting {disabled}", failed=False)
        )
        return findings
    counts = Counter("outcome unknown" if d.status == "sent" else "not sent" for d in waiting)
    detail = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    reason = (
        stopped
        or next((d.last_error for d in waiting if d.last_error), None)
        or "the posting step did not finish"
    )
    findings.append(
        Finding(
            scope,
            f"posting incomplete: {len(waiting)} of {len(documents)} document(s) not in the ledger ({detail}): "
            f"{_short(reason)}; the next sync looks them up and sends the rest",
            runbook=runbook_for(reason),
        )
    )
    return findings


def quarantine_finding(
    scope: str, quarantined: Mapping[str, int], accepted: int, limits: QuarantineLimits
) -> Finding | None:
    """A finding when more than `limits.max_share` of the partition's records were quarantined."""
    held_back = sum(quarantined.values())
    total = held_back + accepted
    if total == 0 or total < limits.min_records or Decimal(held_back) / Decimal(total) <= limits.max_share:
        return None
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(quarantined.items(), key=lambda kv: -kv[1]))
    share = (Decimal(100) * held_back / total).quantize(Decimal("0.1"))
    return Finding(
        scope,
        f"{held_back} of {total} records quarantined ({share}% > {_percent(limits.max_share)}): {reasons}; "
        "see `billbridge report` and normalized.quarantine",
        runbook="quarantine",
    )


def _percent(share: Decimal) -> str:
    """0.5 -> "50%", 0.001 -> "0.1%"."""
    return f"{(share * 100).normalize():f}%"


def _short(text: str | None, width: int = 120) -> str:
    """The first line of an error, cut to `width` characters."""
    first = (
        (text or "no error recorded").strip().splitlines()[0] if (text or "").strip() else "no error recorded"
    )
    return first if len(first) <= width else first[: width - 1] + "…"
