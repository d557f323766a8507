"""The bodies of an alert for each route (pure): the chat webhook, PagerDuty Events v2 and Opsgenie.

One `Alert` says what crossed which line and links its runbook; each route gets it in the shape
its receiver documents (PagerDuty: `routing_key`, `event_action`, `dedup_key`, `payload`;
Opsgenie: `message`, `alias`, `priority`, `details`). The dedup key makes a repeated alert for the
same breach update one incident rather than page again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["WARN", "ERROR"]
_PAGERDUTY_SEVERITY = {"WARN": "warning", "ERROR": "error"}
_OPSGENIE_PRIORITY = {"WARN": "P3", "ERROR": "P2"}


@dataclass(frozen=True)
class Alert:
    """One alert: a one-line summary, how bad, what it is about (dedup key), its runbook and details."""

    summary: str
    severity: Severity
    dedup_key: str  # e.g. "billbridge/slo/dead_letter_growth"
    runbook_url: str
    details: dict[str, str] = field(default_factory=dict)


def webhook_body(alert: Alert) -> dict[str, Any]:
    """The chat webhook's body (Slack-compatible `text`, as the run-failure alert sends)."""
    return {
        "text": f"{alert.summary}  [runbook: {alert.runbook_url}]",
        "severity": alert.severity,
        "key": alert.dedup_key,
        **alert.details,
    }


def pagerduty_event(alert: Alert, routing_key: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 `trigger` event."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            "summary": alert.summary[:1024],
            "source": "billbridge",
            "severity": _PAGERDUTY_SEVERITY[alert.severity],
            "custom_details": alert.details,
        },
        "links": [{"href": alert.runbook_url, "text": "runbook"}],
    }


def opsgenie_alert(alert: Alert) -> dict[str, Any]:
    """An Opsgenie Alert API `create` body (the API key travels in the Authorization header)."""
    return {
        "message": alert.summary[:130],
        "alias": alert.dedup_key,
        "description": f"{alert.summary}\nrunbook: {alert.runbook_url}",
        "priority": _OPSGENIE_PRIORITY[alert.severity],
        "source": "billbridge",
        "details": {**alert.details, "runbook": alert.runbook_url},
    }
