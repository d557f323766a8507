"""Contacts at the provider's pace (issue 17, decision 0044): looked up in bulk, created in batches, never twice.

Against the accounting sandbox over real HTTP on loopback: the contract's `searchTerm` and `pageSize`,
the connector's bulk look-up and batch create, and a first close to many new contacts whose create
answer is lost after the ledger booked it, with the idempotency key already forgotten.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from bench.posting import write_synthetic_drafts
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from sandbox.xero import Fault, XeroSandbox, dumps_exact
from tests.integration.xero_http import T1, UNLIMITED, body, client

pytestmark = pytest.mark.integration


def _xero(sandbox: XeroSandbox) -> XeroClient:
    return XeroClient(base_url=sandbox.url, access_token="demo-xero-token", timeout_s=2.0)


def _create(sandbox: XeroSandbox, contacts: list[dict[str, str]]) -> None:
    answer = client(sandbox).put("Contacts", content=dumps_exact({"Contacts": contacts}))
    assert answer.status_code == 200, answer.text


def test_search_term_finds_the_term_in_any_searched_field_ignoring_case(tmp_path: Path) -> None:
    with XeroSandbox([T1], **UNLIMITED) as sandbox:
        _create(sandbox, [
            {"Name": "Acme Corp"}, {"Name": "Globex", "EmailAddress": "billing@ACME.example"},
            {"Name": "Initech", "FirstName": "Bill"}, {"Name": "100% Ltd"}, {"Name": "1000 Ltd"},
        ])  # fmt: skip
        http = client(sandbox)
        names = [c["Name"] for c in body(http.get("Contacts", params={"searchTerm": "acme"}))["Contacts"]]
        assert names == ["Acme Corp", "Globex"]
        literal = body(http.get("Contacts", params={"searchTerm": "0%"}))["Contacts"]
        assert [c["Name"] for c in literal] == ["100% Ltd"]  # % is a character to find, not a wildcard
        page = body(http.get("Contacts", params={"page": "2", "pageSize": "2"}))
        assert [c["Name"] for c in page["Contacts"]] == ["Initech", "100% Ltd"]
        assert page["pagination"] == {"page": 2, "pageSize": 2, "pageCount": 3, "itemCount": 5}


def test_bulk_look_up_reads_the_contact_list_and_stops_when_every_name_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("resources.xero.LOOKUP_PAGE_SIZE", 10)
    with XeroSandbox([T1], **UNLIMITED) as sandbox:
        _create(sandbox, [{"Name": f"Client {i:02d}"} for i in range(45)])
        xero, before = _xero(sandbox), sandbox.request_count(T1)
        wanted = ["client 03", "Client 11", "Client 12", "Client 13", "Client 14", "Client 15"]
        found = xero.find_contact_ids(T1, wanted)
        assert sorted(found) == sorted(wanted)  # "client 03" matched ignoring case, as Xero does
        # Page 1 of 5 finds one; five names left are more calls than four pages, so page 2 is read,
        # which has every name left: two calls, the contact list never read to its end.
        assert sandbox.request_count(T1) - before == 2
        by_id = {c["ContactID"]: c["Name"] for c in sandbox.contacts(T1)}
        assert by_id[found["client 03"]] == "Client 03"

        before = sandbox.request_count(T1)
        found = xero.find_contact_ids(T1, ["Client 01", "Nobody", "No one"])
        # Page 1 finds Client 01 and says 5 pages; two names left cost two calls, fewer than four pages.
        assert found.keys() == {"Client 01"} and sandbox.request_count(T1) - before == 3


def test_a_batch_create_answers_each_name_and_never_books_a_taken_one() -> None:
    with XeroSandbox([T1], **UNLIMITED) as sandbox:
        _create(sandbox, [{"Name": "Acme Corp"}])
        answer = _xero(sandbox).create_contacts(T1, ["Globex", "ACME CORP", "Initech"], "key-1")
        assert sorted(answer.created) == ["Globex", "Initech"]
        assert list(answer.refused) == ["ACME CORP"] and "already assigned" in answer.refused["ACME CORP"]
        assert sorted(c["Name"] for c in sandbox.contacts(T1)) == ["Acme Corp", "Globex", "Initech"]


def test_a_first_close_to_new_contacts_creates_each_once_when_a_create_answer_is_lost(tmp_path: Path) -> None:
    tenant, count = f"t-{uuid.uuid4().hex[:12]}", 120
    entity = current_config().entity("us").model_copy(update={"accounting_tenant_id": tenant})
    warehouse = Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, "2026-08", count, contacts=count)
    # The ledger forgets idempotency keys at once: the retry of the lost create must not book twice.
    with XeroSandbox([tenant], idempotency_window_s=0.0, **UNLIMITED) as sandbox:
        sandbox.inject(Fault("drop_after_commit", method="PUT", path="/Contacts"))
        outcome = post_period(entity, "2026-08", warehouse, _xero(sandbox), "r1", sources=DOCUMENT_SOURCES)
        names = Counter(c["Name"] for c in sandbox.contacts(tenant))
        booked = Counter(d["InvoiceNumber"] for d in sandbox.documents(tenant))
        writes = sandbox.request_count(tenant)
    assert len(outcome.posted_new) == count and set(booked.values()) == {1}
    assert len(names) == count and set(names.values()) == {1}  # each contact once
    assert writes <= 12  # 1 look-up, 3 creates + 1 retry + 1 look-up of the refused, lock date, 3 sends, ...
    remembered = warehouse.query("us", "SELECT count(*) AS n FROM posting.contacts")["n"][0]
    assert remembered == count
