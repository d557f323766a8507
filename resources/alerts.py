"""Send an SLO or heartbeat alert down every configured route: the chat webhook and the on-call tool.

The chat webhook is `orchestration.alert_webhook_url` (the run-failure alert's channel); the
on-call route is `orchestration.oncall` (PagerDuty Events v2 or Opsgenie), whose key is read
from the environment when sending, never from a configuration file. A route that is down does
not hide the alert: the caller logs it, and the failures come back as lines to log too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from rules.alert_payloads import Alert, opsgenie_alert, pagerduty_event, webhook_body
from rules.settings import OrchestrationConfig

TIMEOUT_S = 10.0


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str | None:
    """POST one body; the failure as a line, or None when the receiver took it."""
    try:
        httpx.post(url, json=body, headers=headers or {}, timeout=TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as exc:
        return f"alert route {url} failed: {exc}; the alert is in this log"
    return None


def send_alert(
    alert: Alert, orchestration: OrchestrationConfig, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Deliver `alert` to the webhook and the on-call route (those configured); the failures, one line each."""
    environ = os.environ if environ is None else environ
    failures: list[str | None] = []
    if orchestration.alert_webhook_url:
        failures.append(_post(orchestration.alert_webhook_url, webhook_body(alert)))
    failures.append(page_oncall(alert, orchestration, environ))
    return [f for f in failures if f]


def page_oncall(
    alert: Alert, orchestration: OrchestrationConfig, environ: Mapping[str, str] | None = None
) -> str | None:
    """Deliver `alert` to the on-call route alone (when one is configured); the failure as a line, or None."""
    environ = os.environ if environ is None else environ
    route = orchestration.oncall
    if not route.url:
        return None
    key = environ.get(route.key_variable, "")
    if route.format == "pagerduty":
        return _post(route.url, pagerduty_event(alert, key))
    return _post(route.url, opsgenie_alert(alert), {"Authorization": f"GenieKey {key}"})
