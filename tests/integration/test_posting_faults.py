"""Exactly-once posting under randomized fault schedules, a poison document, and two concurrent runs.

Every assertion is against the accounting sandbox's own ledger: no duplicate, none missing,
amounts equal to hours x 150.00 worked out here, not by the code under test.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from bench.posting import write_synthetic_drafts
from pipelines.cli import main
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.outbox.outcome import PostingOutcome
from rules.settings import EntityConfig, PostingSettings
from sandbox.xero import Fault, XeroSandbox

pytestmark = pytest.mark.integration

PERIOD = "2026-08"


def _entity(tenant: str) -> EntityConfig:
    """The demo's `us` entity on its own tenant, so breakers and throttles start fresh per test; the
    sandbox's stalls land within 0.5 s of the client's timeout, which is its processing bound."""
    posting = PostingSettings(processing_bound_s=0.5)
    return (
        current_config().entity("us").model_copy(update={"accounting_tenant_id": tenant, "posting": posting})
    )


def _client(sandbox: XeroSandbox, **overrides: object) -> XeroClient:
    settings_ = {"timeout_s": 0.4, "breaker_reset_s": 0.2, "max_attempts": 6, **overrides}
    return XeroClient(base_url=sandbox.url, access_token="demo-xero-token", **settings_)  # type: ignore[arg-type]


def _expected(count: int, first_client: int = 5001) -> dict[str, Decimal]:
    """Invoice number -> total, written out independently: invoice k bills (k % 37 + 1) hours at 150.00."""
    return {
        f"BB-US-202608-{first_client + k}-USD": Decimal(k % 37 + 1) * Decimal("150.00") for k in range(count)
    }


def _assert_exactly_once(sandbox: XeroSandbox, tenant: str, expected: dict[str, Decimal]) -> None:
    documents = sandbox.documents(tenant)
    numbers = Counter(d["InvoiceNumber"] for d in documents)
    assert [n for n, c in numbers.items() if c > 1] == [], "a document was posted twice"
    assert set(numbers) == set(expected), "a document is missing or unexpected"
    for document in documents:
        assert Decimal(str(document["Total"])) == expected[document["InvoiceNumber"]]


def _post_until_settled(entity: EntityConfig, warehouse: Warehouse, xero: XeroClient) -> list[PostingOutcome]:
    """The run and its retries: re-run while anything is unresolved (at most four runs)."""
    outcomes = []
    for attempt in range(4):
        outcome = post_period(
            entity, PERIOD, warehouse, xero, f"run-{attempt}", backoff_base_s=0.01, sources=DOCUMENT_SOURCES
        )
        outcomes.append(outcome)
        if not outcome.unresolved and not outcome.stopped:
            break
    return outcomes


FAULTS = st.sampled_from(
    [
        Fault("status", status=429, retry_after=0, method="PUT", path="/Invoices"),
        Fault("status", status=500, method="PUT", path="/Invoices"),
        Fault("status", status=503, retry_after=0),
        Fault("slow", seconds=0.6, method="PUT", path="/Invoices"),
        Fault("drop_before"),
        Fault("drop_after_commit", method="PUT", path="/Invoices"),
        Fault("duplicate", method="PUT", path="/Invoices"),
    ]
)


@settings(
    derandomize=True,
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=st.lists(FAULTS, min_size=1, max_size=6))
def test_random_fault_schedules_post_every_document_exactly_once(
    schedule: list[Fault], tmp_path: Path
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = _entity(tenant)
    home = tmp_path / uuid.uuid4().hex
    warehouse = Warehouse(home=str(home))
    write_synthetic_drafts(warehouse, entity, PERIOD, 60)
    with XeroSandbox([tenant], minute_limit=None, day_limit=None) as sandbox:
        sandbox.inject(*schedule)
        outcomes = _post_until_settled(entity, warehouse, _client(sandbox))
        _assert_exactly_once(sandbox, tenant, _expected(60))
    assert outcomes[-1].unresolved == [] and outcomes[-1].dead_lettered == []
    confirmed = warehouse.query("us", "SELECT count(*) AS n FROM posting.outbox WHERE status = 'confirmed'")
    assert confirmed["n"][0] == 60


def test_unknown_outcome_is_settled_by_lookup_not_resent(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity, warehouse = _entity(tenant), Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 10)
    # The key window is tiny, so only the lookup can stop the second send from duplicating.
    with XeroSandbox([tenant], idempotency_window_s=0.001, record=True) as sandbox:
        sandbox.inject(Fault("drop_after_commit", method="PUT", path="/Invoices"))
        outcome = post_period(
            entity, PERIOD, warehouse, _client(sandbox), "r1", backoff_base_s=0.01, sources=DOCUMENT_SOURCES
        )
        puts = [e for e in sandbox.exchanges if e.method == "PUT" and e.path.endswith("/Invoices")]
        _assert_exactly_once(sandbox, tenant, _expected(10))
    assert len(outcome.found_by_lookup) == 10 and outcome.posted_new == []
    assert puts == []  # the only PUT was the dropped one (dropped exchanges are not recorded)


def test_poison_invoice_goes_to_dead_letters_and_replays_once(
    sandboxes: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entity = current_config().entity("us")
    sandbox: XeroSandbox = sandboxes.xero  # type: ignore[attr-defined]
    warehouse = Warehouse()
    write_synthetic_drafts(warehouse, entity, PERIOD, 50, bad_tax=frozenset({17}))
    xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
    first = post_period(entity, PERIOD, warehouse, xero, "run-1", sources=DOCUMENT_SOURCES)
    poison = "BB-US-202608-5018-USD"
    assert first.dead_lettered == [poison] and len(first.posted_new) == 49
    assert poison not in {d["InvoiceNumber"] for d in sandbox.documents(entity.accounting_tenant_id)}

    assert main(["dlq", "list"]) == 0
    assert "us-1" in capsys.readouterr().out
    assert main(["dlq", "show", "us-1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "BOGUS" in shown["error"] and shown["document"]["InvoiceNumber"] == poison
    assert shown["requests"] and all("Bearer" not in r["request_headers"] for r in shown["requests"])

    # The operator fixes the mapping; the drafts are rebuilt with the right tax type.
    write_synthetic_drafts(warehouse, entity, PERIOD, 50)
    assert main(["dlq", "replay", "us-1"]) == 0
    assert main(["dlq", "replay", "us-1"]) == 2  # already replayed: refused, not sent again
    _assert_exactly_once(sandbox, entity.accounting_tenant_id, _expected(50))
    assert post_period(entity, PERIOD, warehouse, xero, "run-3", sources=DOCUMENT_SOURCES).posted_new == []


def test_two_runs_on_the_same_period_cannot_both_post(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity, warehouse = _entity(tenant), Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, PERIOD, 60)
    with XeroSandbox([tenant], minute_limit=None, record=True) as sandbox:
        # The first run's PUT stalls (within its timeout) while the second run starts.
        sandbox.inject(Fault("slow", seconds=1.0, method="PUT", path="/Invoices"))
        xero = _client(sandbox, timeout_s=5.0)
        outcomes: dict[str, PostingOutcome] = {}
        first = threading.Thread(
            target=lambda: outcomes.update(
                a=post_period(entity, PERIOD, warehouse, xero, "a", sources=DOCUMENT_SOURCES)
            )
        )
        first.start()
        while not sandbox.fired_faults:  # the first run has claimed the period and is sending
            threading.Event().wait(0.02)
        outcomes["b"] = post_period(entity, PERIOD, warehouse, xero, "b", sources=DOCUMENT_SOURCES)
        first.join()
        puts = [e for e in sandbox.exchanges if e.method == "PUT" and e.path.endswith("/Invoices")]
        _assert_exactly_once(sandbox, tenant, _expected(60))
    assert outcomes["b"].blocked_by is not None and outcomes["b"].posted_new == []
    assert len(outcomes["a"].posted_new) == 60
    assert len(puts) == 2  # two batches, from the first run only
