"""Contract fixtures: each vendored contract parsed once per process."""

from __future__ import annotations

import pytest

from sandbox.openapi_contract import Contract, load_contract


@pytest.fixture(scope="module")
def xero_contract() -> Contract:
    return load_contract("xero")


@pytest.fixture(scope="module")
def harvest_contract() -> Contract:
    return load_contract("harvest")
