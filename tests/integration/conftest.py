"""Fixtures of the integration tests: the accounting sandbox's books kept in pounds and a client for
them (settlement tests), and a fresh PostgreSQL database for a team-deployment Dagster instance."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg2
import pytest

from sandbox.xero import XeroSandbox
from tests.integration.xero_http import T1, T2, UNLIMITED, client

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@pytest.fixture
def books(tmp_path: Path) -> Iterator[XeroSandbox]:
    """The accounting sandbox for tenants T1 (base currency GBP) and T2, on a file ledger, unlimited."""
    sandbox = XeroSandbox(
        [T1, T2], db_path=tmp_path / "xero.sqlite", base_currencies={T1: "GBP"}, **UNLIMITED
    )
    with sandbox:
        yield sandbox
    sandbox.close()


@pytest.fixture
def http(books: XeroSandbox) -> Iterator[httpx.Client]:
    """A client of `books` acting for T1."""
    with client(books) as session:
        yield session


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh database for this test's Dagster instance, dropped afterwards."""
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL does not answer at 127.0.0.1:5432 as user postgres ({exc}).\n"
            f"Start it with: {START_POSTGRES}",
            pytrace=False,
        )
    admin.autocommit = True
    name = f"billbridge_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def team_instance(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$DAGSTER_HOME holding deploy/dagster.yaml as shipped, its PostgreSQL being `pg_database`."""
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for key, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "unused-trust-auth",
        "DAGSTER_PG_DB": pg_database,
    }.items():
        monkeypatch.setenv(key, value)
    return home
