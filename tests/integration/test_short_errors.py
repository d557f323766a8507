"""A misconfiguration is one line naming the URL, the variable and what to try; tracebacks go to the log.

Found on main (issue 14): a server that is down, a wrong token or a wrong account id printed
100 to 240 lines of Dagster traceback before the one useful line; a wrong HARVEST_ACCOUNT_ID
read exactly like a wrong token; `--period 2026-9` and periods outside the partitions gave raw
`Invalid isoformat string` / `CheckError` messages.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.cli import main
from resources.http_server import JsonHTTPServer, Request, Response
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
GOOD_TOKEN = "demo-harvest-token"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _terminal(capfd: pytest.CaptureFixture[str]) -> list[str]:
    out, err = capfd.readouterr()
    return [line for line in (out + err).splitlines() if line.strip()]


def _assert_short(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "Stack Trace" not in text and 'File "' not in text, text
    assert len(lines) <= 5, text


@pytest.fixture
def harvest_id() -> Iterator[str]:
    """Harvest ID's `GET /accounts` on loopback: the demo token has account 100001, others are refused."""

    def accounts(request: Request) -> Response:
        if (
            request.path.rstrip("/").endswith("/accounts")
            and request.header("Authorization") == f"Bearer {GOOD_TOKEN}"
        ):
            return Response(
                200,
                {"user": {"id": 1}, "accounts": [{"id": 100001, "name": "Demo Co", "product": "harvest"}]},
            )
        return Response(
            401, {"error": "invalid_token", "error_description": "The access token provided is expired"}
        )

    with JsonHTTPServer(accounts) as server:
        yield f"{server.url}/api/v2"


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2026-9", "argument --period: expected a month as YYYY-MM, got '2026-9'"),
        ("2026-13", "argument --period: expected a month as YYYY-MM, got '2026-13'"),
        ("2025-01", "--period 2025-01 is before the first partition 2026-08 (billing_start 2026-08-01"),
        ("2099-01", "--period 2099-01 has not started yet"),
    ],
)
def test_bad_periods_are_one_line(
    period: str, expected: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "HARVEST_BASE_URL",
        "HARVEST_ACCOUNT_ID",
        "HARVEST_ACCESS_TOKEN",
        "XERO_BASE_URL",
        "XERO_ACCESS_TOKEN",
    ):
        monkeypatch.setenv(name, "set")
    assert main(["sync", "--entity", "us", "--period", period]) == 2
    lines = _terminal(capfd)
    assert len(lines) == 1 and expected in lines[0], lines


def test_pm_server_down_is_one_line_naming_url_and_variable(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v2"
    monkeypatch.setenv("HARVEST_BASE_URL", url)
    assert main(["sync", "--entity", "us", "--period", "2026-08"]) == 1
    lines = _terminal(capfd)
    _assert_short(lines)
    [line] = [line for line in lines if "cannot reach" in line]
    assert f"cannot reach Harvest at {url}" in line and "HARVEST_BASE_URL" in line
    log = Path(os.environ["BILLBRIDGE_HOME"]) / "logs" / "billbridge.log"
    assert "ConnectError" in log.read_text()  # the whole error is kept for whoever digs deeper


def test_wrong_harvest_token_is_told_apart_from_a_wrong_account_id(
    sandboxes: Sandboxes, harvest_id: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARVEST_ID_URL", harvest_id)
    monkeypatch.setenv("HARVEST_ACCESS_TOKEN", "revoked-token")
    assert main(["sync", "--entity", "uk", "--period", "2026-09"]) == 1
    lines = _terminal(capfd)
    _assert_short(lines)
    [token] = [line for line in lines if "refused" in line]
    assert f"Harvest refused HARVEST_ACCESS_TOKEN at {sandboxes.env['HARVEST_BASE_URL']}" in token
    assert "HARVEST_ACCOUNT_ID" not in token

    monkeypatch.setenv("HARVEST_ACCESS_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("HARVEST_ACCOUNT_ID", "999999")
    assert main(["sync", "--entity", "uk", "--period", "2026-09"]) == 1
    lines = _terminal(capfd)
    _assert_short(lines)
    [account] = [line for line in lines if "refused" in line]
    assert "Harvest refused HARVEST_ACCOUNT_ID=999999" in account
    assert "its accounts are 100001 (Demo Co)" in account


def test_without_harvest_id_a_401_names_both_variables(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "HARVEST_ACCOUNT_ID", "999999"
    )  # the sandbox answers 401 invalid_token, as Harvest does
    monkeypatch.delenv("HARVEST_ID_URL", raising=False)
    assert main(["sync", "--entity", "uk", "--period", "2026-09", "--wait", "0"]) == 1
    lines = _terminal(capfd)
    _assert_short(lines)
    [line] = [line for line in lines if "refused" in line]
    assert "HARVEST_ACCESS_TOKEN" in line and "HARVEST_ACCOUNT_ID" in line and "accounts" in line
