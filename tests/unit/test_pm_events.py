"""Webhook bodies are judged, never trusted: signatures, malformed bodies, unknown types and entities."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from pipelines.sensors import latest_versions, poll_window
from resources.configuration import current_config
from rules.pm_events import judge, signature_problem
from rules.routing import EntityRoutes

ROUTES = EntityRoutes.from_config(current_config())


def _body(**overrides: object) -> bytes:
    event = {
        "id": "evt-1",
        "event": "time_entry.updated",
        "data": {
            "id": 7,
            "spent_date": "2026-09-03",
            "updated_at": "2026-11-01T10:00:00Z",
            "client": {"id": 5101},
        },
        "previous": {},
    }
    event.update(overrides)
    return json.dumps(event).encode()


def signature_valid(secret: str, body: bytes, header: str | None, now: int = 1_790_000_000) -> bool:
    return signature_problem([secret], body, header, now=now) is None


def test_signature_is_hmac_sha256_of_the_timestamp_and_the_raw_body() -> None:
    body = _body()
    mac = hmac.new(b"s3cret", b"1790000000." + body, hashlib.sha256).hexdigest()
    good = f"t=1790000000,sha256={mac}"
    assert signature_valid("s3cret", body, good)
    assert not signature_valid("other", body, good)
    assert not signature_valid("s3cret", body + b" ", good)
    assert not signature_valid("s3cret", body, None)
    assert not signature_valid("s3cret", body, good.replace("sha256=", ""))
    # The body alone, as main signed it, no longer verifies: the timestamp must be signed too.
    assert not signature_valid(
        "s3cret", body, "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    )
    assert not signature_valid("s3cret", body, good, now=1_790_000_000 + 301)


def test_during_a_rotation_either_secret_verifies() -> None:
    body = _body()
    header = f"t=1790000000,sha256={hmac.new(b'old', b'1790000000.' + body, hashlib.sha256).hexdigest()}"
    assert signature_problem(["new", "old"], body, header, now=1_790_000_000) is None
    assert signature_problem(["new"], body, header, now=1_790_000_000) == "signature does not match"


def test_a_time_entry_change_names_its_entity_and_day() -> None:
    event = judge(_body(), ROUTES)
    assert (event.status, event.entity, event.days, event.record_id) == ("accepted", "uk", ("2026-09-03",), 7)


def test_a_move_to_another_day_resyncs_both_days() -> None:
    event = judge(_body(previous={"spent_date": "2026-08-31"}), ROUTES)
    assert event.days == ("2026-08-31", "2026-09-03")


def test_bad_bodies_are_rejected_with_a_reason() -> None:
    cases = {
        b"{not json": "malformed body: not JSON",
        b"[1, 2]": "not a JSON object",
        _body(id=None): "no string `id`",
        _body(event="invoice.paid"): "unknown event type 'invoice.paid'",
        _body(data={"id": "x"}): "integer `id`",
        _body(data={"id": 7, "spent_date": "2026-09-03"}): "updated_at",
        _body(
            data={"id": 7, "updated_at": "t", "spent_date": "someday", "client": {"id": 5101}}
        ): "spent_date",
        _body(
            data={"id": 7, "updated_at": "t", "spent_date": "2026-09-03", "client": {"id": 999}}
        ): "unknown entity",
    }
    for body, reason in cases.items():
        event = judge(body, ROUTES)
        assert event.status == "rejected", body
        assert reason in event.reason, (body, event.reason)


def test_garbage_is_kept_once_under_the_hash_of_its_bytes() -> None:
    first, again = judge(b"\xff\xfe", ROUTES), judge(b"\xff\xfe", ROUTES)
    assert first.event_id == again.event_id == "body-sha256:" + hashlib.sha256(b"\xff\xfe").hexdigest()


def test_poll_windows_overlap_the_last_watermark() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    window = poll_window('{"time_entries": "2026-11-29T11:00:00Z"}', 600, now)
    assert window["time_entries"] == "2026-11-29T10:50:00Z"
    assert window["expenses"] == "2026-11-29T11:50:00Z"  # no watermark yet: the overlap before now
    assert poll_window("not json", 60, now)["expenses"] == "2026-11-29T11:59:00Z"


def test_poll_upserts_by_id_keeping_the_latest_version() -> None:
    records = [
        {"id": 1, "updated_at": "2026-11-01T10:00:01Z", "hours": 2},
        {"id": 1, "updated_at": "2026-11-01T10:00:00Z", "hours": 1},
        {"id": "bad"},
    ]
    assert latest_versions(records) == {1: records[0]}
