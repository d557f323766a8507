"""The cost of field encryption on the billing path, and of verifying the audit trail (issue 16).

Billing path, normalize -> invoice drafts, over the same 1M time entries (with notes and 200
people, as a real firm's) twice:
* clear: raw payloads in clear, lines drafted as read;
* encrypted: raw payloads as the warehouse stores them (notes and names encrypted at
  extraction), the lines' personal columns passed through the write boundary
  (`encrypt_frame`) and read back through `decrypt_frame`, as `Warehouse.append` and
  `Warehouse.query` do between the two assets.
The extraction-side cost (encrypting 1M payloads, paid as records arrive at the provider's
rate limit) is printed on its own line. Then 1M audit entries are appended and verified.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench import synthetic
from resources.audit_log import AuditEvent, AuditLog
from resources.configuration import load_config
from resources.crypto import KeyRing
from resources.field_crypto import decrypt_frame, encrypt_frame
from resources.fx import EcbRates
from resources.person_keys import PERSON_KEYS_ENV
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.normalizing import normalize_lines

PEOPLE = 200
MONTHS = (date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1))


def with_people_and_notes(raw: pl.DataFrame) -> pl.DataFrame:
    """The synthetic entries with a note each and one of 200 people, as a real firm's would have."""
    person = (pl.col("record_id") % PEOPLE).cast(pl.String)
    personal = pl.concat_str(
        pl.lit('"notes":"Ticket '),
        pl.col("record_id").cast(pl.String),
        pl.lit(' reviewed with the client","user":{"id":8'),
        person,
        pl.lit(',"name":"Person '),
        person,
        pl.lit('"}'),
    )
    return raw.with_columns(
        pl.col("payload").str.replace('"user":{"id":8001,"name":"Ada"}', personal, literal=True)
    )


def _month_end(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def billing_path(raw: pl.DataFrame, boundary: Callable[[pl.DataFrame], pl.DataFrame]) -> tuple[float, int]:
    """Seconds for normalize -> drafts over `raw`, the lines passing `boundary` between the two; invoices."""
    config = load_config()
    entity, fx = config.entity("us"), EcbRates().snapshot()
    started = time.perf_counter()
    lines = boundary(
        normalize_lines(raw, raw.head(0), synthetic.directory(), entity, config, fx, "bench").lines
    )
    invoices = 0
    for month in MONTHS:
        period = lines.filter(pl.col("day").is_between(month, _month_end(month)))
        drafts = draft_invoices(
            period, DraftingContext(entity, month, _month_end(month), fx, "bench"), BillingRules.of(config)
        )
        invoices += drafts.invoices.height
    return time.perf_counter() - started, invoices


def bench_field_encryption(entries: int, rounds: int = 3) -> None:
    """Print the billing path with and without encryption at `entries` time entries (median of `rounds`)."""
    with tempfile.TemporaryDirectory() as folder, _person_keys_in(Path(folder)):
        _field_encryption(entries, rounds)


@contextlib.contextmanager
def _person_keys_in(folder: Path) -> Iterator[None]:
    """Person keys in a store of the bench's own: each run has a fresh ring, which could not unwrap a
    store left by an earlier run (nor should a bench add people to the repository's store)."""
    earlier = os.environ.get(PERSON_KEYS_ENV)
    os.environ[PERSON_KEYS_ENV] = str(folder / "person_keys.sqlite")
    try:
        yield
    finally:
        if earlier is None:
            os.environ.pop(PERSON_KEYS_ENV)
        else:
            os.environ[PERSON_KEYS_ENV] = earlier


def _field_encryption(entries: int, rounds: int) -> None:
    ring = KeyRing({"bench": AESGCM.generate_key(bit_length=256)}, "bench", "an in-memory key")
    raw = with_people_and_notes(synthetic.raw_time_entries(entries))
    started = time.perf_counter()
    stored = encrypt_frame("raw.time_entries", raw, ring)
    print(
        f"encrypt at extraction: {time.perf_counter() - started:6.2f}s for {entries:,} payloads "
        f"(notes and names; paid as records arrive, at most {100 * 2000 / 15:,.0f} rows/s)"
    )

    def through_storage(lines: pl.DataFrame) -> pl.DataFrame:
        return decrypt_frame(encrypt_frame("normalized.billable_lines", lines, ring), ring)

    runs: dict[str, list[float]] = {"clear": [], "encrypted": []}
    for _ in range(rounds):  # alternate, and take the median: the machine is shared
        runs["clear"].append(billing_path(raw, lambda lines: lines)[0])
        runs["encrypted"].append(billing_path(stored, through_storage)[0])
    clear, encrypted = statistics.median(runs["clear"]), statistics.median(runs["encrypted"])
    for label, median in (("clear", clear), ("encrypted", encrypted)):
        each = " ".join(f"{s:.2f}" for s in runs[label])
        print(
            f"billing path, {label + ':':10s} {median:6.2f}s  {entries / median:>12,.0f} rows/s  (runs: {each})"
        )
    print(f"encryption overhead:     {encrypted / clear - 1:+6.1%}  (median of {rounds}; target under +15%)")


def bench_audit_verify(entries: int) -> None:
    """Append `entries` audit entries in one go, then verify the whole chain."""
    with tempfile.TemporaryDirectory() as folder:
        log = AuditLog(Path(folder) / "audit.log")
        events: Any = (
            AuditEvent("alice", "dlq.replay", f"id=us-{k}", "ok", {"permission": "replay"})
            for k in range(entries)
        )
        started = time.perf_counter()
        log.append_many(events)
        appended = time.perf_counter() - started
        started = time.perf_counter()
        verdict = log.verify()
        verified = time.perf_counter() - started
        size = log.path.stat().st_size / 2**20
    print(f"audit append:  {appended:6.2f}s for {entries:,} entries ({size:,.0f} MiB)")
    print(
        f"audit verify:  {verified:6.2f}s  {entries / verified:>12,.0f} entries/s  problems: {len(verdict.problems)}"
    )
