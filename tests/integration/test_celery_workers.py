"""Two Celery workers close entities across their shards, with the same rows as the single-process close.

A broker on 127.0.0.1:5672 (RabbitMQ) is the one thing this test needs beyond the sandboxes.
Both closes start from the same extracted days (a copy of the home without its Dagster instance). The single-process
close runs in one BILLBRIDGE_HOME against one accounting sandbox; then, in a second home against a
fresh accounting sandbox, two worker processes (one per shard queue, one execution slot each) run
every billing-to-posting step of uk and de, whose shards differ (de's close launched by
`billbridge sync --executor celery`).
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.celery_executor import BROKER_ENV, SHARDS_ENV, broker_url
from pipelines.celery_runner import bill_month_on_workers
from pipelines.celery_workers import running_workers
from pipelines.cli import main
from pipelines.concurrency import ENTITY_TAG
from pipelines.definitions import defs
from pipelines.runner import RunOutcome, RunSettings, bill_month, ensure_dagster_home, extract_month
from resources.configuration import current_config
from resources.warehouse import Warehouse
from rules.celery_routing import queue_of, shard_of
from sandbox.xero import XeroSandbox
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
MONTH = date(2026, 10, 1)
ENTITIES = ("uk", "de")
SHARDS = 2
# Per run, per process or per exchange with the accounting system: never equal between two closes.
VOLATILE = {"run_id", "created_at", "updated_at", "external_id", "claimed_at", "expires_at"}
TABLES = {
    "billing.invoice_drafts": "invoice_number",
    "posting.outbox": "document_number",
    "posting.outbox_lines": "document_number, line_no",
}


def _broker_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


def _rows(entity: str) -> dict[str, pl.DataFrame]:
    """The drafts and outbox tables of `entity`, without the columns that differ from close to close."""
    frames = {}
    for table, order in TABLES.items():
        frame = Warehouse(read_only=True).query(entity, f"SELECT * FROM {table} ORDER BY {order}")
        frames[table] = frame.drop([c for c in frame.columns if c in VOLATILE])
    return frames


def _worker_of_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Step key -> the Celery worker that ran it, from the engine events the workers recorded."""
    ran_on = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if "Celery worker" in metadata and event is not None and event.step_key:
            ran_on[event.step_key] = str(metadata["Celery worker"].value)
    return ran_on


@pytest.mark.skipif(not _broker_listening(), reason="no Celery broker (RabbitMQ) on 127.0.0.1:5672")
def test_two_workers_close_entities_on_their_shards_like_one_process(
    sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {shard_of(entity, SHARDS) for entity in ENTITIES} == {0, 1}  # one entity per worker
    first_home, home = Path(os.environ["BILLBRIDGE_HOME"]), tmp_path / "celery_home"
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        for entity in ENTITIES:
            extracted = extract_month(instance, defs, entity, MONTH, RunSettings())
            assert extracted is not None and extracted.success, extracted
        # Both closes start from the same days (and the same field-encryption keys): the home, not its instance.
        shutil.copytree(first_home, home, ignore=shutil.ignore_patterns("dagster_home"))
        for entity in ENTITIES:
            assert bill_month(instance, defs, entity, MONTH, RunSettings()).success
    expected = {entity: _rows(entity) for entity in ENTITIES}

    monkeypatch.setenv("BILLBRIDGE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setenv(SHARDS_ENV, str(SHARDS))
    tenants = [e.accounting_tenant_id for e in current_config().entities]
    xero = XeroSandbox(tenants, db_path=tmp_path / "xero_celery.sqlite")
    xero.start()
    monkeypatch.setenv("XERO_BASE_URL", xero.url)
    env = {**os.environ, "PYTHONPATH": str(REPO), BROKER_ENV: broker_url()}
    try:
        ensure_dagster_home()
        with dg.DagsterInstance.get() as instance, running_workers(SHARDS, env, tmp_path):
            # uk from Python, de from the command line (`billbridge sync --executor celery`).
            closes = {"uk": bill_month_on_workers(instance, "uk", MONTH)}
            assert main(["sync", "--entity", "de", "--period", f"{MONTH:%Y-%m}", "--executor", "celery"]) == 0
            [de_close] = instance.get_runs(
                dg.RunsFilter(job_name="bill_and_post_celery", tags={ENTITY_TAG: "de"})
            )
            closes["de"] = RunOutcome("bill_and_post_celery", "de", de_close.run_id, de_close.is_success)
            for entity, close in closes.items():
                assert close.success, close.error
                ran_on = _worker_of_steps(instance, close.run_id)
                assert ran_on, "no step reported a Celery worker"
                assert {worker.split("@")[0] for worker in ran_on.values()} == {queue_of(entity, SHARDS)}, (
                    ran_on
                )
    finally:
        xero.stop()
    for entity in ENTITIES:
        got = _rows(entity)
        for table, frame in expected[entity].items():
            assert got[table].height > 0, f"{entity}: {table} is empty, nothing was compared"
            assert got[table].equals(frame), f"{entity} {table}:\n{frame}\n{got[table]}"
