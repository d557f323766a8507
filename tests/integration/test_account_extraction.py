"""The PM account is read once per day window, however many entities route from it (issue 17,
docs/decisions/0042): the Harvest sandbox counts the requests of N entities' extractions; the
directory is read with `updated_since` between whole reads, and a whole read still tombstones
what was deleted."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import DaySlice, Partitions, day_key
from assets.raw.pm_extracts import DIRECTORY_KINDS, PAGES_SINCE_TAG, build_pm_extracts, extract_slice
from resources.account_pages import AccountPageStore, PageStoreDamaged, SharedPages
from resources.configuration import load_config
from resources.erasure import ErasureRequest, erase_person
from resources.harvest import HarvestClient
from resources.warehouse import Warehouse
from rules.account_pages import Freshness
from rules.routing import EntityRoutes
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox

pytestmark = pytest.mark.integration
DAYS = (date(2026, 8, 3), date(2026, 8, 4), date(2026, 8, 5))
CONFIG = load_config()
ROUTES = EntityRoutes.from_config(CONFIG)
DAY_WINDOW = ("time_entries", "expenses")


def _client(sandbox: HarvestSandbox, per_page: int = 2000) -> HarvestClient:
    return HarvestClient(
        base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token", per_page=per_page
    )


def _extract(
    sandbox: HarvestSandbox, entities: list[str], freshness: Freshness, per_page: int = 2000
) -> None:
    """Each entity's extraction of DAYS, as its own run would: its own source, one shared store."""
    store = AccountPageStore.beside(Warehouse())
    for entity in entities:
        pages = SharedPages(_client(sandbox, per_page), store, freshness)
        extract_slice(pages, Warehouse(), DaySlice(entity, DAYS), f"run-{entity}", ROUTES)


def _requests(sandbox: HarvestSandbox, since: int = 0) -> Counter[str]:
    """List requests per list, from the `since`th exchange on."""
    return Counter(e.path.rsplit("/", 1)[-1] for e in sandbox.exchanges[since:] if e.method == "GET")


def _fresh(not_before: datetime, full_every: timedelta = timedelta(hours=24)) -> Freshness:
    return Freshness(not_before, full_every, overlap=timedelta(hours=1))


def _ids(entity: str, table: str, kind: str | None = None) -> list[int]:
    where = f" AND kind = '{kind}'" if kind else ""
    frame = Warehouse().query(
        entity, f"SELECT record_id FROM {table} WHERE entity = ?{where} ORDER BY 1", [entity]
    )
    return frame["record_id"].to_list()


def _requests_for(entities: list[str]) -> Counter[str]:
    # 10 records a page, so the dated lists take several pages each: a second reading would show.
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, record=True) as sandbox:
        _extract(sandbox, entities, _fresh(datetime.now(UTC)), per_page=10)
        for entity in entities:
            assert _ids(entity, "raw.time_entries"), f"{entity} kept none of its time entries"
        return _requests(sandbox)


def test_n_entities_cost_the_list_requests_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = _requests_for(["us"])
    monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path / "three"))
    three = _requests_for(["us", "uk", "de"])
    assert three == one
    # At 10 a page the demo company's 3 days are 8 pages of time entries and 1 of expenses; its directory
    # 4 pages of user assignments, 3 of task assignments and one of each other list: each read once.
    assert one == Counter(
        {"time_entries": 8, "expenses": 1, "user_assignments": 4, "task_assignments": 3}
        | dict.fromkeys(("clients", "projects", "tasks", "users"), 1)
    ), one


def test_each_entity_keeps_what_it_kept_when_it_read_the_account_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entities = ["us", "uk", "de"]
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        _extract(sandbox, entities, _fresh(datetime.now(UTC)))
        shared = {
            e: (_ids(e, "raw.time_entries"), _ids(e, "raw.intercompany_time_entries")) for e in entities
        }
        monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path / "alone"))
        for entity in entities:
            extract_slice(_client(sandbox), Warehouse(), DaySlice(entity, DAYS), "alone", ROUTES)
        alone = {e: (_ids(e, "raw.time_entries"), _ids(e, "raw.intercompany_time_entries")) for e in entities}
    assert shared == alone
    assert len({tuple(ids) for ids, _ in shared.values()}) == 3  # routed apart, not copied


def test_a_later_run_reads_the_days_again_and_only_the_directory_changes() -> None:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, record=True) as sandbox:
        _extract(sandbox, ["us", "uk", "de"], _fresh(datetime.now(UTC)))
        first = len(sandbox.exchanges)
        _extract(
            sandbox, ["us", "uk", "de"], _fresh(datetime.now(UTC))
        )  # a rerun: requested after the reading
        again = _requests(sandbox, first)
        directory = [e for e in sandbox.exchanges[first:] if e.path.rsplit("/", 1)[-1] in DIRECTORY_KINDS]
    assert again == Counter({"time_entries": 1, "expenses": 1, **dict.fromkeys(DIRECTORY_KINDS, 1)})
    assert all("updated_since" in e.query for e in directory), [e.query for e in directory]


def test_directory_changes_arrive_incrementally_and_a_whole_read_tombstones_a_deletion() -> None:
    entities = ["us", "uk", "de"]
    company = generate_company(seed=7)
    with HarvestSandbox(company, rate_limit=None, record=True) as sandbox:
        _extract(sandbox, entities, _fresh(datetime.now(UTC)))
        client = {**sandbox.records("clients")[0], "id": 5099, "name": "Newco Ltd"}
        sandbox.add_record("clients", client)
        project = sandbox.records("projects")[0]
        sandbox.update_record("projects", project["id"], name="Website Rebuild, phase 2")
        task = sandbox.records("tasks")[-1]
        sandbox.delete_record("tasks", task["id"])
        before = len(sandbox.exchanges)
        _extract(sandbox, entities, _fresh(datetime.now(UTC)))
        incremental = [e for e in sandbox.exchanges[before:] if e.path.endswith(("/clients", "/tasks"))]
        for entity in entities:
            assert 5099 in _ids(entity, "raw.directory", "clients")
            name = (
                Warehouse()
                .query(
                    entity,
                    "SELECT json_extract_string(payload, '$.name') AS name FROM raw.directory "
                    "WHERE kind = 'projects' AND record_id = ?",
                    [project["id"]],
                )["name"]
                .to_list()
            )
            assert name == ["Website Rebuild, phase 2"]
            # updated_since cannot tell a deletion: the task stays until the next whole read.
            assert task["id"] in _ids(entity, "raw.directory", "tasks")
        assert incremental and all("updated_since" in e.query for e in incremental)

        _extract(sandbox, entities, _fresh(datetime.now(UTC), full_every=timedelta(0)))
    for entity in entities:
        assert task["id"] not in _ids(entity, "raw.directory", "tasks")
        changes = (
            Warehouse()
            .query(
                entity,
                "SELECT change FROM raw.record_versions WHERE kind = 'tasks' AND record_id = ? ORDER BY version",
                [task["id"]],
            )["change"]
            .to_list()
        )
        assert changes == ["created", "deleted"], (entity, changes)


def _materialize(sandbox: HarvestSandbox, entity: str, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    partitions = Partitions.of(CONFIG)
    return dg.materialize(
        [build_pm_extracts(partitions)],
        partition_key=str(day_key(entity, DAYS[0])),
        resources={"harvest": _client(sandbox), "warehouse": Warehouse(), "settings": CONFIG},
        tags=tags,
    )


def _pages_read(result: dg.ExecuteInProcessResult) -> int:
    [event, *_] = result.get_asset_materialization_events()
    return int(event.materialization.metadata["pm_pages_read_by_this_run"].value)  # type: ignore[arg-type]


def test_runs_of_one_request_share_a_reading_and_a_rerun_reads_again() -> None:
    requested = {PAGES_SINCE_TAG: datetime.now(UTC).isoformat()}  # what `billbridge sync` tags its runs with
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, record=True) as sandbox:
        first = _materialize(sandbox, "us", requested)
        read = len(sandbox.exchanges)
        second = _materialize(sandbox, "uk", requested)
        shared = len(sandbox.exchanges)
        rerun = _materialize(sandbox, "uk", {})
    assert _pages_read(first) == read == 8  # 2 dated lists and 6 directory lists, one page each
    assert shared == read and _pages_read(second) == 0
    assert _pages_read(rerun) == 8 and len(sandbox.exchanges) == read + 8


def test_the_readings_are_sealed_and_an_erasure_deletes_them() -> None:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        _extract(sandbox, ["us"], _fresh(datetime.now(UTC)))
        person = sandbox.records("users")[0]
    store = AccountPageStore.beside(Warehouse())
    readings = list(store.folder.glob("*.jsonl"))
    assert len(readings) == 8  # 2 dated lists and 6 directory lists
    assert all(line.startswith("enc1:") for path in readings for line in path.read_text().splitlines())
    assert all(person["email"] not in path.read_text() for path in readings)
    report = erase_person(Warehouse(), ["us"], ErasureRequest(person["id"], "ticket 1", "art. 17", "test"))
    assert report.page_readings_deleted == 8 and not list(store.folder.glob("*.jsonl"))


def test_a_reading_is_streamed_a_page_at_a_time_and_damage_names_the_file_and_line() -> None:
    """A month of a large account is too big to parse whole in every entity's process: pages come
    off the file one by one, so a damaged line is only met after the pages before it were used."""
    with HarvestSandbox(generate_company(seed=7), rate_limit=None) as sandbox:
        _extract(sandbox, ["us"], _fresh(datetime.now(UTC)), per_page=10)
    store = AccountPageStore.beside(Warehouse())
    entries = next(store.folder.glob("time_entries-*.jsonl"))
    lines = entries.read_bytes().splitlines(keepends=True)
    assert len(lines) == 1 + 8  # the header, then the 8 pages of 10 records
    entries.write_bytes(b"".join([*lines[:4], b"enc1:damaged\n", *lines[5:]]))
    kept = store.open(entries.stem)
    assert kept is not None
    pages = kept.pages()
    assert [len(next(pages)["records"]) for _ in range(3)] == [10, 10, 10]
    with pytest.raises(PageStoreDamaged, match=rf"{entries.name}: line 5 cannot be read"):
        next(pages)


def test_a_reading_of_the_earlier_format_is_read_again_and_erased_with_the_rest() -> None:
    store = AccountPageStore.beside(Warehouse())
    store.folder.mkdir(parents=True)
    old = store.folder / "clients-0123456789abcdef0123456789abcdef.json"
    old.write_text('{"read_at":"2026-12-07T00:00:00+00:00","full_at":null,"pages":[]}')
    assert store.open(old.stem) is None
    assert store.clear() == 1 and not old.exists()
