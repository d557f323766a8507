"""The accounting sandbox's OAuth 2.0 provider, behaving as Xero's identity service does.

* `GET /identity/connect/authorize`: the consent page. The sandbox consents at once (there is
  no person to click) and redirects to the loopback `redirect_uri` with a single-use `code`
  and the caller's `state`; only registered clients and loopback redirect URIs are accepted.
* `POST /connect/token` (HTTP Basic client authentication): `authorization_code` (with the
  PKCE verifier) and `refresh_token` grants. Access tokens expire after `access_ttl_s` (Xero:
  30 minutes). Refresh tokens rotate on every use; the one just replaced stays usable for
  `grace_s` (Xero: 30 minutes) so a client that lost the answer can try again, and any
  refresh token expires after `refresh_ttl_s` (Xero: 60 days). Anything else: 400
  `invalid_grant`; a wrong client: 401 `invalid_client`.
* `GET /connections`: the tenants the access token may act for.

`token_valid` is what the API asks before serving a request. Time comes from `clock`, so
tests move it instead of sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from resources.http_server import Request, Response

AUTHORIZE_PATH = "/identity/connect/authorize"
TOKEN_PATH = "/connect/token"
CONNECTIONS_PATH = "/connections"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


@dataclass
class _RefreshToken:
    client_id: str
    issued_at: float
    superseded_at: float | None = None
    revoked: bool = False


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    expires_at: float


@dataclass(frozen=True)
class TokenLifetimes:
    """How long each token lives, in seconds (Xero's by default)."""

    access_ttl_s: float = 1800.0
    refresh_ttl_s: float = 60 * 86400.0
    grace_s: float = 1800.0


def _invalid(error: str, status: int = 400) -> Response:
    return Response(status, {"error": error})


class XeroIdentity:
    """Authorisation codes, access tokens and rotating refresh tokens for registered clients."""

    def __init__(
        self,
        tenants: Mapping[str, str],
        clients: Mapping[str, str],
        lifetimes: TokenLifetimes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenants = dict(tenants)  # tenant id -> organisation name
        self.clients = dict(clients)  # client id -> client secret
        self.lifetimes = lifetimes or TokenLifetimes()
        self.clock = clock
        self.refreshes = 0  # refresh grants answered with new tokens
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, float] = {}  # access token -> expiry
        self._refresh: dict[str, _RefreshToken] = {}

    def route(self, request: Request) -> Response | None:
        """The answer for an identity path, or None when the path is not one of ours."""
        handlers = {
            ("GET", AUTHORIZE_PATH): self._authorize,
            ("POST", TOKEN_PATH): self._token,
            ("GET", CONNECTIONS_PATH): self._connections,
        }
        handler = handlers.get((request.method, request.path.rstrip("/")))
        return handler(request) if handler else None

    def token_valid(self, token: str) -> bool:
        """Whether `token` is an unexpired access token this provider issued."""
        with self._lock:
            expiry = self._access.get(token)
        return expiry is not None and self.clock() < expiry

    def revoke_all(self) -> None:
        """The firm disconnects the app in the provider's settings: every refresh token stops working."""
        with self._lock:
            for token in self._refresh.values():
                token.revoked = True

    # -- endpoints --------------------------------------------------------------------------

    def _authorize(self, request: Request) -> Response:
        client_id, redirect_uri = request.param("client_id") or "", request.param("redirect_uri") or ""
        if client_id not in self.clients:
            return _invalid("unauthorized_client")
        if urlsplit(redirect_uri).hostname not in {h.strip("[]") for h in LOOPBACK_HOSTS}:
            return _invalid("invalid_request: redirect_uri must be a registered loopback URI")
        if request.param("response_type") != "code" or request.param("code_challenge_method") != "S256":
            return _invalid("invalid_request: response_type=code with an S256 code_challenge")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id, redirect_uri, request.param("code_challenge") or "", self.clock() + 300
            )
        location = f"{redirect_uri}?{urlencode({'code': code, 'state': request.param('state') or ''})}"
        return Response(302, b"", headers={"Location": location})

    def _client(self, request: Request) -> str | None:
        scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode("utf-8").partition(":")
        except ValueError:
            return None
        known = self.clients.get(client_id)
        ok = scheme.lower() == "basic" and known is not None and secrets.compare_digest(known, secret)
        return client_id if ok else None

    def _token(self, request: Request) -> Response:
        client_id = self._client(request)
        if client_id is None:
            return _invalid("invalid_client", 401)
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(client_id, form)
        if grant == "refresh_token":
            return self._refresh_grant(client_id, form.get("refresh_token", ""))
        return _invalid("unsupported_grant_type")

    def _code_grant(self, client_id: str, form: dict[str, str]) -> Response:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)  # single use, whatever the outcome
        verifier = form.get("code_verifier", "").encode("ascii", errors="replace")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if (
            code is None
            or code.client_id != client_id
            or code.redirect_uri != form.get("redirect_uri")
            or code.expires_at < self.clock()
            or not secrets.compare_digest(code.challenge, challenge)
        ):
            return _invalid("invalid_grant")
        return self._issue(client_id)

    def _refresh_grant(self, client_id: str, presented: str) -> Response:
        now = self.clock()
        with self._lock:
            token = self._refresh.get(presented)
            usable = (
                token is not None
                and token.client_id == client_id
                and not token.revoked
                and now < token.issued_at + self.lifetimes.refresh_ttl_s
                and (token.superseded_at is None or now < token.superseded_at + self.lifetimes.grace_s)
            )
            if not usable or token is None:
                return _invalid("invalid_grant")
            if token.superseded_at is None:
                token.superseded_at = now
            self.refreshes += 1
        return self._issue(client_id)

    def _issue(self, client_id: str) -> Response:
        access, refresh, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock()
        with self._lock:
            self._access[access] = now + self.lifetimes.access_ttl_s
            self._refresh[refresh] = _RefreshToken(client_id, now)
        body = {
            "access_token": access,
            "expires_in": int(self.lifetimes.access_ttl_s),
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "openid offline_access accounting.transactions accounting.contacts",
        }
        return Response(200, body)

    def _connections(self, request: Request) -> Response:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not self.token_valid(token):
            return _invalid("invalid_token", 401)
        return Response(
            200,
            [
                {
                    "id": f"conn-{tenant_id}",
                    "tenantId": tenant_id,
                    "tenantType": "ORGANISATION",
                    "tenantName": name,
                }
                for tenant_id, name in self.tenants.items()
            ],
        )
