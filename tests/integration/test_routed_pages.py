"""The account's dated readings are routed once for every entity, and each entity extracts its share
(issue 17, docs/decisions/0050): the raw layer is what the entity kept when it read the account itself,
row for row, malformed and intercompany records included; a share is routed again for a new reading or
other routing tables, and erased with the readings; the directory is judged once and the judgement
taken by the next entity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from assets.partitions import DaySlice
from assets.raw.pm_extracts import DIRECTORY_KINDS, directory_scope, extract_slice, slice_lists
from resources.account_pages import AccountPageStore, SharedPages
from resources.configuration import load_config
from resources.field_crypto import decrypt_frame, decrypt_payloads
from resources.harvest import HarvestClient
from resources.judged_lists import has_judged, keep_judged, open_judged
from resources.routed_pages import AccountRouting, EntityPages
from resources.warehouse import Warehouse
from rules.account_pages import Freshness, list_key
from rules.routing import EntityRoutes
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.harvest.variants import RecordFault

pytestmark = pytest.mark.integration
DAYS = tuple(date(2026, 8, 3) + timedelta(days=i) for i in range(5))  # 3-7 August: intercompany on the 6th
WINDOW = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
CONFIG = load_config()
ROUTES = EntityRoutes.from_config(CONFIG)
ROUTING = AccountRouting(ROUTES, tuple(CONFIG.entity_ids))
ENTITIES = list(CONFIG.entity_ids)
# What differs between two extractions of the same records: the run and the moment.
RUN_COLUMNS = ("run_id", "extracted_at", "seen_at")
TABLES = {
    "raw.time_entries": "record_id",
    "raw.expenses": "record_id",
    "raw.intercompany_time_entries": "record_id",
    "raw.directory": "kind, record_id",
    "raw.record_versions": "kind, record_id, version",
    "raw.rejected_records": "kind, record_ref",
    "raw.payload_profiles": "kind, field",
}
MALFORMED = RecordFault("time_entries", 1000000001, "hours", "1.5")


def _client(sandbox: HarvestSandbox, per_page: int = 2000) -> HarvestClient:
    return HarvestClient(
        base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token", per_page=per_page
    )


def _pages(sandbox: HarvestSandbox, routing: AccountRouting, entity: str) -> EntityPages:
    freshness = Freshness(datetime.now(UTC) - timedelta(minutes=1), timedelta(hours=24), timedelta(hours=1))
    shared = SharedPages(_client(sandbox, per_page=10), AccountPageStore.beside(Warehouse()), freshness)
    return EntityPages(shared, routing, entity)


def _tables(entity: str) -> dict[str, pl.DataFrame]:
    found = {}
    for table, order in TABLES.items():
        # Personal fields are sealed with a fresh nonce each time: compared in clear, under each home's keys.
        frame = decrypt_frame(Warehouse().query(entity, f"SELECT * FROM {table} ORDER BY {order}"))
        for column in ("payload", "source_payload"):
            frame = decrypt_payloads(frame, column)
        found[table] = frame.drop([c for c in RUN_COLUMNS if c in frame.columns])
    return found


def test_each_entity_extracts_from_its_share_what_it_kept_from_the_whole_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, variants=(MALFORMED,)) as sandbox:
        monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path / "whole"))
        for entity in ENTITIES:
            extract_slice(_client(sandbox, 10), Warehouse(), DaySlice(entity, DAYS), "whole", ROUTES)
        whole = {entity: _tables(entity) for entity in ENTITIES}
        monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path / "shares"))
        for entity in ENTITIES:  # as a close runs them: read ahead (judging ahead), then extract
            pages, part = _pages(sandbox, ROUTING, entity), DaySlice(entity, DAYS)
            pages.read_ahead(slice_lists(part), directory_scope(part, "shares"))
            extract_slice(pages, Warehouse(), part, "shares", ROUTES)
        shares = {entity: _tables(entity) for entity in ENTITIES}
    for entity in ENTITIES:
        for table, frame in whole[entity].items():
            assert shares[entity][table].equals(frame), f"{entity} {table} differs"
    assert whole["us"]["raw.rejected_records"].height == 1  # the malformed record: its owner's rejection
    assert sum(whole[e]["raw.intercompany_time_entries"].height for e in ENTITIES) > 0


def _records(pages: EntityPages, kind: str) -> int:
    return sum(len(page.records) for page in pages.iter_pages(kind, WINDOW))


def test_an_entity_reads_only_its_share_and_a_share_follows_its_reading_and_routing_tables(
    tmp_path: Path,
) -> None:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, record=True) as sandbox:
        whole = sum(len(page.records) for page in _client(sandbox).iter_pages("time_entries", WINDOW))
        seen = {entity: _records(_pages(sandbox, ROUTING, entity), "time_entries") for entity in ENTITIES}
        assert 0 < max(seen.values()) < whole
        # Each record reaches the entity that keeps it, and its person's home entity when that is another.
        assert whole <= sum(seen.values()) < 2 * whole
        store = AccountPageStore.beside(Warehouse())
        key = list_key(
            _pages(sandbox, ROUTING, "us").shared.account,
            "time_entries",
            WINDOW,
        )
        shares = sorted(p.name for p in store.folder.glob(f"{key}.share-*"))
        assert len(shares) == len(ENTITIES)
        # Other routing tables (every client of "us" moved to "uk"): other shares, routed afresh.
        moved = EntityRoutes(**{**ROUTES.__dict__, "by_client": dict.fromkeys(ROUTES.by_client, "uk")})
        moved_seen = _records(_pages(sandbox, AccountRouting(moved, ROUTING.entities), "uk"), "time_entries")
        assert moved_seen > seen["uk"]
        assert len(list(store.folder.glob(f"{key}.share-*"))) == 2 * len(ENTITIES)
        # A new reading (a run requested after the last one) is routed again.
        first = store.open(ROUTING.share_key(key, "us"))
        assert first is not None
        first.close()
        fresh = Freshness(datetime.now(UTC), timedelta(hours=24), timedelta(hours=1))
        later = EntityPages(SharedPages(_client(sandbox, 10), store, fresh), ROUTING, "us")
        assert _records(later, "time_entries") == seen["us"]
        share, reading = store.open(ROUTING.share_key(key, "us")), store.open(key)
        assert share is not None and reading is not None
        share.close(), reading.close()
        assert share.read_at == reading.read_at > first.read_at
        # Erased with the readings (after a person's erasure no copy of their records may remain).
        store.clear()
        assert not list(store.folder.glob(f"{key}.share-*"))


def test_the_directory_is_judged_once_and_the_judgement_taken_by_the_next_entity() -> None:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        us = _pages(sandbox, ROUTING, "us")
        extract_slice(us, Warehouse(), DaySlice("us", DAYS), "run-us", ROUTES)
        store, key = us.shared.store, list_key(us.shared.account, "clients", None)
        reading = store.open(key)
        assert reading is not None
        reading.close()
        judged = open_judged(store, key, reading.read_at)
        assert judged is not None and judged.sealed
        first = min(judged.kept["record_id"])
        # The kept judgement altered (one client left out): the next entity writes what it says, so it
        # took the judgement instead of judging the pages again.
        fewer = replace(judged, kept=judged.kept.filter(pl.col("record_id") != first))
        keep_judged(store, key, reading.read_at, fewer)
        extract_slice(_pages(sandbox, ROUTING, "uk"), Warehouse(), DaySlice("uk", DAYS), "run-uk", ROUTES)
    clients = Warehouse().query(
        "uk", "SELECT record_id, entity, run_id FROM raw.directory WHERE kind = 'clients'"
    )
    assert first not in clients["record_id"].to_list()
    assert clients.height == judged.kept.height - 1
    assert set(clients["entity"]) == {"uk"} and set(clients["run_id"]) == {"run-uk"}  # its own rows


def test_after_reading_ahead_the_extraction_asks_the_provider_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entity's file is held while a slice is extracted (decision 0051): every page the extraction
    reads is read from the provider before, not while the file is held."""
    monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path))
    part = DaySlice(ENTITIES[0], DAYS)
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        pages = _pages(sandbox, ROUTING, part.entity)
        pages.read_ahead(slice_lists(part))
        read_ahead = pages.shared.requests
        counts = extract_slice(pages, Warehouse(), part, "run-1", ROUTES)
    assert read_ahead > 0 and pages.shared.requests == read_ahead
    assert counts["time_entries"].records > 0 and counts["clients"].records > 0


def test_an_entity_waiting_on_the_reader_judges_the_directory_ahead_and_the_reader_does_not() -> None:
    """In a close's first wave one entity reads the account while the others wait for its readings:
    they judge the directory meanwhile (decision 0055), so nobody judges it after the reading ends."""
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        first, second = DaySlice("us", DAYS), DaySlice("uk", DAYS)
        reader = _pages(sandbox, ROUTING, first.entity)
        reader.read_ahead(slice_lists(first), directory_scope(first, "run-us"))
        store, account = reader.shared.store, reader.shared.account
        readings = {kind: store.open(list_key(account, kind, None)) for kind in DIRECTORY_KINDS}
        read_at = {kind: reading.read_at for kind, reading in readings.items() if reading is not None}
        for reading in readings.values():
            if reading is not None:
                reading.close()
        assert len(read_at) == len(DIRECTORY_KINDS) and reader.shared.requests > 0
        assert not any(has_judged(store, list_key(account, k, None), t) for k, t in read_at.items())
        waiter = _pages(sandbox, ROUTING, second.entity)
        waiter.read_ahead(slice_lists(second), directory_scope(second, "run-uk"))
        assert waiter.shared.requests == 0
        assert all(has_judged(store, list_key(account, k, None), t) for k, t in read_at.items())
