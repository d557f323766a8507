"""The synthetic heartbeat against the sandboxes: green through all five steps on a dedicated test
tenant (the entities' tenants untouched), failing and alerting (webhook and on-call) when the
accounting sandbox is down, and every run kept as history in the group file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.health.heartbeat import step_rows
from pipelines.definitions import build_definitions
from resources.configuration import current_config
from resources.harvest import HarvestClient
from resources.health_store import heartbeat_history, last_heartbeat_success, record_heartbeat
from resources.http_server import JsonHTTPServer, Request, Response
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.heartbeat import StepResult
from rules.settings import BillbridgeConfig
from sandbox.xero import XeroSandbox
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
TEST_TENANT = "tenant-heartbeat"


class Receiver:
    """A loopback alert receiver: the chat webhook at /chat, PagerDuty's Events v2 at /pagerduty."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"/chat": [], "/pagerduty": []}
        self.server = JsonHTTPServer(self._take)

    def _take(self, request: Request) -> Response:
        self.received.setdefault(request.path, []).append(request.json())
        return Response(202, {"status": "success"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    alerts = Receiver()
    with alerts.server:
        yield alerts


@pytest.fixture
def test_tenant(tmp_path: Path) -> Iterator[XeroSandbox]:
    """The dedicated test tenant: an accounting sandbox of its own."""
    sandbox = XeroSandbox([TEST_TENANT], db_path=tmp_path / "heartbeat.sqlite", record=True)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def heartbeat_config(receiver: Receiver) -> BillbridgeConfig:
    config = current_config()
    orchestration = config.orchestration.model_copy(
        update={
            "alert_webhook_url": f"{receiver.server.url}/chat",
            "runbook_base_url": "https://example.test/runbooks/",
            "heartbeat": config.orchestration.heartbeat.model_copy(update={"tenant_id": TEST_TENANT}),
            "oncall": config.orchestration.oncall.model_copy(
                update={"url": f"{receiver.server.url}/pagerduty"}
            ),
        }
    )
    return config.model_copy(update={"orchestration": orchestration})


def run_heartbeat(sandboxes: Sandboxes, tenant: XeroSandbox, receiver: Receiver) -> dg.ExecuteInProcessResult:
    defs = build_definitions(
        heartbeat_config(receiver),
        resources={
            "harvest": HarvestClient(
                base_url=sandboxes.harvest.url,
                account_id="100001",
                access_token="demo-harvest-token",
                max_attempts=2,
            ),
            "xero": XeroClient(base_url=tenant.url, access_token="demo-xero-token", max_attempts=2),
        },
    )
    with dg.instance_for_test() as instance:
        return defs.resolve_job_def("heartbeat").execute_in_process(instance=instance, raise_on_error=False)


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_the_heartbeat_goes_through_every_step_on_the_test_tenant_only(
    sandboxes: Sandboxes, test_tenant: XeroSandbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "demo-xero-token")
    result = run_heartbeat(sandboxes, test_tenant, receiver)

    assert result.success
    assert checks(result) == {"heartbeat_succeeded": True, "heartbeat_on_time": True}
    history = heartbeat_history(Warehouse())
    assert history.height == 1 and history["ok"][0] is True
    assert last_heartbeat_success(Warehouse(), TEST_TENANT) is not None
    posted = [x for x in test_tenant.exchanges if x.method == "PUT" and x.path.endswith("/Invoices")]
    assert len(posted) == 1
    assert sandboxes.xero.exchanges == []  # no entity's tenant was called
    assert not (Path(Warehouse().path("us")).exists() or Path(Warehouse().path("uk")).exists())
    assert receiver.received == {"/chat": [], "/pagerduty": []}
    metadata = result.asset_materializations_for_node("health__heartbeat")[0].metadata
    assert metadata["succeeded"].value is True


@pytest.mark.parametrize(
    ("down", "failed_at"), [("accounting", "draft"), ("pm", "extract")], ids=["accounting", "pm"]
)
def test_the_heartbeat_fails_and_alerts_when_a_sandbox_is_down(
    sandboxes: Sandboxes,
    test_tenant: XeroSandbox,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    down: str,
    failed_at: str,
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "demo-xero-token")
    (test_tenant if down == "accounting" else sandboxes.harvest).stop()

    result = run_heartbeat(sandboxes, test_tenant, receiver)

    assert checks(result) == {"heartbeat_succeeded": False, "heartbeat_on_time": True}
    [chat] = receiver.received["/chat"]
    [page] = receiver.received["/pagerduty"]
    assert chat["text"].startswith(f"billbridge heartbeat failed at {failed_at}: ")
    assert "[runbook: https://example.test/runbooks/heartbeat.md]" in chat["text"]
    assert page["event_action"] == "trigger" and page["dedup_key"] == "billbridge/heartbeat"
    assert page["payload"]["severity"] == "error"
    assert page["links"] == [{"href": "https://example.test/runbooks/heartbeat.md", "text": "runbook"}]
    steps = (
        Warehouse().group_query("SELECT step, ok, detail FROM health.heartbeat_steps ORDER BY step_no").rows()
    )
    first_failed = ["extract", "price", "draft", "post", "look_up"].index(failed_at)
    assert [ok for _, ok, _ in steps] == [True] * first_failed + [False] * (5 - first_failed)
    assert steps[first_failed + 1][2] == f"not run: {failed_at} failed"
    assert last_heartbeat_success(Warehouse(), TEST_TENANT) is None
    assert sandboxes.xero.exchanges == []


def seed_success(started: datetime) -> None:
    """A heartbeat whose five steps succeeded at `started`."""
    results = [
        StepResult(step, True, 5, "seeded") for step in ("extract", "price", "draft", "post", "look_up")
    ]
    record_heartbeat(Warehouse(), step_rows(results, "seeded-run", TEST_TENANT, started))


def test_a_late_heartbeat_alerts_from_the_heartbeat_and_from_the_slo_measurement(
    sandboxes: Sandboxes, test_tenant: XeroSandbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "demo-xero-token")
    seed_success(datetime.now(UTC) - timedelta(hours=3))
    with dg.instance_for_test() as instance:
        # The schedule stopped three hours ago: the SLO measurement sees it without a heartbeat running.
        measured = build_definitions(heartbeat_config(receiver)).resolve_job_def("measure_slos")
        slo = measured.execute_in_process(instance=instance)
    assert {e.check_name: e.passed for e in slo.get_asset_check_evaluations()}[
        "heartbeat_age_minutes"
    ] is False
    [slo_alert] = receiver.received["/chat"]
    assert slo_alert["text"].startswith("billbridge SLO heartbeat_age_minutes breached: 180.")
    assert slo_alert["text"].endswith("[runbook: https://example.test/runbooks/heartbeat.md]")

    result = run_heartbeat(sandboxes, test_tenant, receiver)  # it succeeds now, but the last success was late

    assert checks(result) == {"heartbeat_succeeded": True, "heartbeat_on_time": False}
    late = receiver.received["/chat"][1]["text"]
    assert late.startswith("billbridge last successful heartbeat 180.") and "minutes ago (limit 90)" in late
