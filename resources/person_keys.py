"""Per-person data keys (envelope encryption) and their erasure (docs/decisions/0033).

Each PM person's personal fields are encrypted under that person's own AES-256 data key,
stored wrapped by the key ring's active key in one owner-only SQLite file,
`$BILLBRIDGE_HOME/secrets/person_keys.sqlite`. A value under a person key names it as its key
id (`enc1:p-<person id>:<label>:...`), so the ring's format and code decrypt it unchanged.

Erasing a person destroys their data key (the row stays, with no key, so the person is never
given a new one) and records the erasure in the same transaction: from then on every value
under that key, in every entity file, export and archive, reads as `ERASED`, and new values
for the person are written as `ERASED`. Rotating the ring re-wraps the data keys; the values
under them keep their bytes.

`PersonKeys` caches unwrapped keys for the process, so the write boundary unwraps each
person's key once; it re-reads the erased ids whenever the store file changes, so a running
process stops reading an erased person without a restart.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from resources.crypto import KEY_BYTES, PERSON_KEY_PREFIX, KeyProblem, KeyRing, key_id_of
from resources.private_files import PRIVATE_FILE_MODE, private_dir
from resources.warehouse import default_home

ERASED = "[erased]"
PERSON_KEYS_ENV = "BILLBRIDGE_PERSON_KEYS"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS person_keys (
    person_id INTEGER PRIMARY KEY,
    wrapped TEXT,            -- the data key sealed by the ring; NULL once erased
    created_at TEXT NOT NULL,
    erased_at TEXT
);
CREATE TABLE IF NOT EXISTS erasures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL,
    erased_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    basis TEXT NOT NULL,
    kept TEXT NOT NULL        -- JSON: what is kept, where, and why
);
"""


def default_person_key_path() -> Path:
    """$BILLBRIDGE_PERSON_KEYS, else $BILLBRIDGE_HOME/secrets/person_keys.sqlite."""
    explicit = os.environ.get(PERSON_KEYS_ENV)
    return Path(explicit) if explicit else Path(default_home()) / "secrets" / "person_keys.sqlite"


def person_key_id(person_id: int) -> str:
    """The key id a person's values carry."""
    return f"{PERSON_KEY_PREFIX}{person_id}"


def person_of_value(value: str) -> int | None:
    """The person whose key sealed a stored ciphertext, or None for a ring key."""
    key_id = key_id_of(value)
    return int(key_id[len(PERSON_KEY_PREFIX) :]) if key_id.startswith(PERSON_KEY_PREFIX) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Erasure:
    """One entry of the erasure register."""

    person_id: int
    erased_at: str
    actor: str
    reason: str
    basis: str
    kept: str


class PersonKeyStore:
    """The wrapped data keys and the erasure register (one SQLite file, owner-only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_person_key_path()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        private_dir(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as con:
            con.execute("PRAGMA secure_delete = ON")  # a destroyed key is zeroed, not left in a free page
            con.executescript(_SCHEMA)
            yield con

    def signature(self) -> tuple[int, int] | None:
        """Changes whenever the file is written (a key added, erased or re-wrapped)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def wrapped_key(self, person_id: int, ring: KeyRing, create: bool = True) -> tuple[bool, str | None]:
        """(known, wrapped key): a new key is made for an unknown person when `create`; an erased
        person is known with no key. Several processes may race: the first insert wins."""
        with self._connect() as con:
            row = con.execute("SELECT wrapped FROM person_keys WHERE person_id = ?", [person_id]).fetchone()
            if row is None and create:
                con.execute(
                    "INSERT OR IGNORE INTO person_keys (person_id, wrapped, created_at) VALUES (?, ?, ?)",
                    [person_id, _new_wrapped_key(person_id, ring), _now()],
                )
                row = con.execute(
                    "SELECT wrapped FROM person_keys WHERE person_id = ?", [person_id]
                ).fetchone()
        return (row is not None, row[0] if row else None)

    def wrapped_keys(self, person_ids: Iterable[int], ring: KeyRing) -> dict[int, str | None]:
        """`wrapped_key` for many people in one connection and one transaction: a key is made for each
        unknown person (sealing a directory meets 15,000 people; a connection each took 1.5 ms)."""
        wanted = sorted(set(person_ids))
        found: dict[int, str | None] = {}
        with self._connect() as con:
            for start in range(0, len(wanted), _IN_CHUNK):
                found.update(_wrapped_among(con, wanted[start : start + _IN_CHUNK]))
            missing = [pid for pid in wanted if pid not in found]
            if missing:
                con.execute("BEGIN IMMEDIATE")
                try:
                    con.executemany(
                        "INSERT OR IGNORE INTO person_keys (person_id, wrapped, created_at) VALUES (?, ?, ?)",
                        [(pid, _new_wrapped_key(pid, ring), _now()) for pid in missing],
                    )
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                for start in range(0, len(missing), _IN_CHUNK):
                    found.update(_wrapped_among(con, missing[start : start + _IN_CHUNK]))
        return found

    def erased_ids(self) -> set[int]:
        """Every person whose key has been destroyed."""
        if not self.path.exists():
            return set()
        with self._connect() as con:
            return {pid for (pid,) in con.execute("SELECT person_id FROM person_keys WHERE wrapped IS NULL")}

    def erase(self, entry: Erasure) -> None:
        """Destroy the person's key and register the erasure, in one transaction."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute(
                    "INSERT INTO person_keys (person_id, wrapped, created_at, erased_at) VALUES (?, NULL, ?, ?) "
                    "ON CONFLICT (person_id) DO UPDATE SET wrapped = NULL, erased_at = excluded.erased_at",
                    [entry.person_id, entry.erased_at, entry.erased_at],
                )
                con.execute(
                    "INSERT INTO erasures (person_id, erased_at, actor, reason, basis, kept) VALUES (?, ?, ?, ?, ?, ?)",
                    [entry.person_id, entry.erased_at, entry.actor, entry.reason, entry.basis, entry.kept],
                )
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def erasures(self, person_id: int | None = None) -> list[Erasure]:
        """The erasure register, oldest first (one person's entries when `person_id` is given)."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT person_id, erased_at, actor, reason, basis, kept FROM erasures "
                "WHERE ? IS NULL OR person_id = ? ORDER BY seq",
                [person_id, person_id],
            ).fetchall()
        return [Erasure(*row) for row in rows]

    def rewrap(self, ring: KeyRing) -> int:
        """Every live data key re-wrapped under the ring's active key; how many changed."""
        if not self.path.exists():
            return 0
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            rows = con.execute(
                "SELECT person_id, wrapped FROM person_keys WHERE wrapped IS NOT NULL"
            ).fetchall()
            changed = [(new, pid) for pid, old in rows if (new := ring.reencrypt(old)) != old]
            con.executemany("UPDATE person_keys SET wrapped = ? WHERE person_id = ?", changed)
            con.execute("COMMIT")
        return len(changed)


_IN_CHUNK = 500  # ids per look-up (SQLite allows 999 parameters by default)


def _new_wrapped_key(person_id: int, ring: KeyRing) -> str:
    """A new data key for the person, wrapped under the ring's active key."""
    fresh = base64.b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode("ascii")
    return ring.encrypt(fresh, f"person-key.{person_id}")


def _wrapped_among(con: sqlite3.Connection, person_ids: list[int]) -> dict[int, str | None]:
    marks = ",".join("?" * len(person_ids))
    rows = con.execute(f"SELECT person_id, wrapped FROM person_keys WHERE person_id IN ({marks})", person_ids)
    return dict(rows.fetchall())


@dataclass
class PersonKeys:
    """Unwrapped person keys for this process: each person's key is unwrapped once per process,
    and dropped as soon as the store says the person was erased."""

    store: PersonKeyStore
    _rings: dict[int, KeyRing | None] = field(default_factory=dict)
    _seen: tuple[int, int] | None = None

    def refresh(self) -> None:
        """Drop erased people from the cache when the store file changed (one stat per call)."""
        signature = self.store.signature()
        if signature != self._seen:
            for person_id in self.store.erased_ids():
                self._rings[person_id] = None
            self._seen = signature

    def ring_of(self, person_id: int, ring: KeyRing, create: bool = True) -> KeyRing | None:
        """The person's key as a one-key ring (None once erased); made on first use when `create`."""
        if person_id in self._rings:
            return self._rings[person_id]
        known, wrapped = self.store.wrapped_key(person_id, ring, create)
        if not known:
            raise KeyProblem(
                f"no key for person {person_id} in {self.store.path}: restore the person key store"
            )
        return self._unwrap(person_id, wrapped, ring)

    def warm(self, person_ids: Iterable[int], ring: KeyRing) -> None:
        """Make and unwrap the keys of every person among `person_ids` not yet held, in one look-up."""
        wanted = {pid for pid in person_ids if pid not in self._rings}
        if wanted:
            for person_id, wrapped in self.store.wrapped_keys(wanted, ring).items():
                self._unwrap(person_id, wrapped, ring)

    def _unwrap(self, person_id: int, wrapped: str | None, ring: KeyRing) -> KeyRing | None:
        """Hold the person's key as a one-key ring (None: erased)."""
        person_ring = None
        if wrapped is not None:
            key = base64.b64decode(ring.decrypt(wrapped, expect=f"person-key.{person_id}"))
            key_id = person_key_id(person_id)
            person_ring = KeyRing({key_id: key}, key_id, str(self.store.path))
        self._rings[person_id] = person_ring
        return person_ring

    def encrypt(
        self, person_id: int, plaintext: str, context: str, ring: KeyRing, deterministic: bool
    ) -> str:
        """`plaintext` under the person's key; `ERASED` for an erased person (their data is not kept)."""
        person_ring = self.ring_of(person_id, ring)
        return ERASED if person_ring is None else person_ring.encrypt(plaintext, context, deterministic)

    def decrypt(self, value: str, ring: KeyRing) -> str:
        """The plaintext of a value under a person key; `ERASED` once that key is destroyed."""
        person_id = person_of_value(value)
        assert person_id is not None, "a ring ciphertext reached the person keys"
        person_ring = self.ring_of(person_id, ring, create=False)
        return ERASED if person_ring is None else person_ring.decrypt(value)


def unreadable_person_keys(
    key_ids: set[str], ring: KeyRing, store: PersonKeyStore | None = None
) -> list[str]:
    """The person key ids among `key_ids` whose values could not be read with this ring: no key in the
    store, or one the ring cannot unwrap. An erased person's key is absent on purpose and counts as readable
    (their values read as erased)."""
    keys = PersonKeys(store or PersonKeyStore())
    unreadable = []
    for key_id in sorted(k for k in key_ids if k.startswith(PERSON_KEY_PREFIX)):
        try:
            keys.ring_of(int(key_id[len(PERSON_KEY_PREFIX) :]), ring, create=False)
        except KeyProblem:
            unreadable.append(key_id)
    return unreadable
