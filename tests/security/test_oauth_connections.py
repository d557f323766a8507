"""Xero OAuth 2.0 connections that renew themselves, against the accounting sandbox's provider.

Real parts: the accounting sandbox with its OAuth provider (`sandbox/xero/oauth.py`) over loopback
HTTP, the encrypted token store on disk, child processes for the cross-process lock and for
SIGKILL between refresh and save.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.cli import main
from resources.oauth import ReauthorisationRequired, TokenManager
from resources.token_store import REAUTHORISE, TokenStore
from resources.xero import XeroClient
from sandbox.xero.answers import API_BASE
from sandbox.xero.oauth import AUTHORIZE_PATH, CONNECTIONS_PATH, TOKEN_PATH, TokenLifetimes, XeroIdentity
from sandbox.xero.server import XeroSandbox
from tests.security.oauth_helpers import authorise

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "app-7c1d", "xero-app-secret-5f2e9a0b7c"
TENANTS = {"5a7f1c3e-0000-4000-8000-00000000a001": "Billbridge UK Ltd"}


@dataclass
class Provider:
    identity: XeroIdentity
    sandbox: XeroSandbox

    def token_calls(self) -> int:
        return sum(1 for e in self.sandbox.exchanges if e.path == TOKEN_PATH)


@contextmanager
def _provider(monkeypatch: pytest.MonkeyPatch, lifetimes: TokenLifetimes | None = None) -> Iterator[Provider]:
    identity = XeroIdentity(TENANTS, {CLIENT_ID: CLIENT_SECRET}, lifetimes)
    with XeroSandbox(list(TENANTS), token="no-static-token", record=True, identity=identity) as sandbox:
        root = sandbox.url.removesuffix(API_BASE)
        for name, value in {
            "XERO_CLIENT_ID": CLIENT_ID,
            "XERO_CLIENT_SECRET": CLIENT_SECRET,
            "XERO_AUTHORIZE_URL": root + AUTHORIZE_PATH,
            "XERO_TOKEN_URL": root + TOKEN_PATH,
            "XERO_CONNECTIONS_URL": root + CONNECTIONS_PATH,
        }.items():
            monkeypatch.setenv(name, value)
        yield Provider(identity, sandbox)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    with _provider(monkeypatch) as running:
        yield running


def _expire_locally() -> None:
    """Make the stored access token look expired (as after half an hour), without touching the provider."""
    store = TokenStore()
    record = store.load("xero")
    assert record is not None
    store.save(record.model_copy(update={"access_expires_at": time.time() - 1}))


def test_auth_xero_stores_encrypted_tokens_and_tenants_then_status_lists_them(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    record = TokenStore().load("xero")
    assert record is not None and [t.tenant_id for t in record.tenants] == list(TENANTS)
    assert provider.identity.token_valid(record.access_token)
    stored = (TokenStore().folder / "xero.token").read_bytes()
    assert record.access_token.encode() not in stored and record.refresh_token.encode() not in stored
    assert (TokenStore().folder / "xero.token").stat().st_mode & 0o777 == 0o600
    capsys.readouterr()
    assert main(["auth", "status"]) == 0
    out = capsys.readouterr().out
    assert "xero: ACTIVE" in out and "Billbridge UK Ltd" in out and "last refresh never" in out


def test_the_access_token_is_refreshed_before_expiry_and_the_rotated_refresh_token_kept(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    manager = TokenManager()
    first = TokenStore().load("xero")
    assert first is not None
    assert manager.access_token("xero") == first.access_token  # fresh: no refresh
    assert provider.identity.refreshes == 0
    _expire_locally()
    token = manager.access_token("xero")
    second = TokenStore().load("xero")
    assert second is not None
    assert token != first.access_token and provider.identity.token_valid(token)
    assert second.refresh_token != first.refresh_token and second.last_refresh_at is not None
    assert provider.identity.refreshes == 1


CHILD = """
import sys
from resources.oauth import TokenManager
print(TokenManager().access_token("xero"))
"""


def _child(extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_processes_refreshing_at_once_spend_the_refresh_token_once(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    _expire_locally()
    children = [_child() for _ in range(4)]
    tokens = {child.communicate(timeout=120)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert provider.identity.refreshes == 1 and provider.token_calls() == 2  # the code grant, one refresh
    assert len(tokens) == 1 and provider.identity.token_valid(tokens.pop())


def test_sigkill_between_refresh_and_save_then_the_next_run_still_authenticates(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    _expire_locally()
    before = TokenStore().load("xero")
    crashed = _child({"BILLBRIDGE_CRASH_AT": "token_refreshed"})
    crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    assert provider.identity.refreshes == 1  # the provider rotated the token; the answer was lost
    after_crash = TokenStore().load("xero")
    assert after_crash is not None and before is not None
    assert after_crash.refresh_token == before.refresh_token and after_crash.refresh_started_at is not None
    capsys.readouterr()
    assert main(["auth", "status"]) == 0
    assert "a refresh was interrupted" in capsys.readouterr().out

    rerun = _child()
    token = rerun.communicate(timeout=120)[0].strip()
    assert rerun.returncode == 0 and provider.identity.token_valid(token)
    recovered = TokenStore().load("xero")
    assert recovered is not None and recovered.refresh_started_at is None and recovered.state == "active"


def test_a_rejected_refresh_token_puts_the_connection_in_re_authorise_and_stops_calling(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    _expire_locally()
    provider.identity.revoke_all()  # the firm disconnected the app in Xero
    manager = TokenManager()
    with pytest.raises(
        ReauthorisationRequired, match=r"needs re-authorising .*invalid_grant.*billbridge auth xero"
    ):
        manager.access_token("xero")
    calls = provider.token_calls()
    with pytest.raises(ReauthorisationRequired):
        manager.access_token("xero")  # the next run fails at once ...
    assert provider.token_calls() == calls  # ... without calling the provider again
    record = TokenStore().load("xero")
    assert record is not None and record.state == REAUTHORISE
    capsys.readouterr()
    assert main(["auth", "status"]) == 0
    assert "xero: RE-AUTHORISE: the provider rejected the refresh token" in capsys.readouterr().out
    authorise(capsys)  # a person authorises again: active once more
    assert TokenManager().access_token("xero")


def test_an_interrupted_refresh_past_the_grace_period_asks_for_re_authorisation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with _provider(monkeypatch, TokenLifetimes(grace_s=0)):
        authorise(capsys)
        _expire_locally()
        crashed = _child({"BILLBRIDGE_CRASH_AT": "token_refreshed"})
        crashed.communicate(timeout=120)
        with pytest.raises(
            ReauthorisationRequired, match="after an interrupted refresh, past the provider's grace"
        ):
            TokenManager().access_token("xero")


def test_the_accounting_api_takes_the_connection_and_a_401_refreshes_once(
    provider: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    authorise(capsys)
    [tenant] = TENANTS
    xero = XeroClient(base_url=provider.sandbox.url, connection="xero")
    assert xero.lock_date(tenant) is None  # the API accepts the provider's access token
    # The provider's clock runs ahead: our token has expired there though it looks fresh here.
    provider.identity.clock = lambda: time.time() + 3600
    assert xero.lock_date(tenant) is None
    statuses = [e.status for e in provider.sandbox.exchanges if e.path.endswith("/Organisation")]
    assert statuses == [200, 401, 200]
    assert provider.identity.refreshes == 1
