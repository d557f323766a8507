"""Every `billbridge sync` that leaves its job undone says so: exit code, one line, a failed run, an alert.

Found on main (issue 14): a circuit breaker that opened mid-posting, documents sent to the dead
letters, a wrong accounting token and a mostly quarantined month all ended in `ok` (or a wall of
traceback) and exit 0; `billbridge report` stayed silent about the pending documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.sensors import alert_on_run_failure
from resources.configuration import current_config
from resources.http_server import JsonHTTPServer, Request, Response
from sandbox.xero import Fault
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ENTITY, PERIOD = "de", "2026-10"


def _sync(capfd: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["sync", "--entity", ENTITY, "--period", PERIOD])
    out, err = capfd.readouterr()
    return code, (out + err).splitlines()


def _no_traceback(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "Stack Trace" not in text and 'File "' not in text
    assert len(lines) <= 8, text  # progress, one line per failure or finding, the closing line


def _failed_bill_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    [run] = instance.get_runs(filters=dg.RunsFilter(job_name="bill_and_post"))
    assert run.status == dg.DagsterRunStatus.FAILURE
    return run


def _alert_text(instance: dg.DagsterInstance, run: dg.DagsterRun, tmp_path: Path, monkeypatch: Any) -> str:
    """Raise the run-failure alert for `run` as the sensor would, and return what the webhook received."""
    received: list[dict[str, Any]] = []

    def collect(alert: Request) -> Response:
        received.append(alert.json())
        return Response(200, {"ok": True})

    with JsonHTTPServer(collect) as alerts:
        config = tmp_path / "alerting.yaml"
        config.write_text(
            (REPO / "config" / "billbridge.yaml")
            .read_text()
            .replace("mapping: mapping.yaml", f"mapping: {REPO / 'config' / 'mapping.yaml'}")
            .replace('alert_webhook_url: ""', f"alert_webhook_url: {alerts.url}/alerts")
        )
        monkeypatch.setenv("BILLBRIDGE_CONFIG", str(config))
        current_config.cache_clear()
        try:
            [failure] = [
                e.dagster_event
                for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
                if e.dagster_event is not None
            ]
            context = dg.build_run_status_sensor_context(
                sensor_name="alert_on_run_failure",
                dagster_instance=instance,
                dagster_run=run,
                dagster_event=failure,
            ).for_run_failure()
            alert_on_run_failure(context)
        finally:
            current_config.cache_clear()
    [alert] = received
    return str(alert["text"])


def test_circuit_open_mid_posting_fails_the_sync_the_run_and_alerts(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = current_config().entity(ENTITY).accounting_tenant_id
    # The accounting system is down for this tenant: five failures in a row open its circuit.
    sandboxes.xero.inject(*[Fault("status", status=503, tenant=tenant) for _ in range(8)])
    code, lines = _sync(capfd)
    assert code == 1
    [incomplete] = [line for line in lines if "posting incomplete" in line]
    assert incomplete.strip().startswith(f"! {ENTITY} {PERIOD}: posting incomplete: 2 of 2 document(s)")
    assert "circuit" in incomplete and "429-storm.md" in incomplete
    assert any(line.startswith("NOT DONE") for line in lines)
    _no_traceback(lines)
    assert sandboxes.xero.documents(tenant) == []
    with dg.DagsterInstance.get() as instance:
        run = _failed_bill_run(instance)
        alert = _alert_text(instance, run, tmp_path, monkeypatch)
    assert "posting incomplete" in alert and "docs/runbooks/429-storm.md" in alert


def test_dead_lettered_documents_fail_the_sync_naming_the_dlq(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str]
) -> None:
    tenant = current_config().entity(ENTITY).accounting_tenant_id
    sandboxes.xero.inject(Fault("status", status=400, method="PUT", path="/Invoices", tenant=tenant))
    code, lines = _sync(capfd)
    assert code == 1
    [dead] = [line for line in lines if "dead letters" in line and line.lstrip().startswith("!")]
    assert f"{ENTITY} {PERIOD}: 2 document(s) in the dead letters" in dead
    assert f"billbridge dlq list --entity {ENTITY}" in dead and "dead-letters.md" in dead
    _no_traceback(lines)
    with dg.DagsterInstance.get() as instance:
        _failed_bill_run(instance)


def test_wrong_accounting_token_is_one_line_and_the_report_shows_the_pending_month(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "expired-token")
    code, lines = _sync(capfd)
    assert code == 1
    [refused] = [line for line in lines if "XERO_ACCESS_TOKEN" in line]
    assert f"at {sandboxes.env['XERO_BASE_URL']}/Organisation (401 AuthenticationUnsuccessful)" in refused
    assert "expired-credentials.md" in refused
    _no_traceback(lines)

    assert main(["report", "--entity", ENTITY, "--period", PERIOD]) == 0
    report = capfd.readouterr().out
    assert (
        f"! {ENTITY} {PERIOD}: posting incomplete: 2 of 2 document(s) not in the ledger (2 not sent)"
        in report
    )


def test_a_mostly_quarantined_month_fails_above_the_configured_share(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's us entity quarantines a few records a month; a share of 0.1% makes that "mostly".
    config = tmp_path / "strict.yaml"
    config.write_text(
        (REPO / "config" / "billbridge.yaml")
        .read_text()
        .replace("mapping: mapping.yaml", f"mapping: {REPO / 'config' / 'mapping.yaml'}")
        .replace(
            "  alert_webhook_url:",
            "  quarantine_failure_share: 0.001\n  quarantine_failure_min_records: 1\n  alert_webhook_url:",
        )
    )
    monkeypatch.setenv("BILLBRIDGE_CONFIG", str(config))
    current_config.cache_clear()
    try:
        code = main(["sync", "--entity", "us", "--period", "2026-08"])
    finally:
        current_config.cache_clear()
    lines = capfd.readouterr().out.splitlines()
    assert code == 1
    [quarantined] = [line for line in lines if "records quarantined" in line]
    assert "us 2026-08-01..2026-08-31: 3 of 197 records quarantined (1.5% > 0.1%)" in quarantined
    assert "hours_out_of_range" in quarantined and "quarantine.md" in quarantined
    assert any("bill and post" in line and "skipped: the extraction failed" in line for line in lines)
