"""Fixtures of the accounting sandbox's settlement tests: books kept in pounds, and a client for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.xero import XeroSandbox
from tests.integration.xero_http import T1, T2, UNLIMITED, client


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
