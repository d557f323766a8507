"""`billbridge auth xero` driven end to end, with httpx as the browser that follows the consent redirect."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from pipelines.cli import main
from sandbox.xero.oauth import AUTHORIZE_PATH


def authorise(capsys: pytest.CaptureFixture[str]) -> None:
    """`billbridge auth xero`, with httpx as the browser that follows the consent redirect."""
    outcome: list[int] = []
    command = threading.Thread(
        target=lambda: outcome.append(
            main(["auth", "xero", "--no-browser", "--port", "0", "--timeout", "20"])
        )
    )
    command.start()
    printed = ""
    for _ in range(200):
        printed += capsys.readouterr().out
        if AUTHORIZE_PATH in printed:
            break
        time.sleep(0.05)
    url = next(line.strip() for line in printed.splitlines() if AUTHORIZE_PATH in line)
    browser = httpx.get(url, follow_redirects=True, timeout=10)
    command.join(timeout=20)
    assert browser.status_code == 200 and outcome == [0], capsys.readouterr().err
