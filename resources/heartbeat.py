"""The synthetic transaction through the whole path: extract, price, draft, post, look up.

It reads one page of time entries from the PM system (reads change nothing), prices one entry
and drafts its invoice with the product's rules, posts it as a DRAFT to the configured test
tenant only, and looks it up there. Each step is timed; the first failure stops the rest,
which are recorded as not run, so every heartbeat leaves five rows of history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from resources.harvest import HarvestClient
from resources.xero import XeroClient
from rules.health_settings import HeartbeatSettings
from rules.heartbeat import (
    STEPS,
    StepResult,
    booking_problem,
    draft,
    heartbeat_number,
    pick_entry,
    price,
)
from rules.outbound_payloads import idempotency_key


class StepFailed(Exception):
    """A step found something wrong (as opposed to an error raised by a client)."""


def _first_page(harvest: HarvestClient) -> list[Any]:
    """The newest page of time entries (one request; the rest is never fetched)."""
    # Only the first page is taken; the generator is dropped (and closed) before a second request.
    page = next(iter(harvest.iter_pages("time_entries", {"per_page": "100"})), None)
    if page is not None and page.problem is not None:
        raise StepFailed(f"the PM page could not be read: {page.problem.detail}")
    return [] if page is None else page.records


def run_heartbeat(
    harvest: HarvestClient, xero: XeroClient, settings: HeartbeatSettings, run_id: str, started: datetime
) -> list[StepResult]:
    """One synthetic transaction against `settings.tenant_id`; a result per step, in order."""
    tenant = settings.tenant_id
    number = heartbeat_number(started, run_id)
    state: dict[str, Any] = {}

    def extract() -> str:
        state["entry"] = pick_entry(_first_page(harvest))
        if state["entry"] is None:
            raise StepFailed("no time entry with hours and a billable rate on the first PM page")
        return f"PM time entry {state['entry']['id']}"

    def price_step() -> str:
        state["line"] = price(state["entry"], settings.currency)
        return f"{state['line'].hours} h x {state['line'].rate} = {state['line'].amount} {settings.currency}"

    def draft_step() -> str:
        contact = xero.find_contact_id(tenant, settings.contact_name) or xero.create_contact(
            tenant, settings.contact_name, idempotency_key(settings.contact_name, tenant)
        )
        state["document"] = draft(number, state["line"], settings, contact, started.date())
        return f"{number} drafted for contact {contact}"

    def post() -> str:
        key = idempotency_key(number, str(state["line"].amount))
        response = xero.send_documents(tenant, "Invoices", [state["document"]], key)
        return f"{number} posted ({response.status_code})"

    def look_up() -> str:
        found = xero.find_by_prefix(tenant, "Invoices", "InvoiceNumber", number)
        problem = booking_problem(found, number, state["line"])
        if problem:
            raise StepFailed(problem)
        return f"{number} found at {state['line'].amount}"

    actions: list[Callable[[], str]] = [extract, price_step, draft_step, post, look_up]
    results: list[StepResult] = []
    for step, action in zip(STEPS, actions, strict=True):
        if results and not results[-1].ok:
            results.append(StepResult(step, False, 0, f"not run: {results[-1].step} failed", None))
            continue
        began = time.monotonic()
        try:
            detail, ok = action(), True
        except Exception as exc:  # any failure of a step is the heartbeat's finding, not a crash
            detail, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", False
        elapsed = int((time.monotonic() - began) * 1000)
        results.append(
            StepResult(step, ok, elapsed, detail[:500], number if step in ("post", "look_up") else None)
        )
    return results
