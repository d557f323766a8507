"""The trace's pure rules (a run's trace id, approval read from PM versions) and the spans' export: written
to a file when on, nothing when off (docs/decisions/0036)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from resources.telemetry import SPANS_FILE_ENV, SpanExport, otel_trace_id, span
from rules.settings import TelemetryConfig
from rules.tracing import (
    APPROVER_NOT_STATED,
    TRACE_EVENTS_TAG,
    TRACE_TAG,
    RunTrace,
    VersionSeen,
    approval_of,
    billed_version,
    first_seen_approved,
    trace_id_of,
    webhook_trace,
)

OPEN = json.dumps({"id": 1, "is_closed": False, "is_locked": False, "locked_reason": None})
APPROVED = json.dumps(
    {
        "id": 1,
        "is_closed": True,
        "is_locked": True,
        "locked_reason": "Item Approved and Locked for this Time Period",
    }
)


def _version(number: int, payload: str | None, change: str = "changed", digest: str = "") -> VersionSeen:
    return VersionSeen(
        number, change, datetime(2026, 8, number, 9, tzinfo=UTC), f"run-{number}", payload, digest
    )


def test_a_webhook_run_is_traced_by_its_first_event_and_lists_them_all() -> None:
    tags = webhook_trace(["evt-b", "evt-a", "evt-b", ""])
    assert tags == {TRACE_TAG: "webhook:evt-a", TRACE_EVENTS_TAG: "evt-a,evt-b"}
    assert webhook_trace([]) == {}


def test_a_run_without_a_trace_tag_is_its_own_trace() -> None:
    assert trace_id_of({}, "run-9") == "run-9"
    assert trace_id_of({TRACE_TAG: "webhook:evt-a"}, "run-9") == "webhook:evt-a"


def test_a_run_record_names_who_started_it_and_its_partition_range() -> None:
    tags = {
        "billbridge/started_by": "alice (cli)",
        "billbridge/source": "runner",
        "dagster/asset_partition_range_start": "us|2026-08-01",
        "dagster/asset_partition_range_end": "us|2026-08-31",
    }
    run = RunTrace.of("run-1", "extract_and_normalize", tags)
    assert (run.trace_id, run.partition, run.started_by, run.source) == (
        "run-1",
        "us|2026-08-01..us|2026-08-31",
        "alice (cli)",
        "runner",
    )
    assert RunTrace.of("run-2", "bill_and_post", {}).started_by == "(not recorded: started in the Dagster UI)"


def test_approval_is_read_from_the_payload_and_the_approver_only_where_stated() -> None:
    approved = approval_of(APPROVED)
    assert approved.approved and approved.locked
    assert approved.state == "approved (Item Approved and Locked for this Time Period)"
    assert approved.approved_by == APPROVER_NOT_STATED
    assert approval_of(json.dumps({"is_closed": True, "approved_by": {"name": "Maya"}})).approved_by == "Maya"
    assert approval_of(OPEN).state == "awaiting approval"
    assert approval_of(None).state == "awaiting approval"
    assert approval_of("not json").approved is False


def test_first_seen_approved_is_the_earliest_approved_version() -> None:
    versions = [
        _version(3, APPROVED, digest="h3"),
        _version(1, OPEN, "created", "h1"),
        _version(2, APPROVED, digest="h2"),
    ]
    first = first_seen_approved(versions)
    assert first is not None and first.version == 2 and first.run_id == "run-2"
    assert first_seen_approved([_version(1, OPEN, "created"), _version(2, None, "deleted")]) is None


def test_the_billed_version_is_the_latest_with_the_lines_payload_hash() -> None:
    versions = [
        _version(1, OPEN, "created", "h1"),
        _version(2, APPROVED, digest="h2"),
        _version(3, APPROVED, digest="h2"),
    ]
    billed = billed_version(versions, "h2")
    assert billed is not None and billed.version == 3
    assert billed_version(versions, "other") is None


def test_spans_are_written_to_the_file_when_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPANS_FILE_ENV, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    path = tmp_path / "spans.jsonl"
    config = TelemetryConfig(spans_file=str(path))
    with (
        span("extraction", "webhook:evt-a", config, {"billbridge.entity": "us"}),
        span("page", "webhook:evt-a", config),
    ):
        pass
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    assert [s["name"] for s in spans] == ["page", "extraction"]
    assert spans[1]["attributes"] == {"billbridge.entity": "us", "billbridge.trace_id": "webhook:evt-a"}
    assert spans[0]["parent_id"] == spans[1]["context"]["span_id"]  # nested: one tree
    assert spans[1]["context"]["trace_id"] == f"0x{otel_trace_id('webhook:evt-a'):032x}"


def test_a_failing_step_is_recorded_on_its_span(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spans.jsonl"
    monkeypatch.setenv(SPANS_FILE_ENV, str(path))  # the environment alone turns it on
    with pytest.raises(ValueError), span("posting", "run-1", TelemetryConfig()):
        raise ValueError("ledger down")
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["status"]["status_code"] == "ERROR"
    assert record["events"][0]["name"] == "exception"


def test_no_span_is_written_when_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPANS_FILE_ENV, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not SpanExport.of(TelemetryConfig()).on
    with span("extraction", "run-1", TelemetryConfig()) as current:
        assert not current.is_recording()
    assert list(tmp_path.iterdir()) == []


def test_the_environment_wins_over_the_configuration() -> None:
    config = TelemetryConfig(spans_file="/var/spans.jsonl", otlp_endpoint="http://collector:4318")
    export = SpanExport.of(config, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"})
    assert export == SpanExport("/var/spans.jsonl", "http://other:4318")
