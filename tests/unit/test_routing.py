"""Entity assignment by the mapping's rules: project, client, code prefix, the person's home entity."""

from __future__ import annotations

import pytest

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.routing import EntityRoutes, route_record
from tests.factories import time_entry

ROUTES = EntityRoutes.from_config(load_config(DEFAULT_CONFIG_PATH))


def _entry(client: int, project: int, code: str | None, user: int = 8001) -> dict[str, object]:
    entry = time_entry(1, 1, 100, client=client, project=project)
    entry["project"]["code"] = code  # type: ignore[index]
    entry["user"] = {"id": user, "name": "x"}
    return entry


@pytest.mark.parametrize(
    ("entry", "entity", "note_starts"),
    [
        (_entry(5101, 6101, "UK-INI-01"), "uk", "claimed"),  # client and prefix agree
        (_entry(5003, 6003, None), "us", "claimed"),  # client only: a project with no code
        (_entry(9999, 6999, "DE-NEW-01"), "de", "claimed"),  # prefix only: an unmapped client
        (
            _entry(5001, 6001, "UK-ACM-01"),
            "us",
            "ambiguous: client 5001 -> us, project code prefix 'UK-' -> uk",
        ),
        (_entry(9999, 6999, "GH-01"), "us", "unclaimed: no entity maps client 9999"),
        (
            _entry(5301, 6301, "INT-TRN", user=8202),
            "de",
            "claimed",
        ),  # internal work: the person's home entity
        (_entry(5301, 6301, "INT-TRN", user=4242), "us", "unclaimed: internal work by person 4242"),
    ],
)
def test_routing(entry: dict[str, object], entity: str, note_starts: str) -> None:
    routed, note = route_record(entry, ROUTES)
    assert routed == entity
    assert note.startswith(note_starts)


def test_malformed_records_are_still_routed() -> None:
    assert route_record({"id": 1, "client": "oops", "project": None}, ROUTES)[0] == "us"
