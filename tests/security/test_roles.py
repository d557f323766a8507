"""Roles from the access file, enforced on every privileged command: each permission allowed and refused.

The caller is the real OS user (or a signed identity token); the access file is a real file.
A refusal is one line naming the permission, exit status 3, and an audit entry.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.cli import main
from pipelines.cli_access import COMMAND_PERMISSIONS, REFUSED_STATUS
from resources.access_config import current_access, current_identity
from resources.audit_log import AuditLog
from resources.identity import issue_token, os_user, proxy_identity
from rules.access import DEFAULT_ROLES, AccessSettings, Permission

WriteAccess = Callable[[dict[str, object]], Path]
# One command per permission that is cheap to run; each may still fail for its own reasons
# (no drafts, no dead letter), which is not a refusal.
COMMANDS: dict[Permission, list[str]] = {
    Permission.VIEW: ["report"],
    Permission.POST: ["sync", "--entity", "us", "--period", "2026-09"],
    Permission.REPLAY: ["dlq", "replay", "us-1"],
    Permission.DISCARD: ["dlq", "discard", "us-1", "--reason", "billed by hand"],
    Permission.EXPORT: ["export-drafts", "--entity", "us", "--period", "2026-09"],
    Permission.REALLOCATE: ["allocate", "--month", "2026-09", "--entity", "nowhere"],
    Permission.RECEIVE_EVENTS: ["events", "serve", "--port", "0"],
    Permission.MANAGE_CREDENTIALS: ["auth", "rotate"],
    Permission.VERIFY_AUDIT: ["audit", "verify"],
    Permission.MANAGE_ACCESS: ["access", "keygen", "--private-key", "{tmp}/signing.pem"],
}


@pytest.fixture
def access_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Callable[[dict[str, object]], Path]:
    """Write an access file and point billbridge at it (the policy is cached per process)."""

    def write(settings: dict[str, object]) -> Path:
        path = tmp_path / "access.yaml"
        path.write_text(yaml.safe_dump(settings))
        monkeypatch.setenv("BILLBRIDGE_ACCESS_FILE", str(path))
        current_access.cache_clear()
        current_identity.cache_clear()
        return path

    request.addfinalizer(current_access.cache_clear)
    request.addfinalizer(current_identity.cache_clear)
    return write


def _run(argv: list[str], tmp_path: Path) -> int:
    return main([a.replace("{tmp}", str(tmp_path)) for a in argv])


def _role_without(permission: Permission) -> str | None:
    """The broadest built-in role lacking the permission (None, no role at all, for `view`)."""
    return next((r for r in ("approver", "operator", "viewer") if permission not in DEFAULT_ROLES[r]), None)


def _role_with(permission: Permission) -> str:
    return next(r for r in ("viewer", "operator", "approver", "admin") if permission in DEFAULT_ROLES[r])


@pytest.mark.parametrize("permission", list(COMMANDS), ids=lambda p: p.value)
def test_a_role_without_the_permission_is_refused_in_one_line_and_audited(
    permission: Permission,
    access_file: WriteAccess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    role = _role_without(permission)
    access_file({"members": {os_user(): role} if role else {}})
    assert _run(COMMANDS[permission], tmp_path) == REFUSED_STATUS
    err = capsys.readouterr().err.strip().splitlines()
    held = f"role {role}" if role else "no role"
    assert err == [err[0]] and err[0].endswith(
        f"refused: {os_user()} ({held}) lacks the permission '{permission.value}'"
    )
    last = list(AuditLog().entries())[-1]
    assert (last["actor"], last["outcome"], last["detail"]["permission"]) == (
        os_user(),
        "refused",
        permission.value,
    )


@pytest.mark.parametrize("permission", list(COMMANDS), ids=lambda p: p.value)
def test_a_role_with_the_permission_gets_through(
    permission: Permission,
    access_file: WriteAccess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HARVEST_BASE_URL", "XERO_BASE_URL", "XERO_ACCESS_TOKEN", "BILLBRIDGE_WEBHOOK_SECRET"):
        monkeypatch.delenv(
            name, raising=False
        )  # commands stop early for want of them: fast, and not a refusal
    access_file({"members": {os_user(): _role_with(permission)}})
    assert _run(COMMANDS[permission], tmp_path) != REFUSED_STATUS
    last = list(AuditLog().entries())[-1]
    assert last["outcome"] != "refused" and last["detail"]["permission"] == permission.value


def test_every_command_declares_its_permission_and_unknown_ones_need_admin() -> None:
    from pipelines.cli import build_parser

    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    declared = set()
    for name, sub in subcommands.items():
        actions = sub._subparsers._group_actions[0].choices if sub._subparsers else {None: None}  # type: ignore[union-attr]
        declared |= {f"{name}.{a}" if a else name for a in actions}
    assert declared <= set(COMMAND_PERMISSIONS), sorted(declared - set(COMMAND_PERMISSIONS))


def test_no_role_means_no_access_and_an_unknown_role_stops_the_load(
    access_file: WriteAccess, capsys: pytest.CaptureFixture[str]
) -> None:
    access_file({"members": {"someone-else": "admin"}})
    assert main(["report"]) == REFUSED_STATUS
    assert f"{os_user()} (no role) lacks the permission 'view'" in capsys.readouterr().err
    path = access_file({"members": {os_user(): "superuser"}})
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "unknown role(s) ['superuser']" in err


def test_a_signed_identity_token_names_the_caller(
    access_file: WriteAccess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    access_file({"members": {"ci-bot": "viewer"}, "token_public_keys": [public]})
    import time

    monkeypatch.setenv("BILLBRIDGE_IDENTITY_TOKEN", issue_token(key, "ci-bot", time.time() + 600))
    assert main(["access", "whoami"]) == 0
    assert "ci-bot (token): role viewer; permissions: view" in capsys.readouterr().out
    assert main(["dlq", "discard", "us-1", "--reason", "x"]) == REFUSED_STATUS
    assert list(AuditLog().entries())[-1]["actor"] == "ci-bot"
    # A token signed by another key, or expired, is refused whatever it claims.
    monkeypatch.setenv(
        "BILLBRIDGE_IDENTITY_TOKEN", issue_token(Ed25519PrivateKey.generate(), "admin", time.time() + 600)
    )
    current_identity.cache_clear()
    assert main(["report"]) == REFUSED_STATUS
    assert "not signed by a key in the access file" in capsys.readouterr().err
    monkeypatch.setenv("BILLBRIDGE_IDENTITY_TOKEN", issue_token(key, "ci-bot", time.time() - 1))
    current_identity.cache_clear()
    assert main(["report"]) == REFUSED_STATUS
    assert "expired" in capsys.readouterr().err


def test_the_proxy_header_is_believed_only_from_a_trusted_proxy() -> None:
    settings = AccessSettings.model_validate(
        {
            "proxy": {"header": "X-Forwarded-User", "trusted_proxies": ["10.0.0.5"]},
            "members": {"alice": "viewer"},
        }
    )
    headers = {"x-forwarded-user": "alice"}
    assert str(proxy_identity(settings, headers, "10.0.0.5")) == "alice (proxy)"
    assert proxy_identity(settings, headers, "10.0.0.9") is None  # anyone else can set a header
    assert proxy_identity(settings, {}, "10.0.0.5") is None


def test_the_webhook_endpoint_behind_the_proxy_takes_only_users_holding_receive_events() -> None:
    import json

    import httpx

    from pipelines.events_server import EventsServer
    from resources.event_inbox import EventInbox
    from rules.access import AccessPolicy
    from rules.pm_events import SIGNATURE_HEADER, sign

    settings = AccessSettings.model_validate(
        {
            "proxy": {"header": "X-Forwarded-User", "trusted_proxies": ["127.0.0.1"]},
            "members": {"pm-system": "operator", "alice": "viewer"},
        }
    )
    body = json.dumps({"id": "e1", "event": "client.updated", "data": {"id": 1, "updated_at": "x"}}).encode()
    server = EventsServer(EventInbox(), "whsec-1", access=AccessPolicy(settings)).start()
    try:

        def post(user: str | None) -> httpx.Response:
            headers = {
                SIGNATURE_HEADER: sign("whsec-1", body),
                **({"X-Forwarded-User": user} if user else {}),
            }
            return httpx.post(server.url, content=body, headers=headers)

        assert post("alice").status_code == 403  # a viewer may not feed the inbox
        assert "lacks the permission 'receive_events'" in post(None).json()["error"]
        assert post("pm-system").status_code == 202
    finally:
        server.stop()
    refused = [e for e in AuditLog().entries() if e["action"] == "events.receive"]
    assert [e["actor"] for e in refused] == ["alice", "(no proxy identity)"]
