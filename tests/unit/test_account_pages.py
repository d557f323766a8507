"""The shared readings' rules (rules/account_pages.py): freshness, the incremental directory's window
and merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.account_pages import Freshness, list_key, merge_changes, newest_update, updated_since

REQUESTED = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
FRESH = Freshness(REQUESTED, full_every=timedelta(hours=24), overlap=timedelta(hours=1))


def _page(*records: object, problem: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "url": "http://pm/v2/clients?page=1",
        "pagination": "page",
        "records": list(records),
        "problem": problem,
    }


def test_a_reading_started_before_the_request_is_not_reused() -> None:
    assert FRESH.reusable(REQUESTED)
    assert FRESH.reusable(REQUESTED + timedelta(seconds=1))
    assert not FRESH.reusable(REQUESTED - timedelta(microseconds=1))


def test_the_directory_is_read_whole_first_and_when_its_last_whole_read_is_a_day_old() -> None:
    assert FRESH.full_read_due(None, REQUESTED)
    assert not FRESH.full_read_due(REQUESTED - timedelta(hours=23, minutes=59), REQUESTED)
    assert FRESH.full_read_due(REQUESTED - timedelta(hours=24), REQUESTED)
    always = Freshness(REQUESTED, full_every=timedelta(0), overlap=timedelta(hours=1))
    assert always.full_read_due(REQUESTED, REQUESTED)


def test_updated_since_starts_an_overlap_before_the_newest_update_held() -> None:
    pages = [
        _page(
            {"id": 1, "updated_at": "2026-08-01T10:00:00Z"}, {"id": 2, "updated_at": "2026-08-03T09:30:00Z"}
        )
    ]
    assert newest_update(pages) == "2026-08-03T09:30:00Z"
    assert updated_since("2026-08-03T09:30:00Z", timedelta(hours=1)) == "2026-08-03T08:30:00Z"
    assert newest_update([_page("not a record", {"id": 3})]) is None


def test_changed_records_replace_their_old_versions_and_new_ones_join() -> None:
    held = [
        _page({"id": 1, "name": "Acme"}, {"id": 2, "name": "Globex"}),
        _page({"id": 3, "name": "Initech"}),
    ]
    changes = [_page({"id": 2, "name": "Globex Ltd"}, {"id": 4, "name": "Newco"})]
    merged = merge_changes(held, changes)
    assert merged is not None
    records = [r for page in merged for r in page["records"]]
    assert records == [
        {"id": 1, "name": "Acme"},
        {"id": 3, "name": "Initech"},
        {"id": 2, "name": "Globex Ltd"},
        {"id": 4, "name": "Newco"},
    ]


def test_changes_that_cannot_be_merged_call_for_a_whole_read() -> None:
    held = [_page({"id": 1})]
    assert merge_changes(held, [_page(problem={"reason": "unreadable_body"})]) is None
    assert merge_changes(held, [_page({"name": "no id"})]) is None
    assert merge_changes(held, [_page({"id": True})]) is None


def test_a_list_request_is_named_by_its_account_list_and_days() -> None:
    august = list_key("http://pm/v2#1", "time_entries", {"from": "2026-08-01", "to": "2026-08-31"})
    assert august == list_key("http://pm/v2#1", "time_entries", {"to": "2026-08-31", "from": "2026-08-01"})
    assert august != list_key("http://pm/v2#2", "time_entries", {"from": "2026-08-01", "to": "2026-08-31"})
    assert august != list_key("http://pm/v2#1", "time_entries", {"from": "2026-08-01", "to": "2026-08-30"})
    assert august.startswith("time_entries-")
