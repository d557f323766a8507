"""The PM account's list pages, read once and shared by every entity's extraction (docs/decisions/0042).

`SharedPages` stands where the Harvest client stood for `resources/raw_extraction.py`: it answers
`iter_pages` for a dated list (`from`/`to`) or a directory list from `AccountPageStore` when a reading
new enough for the extraction is there (`rules/account_pages.Freshness`), and otherwise reads the
provider, keeps the reading, and answers from it. One lock file per list request makes the entity
runs of one window wait for the first one's reading instead of reading the account again.

The store is `$BILLBRIDGE_HOME/pm_account/`: one file per list request of the account, owner-only,
sealed under the key ring when field encryption is on (the pages hold names, notes and e-mail
addresses), replaced atomically; readings older than `KEEP` are deleted as others are written.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from resources import field_crypto
from resources.atomic_files import write_atomically
from resources.crypto import KeyProblem, is_encrypted
from resources.harvest import HarvestClient, Page, PageProblem
from resources.private_files import private_dir
from resources.warehouse import Warehouse, default_home
from rules.account_pages import Freshness, StoredPage, list_key, merge_changes, newest_update, updated_since

KEEP = timedelta(days=2)  # a reading older than this is never fresh for a run still running
SEAL_CONTEXT = "pm.pages"
DATED_PARAMS = frozenset({"from", "to"})


@dataclass(frozen=True)
class Reading:
    """One list as read from the provider: when the reading started, when the list (a directory
    list) was last read whole, and its pages."""

    read_at: datetime
    full_at: datetime | None
    pages: list[StoredPage]


class AccountPageStore:
    """Readings of the PM account's lists, one file per list request, under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def beside(cls, warehouse: Warehouse) -> AccountPageStore:
        """The store in the warehouse's data folder ($BILLBRIDGE_HOME/pm_account)."""
        return cls(Path(warehouse.home or default_home()) / "pm_account")

    @contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the list's lock: another process reading the same list waits, then finds the reading."""
        private_dir(self.folder)
        with open(self.folder / f"{key}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def latest(self, key: str) -> Reading | None:
        """The list's kept reading (None when there is none, or it cannot be opened any more)."""
        path = self.folder / f"{key}.json"
        try:
            text = path.read_text(encoding="utf-8")
            if is_encrypted(text):
                text = field_crypto.current_ring().decrypt(text, expect=SEAL_CONTEXT)
            document = json.loads(text)
        except (OSError, ValueError, KeyProblem):
            return None  # a reading sealed under a key since removed is read again, not trusted
        full_at = document["full_at"]
        return Reading(
            datetime.fromisoformat(document["read_at"]),
            datetime.fromisoformat(full_at) if full_at else None,
            document["pages"],
        )

    def keep(self, key: str, reading: Reading) -> None:
        """Replace the list's reading, and delete readings nobody can reuse any more."""
        document = {
            "read_at": reading.read_at.isoformat(),
            "full_at": reading.full_at.isoformat() if reading.full_at else None,
            "pages": reading.pages,
        }
        text = json.dumps(document, separators=(",", ":"))
        if field_crypto.enabled():
            text = field_crypto.current_ring().encrypt(text, SEAL_CONTEXT)
        write_atomically(private_dir(self.folder) / f"{key}.json", text.encode())
        self._forget_before(reading.read_at - KEEP)

    def _forget_before(self, moment: datetime) -> None:
        for path in self.folder.glob("*.json"):
            try:
                if path.stat().st_mtime < moment.timestamp():
                    path.unlink()
            except FileNotFoundError:
                continue  # another process forgot it first

    def clear(self) -> int:
        """Delete every kept reading (after an erasure: no copy of the pages may outlive it)."""
        paths = list(self.folder.glob("*.json")) if self.folder.exists() else []
        for path in paths:
            path.unlink(missing_ok=True)
        return len(paths)


def _stored(page: Page) -> StoredPage:
    problem = asdict(page.problem) if page.problem is not None else None
    return {"url": page.url, "pagination": page.pagination, "records": page.records, "problem": problem}


def _page(stored: StoredPage) -> Page:
    problem = stored["problem"]
    return Page(
        stored["records"],
        stored["url"],
        stored["pagination"],
        PageProblem(**problem) if problem is not None else None,
    )


class SharedPages:
    """A page source for the raw layer that reads each of the account's lists once per freshness.

    `requests` counts the pages this source read from the provider (0 when every list was reused).
    """

    def __init__(self, harvest: HarvestClient, store: AccountPageStore, freshness: Freshness) -> None:
        self.harvest, self.store, self.freshness = harvest, store, freshness
        self.account = f"{harvest.base_url.rstrip('/')}#{harvest.account_id}"
        self.requests = 0

    def iter_pages(self, resource: str, params: dict[str, str] | None = None) -> Iterator[Page]:
        """The list's pages: a dated list by its `from`/`to`, a directory list whole (see the module)."""
        if params and set(params) - DATED_PARAMS:
            yield from self.harvest.iter_pages(resource, params)  # no shared reading for other filters
            return
        key = list_key(self.account, resource, params)
        with self.store.locked(key):
            held = self.store.latest(key)
            if held is not None and self.freshness.reusable(held.read_at):
                pages = held.pages
            elif params:
                pages = self._read_whole(key, resource, params).pages
            else:
                pages = self._refresh_directory(key, resource, held).pages
        for stored in pages:
            yield _page(stored)

    def _read(self, resource: str, params: dict[str, str] | None) -> list[StoredPage]:
        pages = [_stored(page) for page in self.harvest.iter_pages(resource, params)]
        self.requests += len(pages)
        return pages

    def _read_whole(self, key: str, resource: str, params: dict[str, str] | None) -> Reading:
        started = _now()
        reading = Reading(started, started, self._read(resource, params))
        self.store.keep(key, reading)
        return reading

    def _refresh_directory(self, key: str, resource: str, held: Reading | None) -> Reading:
        """The directory list brought up to date: its changes since the held reading merged in, or
        (first time, due, or the changes unmergeable) read whole."""
        started = _now()
        if held is None or self.freshness.full_read_due(held.full_at, started):
            return self._read_whole(key, resource, None)
        newest = newest_update(held.pages)
        if newest is None:
            return self._read_whole(key, resource, None)
        changes = self._read(resource, {"updated_since": updated_since(newest, self.freshness.overlap)})
        merged = merge_changes(held.pages, changes)
        if merged is None:
            return self._read_whole(key, resource, None)
        reading = Reading(started, held.full_at, merged)
        self.store.keep(key, reading)
        return reading


def _now() -> datetime:
    # Wall-clock time, whole microseconds: compared with Dagster's run creation times.
    return datetime.fromtimestamp(time.time(), UTC)
