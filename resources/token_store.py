"""The OAuth token store: one encrypted file per connection, replaced atomically, locked per connection.

`$BILLBRIDGE_HOME/secrets/tokens/<connection>.token` holds the connection's tokens and tenants
as JSON encrypted with the key ring (the connection name bound in as associated data), so a
copy of the data folder without the key reveals no token. `<connection>.lock` serialises
refreshes across processes: a refresh token is single-use, and two processes spending it at
once would leave one of them holding a token the provider has already replaced.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from pydantic import BaseModel, Field

from resources.atomic_files import write_atomically
from resources.crypto import KeyRing, load_key_ring
from resources.private_files import private_dir
from resources.warehouse import default_home

CONNECTION_NAME = r"[a-z][a-z0-9_-]{0,31}"
ACTIVE = "active"
REAUTHORISE = "re-authorise"


class Tenant(BaseModel):
    """One organisation the connection may act for."""

    tenant_id: str
    name: str = ""


class TokenRecord(BaseModel):
    """What the store keeps for one connection."""

    connection: str
    client_id: str
    token_url: str
    connections_url: str = ""
    access_token: str
    access_expires_at: float = Field(description="unix seconds")
    refresh_token: str
    scope: str = ""
    tenants: list[Tenant] = []
    authorised_at: float
    last_refresh_at: float | None = None
    refresh_started_at: float | None = Field(
        default=None, description="set while a refresh is in flight; left set by a refresh that crashed"
    )
    state: str = ACTIVE
    problem: str = ""


class TokenStore:
    """Encrypted token records under `folder` (default $BILLBRIDGE_HOME/secrets/tokens)."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, keys: KeyRing | None = None) -> None:
        self.folder = Path(folder) if folder else Path(default_home()) / "secrets" / "tokens"
        self._keys = keys

    @property
    def keys(self) -> KeyRing:
        if self._keys is None:
            self._keys = load_key_ring()
        return self._keys

    def _path(self, connection: str, suffix: str) -> Path:
        if not re.fullmatch(CONNECTION_NAME, connection):
            raise ValueError(f"{connection!r} is not a connection name (lower-case letters, digits, - and _)")
        return self.folder / f"{connection}.{suffix}"

    def connections(self) -> list[str]:
        """Every stored connection's name."""
        return sorted(p.stem for p in self.folder.glob("*.token")) if self.folder.exists() else []

    def load(self, connection: str) -> TokenRecord | None:
        """The connection's record (None when never authorised)."""
        path = self._path(connection, "token")
        if not path.exists():
            return None
        sealed = path.read_text(encoding="ascii").strip()
        return TokenRecord.model_validate(json.loads(self.keys.decrypt(sealed, expect=f"token.{connection}")))

    def save(self, record: TokenRecord) -> None:
        """Replace the connection's record atomically and durably (old or new after any crash)."""
        path = self._path(record.connection, "token")
        private_dir(self.folder)
        sealed = self.keys.encrypt(record.model_dump_json(), context=f"token.{record.connection}")
        write_atomically(path, sealed.encode("ascii"))

    @contextmanager
    def locked(self, connection: str, timeout_s: float = 120.0) -> Iterator[None]:
        """Hold the connection's cross-process lock (the refresh lock)."""
        private_dir(self.folder)
        with FileLock(self._path(connection, "lock"), timeout=timeout_s, mode=0o600):
            yield
