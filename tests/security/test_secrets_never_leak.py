"""Secrets never appear in logs, Dagster's event storage, exceptions or the request log.

A real sync with real-looking secrets (a Harvest personal token, a Xero app secret and the
OAuth tokens it obtains, a webhook secret), a failing run whose exception is stored, and a
webhook delivery; then every file under the data folder (Dagster's SQLite storage included),
every text value of every warehouse table, the captured output and the log records are grepped.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.cli import main
from pipelines.events_server import EventsServer
from resources.configuration import current_config
from resources.event_inbox import EventInbox
from resources.token_store import TokenStore
from rules.pm_events import SIGNATURE_HEADER, sign
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.xero.answers import API_BASE
from sandbox.xero.oauth import AUTHORIZE_PATH, CONNECTIONS_PATH, TOKEN_PATH, XeroIdentity
from sandbox.xero.server import XeroSandbox
from tests.security.oauth_helpers import authorise

pytestmark = pytest.mark.integration

HARVEST_TOKEN = "2874513.pt.Vq3rT9mZkL0xW8sB2nYcE5hJ7aD1fG4uI6oP"
XERO_CLIENT_ID = "7F3E9A1C2B4D4E6F8A0B1C2D3E4F5A6B"
XERO_CLIENT_SECRET = "p1Zk8VqRt5mNwXy2Ab3Cd4Ef6Gh7Ij9KlMnOpQrStUvWxYz0"
REVOKED_HARVEST_TOKEN = "2874513.pt.Rk5tW2qZ8xLm3NvB7cY1dE4fG6hJ9aS0uI"
WEBHOOK_SECRET = "whsec_5ZcX9vB2nM4qL7kJ1hG3fD8sA0pO6iU"


def _warehouse_text(home: Path) -> str:
    """Every text value of every table of every DuckDB file (the files themselves are compressed)."""
    values = []
    for path in home.rglob("*.duckdb"):
        with duckdb.connect(str(path), read_only=True) as con:
            columns = con.execute(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR'"
            ).fetchall()
            for schema, table, column in columns:
                values += [
                    str(v) for (v,) in con.execute(f'SELECT "{column}" FROM {schema}.{table}').fetchall()
                ]
    return "\n".join(values)


def _file_bytes(home: Path) -> bytes:
    """Every other file under the data folder: Dagster's runs and event log, the inbox, the audit log."""
    return b"\n".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and p.suffix != ".duckdb")


def test_no_secret_reaches_storage_logs_or_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home = Path(os.environ["BILLBRIDGE_HOME"])
    tenants = [e.accounting_tenant_id for e in current_config().entities]
    identity = XeroIdentity(dict.fromkeys(tenants, "Org"), {XERO_CLIENT_ID: XERO_CLIENT_SECRET})
    harvest = HarvestSandbox(generate_company(seed=7), token=HARVEST_TOKEN, rate_limit=None)
    xero = XeroSandbox(tenants, token="static-token-unused", db_path=tmp_path / "x.sqlite", identity=identity)
    with harvest, xero:
        root = xero.url.removesuffix(API_BASE)
        env = {
            "HARVEST_BASE_URL": harvest.url,
            "HARVEST_ACCOUNT_ID": "100001",
            "HARVEST_ACCESS_TOKEN": HARVEST_TOKEN,
            "XERO_BASE_URL": xero.url,
            "XERO_CLIENT_ID": XERO_CLIENT_ID,
            "XERO_CLIENT_SECRET": XERO_CLIENT_SECRET,
            "XERO_AUTHORIZE_URL": root + AUTHORIZE_PATH,
            "XERO_TOKEN_URL": root + TOKEN_PATH,
            "XERO_CONNECTIONS_URL": root + CONNECTIONS_PATH,
            "BILLBRIDGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        authorise(capsys)
        monkeypatch.setenv("XERO_CONNECTION", "xero")
        assert main(["sync", "--entity", "uk", "--period", "2026-09"]) == 0
        assert main(["auth", "refresh"]) == 0

        monkeypatch.setenv("HARVEST_ACCESS_TOKEN", REVOKED_HARVEST_TOKEN)  # answered 401: the run fails
        assert main(["sync", "--entity", "us", "--period", "2026-09"]) == 1

        server = EventsServer(EventInbox(), WEBHOOK_SECRET).start()
        body = json.dumps(
            {"id": "e1", "event": "client.updated", "data": {"id": 1, "updated_at": "x"}}
        ).encode()
        assert (
            httpx.post(
                server.url, content=body, headers={SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body)}
            ).status_code
            == 202
        )
        server.stop()

    record = TokenStore().load("xero")
    assert record is not None
    secrets = {
        "Harvest token": HARVEST_TOKEN,
        "Xero client secret": XERO_CLIENT_SECRET,
        "Xero access token": record.access_token,
        "Xero refresh token": record.refresh_token,
        "revoked Harvest token": REVOKED_HARVEST_TOKEN,
        "webhook secret": WEBHOOK_SECRET,
    }
    output = capsys.readouterr()
    places = {
        "files under the data folder (Dagster storage, inbox, audit log, token store)": _file_bytes(
            home
        ).decode("latin-1"),
        "warehouse tables (request log included)": _warehouse_text(home),
        "standard output and error": output.out + output.err,
        "log records and exceptions": "\n".join(
            r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records
        ),
    }
    assert "dagster_home" in {p.name for p in home.iterdir()}  # the Dagster storage was there to grep
    with duckdb.connect(str(home / "warehouse" / "uk.duckdb"), read_only=True) as con:
        assert (
            con.execute("SELECT count(*) FROM posting.requests").fetchone()[0] > 0
        )  # the request log was there
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets.items()
        for where, text in places.items()
        if secret in text
    ]
    assert leaks == []
