"""The outbox's state machine, driven directly: every transition a document can take, and the ones it cannot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from rules.outbox.events import (
    Absent,
    Booked,
    Discarded,
    Held,
    Refused,
    Replayed,
    Revised,
    Sending,
    Transient,
    Unknown,
)
from rules.outbox.ledger import LedgerDocument, LedgerLine
from rules.outbox.rows import OutboxRow, Status, Version, new_row
from rules.outbox.transitions import OutboxPolicy, TransitionError, transition

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
POLICY = OutboxPolicy(max_attempts=3, in_doubt_wait=timedelta(seconds=90))
VERSION = Version("BB-US-202608-5001-USD", "invoice", "hash-1", "key-1", D("1500.00"), "USD")
BOOKED = LedgerDocument(
    "BB-US-202608-5001-USD", "inv-id-1", D("1500.00"), "ACCREC", "USD", date(2026, 8, 31),
    (LedgerLine("Design", D("10"), D("150"), D("1500.00"), "NONE", D("0"), "200"),),
)  # fmt: skip


def _row(status: Status = Status.PENDING, attempts: int = 0) -> OutboxRow:
    return replace(new_row(VERSION, "us", "2026-08", NOW, "run-1"), status=status, attempts=attempts)


def _go(row: OutboxRow, *events: object, now: datetime = NOW) -> OutboxRow:
    for event in events:
        row = transition(row, event, now=now, policy=POLICY)  # type: ignore[arg-type]
    return row


def test_a_new_row_is_pending_with_its_key_and_no_attempts() -> None:
    row = _row()
    assert (row.status, row.attempts, row.idempotency_key, row.draft_total) == (
        Status.PENDING, 0, "key-1", D("1500.00"),
    )  # fmt: skip


def test_sent_and_booked_keeps_what_the_ledger_booked() -> None:
    row = _go(_row(), Sending(), Booked(BOOKED))
    assert (row.status, row.attempts, row.external_id, row.posted_total) == (
        Status.CONFIRMED, 1, "inv-id-1", D("1500.00"),
    )  # fmt: skip
    assert row.booked == BOOKED and row.last_error is None


def test_a_refusal_is_a_dead_letter_with_the_ledgers_errors() -> None:
    row = _go(_row(), Sending(), Refused(("TaxType BOGUS does not exist", "AccountCode missing")))
    assert row.status is Status.DEAD_LETTER
    assert row.last_error == "TaxType BOGUS does not exist; AccountCode missing"


def test_a_transient_answer_puts_the_document_back_to_be_sent() -> None:
    row = _go(_row(), Sending(), Transient("429 Too Many Requests", retry_after=3.0))
    assert (row.status, row.attempts, row.last_error) == (Status.PENDING, 1, "429 Too Many Requests")


def test_an_unknown_outcome_stays_sent_until_a_look_up_settles_it() -> None:
    row = _go(_row(), Sending(), Unknown("ReadTimeout: timed out"))
    assert row.status is Status.SENT and row.last_error == "outcome unknown: ReadTimeout: timed out"
    assert row.settle_after == datetime(2026, 9, 1, 8, 1, 30, tzinfo=UTC)  # timeout + processing bound
    assert _go(row, Booked(BOOKED, by_lookup=True)).status is Status.CONFIRMED


def test_a_miss_proves_nothing_before_the_in_doubt_wait_is_over() -> None:
    row = _go(_row(), Sending(), Unknown("ReadTimeout: timed out"))
    early = _go(row, Absent(), now=datetime(2026, 9, 1, 8, 1, 29, tzinfo=UTC))
    assert early == row  # a request still in flight may land: still in doubt
    late = _go(row, Absent(), now=datetime(2026, 9, 1, 8, 1, 30, tzinfo=UTC))
    assert (late.status, late.settle_after, late.attempts) == (Status.PENDING, None, 1)


def test_a_send_left_in_doubt_by_a_killed_run_starts_its_wait_at_the_first_look_up() -> None:
    inherited = _go(_row(), Sending())  # the run died before an answer or a timeout was seen
    assert inherited.settle_after is None
    waiting = _go(inherited, Absent())
    assert (waiting.status, waiting.settle_after) == (Status.SENT, datetime(2026, 9, 1, 8, 1, 30, tzinfo=UTC))


def test_the_last_attempt_goes_to_the_dead_letters_only_after_the_final_look_up() -> None:
    row = _go(_row(Status.SENT, attempts=3), Unknown("500 Internal Server Error"))
    assert _go(row, Absent(), now=datetime(2026, 9, 1, 8, 1, 0, tzinfo=UTC)).status is Status.SENT
    final = _go(row, Absent(), now=datetime(2026, 9, 1, 8, 2, 0, tzinfo=UTC))
    assert final.status is Status.DEAD_LETTER
    assert (
        final.last_error
        == "gave up after 3 attempt(s); last error: outcome unknown: 500 Internal Server Error"
    )
    assert _go(row, Booked(BOOKED, by_lookup=True), now=datetime(2026, 9, 1, 8, 2, tzinfo=UTC)).status is (
        Status.CONFIRMED
    )


def test_attempts_spent_and_absent_goes_to_the_dead_letters() -> None:
    row = _row(Status.PENDING, attempts=3)
    row = replace(row, last_error="503 Service Unavailable")
    gone = _go(row, Absent())
    assert gone.status is Status.DEAD_LETTER
    assert gone.last_error == "gave up after 3 attempt(s); last error: 503 Service Unavailable"


def test_a_dead_letter_the_ledger_holds_is_confirmed() -> None:
    row = _go(_row(Status.DEAD_LETTER, attempts=2), Booked(BOOKED, by_lookup=True))
    assert row.status is Status.CONFIRMED and row.external_id == "inv-id-1"


def test_a_dead_letter_absent_from_the_ledger_stays_a_dead_letter() -> None:
    assert _go(_row(Status.DEAD_LETTER, attempts=2), Absent()).status is Status.DEAD_LETTER


def test_a_revised_draft_changes_a_pending_row_only() -> None:
    changed = Version(VERSION.document_number, "invoice", "hash-2", "key-2", D("2250.00"), "USD")
    pending = _go(_row(), Revised(changed))
    assert (pending.content_hash, pending.idempotency_key, pending.draft_total) == (
        "hash-2",
        "key-2",
        D("2250.00"),
    )
    for status in (Status.SENT, Status.CONFIRMED, Status.DEAD_LETTER, Status.DISCARDED):
        assert _go(_row(status, attempts=1), Revised(changed)).content_hash == "hash-1", status


def test_an_unchanged_draft_keeps_a_replayed_key() -> None:
    replayed = _go(_row(Status.DEAD_LETTER, attempts=3), Replayed("key-replay-1"))
    assert (replayed.status, replayed.attempts, replayed.idempotency_key) == (
        Status.PENDING,
        0,
        "key-replay-1",
    )
    assert _go(replayed, Revised(VERSION)).idempotency_key == "key-replay-1"


def test_held_and_discarded_say_why() -> None:
    held = _go(_row(), Held(date(2026, 8, 31), date(2026, 8, 31)))
    assert held.status is Status.PENDING
    assert held.last_error == "held: dated 2026-08-31, on or before the tenant's lock date 2026-08-31"
    gone = _go(_row(Status.DEAD_LETTER, attempts=1), Discarded("billed by hand"))
    assert (gone.status, gone.last_error) == (Status.DISCARDED, "discarded: billed by hand")


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (Status.CONFIRMED, Sending()),
        (Status.SENT, Sending()),
        (Status.PENDING, Refused(("x",))),
        (Status.PENDING, Unknown("x")),
        (Status.CONFIRMED, Replayed("k")),
        (Status.PENDING, Discarded("x")),
        (Status.SENT, Held(date(2026, 8, 31), date(2026, 8, 31))),
    ],
)
def test_impossible_transitions_are_refused(status: Status, event: object) -> None:
    with pytest.raises(TransitionError):
        _go(_row(status, attempts=1), event)


def test_a_confirmed_row_never_changes() -> None:
    confirmed = _go(_row(), Sending(), Booked(BOOKED))
    for event in (Absent(), Booked(BOOKED, by_lookup=True), Revised(VERSION)):
        assert _go(confirmed, event) == confirmed
