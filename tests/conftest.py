"""Shared test setup: every test gets its own BILLBRIDGE_HOME so no test touches the demo's files,
and integration and contract tests get both sandboxes on ephemeral loopback ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from resources.configuration import current_config
from sandbox.company import Company, generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.xero import XeroSandbox

DEMO_SEED = 7


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("billbridge_home")
    monkeypatch.setenv("BILLBRIDGE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    # What ensure_dagster_home sets in the process (decision 0049), restored after each test.
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")


@dataclass
class Sandboxes:
    company: Company
    harvest: HarvestSandbox
    xero: XeroSandbox
    env: dict[str, str]


@pytest.fixture
def sandboxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandboxes]:
    """Seeded PM sandbox and an empty accounting sandbox, recording every exchange; env points at them."""
    company = generate_company(seed=DEMO_SEED)
    tenants = [e.accounting_tenant_id for e in current_config().entities]
    harvest = HarvestSandbox(company, rate_limit=None, record=True)
    xero = XeroSandbox(tenants, db_path=tmp_path / "xero.sqlite", record=True)
    harvest.start()
    xero.start()
    env = {
        "HARVEST_BASE_URL": harvest.url,
        "HARVEST_ACCOUNT_ID": "100001",
        "HARVEST_ACCESS_TOKEN": "demo-harvest-token",
        "XERO_BASE_URL": xero.url,
        "XERO_ACCESS_TOKEN": "demo-xero-token",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield Sandboxes(company, harvest, xero, env)
    finally:
        harvest.stop()
        xero.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (its own browser download is unreachable here)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()
