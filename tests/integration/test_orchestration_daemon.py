"""The team deployment for real: PostgreSQL storage, the code server and `dagster-daemon`.

deploy/dagster.yaml is used as shipped. The test creates and drops its own database on the
PostgreSQL at 127.0.0.1:5432, starts the code location as a gRPC server (as `dagster dev`
does) and the daemon as subprocesses, turns one schedule and one sensor on with the CLI,
and checks that the runs they launched succeeded, are recorded in PostgreSQL, and that the
two runs of one entity never overlapped while other entities were launched beside them.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg2
import pytest
from dagster._core.scheduler.instigation import InstigatorType, ScheduleInstigatorData

from assets.partitions import DAY, ENTITY
from pipelines.events_server import EventsServer
from resources.event_inbox import EventInbox
from sandbox.webhooks import WebhookSender
from tests.conftest import Sandboxes
from tests.integration.conftest import PG
from tests.integration.processes import BIN, free_port, start, start_code_server, stop, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
WAIT_S = 150


def _cli(args: list[str], workspace: Path) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), *args, "-w", str(workspace)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_daemon_runs_schedule_and_sensor_on_postgres_one_run_per_entity_at_a_time(
    sandboxes: Sandboxes, team_instance: Path, pg_database: str, tmp_path: Path
) -> None:
    home = team_instance

    # Three entities change at once (webhooks for one day each); with the schedule's uk run,
    # uk runs twice.
    inbox, secret = EventInbox(), "daemon-test-secret"
    server = EventsServer(inbox, secret).start()
    sender = WebhookSender(server.url, secret)
    sandboxes.harvest.webhooks = sender
    changed: list[str] = []
    for entity, client_id in (("us", 5001), ("uk", 5101), ("de", 5201)):
        entry = next(
            e
            for e in sandboxes.company.time_entries
            if e["client"]["id"] == client_id and e["spent_date"] < "2026-10-01"
        )
        sandboxes.harvest.update_time_entry(entry["id"], notes="changed for the daemon test")
        changed.append(str(dg.MultiPartitionKey({ENTITY: entity, DAY: entry["spent_date"]})))
    sender.flush()
    sender.close()
    server.stop()
    assert inbox.counts() == {"accepted": 3}

    grpc_port = free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - grpc_server:\n"
        f"      host: 127.0.0.1\n      port: {grpc_port}\n      location_name: billbridge\n"
    )
    logs = [tmp_path / "code_server.log", tmp_path / "daemon.log"]
    code_server = start_code_server(grpc_port, logs[0])
    daemon: subprocess.Popen[bytes] | None = None
    try:
        with dg.DagsterInstance.get() as instance:
            _cli(["schedule", "start", "daily_sync_uk"], workspace)
            _cli(["sensor", "start", "pm_webhook_inbox"], workspace)
            # As if the schedule had been on since this time yesterday: the daemon fires the one
            # tick it missed (02:00 London) instead of making the test wait for tomorrow.
            [state] = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
            data = state.instigator_data
            assert isinstance(data, ScheduleInstigatorData)
            instance.update_instigator_state(
                state.with_data(
                    ScheduleInstigatorData(data.cron_schedule, start_timestamp=time.time() - 24 * 3600 + 60)
                )
            )
            daemon = start([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], logs[1])

            def finished() -> list[dg.RunRecord] | None:
                records = instance.get_run_records()
                done = [r for r in records if r.dagster_run.is_finished]
                return records if len(records) >= 4 and len(done) == len(records) else None

            records = wait_for("the schedule's and the sensor's runs to finish", finished, WAIT_S, logs)
            launched = {
                r.dagster_run.run_id: instance.all_logs(
                    r.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_STARTING
                )[0].timestamp
                for r in records
            }

        by_source: dict[str, list[dg.RunRecord]] = {}
        for record in records:
            by_source.setdefault(record.dagster_run.tags.get("billbridge/source", "?"), []).append(record)
        assert {r.dagster_run.status for r in records} == {dg.DagsterRunStatus.SUCCESS}, [
            (r.dagster_run.run_id, r.dagster_run.status) for r in records
        ]
        # The sensor: exactly the three changed entity-days, one run each.
        assert sorted(r.dagster_run.tags["dagster/partition"] for r in by_source["webhook"]) == sorted(
            changed
        )
        # The schedule: uk's previous London day.
        [scheduled] = by_source["daily_sync"]
        london_today = datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).date()
        assert scheduled.dagster_run.tags["dagster/schedule_name"] == "daily_sync_uk"
        assert scheduled.dagster_run.tags["dagster/partition/entity"] == "uk"
        assert scheduled.dagster_run.tags["dagster/partition/day"] < london_today.isoformat()
        # Runs of one entity never overlapped (one DuckDB writer per file): the tag limit queued them.
        spans = sorted(
            (r.start_time, r.end_time) for r in records if r.dagster_run.tags.get("billbridge/entity") == "uk"
        )
        assert len(spans) == 2
        (_, first_end), (second_start, _) = spans
        assert first_end is not None and second_start is not None and first_end <= second_start
        # Different entities were not held back: the queue released the sensor's us and de runs
        # together, each before the other had finished (their execution may still not overlap
        # on a busy two-core machine, since each run first starts its own process).
        [us], [de] = (
            [r for r in by_source["webhook"] if r.dagster_run.tags["billbridge/entity"] == e]
            for e in ("us", "de")
        )
        released = [launched[r.dagster_run.run_id] for r in (us, de)]
        assert us.end_time and de.end_time and max(released) < min(us.end_time, de.end_time)
        # ... and they are recorded in PostgreSQL, not in a local SQLite file.
        with psycopg2.connect(dbname=pg_database, **PG) as con, con.cursor() as cur:
            cur.execute("SELECT run_id, status FROM runs")
            stored = dict(cur.fetchall())
        assert {r.dagster_run.run_id for r in records} <= set(stored)
        assert {stored[r.dagster_run.run_id] for r in records} == {"SUCCESS"}
        assert not list(home.glob("**/runs.db"))
    finally:
        if daemon is not None:
            stop(daemon)
        stop(code_server)
