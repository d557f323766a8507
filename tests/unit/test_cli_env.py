"""`.env.example` says to copy it to `.env`: the command line reads it (found on main: it did not)."""

import os
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.cli_args import REQUIRED_ENV


def test_dotenv_in_the_working_directory_is_read_without_overriding_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in REQUIRED_ENV:
        monkeypatch.setenv(name, "from-the-shell")  # remembered, so teardown removes what .env adds
        monkeypatch.delenv(name)
    monkeypatch.setenv("XERO_ACCESS_TOKEN", "from-the-shell")
    (tmp_path / ".env").write_text("".join(f"{name}=from-dotenv\n" for name in REQUIRED_ENV))
    monkeypatch.chdir(tmp_path)
    # Past the environment check, the period is what stops it: every variable came from somewhere.
    assert main(["sync", "--entity", "us", "--period", "2026-9"]) == 2
    assert "expected a month as YYYY-MM" in capsys.readouterr().err
    assert os.environ["HARVEST_ACCESS_TOKEN"] == "from-dotenv"
    assert os.environ["XERO_ACCESS_TOKEN"] == "from-the-shell"
