"""Read what an entity-month or a range of days left behind and judge it (rules/outcomes.py).

The runner (`billbridge sync`) and the health assets ask the same questions here, so the
terminal, the Dagster UI and the alert say the same thing about a partition.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import MonthSlice, month_key
from assets.posting.posted_invoices import POSTED_INVOICES
from resources.warehouse import Warehouse
from rules.kill_switch import posting_disabled_reason
from rules.outcomes import DocumentState, Finding, is_held, posting_findings, quarantine_finding
from rules.settings import BillbridgeConfig


def month_documents(warehouse: Warehouse, entity: str, period: str) -> list[DocumentState]:
    """Every document drafted for the month, plus any outbox row of the month no draft names any more."""
    headers, _ = DOCUMENT_SOURCES.read(warehouse, entity, period)
    outbox = warehouse.query(
        entity,
        "SELECT document_number, status, last_error FROM posting.outbox WHERE entity = ? AND period = ?",
        [entity, period],
    )
    rows = {r["document_number"]: r for r in outbox.iter_rows(named=True)}
    numbers = list(dict.fromkeys(headers["document_number"].to_list() + sorted(rows)))
    return [
        DocumentState(n, rows[n]["status"], rows[n]["last_error"]) if n in rows else DocumentState(n, None)
        for n in numbers
    ]


def quarantine_counts(
    warehouse: Warehouse, entity: str, first: date, last: date
) -> tuple[dict[str, int], int]:
    """({reason: records quarantined}, records accepted as lines) for the entity's days first..last."""
    where = "entity = ? AND day BETWEEN ? AND ?"
    reasons = warehouse.query(
        entity,
        f"SELECT reason, count(*) AS n FROM normalized.quarantine WHERE {where} GROUP BY 1",
        [entity, first, last],
    )
    accepted = warehouse.query(
        entity, f"SELECT count(*) AS n FROM normalized.billable_lines WHERE {where}", [entity, first, last]
    )
    return dict(zip(reasons["reason"], reasons["n"], strict=True)), int(accepted["n"][0])


@dataclass(frozen=True)
class Outcome:
    """A partition's states and the findings drawn from them."""

    scope: str
    findings: list[Finding]
    documents: list[DocumentState] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)
    accepted: int = 0

    @property
    def failed(self) -> list[Finding]:
        """The findings that mean the job is not done."""
        return [f for f in self.findings if f.failed]

    def numbers(self) -> dict[str, int]:
        """Counts for asset metadata (numbers, so the UI can plot them)."""
        statuses = Counter("held" if is_held(d) else d.status or "not_written" for d in self.documents)
        return {
            "documents": len(self.documents),
            "in_ledger": statuses["confirmed"],
            "not_sent": statuses["pending"] + statuses["not_written"],
            "outcome_unknown": statuses["sent"],
            "dead_letters": statuses["dead_letter"],
            "held": statuses["held"],
            "discarded": statuses["discarded"],
            "quarantined": sum(self.quarantined.values()),
            "accepted_lines": self.accepted,
            "findings_failed": len(self.failed),
            "findings_attention": len(self.findings) - len(self.failed),
        }


def days_outcome(
    warehouse: Warehouse, config: BillbridgeConfig, entity: str, first: date, last: date
) -> Outcome:
    """Whether the days first..last are mostly quarantined."""
    scope = f"{entity} {first}" if first == last else f"{entity} {first}..{last}"
    with warehouse.held(entity):
        quarantined, accepted = quarantine_counts(warehouse, entity, first, last)
    found = quarantine_finding(scope, quarantined, accepted, config.orchestration.quarantine_limits())
    return Outcome(scope, [found] if found else [], quarantined=quarantined, accepted=accepted)


def month_outcome(
    warehouse: Warehouse, config: BillbridgeConfig, entity: str, month: date, stopped: str | None = None
) -> Outcome:
    """Everything that keeps the entity-month from being done: posting, dead letters, quarantine.

    `stopped` is the posting step's own account of why it stopped early, when it gave one.
    """
    month_slice = MonthSlice(entity, month.replace(day=1))
    scope = f"{entity} {month_slice.period}"
    with warehouse.held(entity):  # a dozen short reads: one open of the file
        documents = month_documents(warehouse, entity, month_slice.period)
        quarantined, accepted = quarantine_counts(warehouse, entity, month_slice.month, month_slice.month_end)
    findings = posting_findings(
        scope, documents, disabled=posting_disabled_reason(config.entity(entity)), stopped=stopped
    )
    found = quarantine_finding(scope, quarantined, accepted, config.orchestration.quarantine_limits())
    return Outcome(scope, findings + ([found] if found else []), documents, quarantined, accepted)


def posting_stop_reason(instance: dg.DagsterInstance, entity: str, month: date) -> str | None:
    """Why the month's latest posting step stopped early (its `posting_status`), or None if it did not."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=POSTED_INVOICES, asset_partitions=[str(month_key(entity, month))]),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("posting_status")
    text = None if value is None else str(value.value)
    return None if text in (None, "posted") else text
