"""OAuth 2.0 connections that renew themselves (Xero, or any provider with the same grant types).

Once: the authorisation-code flow with PKCE (`billbridge auth xero`) stores the tokens and
the tenants the firm granted. Then unattended: `TokenManager.access_token` hands out the
access token, refreshing it shortly before it expires and again when the API answers 401.

A refresh token is single-use and the provider rotates it on every refresh, so the order
matters (docs/decisions/0026):
1. under the connection's cross-process lock, re-read the record (another process may have
   refreshed already: then its token is used, and nothing is spent);
2. mark the refresh as started and save (so an interrupted refresh is visible);
3. spend the refresh token;
4. save the new tokens atomically and durably, and only then use the access token.
A crash between 3 and 4 leaves the old refresh token on disk; providers that rotate
(Xero among them) keep the previous token valid for a grace period for exactly this case,
so the next process's refresh with it succeeds. A token the provider rejects (`invalid_grant`)
puts the connection in the "re-authorise" state: runs then stop at once with one line saying
`billbridge auth xero`, instead of calling the provider in a loop.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import httpx

from resources.http_retry import PermanentHTTPError, call_with_retries
from resources.token_store import ACTIVE, REAUTHORISE, Tenant, TokenRecord, TokenStore

CRASH_ENV = "BILLBRIDGE_CRASH_AT"  # test hook: SIGKILL at a named point (the crash tests)
REFRESH_MARGIN_S = 120.0  # refresh this long before the access token expires
XERO_SCOPES = (
    "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings.read"
)


class ReauthorisationRequired(RuntimeError):
    """The connection has no usable refresh token: a person must authorise it again."""


class OAuthConfigurationError(RuntimeError):
    """The app's client id or secret is missing or refused."""


@dataclass(frozen=True)
class OAuthApp:
    """Our registered app at one provider: its endpoints and where its credentials come from."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    connections_url: str
    scopes: str

    @classmethod
    def xero(cls) -> OAuthApp:
        """Xero's endpoints (overridable for the sandbox) and XERO_CLIENT_ID / XERO_CLIENT_SECRET."""
        client_id, client_secret = (
            os.environ.get("XERO_CLIENT_ID", ""),
            os.environ.get("XERO_CLIENT_SECRET", ""),
        )
        if not client_id or not client_secret:
            raise OAuthConfigurationError(
                "set XERO_CLIENT_ID and XERO_CLIENT_SECRET (the Xero app's credentials) in the environment "
                "or the secrets file"
            )
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            authorize_url=os.environ.get(
                "XERO_AUTHORIZE_URL", "https://login.xero.com/identity/connect/authorize"
            ),
            token_url=os.environ.get("XERO_TOKEN_URL", "https://identity.xero.com/connect/token"),
            connections_url=os.environ.get("XERO_CONNECTIONS_URL", "https://api.xero.com/connections"),
            scopes=os.environ.get("XERO_SCOPES", XERO_SCOPES),
        )


@dataclass(frozen=True)
class AuthorisationRequest:
    """The consent URL to open, and what the redirect must match."""

    url: str
    state: str
    code_verifier: str
    redirect_uri: str


def authorisation_request(app: OAuthApp, redirect_uri: str) -> AuthorisationRequest:
    """A consent URL with a fresh `state` (CSRF) and a PKCE S256 challenge."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "scope": app.scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return AuthorisationRequest(f"{app.authorize_url}?{query}", state, verifier, redirect_uri)


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _token_call(app: OAuthApp, form: dict[str, str]) -> dict[str, Any]:
    """POST to the token endpoint (HTTP Basic client authentication): the answer's JSON, or
    `{"_refused": {...}}` when the provider refused the grant; 5xx and timeouts are retried."""
    try:
        response = call_with_retries(
            lambda: httpx.post(app.token_url, data=form, auth=(app.client_id, app.client_secret), timeout=30),
            service="OAuth token endpoint",
            url=app.token_url,
            attempts=4,
        )
    except PermanentHTTPError as exc:
        return {"_refused": _error_of(exc.response)}
    return dict(response.json())


def _error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return {"status": response.status_code, "error": str(body.get("error") or "unknown_error")}


def exchange_code(
    app: OAuthApp, connection: str, request: AuthorisationRequest, code: str, now: float
) -> TokenRecord:
    """Trade an authorisation code for tokens and read the tenants it grants."""
    body = _token_call(
        app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        },
    )
    if "_refused" in body:
        raise OAuthConfigurationError(
            f"the provider refused the authorisation code: {body['_refused']['error']}"
        )
    record = TokenRecord(
        connection=connection,
        client_id=app.client_id,
        token_url=app.token_url,
        connections_url=app.connections_url,
        access_token=body["access_token"],
        access_expires_at=now + float(body.get("expires_in", 1800)),
        refresh_token=body["refresh_token"],
        scope=str(body.get("scope", "")),
        authorised_at=now,
    )
    return record.model_copy(update={"tenants": fetch_tenants(app.connections_url, record.access_token)})


def fetch_tenants(connections_url: str, access_token: str) -> list[Tenant]:
    """The organisations this access token may act for (Xero's GET /connections)."""
    response = httpx.get(connections_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=30)
    response.raise_for_status()
    return [
        Tenant(tenant_id=str(c["tenantId"]), name=str(c.get("tenantName") or "")) for c in response.json()
    ]


def _xero_app_of(record: TokenRecord) -> OAuthApp:
    """The app a record was authorised with: its client id and token URL, the secret from the environment."""
    return replace(OAuthApp.xero(), client_id=record.client_id, token_url=record.token_url)


class TokenManager:
    """Hands out access tokens for stored connections, refreshing them as the module docstring says."""

    def __init__(
        self,
        store: TokenStore | None = None,
        app: Callable[[TokenRecord], OAuthApp] | None = None,
        clock: Callable[[], float] = time.time,
        margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self.store = store or TokenStore()
        self._app = app or _xero_app_of
        self.clock = clock
        self.margin_s = margin_s

    def _usable(self, connection: str) -> TokenRecord:
        record = self.store.load(connection)
        if record is None:
            raise ReauthorisationRequired(
                f"connection {connection!r} was never authorised: run `billbridge auth xero`"
            )
        if record.state == REAUTHORISE:
            raise ReauthorisationRequired(
                f"connection {connection!r} needs re-authorising ({record.problem}): run `billbridge auth xero`"
            )
        return record

    def access_token(self, connection: str) -> str:
        """A valid access token, refreshed first when it expires within the margin."""
        record = self._usable(connection)
        if record.access_expires_at - self.clock() > self.margin_s:
            return record.access_token
        return self._refresh_unless(
            connection, lambda fresh: fresh.access_expires_at - self.clock() > self.margin_s
        )

    def after_rejection(self, connection: str, rejected: str) -> str:
        """A new access token after the API refused `rejected` (unless another process already replaced it)."""
        return self._refresh_unless(connection, lambda fresh: fresh.access_token != rejected)

    def refresh(self, connection: str) -> TokenRecord:
        """Refresh now, whatever the expiry (`billbridge auth refresh`)."""
        self._refresh_unless(connection, lambda fresh: False)
        return self._usable(connection)

    def _refresh_unless(self, connection: str, good_enough: Callable[[TokenRecord], bool]) -> str:
        with self.store.locked(connection):
            record = self._usable(connection)  # re-read: another process may have refreshed meanwhile
            if good_enough(record):
                return record.access_token
            return self._spend_refresh_token(record).access_token

    def _spend_refresh_token(self, record: TokenRecord) -> TokenRecord:
        interrupted = record.refresh_started_at is not None
        self.store.save(record.model_copy(update={"refresh_started_at": self.clock()}))
        body = _token_call(
            self._app(record), {"grant_type": "refresh_token", "refresh_token": record.refresh_token}
        )
        if "_refused" in body:
            return self._refused(record, body["_refused"], interrupted)
        _crash_point("token_refreshed")  # the provider has rotated the token; we have not saved it yet
        now = self.clock()
        fresh = record.model_copy(
            update={
                "access_token": body["access_token"],
                "access_expires_at": now + float(body.get("expires_in", 1800)),
                "refresh_token": body.get("refresh_token") or record.refresh_token,
                "last_refresh_at": now,
                "refresh_started_at": None,
                "state": ACTIVE,
                "problem": "",
            }
        )
        self.store.save(fresh)  # durable before the new access token is used or returned
        _crash_point("token_saved")
        return fresh

    def _refused(self, record: TokenRecord, refusal: dict[str, Any], interrupted: bool) -> TokenRecord:
        if refusal["error"] != "invalid_grant":
            self.store.save(record.model_copy(update={"refresh_started_at": None}))
            raise OAuthConfigurationError(
                f"connection {record.connection!r}: the token endpoint answered {refusal['status']} "
                f"{refusal['error']}: check the app's client id and secret"
            )
        why = "the provider rejected the refresh token (invalid_grant)"
        if interrupted:
            why += " after an interrupted refresh, past the provider's grace period"
        self.store.save(
            record.model_copy(update={"state": REAUTHORISE, "problem": why, "refresh_started_at": None})
        )
        raise ReauthorisationRequired(
            f"connection {record.connection!r} needs re-authorising ({why}): run `billbridge auth xero`"
        )


class RefreshingBearer(httpx.Auth):
    """httpx authentication: the connection's current access token, refreshed once on a 401."""

    def __init__(self, manager: TokenManager, connection: str) -> None:
        self.manager = manager
        self.connection = connection

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.manager.access_token(self.connection)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            # Revoked or expired early: nothing was done with this request, so sending it again is safe.
            request.headers["Authorization"] = (
                f"Bearer {self.manager.after_rejection(self.connection, token)}"
            )
            yield request


class StaticBearer(httpx.Auth):
    """httpx authentication with a fixed access token (pasted in, or a sandbox's)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


CONNECTION_ENV = "XERO_CONNECTION"
ACCESS_TOKEN_ENV = "XERO_ACCESS_TOKEN"


def bearer_auth(access_token: str = "", connection: str = "") -> httpx.Auth:
    """How a Xero call authenticates, decided at call time so no secret sits in Dagster's configuration:
    the named connection's self-renewing tokens, else the given token, else the environment's
    XERO_CONNECTION, else its XERO_ACCESS_TOKEN."""
    if connection or (not access_token and os.environ.get(CONNECTION_ENV)):
        return RefreshingBearer(TokenManager(), connection or os.environ[CONNECTION_ENV])
    token = access_token or os.environ.get(ACCESS_TOKEN_ENV, "")
    if not token:
        raise OAuthConfigurationError(
            f"no Xero credentials: set {CONNECTION_ENV} (after `billbridge auth xero`) or {ACCESS_TOKEN_ENV}"
        )
    return StaticBearer(token)


def unset_variables(names: Iterable[str]) -> list[str]:
    """The names not set in the environment; a token-store connection (XERO_CONNECTION) stands in
    for XERO_ACCESS_TOKEN."""
    stands_in = {"XERO_ACCESS_TOKEN"} if os.environ.get(CONNECTION_ENV) else set()
    return [name for name in names if not os.environ.get(name) and name not in stands_in]
