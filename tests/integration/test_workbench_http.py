"""The workbench over HTTP (Starlette's test client, real DuckDB file): who acts, what is logged, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from resources.bank_statements_rules import load_reconciliation_rules
from resources.warehouse import Warehouse
from tests.integration.reconciliation_seed import seed
from web.app import WorkbenchSettings, create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    w = Warehouse(home=str(tmp_path))
    seed(w)
    return w


def _client(warehouse: Warehouse, header: str = "X-Remote-User") -> TestClient:
    settings = WorkbenchSettings(
        warehouse, load_reconciliation_rules(), ("us", "uk", "de"), user_header=header
    )
    return TestClient(create_app(settings))


def _version(warehouse: Warehouse, line_id: str) -> int:
    return int(
        warehouse.query("uk", "SELECT version FROM reconciliation.line_state WHERE line_id = ?", [line_id])[
            "version"
        ][0]
    )


def _line_of(warehouse: Warehouse, payer: str) -> str:
    return str(warehouse.query("uk", "SELECT line_id FROM reconciliation.bank_lines WHERE counterparty_name = ?",
                               [payer])["line_id"][0])  # fmt: skip


def test_a_request_without_the_person_header_is_refused(warehouse: Warehouse) -> None:
    assert _client(warehouse).get("/queue").status_code == 401


def test_queue_lists_open_lines_and_never_a_secret(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "secret-token-value")
    page = _client(warehouse).get("/queue", headers={"X-Remote-User": "alice"}).text
    assert (
        "UMBRELLA" in page and "STRANGER SA" in page and "INITECH" not in page
    )  # auto-accepted is not queued
    assert "Signed in as alice" in page and "secret-token-value" not in page


def test_accept_is_logged_with_the_person_and_a_stale_second_accept_is_refused(warehouse: Warehouse) -> None:
    line = _line_of(warehouse, "UMBRELLA")
    version = _version(warehouse, line)
    client = _client(warehouse)
    form = {"line": f"uk|{line}|{version}", "action": "accept", "comment": "paid by phone", "back": "/queue"}
    first = client.post("/decide", data=form, headers={"X-Remote-User": "alice"})
    assert "accepted" in first.text and first.status_code == 200
    second = client.post("/decide", data=form, headers={"X-Remote-User": "bob"})
    assert "refused: bank line" in second.text and "already accepted by alice" in second.text
    log = warehouse.query("uk", "SELECT decided_by, status, comment FROM reconciliation.match_log WHERE line_id = ? "
                                "ORDER BY decided_at", [line])  # fmt: skip
    assert log.rows() == [("billbridge:matcher", "proposed", None), ("alice", "accepted", "paid by phone")]
    settled = warehouse.query(
        "uk", "SELECT received, status FROM reconciliation.settlements WHERE line_id = ?", [line]
    )
    assert settled.rows()[0][1] == "pending" and settled.height == 1  # settled once, not twice


def test_duplicate_parties_are_suggested_and_an_accepted_one_becomes_a_mapping_alias(
    warehouse: Warehouse,
) -> None:
    with warehouse.transaction("uk") as con:
        for record_id, name in ((5101, "Initech"), (5199, "Hooli Limited")):
            con.execute(
                "INSERT INTO raw.directory VALUES ('uk', 'clients', ?, ?, 'h', now(), 'u', 'r', 'v')",
                [record_id, f'{{"id": {record_id}, "name": "{name}"}}'],
            )
    settings = WorkbenchSettings(warehouse, load_reconciliation_rules(), ("uk",), user_header="X-Remote-User",
                                 contact_of={"uk": {"5101": "Initech Ltd"}})  # fmt: skip
    client = TestClient(create_app(settings))
    page = client.get("/parties", headers={"X-Remote-User": "erin"}).text
    assert "Hooli Limited (5199)" in page and "Initech (5101)" not in page  # 5101 is mapped to Initech Ltd
    key = next(s.key for s in settings.suggestions() if "5199" in s.key)
    done = client.post(
        "/parties/accept", data={"entity": "uk", "key": key}, headers={"X-Remote-User": "erin"}
    )
    assert "alias for PM client 5199 written" in done.text
    aliases = (Path(warehouse.home) / "mapping_suggestions" / "aliases.yaml").read_text()
    assert "pm_client_id: 5199" in aliases and "contact_name: Hooli Ltd" in aliases and "erin" in aliases
