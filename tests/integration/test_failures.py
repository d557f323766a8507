"""A server that is down gives one clear line naming the URL; a failed month does not stop the report."""

from __future__ import annotations

import socket
from datetime import date

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.runner import sync_month

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pm_server_down_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v2"
    for key, value in {
        "HARVEST_BASE_URL": url, "HARVEST_ACCOUNT_ID": "1", "HARVEST_ACCESS_TOKEN": "t",
        "XERO_BASE_URL": "http://127.0.0.1:1/api.xro/2.0", "XERO_ACCESS_TOKEN": "t",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    with dg.instance_for_test() as instance:
        outcomes = sync_month(instance, defs, "us", date(2026, 8, 1))
    assert [o.success for o in outcomes] == [False]  # billing never runs on a failed extraction
    assert "cannot reach Harvest at " + url in outcomes[0].error
    assert "\n" not in outcomes[0].error


def test_sync_without_environment_names_the_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("HARVEST_BASE_URL", "XERO_ACCESS_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    assert main(["sync", "--entity", "us", "--period", "2026-08"]) == 2
    assert "HARVEST_BASE_URL" in capsys.readouterr().err


def test_sync_rejects_unknown_entity(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in (
        "HARVEST_BASE_URL",
        "HARVEST_ACCOUNT_ID",
        "HARVEST_ACCESS_TOKEN",
        "XERO_BASE_URL",
        "XERO_ACCESS_TOKEN",
    ):
        monkeypatch.setenv(key, "x")
    assert main(["sync", "--entity", "fr", "--period", "2026-08"]) == 2
    assert "unknown entity 'fr'" in capsys.readouterr().err
