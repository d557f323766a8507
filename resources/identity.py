"""Who is acting: the OS user, a signed identity token, or the user an authenticating proxy names.

* CLI: the OS account running the command (`pwd`, not `$USER`, which anyone can set), unless
  `BILLBRIDGE_IDENTITY_TOKEN` holds a token signed by one of the access file's
  `token_public_keys` (service accounts, CI, shared terminals). Tokens are Ed25519-signed, so
  the machine that verifies them holds no key that could mint one.
* Web (webhook endpoint, workbench): the header the access file's `proxy` names, believed
  only when the request comes from one of its `trusted_proxies`.

Token: `bbid1.<base64url JSON {"sub": user, "exp": unix seconds}>.<base64url signature>`.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rules.access import AccessSettings

TOKEN_ENV = "BILLBRIDGE_IDENTITY_TOKEN"
TOKEN_PREFIX = "bbid1"


class IdentityProblem(RuntimeError):
    """An identity token that is malformed, expired or not signed by a trusted key."""


@dataclass(frozen=True)
class Identity:
    """A user name and how it was established (`os`, `token`, `proxy`)."""

    user: str
    source: str

    def __str__(self) -> str:
        return f"{self.user} ({self.source})"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(private_key: Ed25519PrivateKey, user: str, expires_at: float) -> str:
    """A signed identity token for `user`, valid until `expires_at`."""
    claims = _b64(json.dumps({"sub": user, "exp": int(expires_at)}, separators=(",", ":")).encode())
    signature = private_key.sign(f"{TOKEN_PREFIX}.{claims}".encode("ascii"))
    return f"{TOKEN_PREFIX}.{claims}.{_b64(signature)}"


def verify_token(token: str, public_keys: list[str], now: float) -> str:
    """The user a token names, when a trusted key signed it and it has not expired."""
    prefix, _, rest = token.strip().partition(".")
    claims, _, signature = rest.partition(".")
    if prefix != TOKEN_PREFIX or not claims or not signature:
        raise IdentityProblem(f"${TOKEN_ENV} is not a billbridge identity token")
    signed = f"{TOKEN_PREFIX}.{claims}".encode("ascii")
    for key in public_keys:
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(_unb64(signature), signed)
        except (InvalidSignature, ValueError):
            continue
        body = json.loads(_unb64(claims))
        if float(body["exp"]) < now:
            raise IdentityProblem(f"the identity token of {body['sub']} expired; ask an admin for a new one")
        return str(body["sub"])
    raise IdentityProblem(f"${TOKEN_ENV} is not signed by a key in the access file's token_public_keys")


def os_user() -> str:
    """The name of the OS account this process runs as."""
    return pwd.getpwuid(os.getuid()).pw_name


def cli_identity(settings: AccessSettings) -> Identity:
    """The person behind a CLI command: a verified token's subject, else the OS account."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return Identity(verify_token(token, settings.token_public_keys, time.time()), "token")
    return Identity(os_user(), "os")


def proxy_identity(settings: AccessSettings, headers: dict[str, str], client_address: str) -> Identity | None:
    """The user a trusted proxy names in its header (None: no proxy configured, untrusted peer, or no header)."""
    proxy = settings.proxy
    if proxy is None or client_address not in proxy.trusted_proxies:
        return None
    value = next((v for k, v in headers.items() if k.lower() == proxy.header.lower()), "").strip()
    return Identity(value, "proxy") if value else None
