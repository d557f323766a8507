"""Run lines of `billbridge sync`, and whole lines for the entity processes of `billbridge close`.

Found (stop 23's note): with four entities closing at once, each process wrote a run's line when
the run began and finished it when the run ended, so the terminal read
`[1/2] dk 2026-10 extract and normalize [1/2] no 2026-10 extract and normalize  ok  41.8 s`:
whose run was it?
"""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.group_close_command import GroupCloseRequest, entity_environment
from pipelines.progress import WHOLE_LINES_ENV, Progress
from pipelines.runner import RunOutcome


class Writes:
    """A stream that keeps each write call apart."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _outcome(run_id: str, error: str = "") -> RunOutcome:
    return RunOutcome("bill_and_post", "p", run_id, success=not error, error=error, seconds=41.8)


def test_a_sync_shows_the_run_under_way_then_completes_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WHOLE_LINES_ENV, raising=False)
    out = Writes()
    progress = Progress(2, out=out)  # type: ignore[arg-type]
    progress.begin("dk 2026-10", "extract_and_normalize")
    assert out.calls == ["[1/2] dk 2026-10    extract and normalize "]
    progress.end(_outcome("0123456789"))
    assert "".join(out.calls).startswith("[1/2] dk 2026-10    extract and normalize  ok ")


def test_entity_processes_of_a_close_write_each_run_whole_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(WHOLE_LINES_ENV, "1")
    out = Writes()
    dk, no = Progress(2, out=out), Progress(2, out=out)  # type: ignore[arg-type]
    dk.begin("dk 2026-10", "extract_and_normalize")
    no.begin("no 2026-10", "extract_and_normalize")
    assert out.calls == []  # nothing is half-written while the runs are under way
    no.end(_outcome("nnnnnnnn-run"))
    dk.end(_outcome("dddddddd-run", error="pm_extracts: HarvestAuthError: check the token"))
    no.begin("no 2026-10", "bill_and_post")
    no.skip("the extraction failed")
    assert len(out.calls) == 3
    assert out.calls[0].startswith("[1/2] no 2026-10    extract and normalize  ok ")
    assert out.calls[0].endswith("run nnnnnnnn\n") and out.calls[0].count("\n") == 1
    first, error = out.calls[1].splitlines()
    assert first.startswith("[1/2] dk 2026-10    extract and normalize  FAILED ") and first.endswith(
        "run dddddddd"
    )
    assert error == "    ! pm_extracts: HarvestAuthError: check the token"
    assert out.calls[2] == "[2/2] no 2026-10    bill and post          skipped: the extraction failed\n"


def test_a_close_asks_its_entity_processes_for_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WHOLE_LINES_ENV, raising=False)
    assert entity_environment(GroupCloseRequest(date(2026, 10, 1), ["dk", "no"]))[WHOLE_LINES_ENV] == "1"
