"""Bad PM input, one defect at a time, against the PM sandbox over loopback (issue 13).

Every defective record or page ends in raw.rejected_records with a reason naming the record, the
field and the value, while the rest of the entity's days proceed; paging that cannot be trusted
stops with an error and leaves the raw layer as it was; duplicates collapse to one version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from resources.configuration import current_config
from resources.harvest import HarvestClient
from resources.harvest_paging import PagingError
from resources.raw_extraction import extract_list
from resources.warehouse import Warehouse
from rules.raw_slices import ExtractionScope
from rules.routing import EntityRoutes, route_record
from sandbox.company import Company, generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.harvest.variants import (
    DELETE,
    CursorPagination,
    InsertAfterPage,
    ListVariant,
    PageFault,
    RecordFault,
    next_link_to_self,
    raw_answer,
    set_envelope,
    truncated,
)

pytestmark = pytest.mark.integration
AUGUST = tuple(date(2026, 8, 1) + timedelta(days=i) for i in range(31))
PER_PAGE = 50  # 190 of the seeded company's August entries are us's; all entities' span 12 pages
ROUTES = EntityRoutes.from_config(current_config())


def _ours(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r["spent_date"].startswith("2026-08") and route_record(r, ROUTES) == ("us", "claimed")
    ]


COMPANY = generate_company(seed=7)
US_ENTRIES = _ours(COMPANY.time_entries)
US_EXPENSES = _ours(COMPANY.expenses)
ENTRY = US_ENTRIES[0]["id"]  # 1000000001, a billable us entry of 2026-08-03
OTHER_ENTRY = US_ENTRIES[1]["id"]
EXPENSE = US_EXPENSES[0]["id"]


@dataclass
class Extraction:
    warehouse: Warehouse
    sandbox: HarvestSandbox

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.warehouse.query("us", sql, params).rows()

    def rejected(self) -> list[dict[str, Any]]:
        return self.warehouse.query(
            "us", "SELECT * FROM raw.rejected_records ORDER BY kind, record_ref"
        ).to_dicts()

    def ids(self, table: str = "raw.time_entries") -> set[int]:
        return {row[0] for row in self.rows(f"SELECT record_id FROM {table}")}


@pytest.fixture
def extraction(tmp_path: Any) -> Iterator[Any]:
    """extract(*variants): one extraction of us's August through a sandbox with those variants."""
    servers: list[HarvestSandbox] = []

    def extract(*variants: ListVariant, company: Company | None = None, **client: Any) -> Extraction:
        sandbox = HarvestSandbox(company or COMPANY, rate_limit=None, variants=variants, record=True).start()
        servers.append(sandbox)
        harvest = HarvestClient(
            base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token",
            per_page=PER_PAGE, unreadable_wait_s=0.01, **client,
        )  # fmt: skip
        warehouse = Warehouse(home=str(tmp_path))
        now = datetime.now(UTC)
        for kind in ("time_entries", "expenses"):  # the dated lists (the directory is another test's)
            scope = ExtractionScope("us", kind, AUGUST, "test-run", now)
            extract_list(harvest, warehouse, scope, ROUTES, intercompany=kind == "time_entries")
        return Extraction(warehouse, sandbox)

    yield extract
    for server in servers:
        server.stop()


# (kind, record id, field path, value or literal, expected reason, expected value text in the detail)
RECORD_DEFECTS: list[tuple[str, int, str, Any, str, str]] = [
    ("time_entries", ENTRY, "spent_date", None, "missing_field", "null"),
    ("time_entries", ENTRY, "spent_date", DELETE, "missing_field", "null"),
    ("time_entries", ENTRY, "spent_date", "2026-08-32", "invalid_date", '"2026-08-32"'),
    ("time_entries", ENTRY, "spent_date", "08/14/2026", "invalid_date", '"08/14/2026"'),
    ("time_entries", ENTRY, "spent_date", "2026-08-14T10:00:00Z", "invalid_date", '"2026-08-14T10:00:00Z"'),
    ("time_entries", ENTRY, "spent_date", "", "invalid_date", '""'),
    ("time_entries", ENTRY, "spent_date", "20260814", "invalid_date", '"20260814"'),
    ("time_entries", ENTRY, "spent_date", "2026-02-30", "invalid_date", '"2026-02-30"'),
    ("time_entries", ENTRY, "spent_date", 20260814, "wrong_type", "20260814"),
    ("time_entries", ENTRY, "spent_date", "2026-07-31", "outside_requested_window", '"2026-07-31"'),
    ("time_entries", ENTRY, "id", None, "missing_field", "null"),
    ("time_entries", ENTRY, "id", DELETE, "missing_field", "null"),
    ("time_entries", ENTRY, "id", 2**63, "invalid_id", str(2**63)),
    ("time_entries", ENTRY, "id", 2**64 + 7, "invalid_id", str(2**64 + 7)),
    ("time_entries", ENTRY, "id", "1000000531x", "wrong_type", '"1000000531x"'),
    ("time_entries", ENTRY, "id", "1000000001", "wrong_type", '"1000000001"'),
    ("time_entries", ENTRY, "id", 0, "invalid_id", "0"),
    ("time_entries", ENTRY, "id", -5, "invalid_id", "-5"),
    ("time_entries", ENTRY, "id", 1000000001.5, "wrong_type", "1000000001.5"),
    ("time_entries", ENTRY, "id", True, "wrong_type", "true"),
    ("time_entries", ENTRY, "hours", "1.5", "wrong_type", '"1.5"'),
    ("time_entries", ENTRY, "hours", True, "wrong_type", "true"),
    ("time_entries", ENTRY, "hours", {"value": 1.5}, "wrong_type", '{"value": 1.5}'),
    ("time_entries", ENTRY, "hours", 1e15, "out_of_range", "1000000000000000.0"),
    ("time_entries", ENTRY, "billable_rate", 1e15, "out_of_range", "1000000000000000.0"),
    ("time_entries", ENTRY, "billable_rate", "150.00", "wrong_type", '"150.00"'),
    ("time_entries", ENTRY, "cost_rate", "80", "wrong_type", '"80"'),
    ("time_entries", ENTRY, "billable", "yes", "wrong_type", '"yes"'),
    ("time_entries", ENTRY, "is_closed", "true", "wrong_type", '"true"'),
    ("time_entries", ENTRY, "client", "Acme", "wrong_type", '"Acme"'),
    ("time_entries", ENTRY, "client.id", "5001", "wrong_type", '"5001"'),
    ("time_entries", ENTRY, "project.id", 6001.5, "wrong_type", "6001.5"),
    ("time_entries", ENTRY, "project", [], "wrong_type", "[]"),
    ("time_entries", ENTRY, "task.name", 7, "wrong_type", "7"),
    ("expenses", EXPENSE, "total_cost", "12.50", "wrong_type", '"12.50"'),
    ("expenses", EXPENSE, "spent_date", None, "missing_field", "null"),
    ("expenses", EXPENSE, "id", "x", "wrong_type", '"x"'),
    ("expenses", EXPENSE, "total_cost", 10**13, "out_of_range", "10000000000000"),
]
# Values no JSON encoder writes, sent as raw literals: (kind, id, field, literal, reason).
LITERAL_DEFECTS = [
    ("time_entries", ENTRY, "hours", "NaN", "not_finite"),
    ("time_entries", ENTRY, "hours", "Infinity", "not_finite"),
    ("time_entries", ENTRY, "billable_rate", "NaN", "not_finite"),
    ("time_entries", ENTRY, "billable_rate", "-Infinity", "not_finite"),
    ("time_entries", ENTRY, "billable_rate", "1e15", "out_of_range"),
    ("expenses", EXPENSE, "total_cost", "NaN", "not_finite"),
]


def _assert_rest_proceeds(run: Extraction, kind: str, record_id: int) -> None:
    expected = {r["id"] for r in (US_ENTRIES if kind == "time_entries" else US_EXPENSES)} - {record_id}
    assert run.ids(f"raw.{kind}") == expected
    assert 0 not in run.ids(f"raw.{kind}")  # a record without a usable id is never keyed as 0 (`time-0`)


@pytest.mark.parametrize(("kind", "record_id", "path", "value", "reason", "shown"), RECORD_DEFECTS)
def test_a_defective_record_is_rejected_with_its_reason_and_the_rest_proceeds(
    extraction: Any, kind: str, record_id: int, path: str, value: Any, reason: str, shown: str
) -> None:
    run = extraction(RecordFault(kind, record_id, path, value))
    [rejected] = run.rejected()
    assert (rejected["kind"], rejected["field"], rejected["reason"], rejected["scope"]) == (
        kind,
        path,
        reason,
        "record",
    )
    assert rejected["value"] == shown
    assert f"field {path} = {shown}" in rejected["detail"]
    assert rejected["request_url"].startswith(run.sandbox.url)
    if path != "id":
        assert rejected["record_ref"] == f"id={record_id}"
        assert f"record id={record_id}" in rejected["detail"]
    _assert_rest_proceeds(run, kind, record_id)


@pytest.mark.parametrize(("kind", "record_id", "path", "literal", "reason"), LITERAL_DEFECTS)
def test_a_number_no_decimal_can_hold_is_rejected(
    extraction: Any, kind: str, record_id: int, path: str, literal: str, reason: str
) -> None:
    run = extraction(RecordFault(kind, record_id, path, literal=literal))
    [rejected] = run.rejected()
    assert (rejected["field"], rejected["reason"], rejected["record_ref"]) == (
        path,
        reason,
        f"id={record_id}",
    )
    _assert_rest_proceeds(run, kind, record_id)


@pytest.mark.parametrize("item", ["garbage", 42, None, ["a"]])
def test_an_item_that_is_not_a_record_is_rejected(extraction: Any, item: Any) -> None:
    run = extraction(RecordFault("time_entries", ENTRY, "", item))
    [rejected] = run.rejected()
    assert (rejected["field"], rejected["reason"]) == ("(record)", "not_an_object")
    assert rejected["record_ref"].startswith("#")
    _assert_rest_proceeds(run, "time_entries", ENTRY)


def test_two_null_ids_are_both_rejected_and_neither_is_billed_as_time_0(extraction: Any) -> None:
    run = extraction(
        RecordFault("time_entries", ENTRY, "id", None), RecordFault("time_entries", OTHER_ENTRY, "id", None)
    )
    assert [(r["field"], r["reason"]) for r in run.rejected()] == [("id", "missing_field")] * 2
    assert run.ids() == {r["id"] for r in US_ENTRIES} - {ENTRY, OTHER_ENTRY}


# -- pages -------------------------------------------------------------------------------------------

HTML = b"<!doctype html><html><body><h1>Please sign in</h1></body></html>"
# (fault on page 2 of time entries, reason, field)
PAGE_DEFECTS = [
    (truncated, "unreadable_body", "body"),
    (raw_answer(HTML, "text/html"), "unreadable_body", "body"),
    (raw_answer(b""), "unreadable_body", "body"),
    (set_envelope("page", "one"), "invalid_envelope", "page"),
    (set_envelope("total_pages", "12"), "invalid_envelope", "total_pages"),
    (set_envelope("time_entries", {"id": 1}), "invalid_envelope", "time_entries"),
    (lambda body: {k: v for k, v in body.items() if k != "time_entries"}, "invalid_envelope", "time_entries"),
    (raw_answer(b"[1, 2, 3]"), "invalid_envelope", "body"),
]


def _page_records(run: Extraction, page: int) -> set[int]:
    """The us records the unfaulted sandbox serves on `page` (the same company, the same order)."""
    with HarvestSandbox(COMPANY, rate_limit=None) as clean:
        harvest = HarvestClient(
            base_url=clean.url, account_id="100001", access_token="demo-harvest-token", per_page=PER_PAGE
        )
        pages = list(harvest.iter_pages("time_entries", {"from": "2026-08-01", "to": "2026-08-31"}))
    return {r["id"] for r in pages[page - 1].records if r in US_ENTRIES}


@pytest.mark.parametrize(("change", "reason", "field"), PAGE_DEFECTS)
def test_an_unreadable_page_is_quarantined_whole_and_the_other_pages_proceed(
    extraction: Any, change: Any, reason: str, field: str
) -> None:
    run = extraction(PageFault("time_entries", change, page=2))
    [rejected] = run.rejected()
    assert (rejected["scope"], rejected["reason"], rejected["field"]) == ("page", reason, field)
    assert "page=2" in rejected["record_ref"] and "page=2" in rejected["detail"]
    on_page_2 = _page_records(run, 2)
    assert on_page_2, "page 2 must hold some of us's entries for this test to mean anything"
    assert run.ids() == {r["id"] for r in US_ENTRIES} - on_page_2
    fetches = [
        x for x in run.sandbox.exchanges if x.path.endswith("/time_entries") and x.query.get("page") == ["2"]
    ]
    assert len(fetches) == 3  # fetched again twice before it was quarantined


def test_a_page_unreadable_once_is_fetched_again_and_nothing_is_quarantined(extraction: Any) -> None:
    run = extraction(PageFault("time_entries", truncated, page=2, times=1))
    assert run.rejected() == []
    assert run.ids() == {r["id"] for r in US_ENTRIES}


def test_an_unreadable_first_page_is_quarantined_and_paging_continues_by_number(extraction: Any) -> None:
    run = extraction(PageFault("time_entries", raw_answer(HTML, "text/html"), page=1))
    [rejected] = run.rejected()
    assert rejected["reason"] == "unreadable_body"
    assert run.ids() == {r["id"] for r in US_ENTRIES} - _page_records(run, 1)


# -- paging that cannot be trusted -------------------------------------------------------------------


def _clean_then(extraction: Any, *variants: ListVariant, **client: Any) -> tuple[Extraction, PagingError]:
    """A clean extraction, then a faulty one: the error, and proof the raw layer did not move."""
    before = extraction()
    versions = before.rows("SELECT count(*) FROM raw.record_versions")
    with pytest.raises(PagingError) as caught:
        extraction(*variants, **client)
    assert before.rows("SELECT count(*) FROM raw.record_versions") == versions
    assert before.ids() == {r["id"] for r in US_ENTRIES}
    assert "\n" not in str(caught.value)
    return before, caught.value


def test_a_list_ending_before_its_announced_pages_stops_with_an_error(extraction: Any) -> None:
    _, error = _clean_then(extraction, PageFault("time_entries", set_envelope("links.next", None), page=1))
    assert "announces 12 pages but links.next is null" in str(error)
    assert "after 1 of 12 pages, nothing written" in str(error)


def test_a_next_link_pointing_at_its_own_page_stops_with_an_error(extraction: Any) -> None:
    _, error = _clean_then(extraction, PageFault("time_entries", next_link_to_self, page=3))
    assert "links.next repeats" in str(error) and "page=3" in str(error)


def test_a_next_link_back_to_an_earlier_page_stops_with_an_error(extraction: Any) -> None:
    back = lambda body: set_envelope("links.next", body["links"]["first"])(body)  # noqa: E731
    _, error = _clean_then(extraction, PageFault("time_entries", back, page=4))
    assert "links.next repeats" in str(error) and "already followed as request 1" in str(error)


def test_more_pages_than_the_cap_stop_with_an_error(extraction: Any) -> None:
    _, error = _clean_then(extraction, max_pages=5)
    assert "more than 5 pages (the configured max_pages)" in str(error)


def test_unreadable_pages_in_a_row_stop_with_an_error(extraction: Any) -> None:
    html = [PageFault("time_entries", raw_answer(HTML, "text/html"), page=p) for p in (2, 3, 4, 5)]
    _, error = _clean_then(extraction, *html)
    assert "4 unreadable pages in a row" in str(error)


def test_an_unreadable_page_under_a_cursor_stops_with_an_error(extraction: Any) -> None:
    _, error = _clean_then(extraction, CursorPagination(), PageFault("time_entries", truncated, page=2))
    assert "its cursor is lost" in str(error)


# -- duplicates --------------------------------------------------------------------------------------


def _latest_entry_of_august() -> dict[str, Any]:
    """A new us entry on the last day of August with the highest id: the sandbox serves it first."""
    template = US_ENTRIES[0]
    return {**template, "id": 1_999_999_999, "spent_date": "2026-08-31", "updated_at": None}


def test_a_record_shifted_onto_the_next_page_while_paging_is_kept_once(extraction: Any) -> None:
    company = generate_company(seed=7)
    run = extraction(InsertAfterPage("time_entries", _latest_entry_of_august(), page=1), company=company)
    served: list[int] = []
    for exchange in run.sandbox.exchanges:
        if exchange.path.endswith("/time_entries"):
            import json

            served += [r["id"] for r in json.loads(exchange.response_body)["time_entries"]]
    repeated = {i for i in served if served.count(i) > 1}
    assert repeated, "the insertion must shift a record across the page boundary"
    counts = run.rows("SELECT record_id, count(*) FROM raw.time_entries GROUP BY 1 HAVING count(*) > 1")
    assert counts == []
    versions = run.rows("SELECT record_id, count(*) FROM raw.record_versions GROUP BY 1 HAVING count(*) > 1")
    assert versions == []
    assert run.ids() == {r["id"] for r in US_ENTRIES}


def test_the_same_record_twice_on_one_page_is_kept_once(extraction: Any) -> None:
    def twice(body: dict[str, Any]) -> dict[str, Any]:
        body["time_entries"].append(dict(body["time_entries"][0]))
        return body

    run = extraction(PageFault("time_entries", twice, page=1))
    assert run.rows("SELECT record_id FROM raw.time_entries GROUP BY 1 HAVING count(*) > 1") == []
