"""`billbridge sync --executor celery` closes the month on the workers: the `*_celery` jobs reached from the CLI."""

from datetime import date

import dagster as dg
import pytest

from pipelines import celery_runner, runner, sync_command
from pipelines.cli import build_parser


def test_the_executor_is_in_process_unless_asked_and_nothing_else_is_accepted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    assert parser.parse_args(["sync", "--entity", "uk", "--period", "2026-10"]).executor == "in_process"
    args = parser.parse_args(["sync", "--entity", "uk", "--period", "2026-10", "--executor", "celery"])
    assert args.executor == runner.CELERY
    with pytest.raises(SystemExit):
        parser.parse_args(["sync", "--entity", "uk", "--period", "2026-10", "--executor", "dask"])
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_the_close_goes_to_the_workers_only_with_the_celery_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where each close was sent; the runs themselves are tested with workers in
    # tests/integration/test_celery_workers.py and in-process everywhere else.
    sent: list[tuple[str, str, date, str]] = []

    def on_workers(instance: object, entity: str, month: date, settings: runner.RunSettings, trace_id: str):
        sent.append(("workers", entity, month, trace_id))
        return runner.RunOutcome("bill_and_post_celery", entity, "run", True)

    def in_process(instance: object, defs: object, entity: str, month: date, settings: object, trace_id: str):
        sent.append(("in_process", entity, month, trace_id))
        return runner.RunOutcome("bill_and_post", entity, "run", True)

    monkeypatch.setattr(celery_runner, "bill_month_on_workers", on_workers)
    monkeypatch.setattr(runner, "bill_month", in_process)
    october = date(2026, 10, 1)
    with dg.instance_for_test() as instance:
        celery = runner.RunSettings(executor=runner.CELERY)
        assert (
            sync_command._close(instance, dg.Definitions(), "uk", october, celery, "t1").job
            == "bill_and_post_celery"
        )
        assert sync_command._close(
            instance, dg.Definitions(), "de", october, runner.RunSettings(), "t2"
        ).success
    assert sent == [("workers", "uk", october, "t1"), ("in_process", "de", october, "t2")]
