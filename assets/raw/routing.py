"""Which entity's raw layer keeps a PM record: the mapping's project override, else its client.

Only ids are read here, never amounts or dates, so a malformed record is still routed
and kept; judging it is normalization's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resources.configuration import BillbridgeConfig

CLAIMED = "claimed"


@dataclass(frozen=True)
class EntityRoutes:
    """Lookup tables from PM ids to the entity that claims them."""

    by_client: dict[int, str]
    by_project: dict[int, str]
    unclaimed_entity: str

    @classmethod
    def from_config(cls, config: BillbridgeConfig) -> EntityRoutes:
        return cls(
            by_client={c.pm_client_id: c.entity for c in config.mapping.clients},
            by_project={p.pm_project_id: p.entity for p in config.mapping.projects},
            unclaimed_entity=config.unclaimed_records_entity,
        )


def _id(record: dict[str, Any], field: str) -> int | None:
    nested = record.get(field)
    value = nested.get("id") if isinstance(nested, dict) else None
    return value if isinstance(value, int) else None


def route_record(record: dict[str, Any], routes: EntityRoutes) -> tuple[str, str]:
    """(entity whose raw layer keeps the record, routing note).

    The note is "claimed" when the mapping assigns the record; otherwise the record goes
    to the configured unclaimed-records entity with a note saying why, to be quarantined.
    """
    project_id = _id(record, "project")
    client_id = _id(record, "client")
    if project_id is not None and project_id in routes.by_project:
        return routes.by_project[project_id], CLAIMED
    if client_id is not None and client_id in routes.by_client:
        return routes.by_client[client_id], CLAIMED
    return routes.unclaimed_entity, f"unclaimed: no entity maps client {client_id} or project {project_id}"
