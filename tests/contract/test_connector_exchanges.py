"""Every request our connectors send, and every answer the sandboxes give them, validates against the contracts."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.runner import sync_month
from sandbox.openapi_contract import load_contract, validate_exchange
from tests.conftest import Sandboxes


@pytest.mark.integration
def test_one_entity_month_speaks_both_contracts(sandboxes: Sandboxes) -> None:
    with dg.instance_for_test() as instance:
        # The German entity: a foreign-currency client (CurrencyRate) and tax on every line.
        outcomes = sync_month(instance, defs, "de", date(2026, 9, 1))
    assert all(o.success for o in outcomes)
    harvest, xero = load_contract("harvest"), load_contract("xero")
    harvest_exchanges = list(sandboxes.harvest.exchanges)
    xero_exchanges = list(sandboxes.xero.exchanges)
    assert {e.path.rsplit("/", 1)[-1] for e in harvest_exchanges} >= {
        "time_entries",
        "expenses",
        "projects",
        "clients",
    }
    assert any(e.method == "PUT" and e.path.endswith("/Invoices") for e in xero_exchanges)
    for exchange in harvest_exchanges:
        validate_exchange(harvest, exchange)
    for exchange in xero_exchanges:
        validate_exchange(xero, exchange)
