"""The shared readings' rules (rules/account_pages.py): freshness, the incremental directory's window
and merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.account_pages import (
    Freshness,
    list_key,
    merge_changes,
    newest_update,
    route_page,
    updated_since,
)
from rules.routing import EntityRoutes, fingerprint

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


ROUTES = EntityRoutes(
    by_client={5001: "us", 5101: "uk"},
    by_project={},
    by_code_prefix=(),
    internal_clients=frozenset(),
    home_entity={8001: "us", 8101: "uk"},
    unclaimed_entity="us",
)


def test_a_page_is_routed_to_the_entity_that_keeps_each_record_and_to_its_persons_home_entity() -> None:
    us_own = {"id": 1, "client": {"id": 5001}, "user": {"id": 8001}}
    uk_own = {"id": 2, "client": {"id": 5101}, "user": {"id": 8101}}
    intercompany = {"id": 3, "client": {"id": 5101}, "user": {"id": 8001}}  # a US person's time, billed by UK
    nobodys = {"id": 4, "client": {"id": 9999}, "user": {"id": 9999}}  # unclaimed: the unclaimed entity's
    page = _page(us_own, uk_own, intercompany, nobodys, "not an object")
    shares = route_page(page, ROUTES, ["us", "uk", "de"])
    assert shares["us"]["records"] == [us_own, intercompany, nobodys, "not an object"]
    assert shares["uk"]["records"] == [uk_own, intercompany]
    assert shares["de"]["records"] == []
    # Every share is the same page (it counts as a page read, with its URL) holding fewer records.
    for share in shares.values():
        assert {**share, "records": None} == {**page, "records": None}


def test_an_unreadable_page_reaches_every_entity() -> None:
    problem = {"reason": "invalid_json", "field": "", "value": "", "detail": "cut short", "body": "{"}
    shares = route_page(_page(problem=problem), ROUTES, ["us", "uk"])
    assert [s["problem"] for s in shares.values()] == [problem, problem]


def test_other_routing_tables_give_other_share_names() -> None:
    moved = EntityRoutes(**{**ROUTES.__dict__, "by_client": {5001: "uk", 5101: "uk"}})
    assert fingerprint(ROUTES) == fingerprint(EntityRoutes(**ROUTES.__dict__))
    assert fingerprint(moved) != fingerprint(ROUTES)
