"""The audit trail cannot be rewritten unnoticed: edit, deletion, reordering and a cut tail are each caught.

Real files in the test's data folder; the commands run through the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from resources.audit_log import GENESIS, AuditEvent, AuditLog, chain_hash


def _log_with(n: int) -> AuditLog:
    log = AuditLog()
    log.append_many(AuditEvent("alice", "dlq.replay", f"id=us-{k}") for k in range(1, n + 1))
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def test_each_entry_carries_the_hash_of_the_one_before() -> None:
    log = _log_with(3)
    previous = GENESIS
    for line in _lines(log):
        digest, _, payload = line.rstrip(b"\n").partition(b" ")
        assert digest.decode() == chain_hash(previous, payload)
        previous = digest.decode()
    assert [e["seq"] for e in log.entries()] == [1, 2, 3]
    assert log.verify().problems == [] and log.verify().head == previous


def test_an_edited_entry_is_detected(capsys: pytest.CaptureFixture[str]) -> None:
    log = _log_with(5)
    lines = _lines(log)
    lines[2] = lines[2].replace(b"us-3", b"us-9")  # someone hides which dead letter was replayed
    log.path.write_bytes(b"".join(lines))
    assert log.verify().problems == [
        "the chain breaks at line 3 (entry 3): it, or the entry before it, was edited"
    ]
    assert main(["audit", "verify"]) == 1
    assert "audit log TAMPERED: the chain breaks at line 3" in capsys.readouterr().err


def test_an_edit_with_its_hash_recomputed_breaks_the_next_entry() -> None:
    log = _log_with(5)
    lines = _lines(log)
    previous = lines[1].partition(b" ")[0].decode()
    payload = json.loads(lines[2].rstrip(b"\n").partition(b" ")[2])
    payload["actor"] = "mallory"
    forged = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    lines[2] = chain_hash(previous, forged).encode() + b" " + forged + b"\n"
    log.path.write_bytes(b"".join(lines))
    assert log.verify().problems == [
        "the chain breaks at line 4 (entry 4): it, or the entry before it, was edited"
    ]


def test_a_deleted_entry_is_detected() -> None:
    log = _log_with(5)
    lines = _lines(log)
    del lines[1]
    log.path.write_bytes(b"".join(lines))
    assert log.verify().problems == [
        "line 2 holds entry 3: entries were deleted, inserted or reordered before it"
    ]


def test_reordered_entries_are_detected() -> None:
    log = _log_with(5)
    lines = _lines(log)
    lines[1], lines[3] = lines[3], lines[1]
    log.path.write_bytes(b"".join(lines))
    assert log.verify().problems == [
        "line 2 holds entry 4: entries were deleted, inserted or reordered before it"
    ]


def test_a_cut_tail_is_detected_by_the_head_anchor() -> None:
    log = _log_with(5)
    log.path.write_bytes(b"".join(_lines(log)[:3]))
    assert log.verify().problems == ["the log ends at entry 3 but entry 5 was written: entries were deleted"]


def test_a_log_rewritten_from_scratch_is_caught_by_the_head_recorded_elsewhere(tmp_path: Path) -> None:
    log = _log_with(4)
    recorded_head = log.verify().head  # e.g. copied to the auditor's own storage
    log.path.unlink()
    log.head_path.unlink()
    AuditLog().append_many(AuditEvent("mallory", "dlq.replay", "id=us-1") for _ in range(4))
    assert log.verify().problems == []  # self-consistent ...
    problems = log.verify(expect_head=recorded_head).problems
    assert len(problems) == 1 and "was rewritten or cut" in problems[0]  # ... but not the log that was


def test_commands_are_audited_with_actor_outcome_and_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "--entity", "us"]) == 0
    assert main(["export-drafts", "--entity", "us", "--period", "2026-09"]) == 1  # no drafts: failed
    entries = list(AuditLog().entries())
    by_action = {e["action"]: e for e in entries}
    assert by_action["dlq.list"]["outcome"] == "ok" and by_action["dlq.list"]["detail"]["kind"] == "view"
    assert by_action["dlq.list"]["target"] == "entity=us"
    assert by_action["export-drafts"]["outcome"] == "failed"
    assert by_action["export-drafts"]["target"] == "entity=us period=2026-09"
    assert by_action["configuration.changed"]["detail"]["files"]["mapping.yaml"]["from"] is None
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0  # verifies the entries so far; its own entry follows
    assert f"audit log intact: {len(entries)} entries" in capsys.readouterr().out
    assert [e["action"] for e in AuditLog().entries()][-1] == "audit.verify"


def test_a_configuration_change_is_recorded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_config = Path(__file__).resolve().parents[2] / "config"
    for name in ("billbridge.yaml", "mapping.yaml"):
        (tmp_path / name).write_text((repo_config / name).read_text())
    monkeypatch.setenv("BILLBRIDGE_CONFIG", str(tmp_path / "billbridge.yaml"))
    assert main(["audit", "verify"]) == 0
    assert main(["audit", "verify"]) == 0
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping.read_text() + "\n# rate change approved by the partners\n")
    assert main(["audit", "verify"]) == 0
    changes = [e for e in AuditLog().entries() if e["action"] == "configuration.changed"]
    assert len(changes) == 2
    assert list(changes[1]["detail"]["files"]) == ["mapping.yaml"]


def test_a_run_started_by_the_cli_is_audited_with_who_started_it() -> None:
    import dagster as dg

    from pipelines.audit_runs import audit_finished_runs
    from pipelines.concurrency import entity_tags
    from pipelines.definitions import defs
    from resources.identity import os_user

    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("weekly_review").execute_in_process(
            instance=instance, tags=entity_tags("us", "runner")
        )
        success = next(e for e in result.all_events if e.event_type_value == "PIPELINE_SUCCESS")
        context = dg.build_run_status_sensor_context(
            sensor_name="audit_finished_runs",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=success,
        )
        audit_finished_runs(context)
    [entry] = [e for e in AuditLog().entries() if e["action"] == "run.weekly_review"]
    assert entry["actor"] == f"{os_user()} (os)" and entry["outcome"] == "ok"
    assert entry["detail"] == {"run_id": result.run_id, "source": "runner", "trace_id": result.run_id}
