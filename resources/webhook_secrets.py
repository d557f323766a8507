"""Webhook signing secrets that rotate with an overlap window in which old and new both verify.

Stored encrypted (the key ring, as the token store) in `$BILLBRIDGE_HOME/secrets/webhook.secrets`.
`rotate` makes a new secret current and gives every older one a retirement time `overlap`
ahead, so deliveries the PM system signs with the old secret still verify while its
configuration is changed. Once this store exists it is the only source of webhook secrets;
before, `BILLBRIDGE_WEBHOOK_SECRET` is (and the first rotation takes it in as the old secret).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from pydantic import BaseModel

from resources.atomic_files import write_atomically
from resources.crypto import KeyRing, load_key_ring
from resources.private_files import private_dir
from resources.warehouse import default_home

SECRET_ENV = "BILLBRIDGE_WEBHOOK_SECRET"
CONTEXT = "webhook.secrets"


class WebhookSecret(BaseModel):
    """One signing secret and when it stops verifying (None: while current)."""

    secret: str
    created_at: float
    retires_at: float | None = None


class WebhookSecrets:
    """The stored secrets; `verifying()` is what the endpoint checks a delivery against."""

    def __init__(self, path: str | os.PathLike[str] | None = None, keys: KeyRing | None = None) -> None:
        self.path = Path(path) if path else Path(default_home()) / "secrets" / "webhook.secrets"
        self._keys = keys

    def _ring(self) -> KeyRing:
        if self._keys is None:
            self._keys = load_key_ring()
        return self._keys

    def stored(self) -> list[WebhookSecret]:
        """Every stored secret, newest last (empty before the first rotation)."""
        if not self.path.exists():
            return []
        plain = self._ring().decrypt(self.path.read_text(encoding="ascii").strip(), expect=CONTEXT)
        return [WebhookSecret.model_validate(entry) for entry in json.loads(plain)]

    def verifying(self, now: float | None = None) -> list[str]:
        """The secrets a delivery may be signed with right now (the environment's before any rotation)."""
        now = time.time() if now is None else now
        stored = self.stored()
        if not stored:
            return [os.environ[SECRET_ENV]] if os.environ.get(SECRET_ENV) else []
        return [s.secret for s in stored if s.retires_at is None or now < s.retires_at]

    def current(self) -> str:
        """The secret to give the PM system (the newest)."""
        verifying = self.verifying()
        return verifying[-1] if verifying else ""

    def rotate(self, overlap_s: float, now: float | None = None) -> WebhookSecret:
        """Make a new secret current; older ones verify for `overlap_s` more seconds, then retire."""
        now = time.time() if now is None else now
        kept = self.stored()
        if not kept and os.environ.get(SECRET_ENV):
            kept = [WebhookSecret(secret=os.environ[SECRET_ENV], created_at=now)]
        retiring = [
            s.model_copy(update={"retires_at": min(s.retires_at or now + overlap_s, now + overlap_s)})
            for s in kept
            if s.retires_at is None or s.retires_at > now  # long retired ones are dropped
        ]
        fresh = WebhookSecret(secret=secrets.token_urlsafe(32), created_at=now)
        self.save([*retiring, fresh])
        return fresh

    def save(self, stored: list[WebhookSecret]) -> None:
        """Replace the stored secrets (encrypted under the active key, atomically)."""
        document = json.dumps([s.model_dump() for s in stored])
        private_dir(self.path.parent)
        write_atomically(self.path, self._ring().encrypt(document, CONTEXT).encode("ascii"))
