"""`billbridge trace` round trip on the demo company (issues #14, #16): a sync through both sandboxes, then an
invoice back to its time entries, approvals, runs and the person who started them, and one of those entries
forward to the same invoice line; the sync's spans land in the spans file, carrying the trace id, and
reach an OTLP/HTTP endpoint when one is configured; a webhook run's event id reaches every row it writes."""

from __future__ import annotations

import json
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import dagster as dg
import pytest

from assets.partitions import day_key
from pipelines.cli import main
from pipelines.concurrency import entity_tags
from pipelines.definitions import current_definitions
from resources.telemetry import flush, span
from resources.warehouse import Warehouse
from rules.settings import TelemetryConfig
from rules.tracing import webhook_trace
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration

ENTITY, PERIOD = "us", "2026-08"


def _trace(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["trace", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_trace_round_trip_on_the_demo(
    sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv("BILLBRIDGE_SPANS_FILE", str(spans_file))
    assert main(["sync", "--entity", ENTITY, "--period", PERIOD]) == 0
    capsys.readouterr()

    # An invoice line with a time entry behind it, as the warehouse has it.
    line = (
        Warehouse()
        .query(
            ENTITY,
            "SELECT s.invoice_number, s.line_no, b.source_id FROM billing.invoice_line_sources s "
            "JOIN normalized.billable_lines b USING (line_id) WHERE b.source_kind = 'time' "
            "ORDER BY s.invoice_number, s.line_no, b.source_id LIMIT 1",
        )
        .row(0, named=True)
    )
    invoice, line_no, entry = line["invoice_number"], line["line_no"], line["source_id"]

    # Back: the invoice line to its entries, with approval, the runs and the person who started them.
    code, out = _trace(capsys, invoice, "--line", str(line_no), "--json")
    assert code == 0, out
    back = json.loads(out)
    assert back["document"]["document_number"] == invoice
    assert [ln["line_no"] for ln in back["lines"]] == [line_no]
    sources = back["lines"][0]["sources"]
    source = next(s for s in sources if s["source_kind"] == "time" and s["source_id"] == entry)
    assert source["first_seen_approved"] is not None  # the demo's August is approved
    assert source["billed_version"] is not None
    assert source["billed_under"].startswith("approved")
    assert source["approved_by"] == "not stated by the PM system"  # Harvest names no approver
    assert back["outbox"][0]["status"] == "confirmed" and back["outbox"][0]["external_id"]
    runs = back["runs"]
    drafted_by = runs[back["document"]["run_id"]]
    priced_by = runs[source["run_id"]]
    assert drafted_by["job"] == "bill_and_post" and priced_by["job"] == "extract_and_normalize"
    # One sync, one trace: the billing run carries the extraction run's id as its trace id.
    assert drafted_by["trace_id"] == priced_by["trace_id"] == source["run_id"]
    assert drafted_by["started_by"] == priced_by["started_by"] != ""
    assert "not recorded" not in drafted_by["started_by"]

    # The readable form says the same.
    code, text = _trace(capsys, invoice, "--line", str(line_no))
    assert code == 0
    assert f"Invoice {invoice}" in text and f"line {line_no}:" in text
    assert f"time entry {entry} " in text and "first seen approved" in text
    assert f"started by {drafted_by['started_by']}" in text

    # Forward: the entry to the same invoice line and the posted document.
    code, out = _trace(capsys, "--entry", str(entry), "--entity", ENTITY, "--json")
    assert code == 0, out
    forward = json.loads(out)
    assert [(ln["invoice_number"], ln["line_no"]) for ln in forward["lines"]] == [(invoice, line_no)]
    assert forward["outbox"][0]["document_number"] == invoice
    assert forward["outbox"][0]["external_id"] == back["outbox"][0]["external_id"]

    # Nothing to trace: one line, exit 1.
    code, out = _trace(capsys, "BB-NOPE-1")
    assert code == 1 and out.strip() == "billbridge trace: no invoice BB-NOPE-1 in any entity's warehouse"

    # Spans: extraction, pricing, drafting and posting, each with the sync's trace id.
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    names = {s["name"] for s in spans}
    assert {"extraction", "pricing", "drafting", "posting"} <= names
    trace_id = source["run_id"]
    assert {s["attributes"]["billbridge.trace_id"] for s in spans} == {trace_id}
    assert len({s["context"]["trace_id"] for s in spans}) == 1  # one OpenTelemetry trace


def test_spans_reach_an_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real OTLP/HTTP receiver on loopback gets the span, protobuf-encoded, at /v1/traces."""
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("BILLBRIDGE_SPANS_FILE", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        with span("posting", "webhook:evt-otlp", TelemetryConfig(), {"billbridge.entity": "us"}):
            pass
        assert flush(TelemetryConfig())
    finally:
        server.shutdown()
        server.server_close()
    [(path, body)] = received
    assert path == "/v1/traces"
    assert b"posting" in body and b"webhook:evt-otlp" in body


def test_a_webhook_run_carries_its_event_to_every_row_it_writes(sandboxes: Sandboxes) -> None:
    """The PM change's event id, as the webhook sensor tags the run, joins every raw version and priced line
    the run wrote (through trace.runs), with who started the run."""
    tags = {**entity_tags(ENTITY, "webhook"), **webhook_trace(["evt-0001", "evt-0002"])}
    with dg.instance_for_test() as instance:
        result = (
            current_definitions()
            .resolve_job_def("extract_and_normalize")
            .execute_in_process(
                instance=instance, tags=tags, partition_key=str(day_key(ENTITY, date(2026, 8, 3)))
            )
        )
    assert result.success
    warehouse = Warehouse()
    joined = {
        table: warehouse.query(
            ENTITY,
            f"SELECT DISTINCT t.trace_id, t.events, t.source, t.started_by FROM {table} AS r "
            "JOIN trace.runs AS t USING (run_id) WHERE r.run_id = ?",
            [result.run_id],
        ).rows()
        for table in ("raw.record_versions", "normalized.billable_lines")
    }
    expected = [("webhook:evt-0001", "evt-0001,evt-0002", "webhook", tags["billbridge/started_by"])]
    assert joined == {"raw.record_versions": expected, "normalized.billable_lines": expected}
