"""Harvest list envelopes by version, and the paging guard (pure apart from URL parsing)."""

from __future__ import annotations

import pytest

from resources.harvest_paging import PagingError, PagingGuard, page_after
from rules.harvest_paging import CURSOR, PAGE_NUMBERS, Envelope, EnvelopeError, read_envelope

BASE = "http://pm/v2/time_entries?from=2026-08-01&to=2026-08-31&per_page=50"


def test_page_number_and_cursor_envelopes_are_read_side_by_side() -> None:
    paged = read_envelope(
        "time_entries",
        {"time_entries": [{"id": 1}], "page": 1, "total_pages": 2, "links": {"next": BASE + "&page=2"}},
    )
    cursor = read_envelope(
        "time_entries", {"time_entries": [{"id": 1}], "per_page": 50, "links": {"next": BASE + "&cursor=abc"}}
    )
    assert (paged.pagination, paged.page, paged.total_pages) == (PAGE_NUMBERS, 1, 2)
    assert (cursor.pagination, cursor.next_url) == (CURSOR, BASE + "&cursor=abc")


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        (
            {"time_entries": [], "page": "one", "total_pages": 2, "links": {}},
            "page",
            "an integer of at least 1",
        ),
        (
            {"time_entries": [], "page": True, "total_pages": 2, "links": {}},
            "page",
            "an integer of at least 1",
        ),
        ({"time_entries": {}, "links": {}}, "time_entries", "a list of records"),
        ({"time_entries": [], "links": {"next": 7}}, "links.next", "a URL or null"),
        ({"time_entries": []}, "links", "closest version cursor lacks links"),
        (
            {"page": 1, "total_pages": 1, "links": {}},
            "time_entries",
            "closest version page-number lacks nothing",
        ),
        ([1, 2], "body", "a JSON object"),
    ],
)
def test_an_envelope_of_no_known_version_names_the_field_and_the_closest_version(
    body: object, field: str, expected: str
) -> None:
    with pytest.raises(EnvelopeError) as caught:
        read_envelope("time_entries", body)
    assert caught.value.field == field and expected in str(caught.value)


def _page(number: int, total: int, following: str | None) -> Envelope:
    return Envelope([], following, PAGE_NUMBERS, number, total)


def test_the_guard_follows_a_consistent_list_to_its_end() -> None:
    guard = PagingGuard("time_entries", max_pages=10)
    guard.admit(BASE)
    assert guard.next_after(BASE, _page(1, 2, BASE + "&page=2")) == BASE + "&page=2"
    guard.admit(BASE + "&page=2")
    assert guard.next_after(BASE + "&page=2", _page(2, 2, None)) is None


def test_page_one_and_no_page_are_the_same_page() -> None:
    guard = PagingGuard("time_entries", max_pages=10)
    guard.admit(BASE)
    with pytest.raises(PagingError, match=r"links\.next repeats"):
        guard.admit(BASE.replace("per_page=50", "page=1&per_page=50"))


def test_after_an_unreadable_page_the_guard_moves_on_by_number_and_stops_past_the_announced_end() -> None:
    guard = PagingGuard("time_entries", max_pages=10)
    guard.next_after(BASE, _page(1, 3, BASE + "&page=2"))
    assert guard.next_after_unreadable(BASE + "&page=2") == page_after(BASE + "&page=2")
    assert "page=3" in (page_after(BASE + "&page=2") or "")
    assert guard.next_after_unreadable(BASE + "&page=3") is None  # page 3 of 3 was the last


def test_a_cursor_cannot_be_recovered_after_an_unreadable_page() -> None:
    with pytest.raises(PagingError, match="cursor is lost"):
        PagingGuard("time_entries", max_pages=10).next_after_unreadable(BASE + "&cursor=abc")
