"""The workbench in a real browser: Debian's headless Chromium driven by Playwright (`make test` installs
Chromium when missing). Two browser contexts are two people, named by the header a proxy would set."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page

from resources.bank_statements_rules import load_reconciliation_rules
from resources.warehouse import Warehouse
from tests.integration.reconciliation_seed import seed
from web.app import WorkbenchSettings, create_app

pytestmark = pytest.mark.integration
HEADER = "X-Remote-User"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    w = Warehouse(home=str(tmp_path))
    seed(w)
    return w


@pytest.fixture
def workbench(warehouse: Warehouse) -> Iterator[str]:
    settings = WorkbenchSettings(
        warehouse, load_reconciliation_rules(), ("us", "uk", "de"), user_header=HEADER
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "workbench did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _as(browser: Browser, person: str) -> Page:
    return browser.new_context(extra_http_headers={HEADER: person}).new_page()


def _log(warehouse: Warehouse, payer: str) -> list[tuple[object, ...]]:
    return warehouse.query(
        "uk",
        "SELECT m.decided_by, m.status, m.comment, m.template_id IS NOT NULL FROM reconciliation.match_log m "
        "JOIN reconciliation.bank_lines b USING (line_id) WHERE b.counterparty_name = ? ORDER BY m.decided_at",
        [payer],
    ).rows()


def test_bulk_accept(browser: Browser, workbench: str, warehouse: Warehouse) -> None:
    page = _as(browser, "alice")
    page.goto(f"{workbench}/queue?status=proposed")
    for payer in ("UMBRELLA", "HOOLI"):
        page.locator("tr", has_text=payer).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Accept selected").click()
    assert page.locator(".flash.done").count() == 2
    assert _log(warehouse, "UMBRELLA")[-1] == ("alice", "accepted", None, False)
    assert _log(warehouse, "HOOLI")[-1] == ("alice", "accepted", None, False)
    assert "UMBRELLA" not in page.locator("#bulk").inner_text()  # settled lines leave the queue


def test_reject_with_comment(browser: Browser, workbench: str, warehouse: Warehouse) -> None:
    page = _as(browser, "carol")
    page.goto(f"{workbench}/queue")
    page.get_by_role("link", name="OCTOBER").click()
    assert "party" in page.locator("#candidates").inner_text()  # the score breakdown is shown
    assert "Pied Piper Ltd" in page.locator("#items").inner_text()  # and the source record
    page.locator("#decide input[name=comment]").fill("not theirs: a refund from a supplier")
    page.locator("#decide").get_by_role("button", name="Reject").click()
    assert "rejected" in page.locator(".flash.done").inner_text()
    assert "not theirs: a refund from a supplier" in page.locator("#history").inner_text()
    assert _log(warehouse, "PIED PIPER")[-1] == (
        "carol",
        "rejected",
        "not theirs: a refund from a supplier",
        False,
    )


def test_apply_a_template(browser: Browser, workbench: str, warehouse: Warehouse) -> None:
    page = _as(browser, "dave")
    page.goto(f"{workbench}/templates")
    form = page.locator("#new-template")
    form.locator("input[name=name]").fill("Hooli pays by name")
    form.locator("input[name=payer_pattern]").fill("^hooli")
    form.locator("input[name=reference_pattern]").fill("payment")
    form.get_by_role("button", name="Save").click()
    page.locator("#template-list form.apply").get_by_role("button", name="Apply").click()
    assert "template Hooli pays by name: 1 line(s) decided" in page.locator(".flash.done").inner_text()
    assert _log(warehouse, "HOOLI")[-1] == ("dave", "accepted", "template Hooli pays by name", True)


def test_a_second_browser_on_the_same_item_is_refused(
    browser: Browser, workbench: str, warehouse: Warehouse
) -> None:
    alice, bob = _as(browser, "alice"), _as(browser, "bob")
    for page in (alice, bob):
        page.goto(f"{workbench}/queue")
        page.get_by_role("link", name="THANK YOU").click()
    alice.locator("#decide").get_by_role("button", name="Accept").click()
    assert "accepted" in alice.locator(".flash.done").inner_text()
    bob.locator("#decide").get_by_role("button", name="Accept").click()
    refused = bob.locator(".flash.refused").inner_text()
    assert "refused" in refused and "already accepted by alice" in refused
    assert [row[:2] for row in _log(warehouse, "UMBRELLA")] == [
        ("billbridge:matcher", "proposed"),
        ("alice", "accepted"),
    ]
    settled = warehouse.query("uk", "SELECT count(*) AS n FROM reconciliation.settlements s JOIN "
                                    "reconciliation.bank_lines b USING (line_id) WHERE b.counterparty_name = 'UMBRELLA'")  # fmt: skip
    assert settled["n"][0] == 1
