"""`health/slo_status` on a seeded breach: a failed sync run, dead letters, a backlog and a slow change
in the entity file; the SLO checks fail with their severity, the loopback receivers get one alert per
breach (chat webhook and PagerDuty Events v2), and the measurement is kept as history. Measured again,
the dead letters already seen are no longer growth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl
import pytest

from pipelines.definitions import build_definitions
from resources.alerts import send_alert
from resources.configuration import current_config
from resources.http_server import JsonHTTPServer, Request, Response
from resources.warehouse import Warehouse, append
from rules.alert_payloads import Alert
from rules.health_settings import OnCallRoute
from rules.schemas.catalog import table
from rules.settings import BillbridgeConfig, OrchestrationConfig

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def received() -> Iterator[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """A loopback receiver for the chat webhook (/chat) and PagerDuty (/pagerduty); its URL and what it got."""
    got: dict[str, list[dict[str, Any]]] = {"/chat": [], "/pagerduty": []}

    def take(request: Request) -> Response:
        got.setdefault(request.path, []).append(request.json())
        return Response(202, {"status": "success"})

    with JsonHTTPServer(take) as server:
        yield server.url, got


def slo_config(url: str) -> BillbridgeConfig:
    config = current_config()
    orchestration = config.orchestration.model_copy(
        update={
            "alert_webhook_url": f"{url}/chat",
            "runbook_base_url": "https://example.test/runbooks/",
            "slo": config.orchestration.slo.model_copy(update={"max_unposted_documents": 1}),
            "oncall": config.orchestration.oncall.model_copy(update={"url": f"{url}/pagerduty"}),
        }
    )
    return config.model_copy(update={"orchestration": orchestration})


def _outbox(number: str, status: str, updated_at: datetime) -> dict[str, Any]:
    return {
        "document_number": number, "entity": "us", "period": "2026-09", "content_hash": "c" * 64,
        "idempotency_key": "k" * 64, "status": status, "attempts": 1, "external_id": None,
        "posted_total": None, "draft_total": Decimal("100.0000"), "currency": "USD", "last_error": None,
        "created_at": updated_at, "updated_at": updated_at, "run_id": "seed",
    }  # fmt: skip


def seed_entity_file() -> None:
    """Two dead letters, two pending documents, and a change booked 72 hours after it was made."""
    outbox = [
        _outbox("BB-US-202609-1", "dead_letter", NOW - timedelta(hours=2)),
        _outbox("BB-US-202609-2", "dead_letter", NOW - timedelta(hours=2)),
        _outbox("BB-US-202609-3", "pending", NOW - timedelta(hours=2)),
        _outbox("BB-US-202609-4", "sent", NOW - timedelta(hours=2)),
        _outbox("BB-US-202609-5", "confirmed", NOW - timedelta(hours=1)),
    ]
    changed = (NOW - timedelta(hours=73)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = {
        "entity": "us", "day": date(2026, 9, 10), "record_id": 1, "payload": json.dumps({"id": 1, "updated_at": changed}),
        "payload_hash": "a" * 64, "routing": "client", "extracted_at": NOW - timedelta(hours=72), "request_url": "seed",
        "run_id": "seed", "contract_version": "v2",
    }  # fmt: skip
    with Warehouse().transaction("us") as con:
        append(con, "posting.outbox", pl.DataFrame(outbox, schema=_schema("posting.outbox", outbox[0])))
        append(con, "raw.time_entries", pl.DataFrame([raw], schema=table("raw.time_entries").polars_schema()))


def _schema(name: str, row: dict[str, Any]) -> dict[str, pl.DataType]:
    return {k: v for k, v in table(name).polars_schema().items() if k in row}


def seed_failed_sync(instance: dg.DagsterInstance) -> None:
    instance.add_run(
        dg.DagsterRun(job_name="extract_and_normalize", run_id="f" * 36, status=dg.DagsterRunStatus.FAILURE)
    )


def measure(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, tuple[bool, str]]:
    result = defs.resolve_job_def("measure_slos").execute_in_process(instance=instance)
    assert result.success  # the checks are not blocking: a breach never fails the run
    return {e.check_name: (e.passed, e.severity.value) for e in result.get_asset_check_evaluations()}


def test_a_seeded_breach_fails_its_checks_and_alerts_with_its_runbook(
    received: tuple[str, dict[str, list[dict[str, Any]]]],
) -> None:
    url, got = received
    defs = build_definitions(slo_config(url))
    seed_entity_file()
    with dg.instance_for_test() as instance:
        seed_failed_sync(instance)
        checks = measure(defs, instance)
        assert checks == {
            "sync_success_rate": (False, "ERROR"),
            "change_to_ledger_hours": (False, "WARN"),
            "unposted_documents": (False, "WARN"),
            "dead_letter_growth": (False, "ERROR"),
            "reconciliation_mismatches": (True, "WARN"),
            "heartbeat_age_minutes": (True, "ERROR"),  # no test tenant configured: not measured
        }
        texts = sorted(a["text"] for a in got["/chat"])
        assert texts == [
            "billbridge SLO change_to_ledger_hours breached: 72.00 is above the limit 48 (WARN)"
            "  [runbook: https://example.test/runbooks/slo-breach.md]",
            "billbridge SLO dead_letter_growth breached: 2 is above the limit 0 (ERROR)"
            "  [runbook: https://example.test/runbooks/slo-breach.md]",
            "billbridge SLO sync_success_rate breached: 0.0000 is below the floor 0.95 (ERROR)"
            "  [runbook: https://example.test/runbooks/slo-breach.md]",
            "billbridge SLO unposted_documents breached: 2 is above the limit 1 (WARN)"
            "  [runbook: https://example.test/runbooks/slo-breach.md]",
        ]
        pages = {p["dedup_key"]: p for p in got["/pagerduty"]}
        assert sorted(pages) == [
            "billbridge/slo/change_to_ledger_hours",
            "billbridge/slo/dead_letter_growth",
            "billbridge/slo/sync_success_rate",
            "billbridge/slo/unposted_documents",
        ]
        assert pages["billbridge/slo/dead_letter_growth"]["payload"]["severity"] == "error"
        assert pages["billbridge/slo/unposted_documents"]["payload"]["severity"] == "warning"

        # Measured again: the two dead letters were seen last time, so nothing grew.
        again = measure(defs, instance)
        assert again["dead_letter_growth"] == (True, "ERROR")
        assert again["unposted_documents"] == (False, "WARN")

    history = (
        Warehouse()
        .group_query("SELECT slo, figure, breached FROM health.slo_status ORDER BY measured_at, slo")
        .rows()
    )
    assert len(history) == 12
    assert ("dead_letter_growth", Decimal("2.0000"), True) in history[:6]
    assert ("dead_letter_growth", Decimal("0.0000"), False) in history[6:]
    assert ("reconciliation_mismatches", Decimal("0.0000"), False) in history[:6]


def test_without_work_or_breach_no_alert_is_sent(
    received: tuple[str, dict[str, list[dict[str, Any]]]],
) -> None:
    url, got = received
    with dg.instance_for_test() as instance:
        checks = measure(build_definitions(slo_config(url)), instance)
    assert all(passed for passed, _ in checks.values())
    assert got == {"/chat": [], "/pagerduty": []}


def test_the_opsgenie_route_carries_its_key_and_a_route_down_is_reported_not_raised() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def take(request: Request) -> Response:
        seen.append((request.headers.get("Authorization", ""), request.json()))
        return Response(202, {"result": "Request will be processed"})

    alert = Alert("billbridge SLO x breached", "ERROR", "billbridge/slo/x", "docs/runbooks/slo-breach.md")
    with JsonHTTPServer(take) as server:
        orchestration = OrchestrationConfig(
            oncall=OnCallRoute(url=f"{server.url}/v2/alerts", format="opsgenie", key_variable="OPSGENIE_KEY")
        )
        assert send_alert(alert, orchestration, {"OPSGENIE_KEY": "genie-123"}) == []
        down = orchestration.model_copy(update={"alert_webhook_url": "http://127.0.0.1:9/chat"})
        [failure] = send_alert(alert, down, {"OPSGENIE_KEY": "genie-123"})
    [(authorization, body), _] = seen
    assert authorization == "GenieKey genie-123"
    assert (body["alias"], body["priority"]) == ("billbridge/slo/x", "P2")
    assert failure.startswith("alert route http://127.0.0.1:9/chat failed: ")
