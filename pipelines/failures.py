"""A failed step, said in one line: the URL, the variable to fix and what to try.

Dagster keeps the whole error (with its chain of causes and the stack) in the run's event
log; `billbridge` appends it to `$BILLBRIDGE_HOME/logs/billbridge.log` too and prints it
with `--verbose`. The terminal gets one line per failure, built here from the error chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dagster import DagsterEventType, DagsterInstance
from dagster._utils.error import SerializableErrorInfo

from resources.harvest_identity import identity_url as harvest_identity_url
from resources.harvest_identity import token_accounts
from rules.outcomes import RUNBOOKS, runbook_for

# Dagster's own wrappers around the error a step raised: look through them to the cause.
_WRAPPERS = {
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "DagsterExecutionInterruptedError",
}
_ANSWERED = re.compile(
    r"^(?P<method>[A-Z]+) (?P<url>\S+) answered (?P<status>\d{3})(?:: (?P<body>.*))?$", re.S
)
_UNREACHABLE = re.compile(
    r"cannot reach (?P<service>\w+) at (?P<url>\S+): (?P<reason>.*?)\. Is the server", re.S
)
BASE_URL_VARIABLE = {"Harvest": "HARVEST_BASE_URL", "Xero": "XERO_BASE_URL"}


@dataclass(frozen=True)
class Cause:
    """One link of an error chain: the exception's class name and its message (class prefix removed)."""

    cls_name: str
    message: str


def causes(error: SerializableErrorInfo | None) -> list[Cause]:
    """The error and its causes and contexts, outermost first."""
    chain: list[Cause] = []
    while error is not None and len(chain) < 20:
        message = error.message.strip()
        prefix = f"{error.cls_name}: "
        message = message.split(prefix, 1)[1] if prefix in message.split("\n", 1)[0] else message
        chain.append(Cause(error.cls_name or "", message.strip()))
        error = error.cause or error.context
    return chain


def _first_line(text: str, width: int = 160) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _detail(body: str) -> str:
    """The provider's own words from an error body: Xero's `Detail`/`Title`/`Message`, Harvest's `error`."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return _first_line(body, 100)
    if isinstance(parsed, dict):
        for key in ("Detail", "Message", "Title", "error_description", "error", "message"):
            if parsed.get(key):
                return _first_line(str(parsed[key]), 100)
    return _first_line(body, 100)


def _runbook(key: str, base: str) -> str:
    return f"  [runbook: {base}{RUNBOOKS[key]}]"


def _service_of(url: str, environ: Mapping[str, str]) -> str:
    for service, variable in BASE_URL_VARIABLE.items():
        base = environ.get(variable, "").rstrip("/")
        if base and url.startswith(base):
            return service
    return "Harvest" if "harvest" in url.lower() else "Xero" if "xero" in url.lower() else "the server"


def _harvest_refused(url: str, environ: Mapping[str, str]) -> str:
    """Tell a bad token from a bad account id by asking Harvest ID, when it can be asked."""
    account = environ.get("HARVEST_ACCOUNT_ID", "")
    id_url = harvest_identity_url(environ.get("HARVEST_BASE_URL", url), dict(environ))
    known = token_accounts(id_url, environ.get("HARVEST_ACCESS_TOKEN", ""), "billbridge") if id_url else None
    if known is not None and not known.valid:
        return (
            f"Harvest refused HARVEST_ACCESS_TOKEN at {url} (401; Harvest ID refuses it too): the token is "
            "expired, revoked or mistyped; create one at https://id.getharvest.com/developers"
        )
    if known is not None and account not in known.accounts:
        listed = ", ".join(f"{i} ({n})" for i, n in sorted(known.accounts.items())) or "none"
        return (
            f"Harvest refused HARVEST_ACCOUNT_ID={account} at {url} (401): the token is valid, "
            f"its accounts are {listed}; set HARVEST_ACCOUNT_ID to one of them"
        )
    return (
        f"Harvest refused the credentials at {url} (401 invalid_token): check HARVEST_ACCESS_TOKEN (expired, "
        "revoked, mistyped) and HARVEST_ACCOUNT_ID (Harvest answers 401 to either; "
        "list the token's accounts: GET https://id.getharvest.com/api/v2/accounts)"
    )


def _answered(cause: Cause, environ: Mapping[str, str], base: str) -> str | None:
    """A 4xx/5xx answer from a connector, with the variable that fixes it."""
    found = _ANSWERED.match(cause.message)
    if found is None:
        return None
    url, status, body = found["url"], int(found["status"]), _detail(found["body"] or "")
    service = _service_of(url, environ)
    if status == 401 and service == "Harvest":
        return _harvest_refused(url, environ) + _runbook("credentials", base)
    if status == 401:
        return (
            f"{service} refused XERO_ACCESS_TOKEN at {url} (401 {body}): the access token expired (Xero's last "
            "30 minutes) or was revoked; get a new one and set XERO_ACCESS_TOKEN"
            + _runbook("credentials", base)
        )
    if status == 403:
        what = (
            "the entity's accounting_tenant_id in the configuration, and that the app is connected to it"
            if service == "Xero"
            else "the token's user may read this data (an administrator's token reads every entry)"
        )
        return f"{service} refused {url} (403 {body}): check {what}" + _runbook("credentials", base)
    if status == 429 or status >= 500:
        return (
            f"{service} at {url} still answered {status} after retries: it is down or throttling; "
            "the next sync retries" + _runbook("rate_limits", base)
        )
    return f"{service} answered {status} at {url}: {body}"


def _unreachable(cause: Cause, environ: Mapping[str, str], base: str) -> str | None:
    found = _UNREACHABLE.search(cause.message)
    if found is None:
        return None
    variable = BASE_URL_VARIABLE.get(found["service"], "the base URL")
    return (
        f"cannot reach {found['service']} at {found['url']} ({_first_line(found['reason'], 80)}): is the server "
        f"running and {variable} right? (local sandboxes: `billbridge sandbox up`)"
    )


def _busy(cause: Cause, environ: Mapping[str, str], base: str) -> str | None:
    if cause.cls_name == "WarehouseBusyError":
        return _first_line(cause.message, 300)
    if "Could not set lock on file" in cause.message:
        return "the warehouse file is in use by another process (a run started elsewhere): try again when it ends"
    return None


EXPLAINERS: tuple[Callable[[Cause, Mapping[str, str], str], str | None], ...] = (
    _unreachable,
    _answered,
    _busy,
)


def explain(
    step: str,
    error: SerializableErrorInfo | None,
    environ: Mapping[str, str],
    runbook_base: str = "docs/runbooks/",
) -> str:
    """One line for a failed step: the first cause an explainer recognises, else the innermost message."""
    chain = causes(error)
    for cause in chain:
        for explainer in EXPLAINERS:
            line = explainer(cause, environ, runbook_base)
            if line:
                return line
    own = [c for c in chain if c.cls_name not in _WRAPPERS and c.message]
    if not own:
        return f"{step}: failed (no error recorded)"
    first = own[0]
    kind = "" if first.cls_name in ("Failure", "") else f"{first.cls_name}: "
    return f"{step}: {kind}{_first_line(first.message, 300)}"


def run_failure_line(
    instance: DagsterInstance, run_id: str, environ: Mapping[str, str], runbook_base: str
) -> str:
    """The first failed step of a finished run, in one line ("" when no step failed)."""
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event is not None and event.step_failure_data is not None:
            return explain(event.step_key or "run", event.step_failure_data.error, environ, runbook_base)
    return ""


def alert_text(error: str, runbook_base: str, escalation: str) -> str:
    """An alert's error with the runbook its words point at (unless it names one) and whom to escalate to."""
    key = runbook_for(error)
    link = "" if "[runbook:" in error or not key else _runbook(key, runbook_base)
    return f"{error}{link}" + (f"; escalate: {escalation}" if escalation else "")
