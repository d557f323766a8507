"""Schedules fire in each entity's own time zone and the monthly close waits for approvals or its deadline."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from assets.partitions import DAY, ENTITY, MONTH
from pipelines.definitions import defs
from pipelines.schedules import close_decision, working_day_index
from rules.calendar import previous_month


def _schedule(name: str) -> dg.ScheduleDefinition:
    return defs.get_repository_def().get_schedule_def(name)


def _evaluate(name: str, at: datetime) -> list[dg.RunRequest] | str:
    # The context is closed too: left open, it leaves the instance's definitions-state storage current
    # for the process, and a later `dg.materialize` fails on that storage's dead instance.
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
        ) as context,
    ):
        data = _schedule(name).evaluate_tick(context)
    if data.run_requests:
        return list(data.run_requests)
    return str(data.skip_message)


def test_daily_sync_fires_at_two_local_in_each_entity_zone() -> None:
    assert _schedule("daily_sync_us").execution_timezone == "America/New_York"
    assert _schedule("daily_sync_de").execution_timezone == "Europe/Berlin"
    assert _schedule("daily_sync_uk").cron_schedule == "0 2 * * *"


def test_daily_sync_requests_the_previous_local_day_of_its_own_entity() -> None:
    # 02:00 on 10 September in Berlin is still 9 September in New York, but each schedule asks
    # for its own entity's day that just ended.
    at = datetime(2026, 9, 10, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    requests = _evaluate("daily_sync_de", at)
    assert isinstance(requests, list) and len(requests) == 1
    key = requests[0].partition_key
    assert key == str(dg.MultiPartitionKey({ENTITY: "de", DAY: "2026-09-09"}))
    assert requests[0].tags["billbridge/entity"] == "de"


def test_daily_sync_skips_days_before_billing_start() -> None:
    at = datetime(2026, 8, 1, 2, 0, tzinfo=ZoneInfo("Europe/London"))
    assert "before billing_start" in str(_evaluate("daily_sync_uk", at))


def test_working_days_count_monday_to_friday() -> None:
    # October 2026 starts on a Thursday: Thu 1 = 1, Fri 2 = 2, Mon 5 = 3, Wed 7 = 5.
    assert [working_day_index(date(2026, 10, d)) for d in (1, 2, 3, 4, 5, 7)] == [1, 2, 0, 0, 3, 5]


def test_close_waits_for_approvals_until_its_deadline() -> None:
    assert not close_decision(2, 3, 5, 0).run  # too early
    assert close_decision(3, 3, 5, 0).run  # everything approved: close now
    waiting = close_decision(4, 3, 5, 7)
    assert not waiting.run and "7 line(s) await approval" in waiting.reason
    assert close_decision(5, 3, 5, 7).run  # deadline: bill what is approved, report the rest
    assert not close_decision(4, 3, 5, None).run  # warehouse busy: decide on the next tick
    assert close_decision(5, 3, 5, None).run
    assert not close_decision(0, 3, 5, 0).run  # weekend


def test_monthly_close_requests_the_previous_month_on_its_close_day() -> None:
    # Mon 5 October 2026 is working day 3; nothing was extracted, so nothing awaits approval.
    at = datetime(2026, 10, 5, 6, 0, tzinfo=ZoneInfo("Europe/London"))
    requests = _evaluate("monthly_close_uk", at)
    assert isinstance(requests, list) and len(requests) == 1
    assert requests[0].partition_key == str(dg.MultiPartitionKey({ENTITY: "uk", MONTH: "2026-09-01"}))
    assert requests[0].run_key == "close|uk|2026-09"
    early = _evaluate("monthly_close_uk", datetime(2026, 10, 2, 6, 0, tzinfo=ZoneInfo("Europe/London")))
    assert "starts on working day 3" in str(early)
    assert previous_month(date(2026, 1, 15)) == date(2025, 12, 1)


def test_weekly_review_and_every_schedule_is_stopped_by_default() -> None:
    repo = defs.get_repository_def()
    assert repo.has_schedule_def("weekly_review")
    for schedule in repo.schedule_defs:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, schedule.name
    for sensor in repo.sensor_defs:
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED, sensor.name
