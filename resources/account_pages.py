"""The PM account's list pages, read once and shared by every entity's extraction (docs/decisions/0042).

`SharedPages` stands where the Harvest client stood for `resources/raw_extraction.py`: it answers
`iter_pages` for a dated list (`from`/`to`) or a directory list from `AccountPageStore` when a reading
new enough for the extraction is there (`rules/account_pages.Freshness`), and otherwise reads the
provider, keeps the reading, and answers from it. One lock file per list request makes the entity
runs of one window wait for the first one's reading instead of reading the account again.

The store is `$BILLBRIDGE_HOME/pm_account/`: one file per list request of the account, owner-only,
a page per line, each sealed under the key ring when field encryption is on (the pages hold names,
notes and e-mail addresses), written and read a page at a time (a month of a million entries is
1.5 GB of JSON, which every entity process used to parse whole), replaced atomically; readings older
than `KEEP` are deleted as others are written.
"""

from __future__ import annotations

import fcntl
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from resources import field_crypto
from resources.atomic_files import atomic_writer
from resources.crypto import KeyProblem, is_encrypted
from resources.harvest import HarvestClient, Page, PageProblem
from resources.private_files import private_dir
from resources.warehouse import Warehouse, default_home
from rules import page_json
from rules.account_pages import Freshness, StoredPage, list_key, merge_changes, newest_update, updated_since

KEEP = timedelta(days=2)  # a reading older than this is never fresh for a run still running
SEAL_CONTEXT = "pm.pages"
DATED_PARAMS = frozenset({"from", "to"})
SUFFIX = ".jsonl"
FORMAT = 2  # 1: one JSON document per reading, read whole (before the store streamed)


# Keeps one list's pages read now: (when the reading started, the pages as they arrive).
KeepPages = Callable[[datetime, Iterable[StoredPage]], None]


@dataclass(frozen=True)
class Reading:
    """One list as read from the provider: when the reading started, when the list (a directory
    list) was last read whole, and its pages (held in memory: the directory lists only)."""

    read_at: datetime
    full_at: datetime | None
    pages: list[StoredPage]


class PageStoreDamaged(RuntimeError):
    """A kept reading that opened but could not be read to its end (a damaged file)."""


class KeptReading:
    """A kept reading opened for streaming: its header read, its pages one at a time from the file
    (opened before the list's lock is released, so a reading kept after it does not mix in)."""

    def __init__(self, path: Path, handle: IO[bytes], read_at: datetime, full_at: datetime | None) -> None:
        self.path, self._handle, self.read_at, self.full_at = path, handle, read_at, full_at

    def close(self) -> None:
        """Close the file without reading the pages."""
        self._handle.close()

    def pages(self) -> Iterator[StoredPage]:
        """The pages in the order they were read; the file is closed once they are all read."""
        with self._handle:
            for number, line in enumerate(self._handle, start=2):
                try:
                    yield page_json.read_back(_unseal(line.decode("utf-8")))
                except (ValueError, KeyProblem) as exc:
                    raise PageStoreDamaged(
                        f"{self.path}: line {number} cannot be read ({exc}); delete the file to read "
                        "the PM account again"
                    ) from None


class AccountPageStore:
    """Readings of the PM account's lists, one file per list request, under `folder`.

    A reading is a JSON Lines file: a header (`format`, `read_at`, `full_at`), then one page per line,
    each line sealed on its own when field encryption is on, so a month of a large account is written
    and read a page at a time and no process holds the whole reading in memory.
    """

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

    def open(self, key: str) -> KeptReading | None:
        """The list's kept reading, open for streaming (None when there is none, it is of an older
        format, or it cannot be opened any more: it is then read again, not trusted)."""
        path = self.folder / f"{key}{SUFFIX}"
        try:
            handle = path.open("rb")
        except OSError:
            return None
        try:
            header = page_json.loads(_unseal(handle.readline().decode("utf-8")))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise ValueError("not a reading of this format")
            full_at = header["full_at"]
            return KeptReading(
                path,
                handle,
                datetime.fromisoformat(header["read_at"]),
                datetime.fromisoformat(full_at) if full_at else None,
            )
        except (ValueError, KeyError, KeyProblem):
            handle.close()  # a reading sealed under a key since removed is read again
            return None

    def latest(self, key: str) -> Reading | None:
        """The list's kept reading with its pages in memory (for the directory lists, which are merged)."""
        kept = self.open(key)
        if kept is None:
            return None
        try:
            return Reading(kept.read_at, kept.full_at, list(kept.pages()))
        except PageStoreDamaged:
            return None

    def keep(
        self, key: str, read_at: datetime, full_at: datetime | None, pages: Iterable[StoredPage]
    ) -> None:
        """Replace the list's reading with `pages`, written as they come, and delete readings nobody
        can reuse any more."""
        with self.keeping([key], read_at, full_at) as write:
            for page in pages:
                write[key](page)

    def keep_one(self, key: str) -> KeepPages:
        """`keep` for a list read whole at one moment (a dated list): its reading alone."""
        return lambda started, pages: self.keep(key, started, started, pages)

    @contextmanager
    def keeping(
        self, keys: Iterable[str], read_at: datetime, full_at: datetime | None = None
    ) -> Iterator[dict[str, Callable[[StoredPage], None]]]:
        """Write several readings at once, page by page (`writers[key](page)`), each replaced atomically
        when the block ends without an error (none of them otherwise)."""
        header = {
            "format": FORMAT,
            "read_at": read_at.isoformat(),
            "full_at": full_at.isoformat() if full_at else None,
        }
        with ExitStack() as files:
            writers: dict[str, Callable[[StoredPage], None]] = {}
            for key in keys:
                handle = files.enter_context(atomic_writer(private_dir(self.folder) / f"{key}{SUFFIX}"))
                handle.write(_seal(header))
                writers[key] = functools.partial(_write_page, handle)
            yield writers
        self._forget_before(read_at - KEEP)

    def _readings(self) -> list[Path]:
        # `*.json`: single-document readings of the format before this one, deleted like the others.
        return [*self.folder.glob(f"*{SUFFIX}"), *self.folder.glob("*.json")] if self.folder.exists() else []

    def _forget_before(self, moment: datetime) -> None:
        for path in self._readings():
            try:
                if path.stat().st_mtime < moment.timestamp():
                    path.unlink()
            except FileNotFoundError:
                continue  # another process forgot it first

    def clear(self) -> int:
        """Delete every kept reading (after an erasure: no copy of the pages may outlive it)."""
        paths = self._readings()
        for path in paths:
            path.unlink(missing_ok=True)
        return len(paths)


def _seal(document: object) -> bytes:
    text = page_json.dumps(document)
    if field_crypto.enabled():
        text = field_crypto.current_ring().encrypt(text, SEAL_CONTEXT)
    return text.encode("utf-8") + b"\n"


def _write_page(handle: IO[bytes], page: StoredPage) -> None:
    handle.write(_seal(page))


def _unseal(line: str) -> str:
    line = line.rstrip("\n")
    return field_crypto.current_ring().decrypt(line, expect=SEAL_CONTEXT) if is_encrypted(line) else line


def _stored(page: Page) -> StoredPage:
    problem = asdict(page.problem) if page.problem is not None else None
    return {"url": page.url, "pagination": page.pagination, "records": page.records, "problem": problem}


def page_of(stored: StoredPage) -> Page:
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
            kept = self.fresh_reading(key, resource, params)
        for stored in kept.pages():
            yield page_of(stored)

    def fresh_reading(
        self, key: str, resource: str, params: dict[str, str] | None, keep: KeepPages | None = None
    ) -> KeptReading:
        """The list's reading, new enough for this extraction, open for streaming: the kept one, or one
        read now (call holding the list's lock). `keep` keeps a dated list's pages as they are read
        (by default into the reading alone; resources/routed_pages.py writes the shares beside it)."""
        kept = self.store.open(key)
        if kept is None or not self.freshness.reusable(kept.read_at):
            if kept is not None:
                kept.close()
            if params and keep is not None:
                keep(_now(), self.read(resource, params))
            elif params:
                self._read_whole(key, resource, params)
            else:
                self._refresh_directory(key, resource, self.store.latest(key))
            kept = self.store.open(key)
        if kept is None:
            raise PageStoreDamaged(
                f"{self.store.folder / key}{SUFFIX}: the reading just kept cannot be opened"
            )
        return kept

    def read(self, resource: str, params: dict[str, str] | None) -> Iterator[StoredPage]:
        """The list's pages from the provider, counted in `requests`."""
        for page in self.harvest.iter_pages(resource, params):
            self.requests += 1
            yield _stored(page)

    def _read_whole(self, key: str, resource: str, params: dict[str, str] | None) -> None:
        self.store.keep_one(key)(_now(), self.read(resource, params))

    def _refresh_directory(self, key: str, resource: str, held: Reading | None) -> None:
        """The directory list brought up to date: its changes since the held reading merged in, or
        (first time, due, or the changes unmergeable) read whole."""
        started = _now()
        if held is None or self.freshness.full_read_due(held.full_at, started):
            return self._read_whole(key, resource, None)
        newest = newest_update(held.pages)
        if newest is None:
            return self._read_whole(key, resource, None)
        changes = list(self.read(resource, {"updated_since": updated_since(newest, self.freshness.overlap)}))
        merged = merge_changes(held.pages, changes)
        if merged is None:
            return self._read_whole(key, resource, None)
        self.store.keep(key, started, held.full_at, merged)
        return None


def _now() -> datetime:
    # Wall-clock time, whole microseconds: compared with Dagster's run creation times.
    return datetime.fromtimestamp(time.time(), UTC)
