"""Webhook secrets rotate with an overlap window; secrets come from the environment or a safe secrets file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from pipelines.cli import main
from pipelines.events_server import EventsServer
from resources.event_inbox import EventInbox
from resources.secrets_file import SecretsFileProblem, load_secrets_file
from resources.webhook_secrets import SECRET_ENV, WebhookSecrets
from rules.pm_events import SIGNATURE_HEADER, sign


def _event(event_id: str) -> bytes:
    return json.dumps(
        {"id": event_id, "event": "client.updated", "data": {"id": 1, "updated_at": "x"}}
    ).encode()


def test_rotation_keeps_the_old_secret_verifying_for_the_overlap_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, "whsec-original-1b2c3d")
    assert main(["auth", "rotate", "--overlap-hours", "1"]) == 0
    new = capsys.readouterr().out.strip().splitlines()[-1].strip()
    store = WebhookSecrets()
    assert store.verifying() == ["whsec-original-1b2c3d", new] and store.current() == new
    assert store.verifying(now=time.time() + 3601) == [new]  # the overlap is over

    server = EventsServer(EventInbox(), store.verifying).start()
    try:
        old_signed = httpx.post(
            server.url,
            content=_event("a"),
            headers={SIGNATURE_HEADER: sign("whsec-original-1b2c3d", _event("a"))},
        )
        new_signed = httpx.post(
            server.url, content=_event("b"), headers={SIGNATURE_HEADER: sign(new, _event("b"))}
        )
        assert (old_signed.status_code, new_signed.status_code) == (202, 202)
        # Retire the old secret now (a second rotation with no overlap): it stops verifying at once.
        store.rotate(overlap_s=0)
        late = httpx.post(
            server.url,
            content=_event("c"),
            headers={SIGNATURE_HEADER: sign("whsec-original-1b2c3d", _event("c"))},
        )
        assert late.status_code == 401
    finally:
        server.stop()
    assert "whsec-original-1b2c3d" not in store.path.read_text()  # stored encrypted
    assert main(["auth", "status"]) == 0
    assert "webhook secret created" in capsys.readouterr().out


def _secrets_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text("HARVEST_ACCESS_TOKEN=hv-from-file-91b3\nXERO_CLIENT_SECRET=from-file-c4d5\n")
    path.chmod(mode)
    return path


def test_the_secrets_file_fills_unset_names_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARVEST_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("XERO_CLIENT_SECRET", "from-environment")
    assert load_secrets_file(_secrets_file(tmp_path, 0o600)) == ["HARVEST_ACCESS_TOKEN"]
    assert os.environ["HARVEST_ACCESS_TOKEN"] == "hv-from-file-91b3"
    assert os.environ["XERO_CLIENT_SECRET"] == "from-environment"


def test_a_secrets_file_others_can_read_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _secrets_file(tmp_path, 0o644)
    with pytest.raises(SecretsFileProblem, match=r"readable by other accounts \(mode 0o644\); run chmod 600"):
        load_secrets_file(path)
    monkeypatch.setenv("BILLBRIDGE_SECRETS_FILE", str(path))
    assert main(["auth", "status"]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_a_secrets_file_inside_the_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("resources.secrets_file.REPO_ROOT", tmp_path)  # tmp_path plays the checkout
    path = _secrets_file(tmp_path, 0o600)
    with pytest.raises(SecretsFileProblem, match="inside the repository"):
        load_secrets_file(path)
