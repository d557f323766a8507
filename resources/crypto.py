"""Encryption at rest: AES-256-GCM per value, with the key id on every value.

A value is stored as `enc1:<key id>:<context>:<base64url of nonce + ciphertext + tag>`. The
key id says which key decrypts it, so keys rotate without a flag day: new values use the
active key, old ones keep decrypting with theirs until `billbridge keys rotate` re-encrypts
them. The context names what the value is (`person.name`, `pm.notes`, `token.xero`) and is
bound in as associated data, so relabelling a ciphertext makes it undecryptable.

Values are encrypted with a random nonce, or deterministically (the nonce an HMAC of the
context and plaintext under the key) for short identifying fields such as a person's name:
equal names then give equal ciphertexts, which the clear person ids reveal anyway, and a
million lines naming two hundred people are encrypted and decrypted two hundred times.

Keys come from `BILLBRIDGE_KEYS` (the key file's JSON, for deployments that inject secrets
through the environment) or the key file `BILLBRIDGE_KEY_FILE` (default
`$BILLBRIDGE_HOME/secrets/keys.json`, owner-only; created with one fresh key when neither
exists). Put the key file on other storage than the data it protects, or in a secrets
manager that fills `BILLBRIDGE_KEYS`: a key beside its data protects copies of the data
folder, not the machine (docs/decisions/0028).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from resources.atomic_files import write_atomically
from resources.private_files import private_dir
from resources.warehouse import default_home

PREFIX = "enc1"
KEYS_ENV = "BILLBRIDGE_KEYS"
KEY_FILE_ENV = "BILLBRIDGE_KEY_FILE"
PERSON_KEY_PREFIX = "p-"  # key ids of per-person data keys (resources/person_keys.py); ring ids are k<n>-...
NONCE_BYTES = 12
KEY_BYTES = 32
CONTEXT_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


class KeyProblem(RuntimeError):
    """A key is missing, wrong or unreadable: names the key id and where keys come from."""


def default_key_file() -> Path:
    """$BILLBRIDGE_KEY_FILE, else $BILLBRIDGE_HOME/secrets/keys.json."""
    explicit = os.environ.get(KEY_FILE_ENV)
    return Path(explicit) if explicit else Path(default_home()) / "secrets" / "keys.json"


def is_encrypted(value: object) -> bool:
    """Whether `value` is a stored ciphertext (of any key)."""
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def key_id_of(value: str) -> str:
    """The id of the key a stored ciphertext was made with."""
    return value.split(":", 3)[1]


@dataclass
class KeyRing:
    """Named AES-256 keys and the one new values are encrypted with."""

    keys: dict[str, bytes]
    active: str
    source: str  # where the keys came from, for messages
    created: dict[str, str] = field(default_factory=dict)
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            if key_id not in self.keys:
                raise KeyProblem(
                    f"key {key_id!r} is not in {self.source} (keys there: {', '.join(sorted(self.keys))}); "
                    "restore the key file that holds it"
                )
            cipher = self._ciphers[key_id] = AESGCM(self.keys[key_id])
        return cipher

    def encrypt(self, plaintext: str, context: str, deterministic: bool = False) -> str:
        """`plaintext` under the active key, labelled and bound to `context`."""
        if not CONTEXT_RE.fullmatch(context):
            raise ValueError(f"context {context!r}: lower-case letters, digits, '.', '_' and '-'")
        data, label = plaintext.encode("utf-8"), context.encode("ascii")
        if deterministic:
            synthetic = hmac.new(
                self.keys[self.active], b"nonce\x00" + label + b"\x00" + data, hashlib.sha256
            )
            nonce = synthetic.digest()[:NONCE_BYTES]
        else:
            nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._cipher(self.active).encrypt(nonce, data, label)
        return f"{PREFIX}:{self.active}:{context}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, value: str, expect: str | None = None) -> str:
        """The plaintext of a stored ciphertext; KeyProblem when its key is missing or wrong, or
        when it is labelled other than `expect` (a ciphertext moved from elsewhere)."""
        prefix, key_id, context, blob = value.split(":", 3)
        if prefix != PREFIX:
            raise KeyProblem(f"not a billbridge ciphertext (prefix {prefix!r})")
        if expect is not None and context != expect:
            raise KeyProblem(f"a {context} value where a {expect} value belongs: refused")
        raw = base64.urlsafe_b64decode(blob)
        try:
            plain = self._cipher(key_id).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("ascii")
            )
        except InvalidTag:
            raise KeyProblem(
                f"key {key_id!r} from {self.source} does not decrypt a {context} value: the key was "
                "replaced or the value altered; nothing was changed"
            ) from None
        return plain.decode("utf-8")

    def reencrypt(self, value: str) -> str:
        """A value under the active key (unchanged when it already is); determinism is kept. Values
        under a person's data key stay as they are: rotation re-wraps that key instead."""
        if key_id_of(value) == self.active or key_id_of(value).startswith(PERSON_KEY_PREFIX):
            return value
        context = value.split(":", 3)[2]
        plain = self.decrypt(value)
        deterministic = value == self._with_key(key_id_of(value)).encrypt(plain, context, deterministic=True)
        return self.encrypt(plain, context, deterministic)

    def _with_key(self, key_id: str) -> KeyRing:
        return KeyRing(self.keys, key_id, self.source, self.created, self._ciphers)

    def document(self) -> dict[str, Any]:
        """The key file's content."""
        return {
            "active": self.active,
            "keys": {
                kid: {"key": base64.b64encode(k).decode(), "created": self.created.get(kid, "")}
                for kid, k in self.keys.items()
            },
        }


def _parse(document: Any, source: str) -> KeyRing:
    try:
        keys = {kid: base64.b64decode(entry["key"]) for kid, entry in document["keys"].items()}
        created = {kid: str(entry.get("created", "")) for kid, entry in document["keys"].items()}
        active = str(document["active"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KeyProblem(f"{source}: not a key file ({type(exc).__name__}: {exc})") from None
    if any(kid.startswith(PERSON_KEY_PREFIX) for kid in keys):
        raise KeyProblem(f"{source}: ring key ids must not start with {PERSON_KEY_PREFIX!r} (person keys do)")
    if active not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
        raise KeyProblem(
            f"{source}: the active key {active!r} must be present and every key {KEY_BYTES} bytes"
        )
    return KeyRing(keys, active, source, created)


def _new_key_id(ring: KeyRing | None) -> str:
    return f"k{len(ring.keys) + 1 if ring else 1}-{secrets.token_hex(3)}"


def load_key_ring(create: bool = True) -> KeyRing:
    """The key ring from BILLBRIDGE_KEYS or the key file (created with one key if neither exists)."""
    if os.environ.get(KEYS_ENV):
        try:
            return _parse(json.loads(os.environ[KEYS_ENV]), f"${KEYS_ENV}")
        except json.JSONDecodeError as exc:
            raise KeyProblem(f"${KEYS_ENV} is not JSON: {exc}") from None
    path = default_key_file()
    if path.exists():
        try:
            return _parse(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyProblem(f"{path}: cannot read the key file: {exc}") from None
    if not create:
        raise KeyProblem(f"no keys: set ${KEYS_ENV} or create {path} (`billbridge keys rotate`)")
    ring = KeyRing({}, "", str(path))
    return add_key(ring)


def add_key(ring: KeyRing) -> KeyRing:
    """A new random key, made active and saved to the key file (earlier keys stay to decrypt)."""
    if ring.source == f"${KEYS_ENV}":
        raise KeyProblem(f"keys from ${KEYS_ENV} are managed where that variable is set; add the key there")
    key_id = _new_key_id(ring if ring.keys else None)
    grown = KeyRing(
        {**ring.keys, key_id: AESGCM.generate_key(bit_length=KEY_BYTES * 8)},
        key_id,
        ring.source,
        {**ring.created, key_id: datetime.now(UTC).isoformat(timespec="seconds")},
    )
    path = Path(ring.source)
    private_dir(path.parent)
    write_atomically(path, json.dumps(grown.document(), indent=2).encode("utf-8"))
    return grown
