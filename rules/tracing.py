"""End-to-end tracing, the pure part (docs/decisions/0036): the trace id a run carries, and what a record's
versions say about its approval.

A trace id names the PM change that caused the work: `webhook:<event id>` for a run a webhook event
requested, otherwise the id of the run that extracted the change (a poll's run, a `billbridge sync`'s
extraction run), which the billing run of the same sync carries on. Runs carry it as a tag; each run is
recorded with it in `trace.runs`, so every row written with a `run_id` (raw versions, normalized lines,
drafts, the outbox, the posted lines) joins to its trace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

TRACE_TAG = "billbridge/trace_id"
TRACE_EVENTS_TAG = "billbridge/trace_events"  # every webhook event id behind a run, comma separated
STARTED_BY_TAG = "billbridge/started_by"
SOURCE_TAG = "billbridge/source"
MAX_EVENT_IDS = 20  # a tag stays short; the inbox keeps the rest
APPROVER_NOT_STATED = "not stated by the PM system"
# Fields a PM payload might name its approver in (Harvest's v2 contract has none today).
_APPROVER_FIELDS = ("approved_by", "approver")


def webhook_trace(event_ids: Iterable[str]) -> dict[str, str]:
    """The trace tags of a run requested by webhook events: the first event names the trace."""
    ids = sorted({e for e in event_ids if e})
    if not ids:
        return {}
    return {TRACE_TAG: f"webhook:{ids[0]}", TRACE_EVENTS_TAG: ",".join(ids[:MAX_EVENT_IDS])}


def trace_id_of(tags: Mapping[str, str], run_id: str) -> str:
    """The run's trace id: its tag, else the run's own id (the run is where the change was first seen)."""
    return tags.get(TRACE_TAG) or run_id


@dataclass(frozen=True)
class RunTrace:
    """One run as the trace records it: which trace, which job and partition, who started it and why."""

    run_id: str
    trace_id: str
    job: str
    partition: str
    source: str
    started_by: str
    events: str

    @classmethod
    def of(cls, run_id: str, job: str, tags: Mapping[str, str]) -> RunTrace:
        """The record of a run from its tags (a run started in the Dagster UI names no person)."""
        partition = tags.get("dagster/partition") or "..".join(
            v
            for v in (
                tags.get("dagster/asset_partition_range_start"),
                tags.get("dagster/asset_partition_range_end"),
            )
            if v
        )
        return cls(
            run_id=run_id,
            trace_id=trace_id_of(tags, run_id),
            job=job,
            partition=partition,
            source=tags.get(SOURCE_TAG, "ui"),
            started_by=tags.get(STARTED_BY_TAG, "(not recorded: started in the Dagster UI)"),
            events=tags.get(TRACE_EVENTS_TAG, ""),
        )


@dataclass(frozen=True)
class VersionSeen:
    """One logged version of a PM record: when and by which run it was seen, and its payload."""

    version: int
    change: str
    seen_at: datetime
    run_id: str
    payload: str | None
    payload_hash: str | None


@dataclass(frozen=True)
class Approval:
    """A record's approval state in one version, as the PM system states it."""

    approved: bool
    locked: bool
    locked_reason: str | None
    approved_by: str

    @property
    def state(self) -> str:
        """`approved`, `locked`, or `awaiting approval`, with the PM system's reason when it gives one."""
        name = "approved" if self.approved else "locked" if self.locked else "awaiting approval"
        return f"{name} ({self.locked_reason})" if self.locked_reason else name


def approval_of(payload: str | None) -> Approval:
    """What a payload says about approval: `is_closed` (approved), `is_locked`, the reason, the approver
    where the PM system names one (Harvest does not: APPROVER_NOT_STATED)."""
    try:
        record = json.loads(payload) if payload else {}
    except json.JSONDecodeError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    approver = next((record[f] for f in _APPROVER_FIELDS if record.get(f)), None)
    if isinstance(approver, dict):
        approver = approver.get("name") or approver.get("id")
    return Approval(
        approved=bool(record.get("is_closed")),
        locked=bool(record.get("is_locked")),
        locked_reason=record.get("locked_reason") or None,
        approved_by=str(approver) if approver else APPROVER_NOT_STATED,
    )


def first_seen_approved(versions: Iterable[VersionSeen]) -> VersionSeen | None:
    """The earliest logged version in which the record is approved (None: never seen approved)."""
    for version in sorted(versions, key=lambda v: v.version):
        if version.change != "deleted" and approval_of(version.payload).approved:
            return version
    return None


def billed_version(versions: Iterable[VersionSeen], payload_hash: str) -> VersionSeen | None:
    """The version a line was priced from: the latest one with the line's payload hash."""
    matching = [v for v in versions if v.payload_hash == payload_hash]
    return max(matching, key=lambda v: v.version) if matching else None
