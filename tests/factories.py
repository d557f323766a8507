"""Builders for tests: a configuration made in code, raw PM records and frames (Harvest-shaped, minimal)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from rules.fx_rates import FxSnapshot
from rules.mapping_document import ClientMapping, MappingDocument
from rules.pm_payloads import RAW_COLUMNS, canonical_payload
from rules.routing import CLAIMED
from rules.settings import BillbridgeConfig, EntityConfig


def entity(
    entity_id: str = "acme", *, currency: str = "USD", timezone: str = "America/New_York"
) -> EntityConfig:
    """A legal entity billing without tax (its own 0% code NONE), with its own tenant."""
    return EntityConfig(
        id=entity_id,
        name=f"{entity_id.title()} Inc.",
        base_currency=currency,
        timezone=timezone,
        accounting_tenant_id=f"tenant-{entity_id}",
        revenue_account_code="200",
        tax_type="NONE",
        tax_rate_percent=Decimal(0),
        payment_terms_days=30,
    )


def configuration(
    *entities: EntityConfig, clients: dict[int, str] | None = None, billing_start: date = date(2026, 8, 1)
) -> BillbridgeConfig:
    """A configuration made in code: `entities` (one `entity()` if none) and clients {PM client id: entity}.

    Each client is billed to the contact "Client <id>"; unclaimed records go to the first entity.
    """
    entities = entities or (entity(),)
    clients = clients if clients is not None else {5001: entities[0].id}
    mapping = MappingDocument(
        version="test-1",
        clients=[
            ClientMapping(pm_client_id=client, entity=owner, contact_name=f"Client {client}")
            for client, owner in clients.items()
        ],
    )
    return BillbridgeConfig(
        version=1,
        reporting_currency="EUR",
        billing_start=billing_start,
        mapping=mapping,
        unclaimed_records_entity=entities[0].id,
        entities=list(entities),
        content_hash="0" * 64,
    )


def time_entry(
    entry_id: int,
    hours: Any,
    rate: Any,
    *,
    day: str = "2026-08-03",
    project: int = 6001,
    client: int = 5001,
    task: int = 7001,
    billable: bool = True,
    closed: bool = True,
    started: str | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """A Harvest time entry as the API sends it."""
    return {
        "id": entry_id,
        "spent_date": day,
        "hours": hours,
        "billable": billable,
        "billable_rate": rate,
        "cost_rate": 80.0,
        "is_closed": closed,
        "is_locked": closed,
        "locked_reason": None,
        "started_time": started,
        "client": {"id": client, "name": f"Client {client}", "currency": currency},
        "project": {"id": project, "name": f"Project {project}", "code": f"P-{project}"},
        "task": {"id": task, "name": f"Task {task}"},
        "user": {"id": 8001, "name": "Ada"},
    }


def expense(
    expense_id: int,
    total: Any,
    *,
    day: str = "2026-08-03",
    project: int = 6001,
    client: int = 5001,
    billable: bool = True,
    closed: bool = True,
) -> dict[str, Any]:
    """A Harvest expense as the API sends it."""
    return {
        "id": expense_id,
        "spent_date": day,
        "total_cost": total,
        "units": None,
        "billable": billable,
        "is_closed": closed,
        "is_locked": closed,
        "locked_reason": None,
        "notes": "taxi",
        "client": {"id": client, "name": f"Client {client}", "currency": "USD"},
        "project": {"id": project, "name": f"Project {project}", "code": f"P-{project}"},
        "expense_category": {"id": 1, "name": "Travel"},
        "user": {"id": 8001, "name": "Ada"},
    }


def raw_frame(
    records: list[dict[str, Any]], entity: str = "us", unclaimed: set[int] | None = None
) -> pl.DataFrame:
    """Records as rows of a raw table."""
    rows = []
    for record in records:
        text, digest = canonical_payload(record)
        rows.append(
            {
                "entity": entity,
                "day": date.fromisoformat(record["spent_date"]),
                "record_id": record["id"],
                "payload": text,
                "payload_hash": digest,
                "routing": "unclaimed: test" if record["id"] in (unclaimed or set()) else CLAIMED,
                "extracted_at": datetime(2026, 9, 1, tzinfo=UTC),
                "request_url": "http://pm/v2/time_entries",
                "run_id": "test-run",
                "contract_version": "test",
            }
        )
    return pl.DataFrame(rows, schema=RAW_COLUMNS)


def directory(projects: dict[int, bool], clients: dict[int, str]) -> pl.DataFrame:
    """A raw.directory frame: {project_id: is_billable}, {client_id: currency}."""
    rows = [
        {"kind": "projects", "payload": json.dumps({"id": p, "code": f"P-{p}", "is_billable": b})}
        for p, b in projects.items()
    ]
    rows += [
        {"kind": "clients", "payload": json.dumps({"id": c, "currency": cur})} for c, cur in clients.items()
    ]
    return pl.DataFrame(rows, schema={"kind": pl.String, "payload": pl.String})


def fx_snapshot(rates: dict[date, dict[str, str]], label: str = "test rates") -> FxSnapshot:
    """ECB-style rates {publication day: {currency: units per EUR}} as an FxSnapshot."""
    rows = [
        {"rate_date": day, "currency": cur, "per_eur": Decimal(v)}
        for day, cur_rates in rates.items()
        for cur, v in cur_rates.items()
    ]
    frame = pl.DataFrame(
        rows, schema={"rate_date": pl.Date, "currency": pl.String, "per_eur": pl.Decimal(18, 8)}
    )
    return FxSnapshot(frame, label, "0" * 64)


def open_item(item_id: str, number: str, contact: str, due: str, **extra: object) -> dict[str, object]:
    """An authorised GBP invoice of the `uk` entity, `due` still due (reconciliation's open item)."""
    row = {"item_id": item_id, "item_kind": "invoice", "number": number, "entity": "uk", "contact_name": contact,
           "currency": "GBP", "currency_rate": Decimal(1), "issue_date": date(2026, 8, 31),
           "due_date": date(2026, 9, 30), "total": Decimal(due), "amount_due": Decimal(due),
           "status": "AUTHORISED", "credited": Decimal(0)}  # fmt: skip
    return {**row, **extra}


def bank_line(
    line_id: str, amount: str, payer: str | None, text: str, day: int = 20, **extra: object
) -> dict[str, object]:
    """A GBP bank line of the `uk` entity booked on `day` September 2026."""
    row = {"line_id": line_id, "entity": "uk", "statement_id": "s1", "account_id": "GB1",
           "booking_date": date(2026, 9, day), "amount": Decimal(amount), "currency": "GBP",
           "counterparty_name": payer, "remittance": text, "bank_reference": line_id, "charges": None}  # fmt: skip
    return {**row, **extra}
