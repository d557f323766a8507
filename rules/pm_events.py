"""PM change notifications: verify the signature, judge the body, and turn it into inbox rows.

Pure functions (no I/O) so the rules are unit-tested directly; the HTTP endpoint
(`pipelines/events_server.py`) and the sensors call them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rules.page_json import loads as page_loads
from rules.pm_payloads import canonical_payload
from rules.routing import CLAIMED, EntityRoutes, route_record

# Event subject -> the API list the record belongs to. Dated kinds map to entity-day partitions;
# the directory kinds are snapshotted by every extraction, so their events request nothing.
DATED_SUBJECTS = {"time_entry": "time_entries", "expense": "expenses"}
DIRECTORY_SUBJECTS = {"project": "projects", "client": "clients", "task": "tasks", "user": "users"}
ACTIONS = frozenset({"created", "updated", "deleted"})


# An event's verdict in the inbox.
ACCEPTED = "accepted"
REJECTED = "rejected"
CORRECTION = "correction"  # accepted, but the day lies in an invoiced month

SIGNATURE_HEADER = "X-Billbridge-Signature"
# How far a delivery's signed timestamp may be from our clock: older deliveries are refused as
# replays (the event-id check alone forgets nothing, but a purged inbox would accept them again).
SIGNATURE_TOLERANCE_S = 300
_SIGNATURE_RE = re.compile(r"t=(?P<t>[0-9]{1,12}),sha256=(?P<mac>[0-9a-f]{64})", re.ASCII)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header of a delivery: `t=<unix seconds>,sha256=<hex HMAC-SHA256>` of
    `"<t>." + body` under the shared secret, so the time it was sent is signed with it."""
    when = int(time.time()) if timestamp is None else timestamp
    return f"t={when},sha256={_mac(secret, when, body)}"


def signature_problem(
    secrets: Sequence[str],
    body: bytes,
    header: str | None,
    now: float,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> str | None:
    """Why a delivery's signature is refused (None when it verifies under any of `secrets`).

    Several secrets verify during a rotation's overlap window. The header is parsed strictly as
    ASCII before any comparison, and the comparison is constant-time.
    """
    if not header:
        return "no signature"
    match = _SIGNATURE_RE.fullmatch(header.strip())
    if match is None:
        return "malformed signature (expected t=<unix seconds>,sha256=<64 hex>)"
    timestamp = int(match["t"])
    if abs(now - timestamp) > tolerance_s:
        return f"signed timestamp more than {tolerance_s} s from the server clock (stale or replayed)"
    given = match["mac"].encode("ascii")
    # Every secret is compared (no early exit), so timing does not say which one matched.
    verified = [hmac.compare_digest(_mac(s, timestamp, body).encode("ascii"), given) for s in secrets if s]
    return None if any(verified) else "signature does not match"


@dataclass(frozen=True)
class JudgedEvent:
    """What the inbox stores for one delivery: the fields of `EventInbox.store`."""

    event_id: str
    event_type: str
    status: str
    reason: str
    record_kind: str | None = None
    record_id: int | None = None
    updated_at: str | None = None
    content_hash: str | None = None
    entity: str | None = None
    days: tuple[str, ...] = ()


def _rejected(event_id: str, event_type: str, reason: str) -> JudgedEvent:
    return JudgedEvent(event_id, event_type, REJECTED, reason)


def _iso_day(value: Any) -> str | None:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


def judge(body: bytes, routes: EntityRoutes) -> JudgedEvent:
    """Accept or reject one notification body, naming the reason; never raises.

    A body that is not JSON or has no id is stored under the SHA-256 of its bytes, so it is
    still kept once (and a redelivery of the same garbage is still a no-op).
    """
    fallback_id = "body-sha256:" + hashlib.sha256(body).hexdigest()
    try:
        event = page_loads(body.decode("utf-8"))  # NaN marked, as pages are: the same digest
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _rejected(fallback_id, "", f"malformed body: not JSON ({exc.__class__.__name__}: {exc})")
    if not isinstance(event, dict):
        return _rejected(fallback_id, "", "malformed body: not a JSON object")
    event_id = event.get("id")
    event_type = str(event.get("event") or "")
    if not isinstance(event_id, str) or not event_id.strip():
        return _rejected(fallback_id, event_type, "malformed body: no string `id`")
    subject, _, action = event_type.partition(".")
    if action not in ACTIONS or (subject not in DATED_SUBJECTS and subject not in DIRECTORY_SUBJECTS):
        return _rejected(event_id, event_type, f"unknown event type {event_type!r}")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return _rejected(event_id, event_type, "malformed body: `data` must be a record with an integer `id`")
    updated_at = str(data.get("updated_at") or "")
    if not updated_at:
        return _rejected(event_id, event_type, "malformed body: `data.updated_at` is missing")
    _, digest = canonical_payload(data)
    if subject in DIRECTORY_SUBJECTS:
        # Clients, projects and tasks are re-read in full by every extraction: nothing to request.
        return JudgedEvent(
            event_id,
            event_type,
            ACCEPTED,
            "directory change: picked up by the next extraction",
            DIRECTORY_SUBJECTS[subject],
            data["id"],
            updated_at,
            digest,
        )
    entity, note = route_record(data, routes)
    if note != CLAIMED:
        return _rejected(event_id, event_type, f"unknown entity: {note.removeprefix('unclaimed: ')}")
    day = _iso_day(data.get("spent_date"))
    if day is None:
        return _rejected(event_id, event_type, f"malformed body: spent_date {data.get('spent_date')!r}")
    days = {day}
    previous = event.get("previous")
    if isinstance(previous, dict) and (before := _iso_day(previous.get("spent_date"))) is not None:
        days.add(before)  # moved to another day: the day it left must be re-synced too
    return JudgedEvent(
        event_id,
        event_type,
        ACCEPTED,
        "",
        DATED_SUBJECTS[subject],
        data["id"],
        updated_at,
        digest,
        entity,
        tuple(sorted(days)),
    )
