"""Legal holds in each entity's file (`retention.legal_holds`), set and lifted with a reason and
recorded in the audit trail (docs/decisions/0032). A lifted hold is kept, with who lifted it and why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from resources.audit_log import AuditEvent, AuditLog
from resources.warehouse import Warehouse, append
from rules.retention.decisions import HoldScope

HOLDS = "retention.legal_holds"


class HoldError(RuntimeError):
    """A hold cannot be set or lifted: the message says why."""


@dataclass(frozen=True)
class HoldRequest:
    """Who sets or lifts a hold, and why (a reason is required both ways)."""

    actor: str
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise HoldError("a legal hold is set and lifted with a reason (--reason)")


def set_hold(warehouse: Warehouse, scope: HoldScope, request: HoldRequest, log: AuditLog) -> str:
    """Record a hold over `scope`; its id. Audited as `retention.hold_set`."""
    hold_id = f"hold-{uuid.uuid4().hex[:12]}"
    row = {
        "hold_id": [hold_id], "entity": [scope.entity], "client_id": [scope.client_id],
        "period": [scope.period], "reason": [request.reason], "set_by": [request.actor],
        "set_at": [datetime.now(UTC)],
    }  # fmt: skip
    frame = pl.DataFrame(row, schema_overrides={"client_id": pl.Int64, "period": pl.String})
    with warehouse.transaction(scope.entity) as con:
        append(con, HOLDS, frame)
    log.append(
        AuditEvent(
            request.actor,
            "retention.hold_set",
            str(scope),
            "ok",
            {"hold_id": hold_id, "reason": request.reason},
        )
    )
    return hold_id


def lift_hold(warehouse: Warehouse, entity: str, hold_id: str, request: HoldRequest, log: AuditLog) -> None:
    """Mark an active hold lifted; HoldError when there is no such active hold. Audited."""
    with warehouse.transaction(entity) as con:
        found = con.execute(
            f"UPDATE {HOLDS} SET lifted_by = ?, lifted_at = ?, lift_reason = ? "
            "WHERE hold_id = ? AND entity = ? AND lifted_at IS NULL",
            [request.actor, datetime.now(UTC), request.reason, hold_id, entity],
        ).fetchone()
        if not found or not found[0]:
            raise HoldError(f"no active legal hold {hold_id!r} for entity {entity}")
    log.append(
        AuditEvent(
            request.actor,
            "retention.hold_lifted",
            entity,
            "ok",
            {"hold_id": hold_id, "reason": request.reason},
        )
    )


def holds(warehouse: Warehouse, entity: str, *, include_lifted: bool = False) -> pl.DataFrame:
    """The entity's holds (active only unless `include_lifted`), oldest first."""
    where = "" if include_lifted else "WHERE lifted_at IS NULL"
    if not warehouse.exists(entity):
        return pl.DataFrame()
    return warehouse.query(entity, f"SELECT * FROM {HOLDS} {where} ORDER BY set_at, hold_id")


def active_scopes(warehouse: Warehouse, entity: str) -> tuple[HoldScope, ...]:
    """What the entity's active holds cover."""
    frame = holds(warehouse, entity)
    return tuple(HoldScope(r["entity"], r["client_id"], r["period"]) for r in frame.iter_rows(named=True))
