"""Which entity's raw layer keeps a PM record, by the mapping document's entity rules.

In order: an explicit project mapping settles it; otherwise the client mapping and the
project-code prefix rules must agree (two rules naming different entities make the
record ambiguous); work for an internal client belongs to the person's home entity (a
cost). Only ids and codes are read here, never amounts or dates, so a malformed record
is still routed and kept; judging it is normalization's job. Records nobody claims, or
that two rules claim, go to the configured unclaimed-records entity with a note saying
why, and are quarantined there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rules.settings import BillbridgeConfig

CLAIMED = "claimed"
UNCLAIMED = "unclaimed"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class EntityRoutes:
    """Lookup tables from PM ids and codes to the entity that claims them."""

    by_client: dict[int, str]
    by_project: dict[int, str]
    by_code_prefix: tuple[tuple[str, str], ...]
    internal_clients: frozenset[int]
    home_entity: dict[int, str]
    unclaimed_entity: str

    @classmethod
    def from_config(cls, config: BillbridgeConfig) -> EntityRoutes:
        mapping = config.mapping
        return cls(
            by_client={c.pm_client_id: c.entity for c in mapping.clients},
            by_project={p.pm_project_id: p.entity for p in mapping.projects},
            # Longest prefix first, so "UK-LDN-" is tried before "UK-".
            by_code_prefix=tuple(
                sorted(
                    ((r.prefix, r.entity) for r in mapping.project_code_prefixes), key=lambda r: -len(r[0])
                )
            ),
            internal_clients=frozenset(c.pm_client_id for c in mapping.clients if c.internal),
            home_entity={p.pm_user_id: p.home_entity for p in mapping.people},
            unclaimed_entity=config.unclaimed_records_entity,
        )


def _nested(record: dict[str, Any], field: str, key: str) -> Any:
    nested = record.get(field)
    return nested.get(key) if isinstance(nested, dict) else None


def _id(record: dict[str, Any], field: str) -> int | None:
    value = _nested(record, field, "id")
    return value if isinstance(value, int) else None


def route_record(record: dict[str, Any], routes: EntityRoutes) -> tuple[str, str]:
    """(entity whose raw layer keeps the record, routing note: "claimed", "unclaimed: ..." or "ambiguous: ...")."""
    project_id = _id(record, "project")
    client_id = _id(record, "client")
    if project_id is not None and project_id in routes.by_project:
        return routes.by_project[project_id], CLAIMED
    if client_id is not None and client_id in routes.internal_clients:
        person = _id(record, "user")
        if person in routes.home_entity:
            return routes.home_entity[person], CLAIMED  # type: ignore[index]
        return (
            routes.unclaimed_entity,
            f"{UNCLAIMED}: internal work by person {person}, who has no home entity",
        )
    claims: dict[str, str] = {}
    if client_id is not None and client_id in routes.by_client:
        claims.setdefault(routes.by_client[client_id], f"client {client_id}")
    code = _nested(record, "project", "code")
    if isinstance(code, str):
        for prefix, entity in routes.by_code_prefix:
            if code.startswith(prefix):
                claims.setdefault(entity, f"project code prefix {prefix!r}")
                break
    if len(claims) == 1:
        return next(iter(claims)), CLAIMED
    if len(claims) > 1:
        named = ", ".join(f"{why} -> {entity}" for entity, why in claims.items())
        return routes.unclaimed_entity, f"{AMBIGUOUS}: {named}"
    return routes.unclaimed_entity, f"{UNCLAIMED}: no entity maps client {client_id} or project {project_id}"


def home_entity_of(record: dict[str, Any], routes: EntityRoutes) -> str | None:
    """The home entity of the person who logged `record` (None when the mapping names none).

    A claimed time entry whose person's home entity is not the entity that bills it is
    intercompany work: the home entity charges the billing entity for it.
    """
    person = _id(record, "user")
    return routes.home_entity.get(person) if person is not None else None


def judging_entities(record: Any, routes: EntityRoutes, owner: str | None = None) -> frozenset[str]:
    """The entities whose extraction judges a dated record: the one that keeps it (the unclaimed-records
    entity for a record that is not even an object) and the home entity of the person who logged it
    (the seller's side of intercompany work). Every other entity passes over it (decision 0042)."""
    if not isinstance(record, dict):
        return frozenset((routes.unclaimed_entity,))
    home = home_entity_of(record, routes)
    owner = owner or route_record(record, routes)[0]  # `owner`: the caller routed it already
    return frozenset((owner,) if home is None else (owner, home))


def fingerprint(routes: EntityRoutes) -> str:
    """A short digest of the routing tables: what was routed under other tables is routed again."""
    document = json.dumps(
        [
            sorted(routes.by_client.items()),
            sorted(routes.by_project.items()),
            list(routes.by_code_prefix),
            sorted(routes.internal_clients),
            sorted(routes.home_entity.items()),
            routes.unclaimed_entity,
        ]
    )
    return hashlib.sha256(document.encode()).hexdigest()[:16]
