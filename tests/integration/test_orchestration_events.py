"""Webhooks into the inbox, the two change sensors sharing one ledger, and run-failure alerts.

Real parts: the PM sandbox sends signed webhooks over loopback HTTP to the real endpoint,
the inbox is a real SQLite file, the sensors are evaluated against a real Dagster instance.
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import httpx
import pytest

from assets.partitions import DAY, ENTITY, MONTH
from pipelines.cli import main
from pipelines.definitions import build_definitions, defs
from pipelines.events_server import MAX_BODY_BYTES, EventsServer
from pipelines.sensors import POSTED_ASSET
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.event_inbox import EventInbox
from resources.harvest import HarvestClient
from resources.http_server import JsonHTTPServer, Request, Response
from rules.health_settings import OnCallRoute
from rules.pm_events import SIGNATURE_HEADER, sign
from sandbox.webhooks import WebhookSender
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
SECRET = "test-webhook-secret"
pm_webhook_inbox = defs.resolve_sensor_def("pm_webhook_inbox")
pm_updated_since_poll = defs.resolve_sensor_def("pm_updated_since_poll")


@pytest.fixture
def inbox_server(sandboxes: Sandboxes) -> Any:
    """The webhook endpoint, and the PM sandbox sending every change to it (each delivered twice)."""
    inbox = EventInbox()
    server = EventsServer(inbox, SECRET).start()
    sender = WebhookSender(server.url, SECRET, duplicate_rate=1.0)
    sandboxes.harvest.webhooks = sender
    try:
        yield inbox, server, sender
    finally:
        sender.close()
        server.stop()


def _entries(sandboxes: Sandboxes, client_id: int, spent_date: str) -> list[dict[str, Any]]:
    return [
        e
        for e in sandboxes.company.time_entries
        if e["client"]["id"] == client_id and e["spent_date"] == spent_date
    ]


def _tick(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None, **resources: Any
) -> Any:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources=resources or None,
    )
    return sensor.evaluate_tick(context)


def _key(entity: str, day: str) -> str:
    return str(dg.MultiPartitionKey({ENTITY: entity, DAY: day}))


def test_signed_webhooks_are_stored_once_and_coalesced_into_one_request_per_day(
    sandboxes: Sandboxes, inbox_server: Any
) -> None:
    inbox, _server, sender = inbox_server
    # Three edits to one uk day (client 5101) and one to a us day: two partitions.
    uk_day = next(
        day for day in ("2026-09-02", "2026-09-03", "2026-09-04") if len(_entries(sandboxes, 5101, day)) >= 3
    )
    for entry in _entries(sandboxes, 5101, uk_day)[:3]:
        sandboxes.harvest.update_time_entry(entry["id"], notes="edited")
    us_entry = next(e for e in sandboxes.company.time_entries if e["client"]["id"] == 5001)
    sandboxes.harvest.update_time_entry(us_entry["id"], hours=1.5)
    sender.flush()
    assert len(sender.delivered) == 8  # every notification arrived twice ...
    assert inbox.counts() == {"accepted": 4}  # ... and is stored once

    with dg.instance_for_test() as instance:
        result = _tick(pm_webhook_inbox, instance, None)
        keys = sorted(r.partition_key for r in result.run_requests)
        assert keys == sorted([_key("uk", uk_day), _key("us", us_entry["spent_date"])])
        assert {r.tags["billbridge/entity"] for r in result.run_requests} == {"uk", "us"}
        # Each run is traced by the webhook events behind it (docs/decisions/0036): three for the uk day.
        uk_run = next(r for r in result.run_requests if r.partition_key == _key("uk", uk_day))
        events = uk_run.tags["billbridge/trace_events"].split(",")
        assert len(events) == 3 and uk_run.tags["billbridge/trace_id"] == f"webhook:{events[0]}"
        again = _tick(pm_webhook_inbox, instance, result.cursor)
        assert not again.run_requests and "no new events" in str(again.skip_message)


def test_bad_signature_is_401_and_stores_nothing_bad_bodies_are_rejected_with_reason(
    sandboxes: Sandboxes, inbox_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox, server, _ = inbox_server
    body = json.dumps({"id": "e1", "event": "time_entry.updated", "data": {"id": 1}}).encode()
    forged = httpx.post(server.url, content=body, headers={SIGNATURE_HEADER: sign("wrong", body)})
    unsigned = httpx.post(server.url, content=body)
    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert inbox.counts() == {}
    for raw in (b"{oops", json.dumps({"id": "e2", "event": "invoice.paid", "data": {"id": 1}}).encode()):
        answer = httpx.post(server.url, content=raw, headers={SIGNATURE_HEADER: sign(SECRET, raw)})
        assert answer.status_code == 202 and answer.json()["status"] == "rejected"
    assert inbox.counts() == {"rejected": 2}
    with dg.instance_for_test() as instance:  # a tick over rejected events requests nothing, never throws
        result = _tick(pm_webhook_inbox, instance, None)
        assert not result.run_requests and result.cursor
    assert main(["events", "list"]) == 0
    out = capsys.readouterr().out
    assert (
        "2 rejected" in out
        and "malformed body: not JSON" in out
        and "unknown event type 'invoice.paid'" in out
    )
    assert main(["report"]) == 0
    assert "PM events: 2 rejected" in capsys.readouterr().out


def test_poll_catches_a_back_dated_edit_at_the_cursor_second_and_the_webhook_does_not_repeat_it(
    sandboxes: Sandboxes, inbox_server: Any
) -> None:
    _inbox, _, sender = inbox_server
    harvest = HarvestClient(
        base_url=sandboxes.env["HARVEST_BASE_URL"], account_id="100001", access_token="demo-harvest-token"
    )
    cursor_second = max(str(e["updated_at"]) for e in sandboxes.company.time_entries)
    cursor = json.dumps({"time_entries": cursor_second, "expenses": cursor_second})
    # An entry of a month back, edited and stamped with the very second the poll already reached.
    entry = next(
        e
        for e in sandboxes.company.time_entries
        if e["client"]["id"] == 5201 and e["spent_date"] < "2026-10-01"
    )
    sandboxes.harvest.update_time_entry(entry["id"], updated_at=cursor_second, hours=3.25)
    sender.flush()
    with dg.instance_for_test() as instance:
        polled = _tick(pm_updated_since_poll, instance, cursor, harvest=harvest)
        assert _key("de", entry["spent_date"]) in {r.partition_key for r in polled.run_requests}
        assert not any("billbridge/trace_id" in r.tags for r in polled.run_requests)  # its own run's trace
        # The webhook for the same change arrives too: already requested, so nothing more.
        pushed = _tick(pm_webhook_inbox, instance, None)
        assert not pushed.run_requests
        # The next poll overlaps the same window again: upserted, not requested twice.
        repeat = _tick(pm_updated_since_poll, instance, polled.cursor, harvest=harvest)
        assert not repeat.run_requests
    assert json.loads(polled.cursor)["time_entries"] >= cursor_second


def test_a_change_in_an_invoiced_month_takes_the_correction_path(
    sandboxes: Sandboxes, inbox_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox, _, sender = inbox_server
    entry = next(
        e
        for e in sandboxes.company.time_entries
        if e["client"]["id"] == 5101 and e["spent_date"].startswith("2026-09")
    )
    sandboxes.harvest.update_time_entry(entry["id"], hours=2.0)
    sender.flush()
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=POSTED_ASSET,
                partition=str(dg.MultiPartitionKey({ENTITY: "uk", MONTH: "2026-09-01"})),
            )
        )
        result = _tick(pm_webhook_inbox, instance, None)
    [request] = result.run_requests
    assert request.partition_key == _key("uk", entry["spent_date"])
    assert request.tags["billbridge/correction"] == "true"
    assert inbox.counts() == {"correction": 1}
    assert main(["events", "list"]) == 0
    assert "1 correction" in capsys.readouterr().out


def test_a_failed_run_alerts_with_entity_partition_and_run(
    sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[dict[str, Any]] = []
    paged: list[dict[str, Any]] = []

    def collect(alert: Request) -> Response:
        (paged if alert.path.endswith("/pager") else received).append(alert.json())
        return Response(200, {"ok": True})

    monkeypatch.setenv("BILLBRIDGE_ONCALL_KEY", "routing-key-1")
    with JsonHTTPServer(collect) as alerts:
        demo = load_config(DEFAULT_CONFIG_PATH)
        orchestration = demo.orchestration.model_copy(
            update={
                "alert_webhook_url": f"{alerts.url}/alerts",
                "oncall": OnCallRoute(url=f"{alerts.url}/pager", format="pagerduty"),
            }
        )
        alerting = build_definitions(demo.model_copy(update={"orchestration": orchestration}))
        alert_on_run_failure = alerting.resolve_sensor_def("alert_on_run_failure")
        monkeypatch.setenv("HARVEST_ACCESS_TOKEN", "revoked-token")  # every PM call answers 401
        key = dg.MultiPartitionKey({ENTITY: "uk", DAY: "2026-09-02"})
        with dg.instance_for_test() as instance:
            result = alerting.resolve_job_def("extract_and_normalize").execute_in_process(
                instance=instance,
                partition_key=str(key),
                tags={"billbridge/entity": "uk"},
                raise_on_error=False,
            )
            assert not result.success
            failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
            context = dg.build_run_status_sensor_context(
                sensor_name="alert_on_run_failure",
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                dagster_event=failure,
            ).for_run_failure()
            alert_on_run_failure(context)
    [alert] = received
    assert (alert["entity"], alert["partition"], alert["run_id"]) == ("uk", str(key), result.run_id)
    assert "entity uk" in alert["text"] and result.run_id in alert["text"]
    # The same failure pages on-call once, as a PagerDuty trigger deduplicated per job, entity and partition.
    [page] = paged
    assert (page["routing_key"], page["event_action"]) == ("routing-key-1", "trigger")
    assert page["dedup_key"] == f"billbridge/run-failed/extract_and_normalize/uk/{key}"
    assert page["payload"]["severity"] == "error" and result.run_id in page["payload"]["summary"]


def test_wrong_path_and_oversized_bodies_are_refused_and_store_nothing(inbox_server: Any) -> None:
    inbox, server, _ = inbox_server
    body = json.dumps({"id": "e9", "event": "time_entry.updated", "data": {"id": 1}}).encode()
    elsewhere = httpx.post(server.url.replace("/webhooks/pm", "/webhooks/other"), content=body)
    huge = b"x" * (MAX_BODY_BYTES + 1)
    too_large = httpx.post(server.url, content=huge, headers={SIGNATURE_HEADER: sign(SECRET, huge)})
    assert (elsewhere.status_code, too_large.status_code) == (404, 413)
    assert inbox.counts() == {}
