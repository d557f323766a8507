"""The synthetic heartbeat against the sandboxes: green through all five steps on a dedicated test
tenant (the entities' tenants untouched), failing and alerting (webhook and on-call) when the
accounting sandbox is down, and every run kept as history in the group file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from resources.configuration import current_config
from resources.harvest import HarvestClient
from resources.health_store import heartbeat_history, last_heartbeat_success
from resources.http_server import JsonHTTPServer, Request, Response
from resources.warehouse import Warehouse
from resources.xero import XeroClient
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
                base_url=sandboxes.harvest.url, account_id="100001", access_token="demo-harvest-token"
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


def test_the_heartbeat_fails_and_alerts_when_the_sandbox_is_down(
    sandboxes: Sandboxes, test_tenant: XeroSandbox, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "demo-xero-token")
    test_tenant.stop()  # the accounting side of the path is down

    result = run_heartbeat(sandboxes, test_tenant, receiver)

    assert checks(result) == {"heartbeat_succeeded": False, "heartbeat_on_time": True}
    [chat] = receiver.received["/chat"]
    [page] = receiver.received["/pagerduty"]
    assert chat["text"].startswith("billbridge heartbeat failed at draft: ")
    assert "[runbook: https://example.test/runbooks/heartbeat.md]" in chat["text"]
    assert page["event_action"] == "trigger" and page["dedup_key"] == "billbridge/heartbeat"
    assert page["payload"]["severity"] == "error"
    assert page["links"] == [{"href": "https://example.test/runbooks/heartbeat.md", "text": "runbook"}]
    steps = (
        Warehouse().group_query("SELECT step, ok, detail FROM health.heartbeat_steps ORDER BY step_no").rows()
    )
    assert [(s, ok) for s, ok, _ in steps] == [
        ("extract", True),
        ("price", True),
        ("draft", False),
        ("post", False),
        ("look_up", False),
    ]
    assert steps[3][2] == "not run: draft failed"
    assert last_heartbeat_success(Warehouse(), TEST_TENANT) is None
    assert sandboxes.xero.exchanges == []
