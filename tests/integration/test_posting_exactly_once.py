"""Exactly once without exceptions (issue 12): what the ledger holds is the truth, in-doubt sends wait
before they look, dead letters are never booked documents, and a replay gets a new key only after a
look-up shows its document absent (issue 14).

Each scenario runs against the accounting sandbox with the faults that produce it; every assertion
reads the sandbox's own ledger or the warehouse, with amounts written out here by hand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.billing.correction_drafts import build_correction_drafts
from assets.billing.invoice_drafts import build_invoice_drafts
from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import Partitions, month_key
from assets.posting.dead_letters import replay_dead_letters
from assets.posting.outbox import post_period
from assets.posting.posting_pass import CRASH_ENV
from bench.posting import write_synthetic_drafts
from pipelines.cli import main
from resources.configuration import current_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse, append
from resources.xero import XeroClient
from rules.normalizing import normalize_lines
from rules.settings import EntityConfig, PostingSettings
from sandbox.xero import Fault, XeroSandbox
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PERIOD = "2026-08"
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})
UK_INVOICE = "BB-UK-202608-5101-GBP"
CHILD = """
import sys
from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.dead_letters import replay_dead_letters
from assets.posting.outbox import post_period
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
url, home = sys.argv[1:3]
xero = XeroClient(base_url=url, access_token="demo-xero-token")
post_period(current_config().entity("uk"), "2026-08", Warehouse(home=home), xero, "crashing-run", sources=DOCUMENT_SOURCES)
"""


def _entity(entity_id: str, tenant: str, bound_s: float = 1.5, **posting: Any) -> EntityConfig:
    settings = PostingSettings(processing_bound_s=bound_s, **posting)
    return (
        current_config()
        .entity(entity_id)
        .model_copy(update={"accounting_tenant_id": tenant, "posting": settings})
    )


def _client(sandbox: XeroSandbox, timeout_s: float = 0.4) -> XeroClient:
    return XeroClient(
        base_url=sandbox.url, access_token="demo-xero-token", timeout_s=timeout_s, breaker_reset_s=0.2
    )


def _once_each(sandbox: XeroSandbox, tenant: str) -> Counter[str]:
    return Counter(d["InvoiceNumber"] for d in sandbox.documents(tenant))


# -- finding 1: the booked version is what the ledger returned ------------------------------------
def _normalized(warehouse: Warehouse, hours: float) -> None:
    """The month's normalized lines: one time entry of `hours` at 200.00 on the UK client 5101."""
    config = current_config()
    entry = time_entry(1, hours, 200, client=5101, project=6101, task=7001, currency="GBP")
    result = normalize_lines(
        raw_frame([entry], "uk"), raw_frame([], "uk"), directory({6101: True}, {5101: "GBP"}),
        config.entity("uk"), config, RATES, "normalize-run",
    )  # fmt: skip
    with warehouse.transaction("uk") as con:
        con.execute("DELETE FROM normalized.billable_lines WHERE entity = 'uk'")
        append(con, "normalized.billable_lines", result.lines)


def _bill(instance: dg.DagsterInstance, warehouse: Warehouse, ledger: XeroSandbox) -> None:
    """What bill_and_post does before posting: invoice drafts, then corrections of what is booked."""
    config = current_config()
    partitions = Partitions.of(config)
    result = dg.materialize(
        [build_invoice_drafts(partitions), build_correction_drafts(partitions)],
        partition_key=str(month_key("uk", date(2026, 8, 1))),
        instance=instance,
        resources={"warehouse": warehouse, "fx": EcbRates(), "xero": _client(ledger), "settings": config},
    )
    assert result.success


def test_a_crash_after_booking_keeps_what_the_ledger_booked_and_the_change_is_corrected(
    tmp_path: Path,
) -> None:
    """Booked at 2 h, the answer lost to a kill; the entry becomes 5 h. The next run must keep the
    ledger's 2 h as booked, so the following run drafts the supplementary invoice for 3 h (600.00)."""
    tenant = current_config().entity("uk").accounting_tenant_id
    home = tmp_path / "home"
    warehouse = Warehouse(home=str(home))
    with (
        XeroSandbox([tenant], db_path=tmp_path / "xero.sqlite") as ledger,
        dg.instance_for_test() as instance,
    ):
        _normalized(warehouse, 2)
        _bill(instance, warehouse, ledger)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, ledger.url, str(home)],
            env={**os.environ, CRASH_ENV: "request_sent", "PYTHONPATH": str(REPO)},
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        # The ledger booked 2 h x 200.00 = 400.00 + 20% VAT 80.00; the outbox never stored the answer.
        assert [(d["InvoiceNumber"], D(str(d["Total"]))) for d in ledger.documents(tenant)] == [
            (UK_INVOICE, D("480.00"))
        ]
        _normalized(warehouse, 5)  # the time entry changes: 2 h -> 5 h
        _bill(instance, warehouse, ledger)
        entity = _entity("uk", tenant)
        rerun = post_period(entity, PERIOD, warehouse, _client(ledger), "rerun", sources=DOCUMENT_SOURCES)
        assert rerun.found_by_lookup == [UK_INVOICE] and rerun.posted_new == []
        booked = warehouse.query(
            "uk", "SELECT quantity, unit_amount, line_amount, tax_amount FROM posting.posted_lines "
            "WHERE document_number = ?", [UK_INVOICE],
        )  # fmt: skip
        assert booked.rows() == [(D("2"), D("200"), D("400"), D("80"))]
        row = warehouse.query(
            "uk",
            "SELECT posted_total, draft_total FROM posting.outbox WHERE document_number = ?",
            [UK_INVOICE],
        )
        assert row.rows() == [
            (D("480"), D("480"))
        ]  # the booked version's total, not the new draft's 1,200.00
        _bill(instance, warehouse, ledger)  # the next bill_and_post: corrections against what is booked
        supplement = warehouse.query(
            "uk", "SELECT document_number, subtotal, total_tax, total FROM billing.correction_documents"
        )
        assert supplement.rows() == [(f"{UK_INVOICE}-S1", D("600"), D("120"), D("720"))]
        post_period(entity, PERIOD, warehouse, _client(ledger), "next", sources=DOCUMENT_SOURCES)
        totals = sorted((d["InvoiceNumber"], D(str(d["Total"]))) for d in ledger.documents(tenant))
    assert totals == [(UK_INVOICE, D("480.00")), (f"{UK_INVOICE}-S1", D("720.00"))]


# -- finding 2: a send that lands late is booked, not a dead letter --------------------------------
def test_a_stalled_send_that_commits_late_is_confirmed_not_dead_lettered(tmp_path: Path) -> None:
    """Dropped before it was read, then stalled past the client timeout, then a 500: the stalled
    request commits 2.5 s after it was sent. Nothing may be dead-lettered that the ledger holds."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = _entity("us", tenant, bound_s=3.0, max_attempts=3)
    warehouse = Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 10)
    with XeroSandbox([tenant], minute_limit=None) as sandbox:
        sandbox.inject(
            Fault("drop_before", method="PUT", path="/Invoices"),
            Fault("slow", seconds=2.5, method="PUT", path="/Invoices"),
            Fault("status", status=500, method="PUT", path="/Invoices"),
        )
        outcome = post_period(
            entity, PERIOD, warehouse, _client(sandbox), "r1", sources=DOCUMENT_SOURCES, backoff_base_s=0.01
        )
        time.sleep(3.0)  # whatever was still in flight has landed by now
        booked = _once_each(sandbox, tenant)
    assert len(booked) == 10 and set(booked.values()) == {1}
    open_letters = warehouse.query(
        "us", "SELECT count(*) AS n FROM posting.dead_letters WHERE state = 'open'"
    )
    assert open_letters["n"][0] == 0
    statuses = warehouse.query("us", "SELECT status, count(*) AS n FROM posting.outbox GROUP BY ALL")
    assert statuses.rows() == [("confirmed", 10)]
    assert outcome.dead_lettered == [] and sorted(outcome.found_by_lookup) == sorted(booked)


# -- finding 3: a look-up too early, after the provider forgot the key ----------------------------
def test_a_timeout_cannot_make_a_duplicate_after_the_provider_forgot_the_key(tmp_path: Path) -> None:
    """The PUT stalls 1 s past a 0.4 s timeout; the provider remembers keys for 1 ms. Looking up at once
    finds nothing and re-sends; the stalled request then lands too. Waiting before looking cannot."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = _entity("us", tenant, bound_s=1.5)
    warehouse = Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 10)
    with XeroSandbox([tenant], minute_limit=None, idempotency_window_s=0.001) as sandbox:
        sandbox.inject(Fault("slow", seconds=1.0, method="PUT", path="/Invoices"))
        outcome = post_period(entity, PERIOD, warehouse, _client(sandbox), "r1", sources=DOCUMENT_SOURCES)
        time.sleep(1.5)
        booked = _once_each(sandbox, tenant)
    assert len(booked) == 10 and set(booked.values()) == {1}, f"booked twice: {booked}"
    assert outcome.posted_new == [] and len(outcome.found_by_lookup) == 10


# -- dead letters the ledger holds ----------------------------------------------------------------
def _booked_but_dead_lettered(warehouse: Warehouse, number: str) -> None:
    """The state the old outbox could leave behind: a booked document as an open dead letter."""
    with warehouse.transaction("us") as con:
        con.execute(
            "UPDATE posting.outbox SET status = 'dead_letter', external_id = NULL, posted_total = NULL "
            "WHERE document_number = ?", [number],
        )  # fmt: skip
        con.execute("DELETE FROM posting.posted_lines WHERE document_number = ?", [number])
        con.execute(
            "INSERT INTO posting.dead_letters VALUES ('us-1', ?, 'us', ?, '{}', 'gave up after 3 attempt(s)', 3, "
            "'open', NULL, now(), NULL, 'old-run')",
            [number, PERIOD],
        )


def test_a_run_closes_an_open_dead_letter_the_ledger_holds_as_booked(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity, warehouse = _entity("us", tenant), Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 3)
    number = "BB-US-202608-5002-USD"  # 2 h x 150.00
    with XeroSandbox([tenant]) as sandbox:
        post_period(entity, PERIOD, warehouse, _client(sandbox), "r1", sources=DOCUMENT_SOURCES)
        _booked_but_dead_lettered(warehouse, number)
        again = post_period(entity, PERIOD, warehouse, _client(sandbox), "r2", sources=DOCUMENT_SOURCES)
        assert len(_once_each(sandbox, tenant)) == 3
    assert again.found_by_lookup == [number] and again.posted_new == []
    letter = warehouse.query("us", "SELECT state, resolution FROM posting.dead_letters").row(0)
    assert letter[0] == "booked" and "found in the ledger" in letter[1]
    kept = warehouse.query(
        "us", "SELECT p.line_amount, o.status, o.posted_total FROM posting.posted_lines p "
        "JOIN posting.outbox o USING (document_number) WHERE document_number = ?", [number],
    )  # fmt: skip
    assert kept.rows() == [(D("300"), "confirmed", D("300"))]


def test_dlq_discard_refuses_a_document_the_ledger_holds(
    sandboxes: object, capsys: pytest.CaptureFixture[str]
) -> None:
    entity = current_config().entity("us")
    sandbox: XeroSandbox = sandboxes.xero  # type: ignore[attr-defined]
    warehouse = Warehouse()
    write_synthetic_drafts(warehouse, entity, PERIOD, 3)
    post_period(entity, PERIOD, warehouse, _client(sandbox, 5), "r1", sources=DOCUMENT_SOURCES)
    _booked_but_dead_lettered(warehouse, "BB-US-202608-5002-USD")
    assert main(["dlq", "discard", "us-1", "--reason", "billed by hand"]) == 2
    assert "the ledger holds" in capsys.readouterr().err
    assert warehouse.query("us", "SELECT state FROM posting.dead_letters")["state"].to_list() == ["booked"]
    status = warehouse.query(
        "us", "SELECT status FROM posting.outbox WHERE document_number = 'BB-US-202608-5002-USD'"
    )
    assert status["status"].to_list() == ["confirmed"]


# -- issue 14: a replay after the cause was fixed gets a new, recorded key -------------------------
def test_dlq_replay_after_the_ledger_was_fixed_posts_under_a_new_recorded_key(tmp_path: Path) -> None:
    """The bookkeeper locks August while the only invoice is on its way: refused, dead-lettered. Once
    August is reopened, the replay must post it: the old key would only fetch the stored refusal."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = _entity("us", tenant).model_copy(update={"invoice_status": "AUTHORISED"})
    warehouse, number = Warehouse(home=str(tmp_path)), "BB-US-202608-5001-USD"
    write_synthetic_drafts(warehouse, entity, PERIOD, 1)
    with XeroSandbox([tenant], base_currencies={tenant: "USD"}) as sandbox:
        sandbox.inject(Fault("slow", seconds=1.0, method="PUT", path="/Invoices"))
        outcomes: list[Any] = []
        poster = threading.Thread(
            target=lambda: outcomes.append(
                post_period(entity, PERIOD, warehouse, _client(sandbox, 5), "r1", sources=DOCUMENT_SOURCES)
            )
        )
        poster.start()
        while not sandbox.fired_faults:
            time.sleep(0.02)
        sandbox.set_lock_dates(tenant, period_lock=date(2026, 8, 31))
        poster.join()
        assert outcomes[0].dead_lettered == [number]
        first_key = warehouse.query("us", "SELECT idempotency_key FROM posting.outbox")["idempotency_key"][0]
        sandbox.set_lock_dates(tenant)  # August reopened: the cause is fixed in the ledger
        replayed = replay_dead_letters(entity, ["us-1"], warehouse, _client(sandbox, 5), DOCUMENT_SOURCES)
        booked = [d["InvoiceNumber"] for d in sandbox.documents(tenant)]
    assert replayed.posted_new == [number] and replayed.dead_lettered == []
    assert booked == [number]
    status, key = warehouse.query("us", "SELECT status, idempotency_key FROM posting.outbox").row(0)
    assert status == "confirmed" and key != first_key
    resolution = warehouse.query("us", "SELECT resolution FROM posting.dead_letters")["resolution"][0]
    assert key in resolution and "absent" in resolution


# -- issue 14: the request log has every request --------------------------------------------------
def test_the_request_log_records_every_request_of_a_pass(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity, warehouse = _entity("us", tenant), Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 2)
    with XeroSandbox([tenant]) as sandbox:
        outcome = post_period(entity, PERIOD, warehouse, _client(sandbox, 5), "r1", sources=DOCUMENT_SOURCES)
        calls = sandbox.request_count(tenant)
    log = warehouse.query("us", "SELECT method, url, outcome, request_headers FROM posting.requests")
    paths = Counter(
        (m, u.split("/api.xro/2.0/")[1].split("?")[0]) for m, u in zip(log["method"], log["url"], strict=True)
    )
    # Two new contacts: a look-up each (two names are fewer calls than the contact list), one create for both.
    assert paths == Counter(
        {("GET", "Organisation"): 1, ("GET", "Invoices"): 1, ("GET", "Contacts"): 2, ("PUT", "Contacts"): 1,
         ("PUT", "Invoices"): 1}
    )  # fmt: skip
    assert log.height == calls == outcome.requests + 3  # the contact reads and writes are requests too
    assert set(log["outcome"]) == {"answered"}
    assert all(
        "demo-xero-token" not in h and json.loads(h)["Authorization"] == "[redacted]"
        for h in log["request_headers"]
    )
