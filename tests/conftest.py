"""Shared test setup: every test gets its own BILLBRIDGE_HOME so no test touches the demo's files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("billbridge_home")
    monkeypatch.setenv("BILLBRIDGE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
