"""`XeroSandbox`: the accounting sandbox served on loopback, its lifecycle, and the inspection helpers tests use.

Every request passes, in order: the API base, authentication, the tenant, request counting,
`Content-Encoding`, an injected fault, the rate limits; only then is it dispatched (`routes.py`).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from resources.http_server import Exchange, JsonHTTPServer, Request, Response
from sandbox.xero.answers import API_BASE, ERR_POST_DATA, api_error, problem
from sandbox.xero.books import Books, WriteHandler
from sandbox.xero.faults import Fault, FaultQueue, fault_response
from sandbox.xero.idempotency import run_write
from sandbox.xero.ledger import Ledger
from sandbox.xero.limits import LimitSettings, RateLimits, rate_limited
from sandbox.xero.oauth import XeroIdentity
from sandbox.xero.routes import dispatch


class XeroSandbox:
    """The accounting sandbox on 127.0.0.1; `url` is the API base (`http://127.0.0.1:PORT/api.xro/2.0`).

    `tenants` are the accepted `Xero-tenant-id` values, each a separate ledger in the SQLite file
    at `db_path` (":memory:" for a throwaway one). Limits set to None are disabled.
    `base_currencies` (tenant -> ISO code) fixes CurrencyRate at 1 for invoices in that currency.
    `clock` (seconds since the epoch) drives rate windows, the idempotency window and timestamps.
    """

    def __init__(
        self,
        tenants: Iterable[str],
        token: str = "demo-xero-token",
        db_path: str | Path = ":memory:",
        port: int = 0,
        record: bool = False,
        minute_limit: int | None = 60,
        day_limit: int | None = 5000,
        concurrent_limit: int | None = 5,
        *,
        app_minute_limit: int | None = 10_000,
        idempotency_window_s: float = 24 * 3600.0,
        base_currencies: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        identity: XeroIdentity | None = None,
    ):
        self.tenants = frozenset(tenants)
        if not self.tenants:
            raise ValueError("XeroSandbox needs at least one tenant id")
        # Tenant ids are GUIDs, which clients may send in either case; ledgers use the configured form.
        self._tenant_by_key = {tenant.lower(): tenant for tenant in self.tenants}
        self.token = token
        self.identity = identity  # the OAuth provider (sandbox/xero/oauth.py): its tokens are accepted too
        self.idempotency_window_s = idempotency_window_s
        self.rate_limited_count = 0
        self._books = Books(Ledger(db_path), clock, dict(base_currencies or {}))
        limits = LimitSettings(minute_limit, day_limit, concurrent_limit, app_minute_limit)
        self._limits = RateLimits(limits, clock)
        self._faults = FaultQueue()
        self._counts_lock = threading.Lock()
        self._requests: dict[str, int] = {}
        self._server = JsonHTTPServer(self._route, host=host, port=port, record=record)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def base_currencies(self) -> dict[str, str]:
        """Tenant -> base currency code, for the tenants configured with one."""
        return self._books.base_currencies

    @property
    def port(self) -> int:
        """The TCP port served on."""
        return self._server.port

    @property
    def url(self) -> str:
        """The API base URL clients use: `http://127.0.0.1:PORT/api.xro/2.0`."""
        return self._server.url + API_BASE

    @property
    def exchanges(self) -> list[Exchange]:
        """Every answered exchange, when constructed with record=True."""
        return self._server.exchanges

    def start(self) -> XeroSandbox:
        """Serve in a background thread and return self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving. The ledger stays readable (documents(), contacts()) until close()."""
        self._server.stop()

    def close(self) -> None:
        """Close the SQLite connection (a file ledger persists; an in-memory one is gone)."""
        self._books.ledger.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread."""
        self._server.serve_forever()

    def __enter__(self) -> XeroSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and inspection -----------------------------------------------------------------

    @property
    def fired_faults(self) -> list[tuple[Fault, str, str]]:
        """Faults that fired, as (fault, method, path below the API base), in firing order."""
        return self._faults.fired

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is consumed by the first later request it matches."""
        self._faults.add(faults)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self._faults.clear()

    def pending_faults(self) -> list[Fault]:
        """Faults queued and not yet consumed."""
        return self._faults.pending()

    def set_lock_dates(
        self, tenant: str, period_lock: date | None = None, end_of_year_lock: date | None = None
    ) -> None:
        """Set the organisation's PeriodLockDate and EndOfYearLockDate (None clears one)."""
        self._books.lock_dates[tenant] = (period_lock, end_of_year_lock)

    def documents(self, tenant: str, type: str | None = "ACCREC") -> list[dict[str, Any]]:
        """Stored documents of a tenant in creation order (amounts as Decimal); type=None for all.

        Types: ACCREC, ACCPAY (invoices), ACCRECCREDIT, ACCPAYCREDIT (credit notes), MANUALJOURNAL.
        """
        return self._books.ledger.documents(tenant, type)

    def transactions(self, tenant: str, collection: str) -> list[dict[str, Any]]:
        """Stored payments, bank transactions, overpayments or prepayments of a tenant in creation order.

        `collection` as the API names it: Payments, BankTransactions, Overpayments, Prepayments.
        """
        return self._books.ledger.transactions(tenant, collection)

    def contacts(self, tenant: str) -> list[dict[str, Any]]:
        """Stored contacts of a tenant in creation order."""
        return self._books.ledger.contacts(tenant)

    def request_count(self, tenant: str) -> int:
        """Requests that passed authentication for this tenant (including refused and faulted ones)."""
        with self._counts_lock:
            return self._requests.get(tenant, 0)

    def admitted_count(self, tenant: str) -> int:
        """Calls of this tenant that passed the rate limits (what its minute and day limits count)."""
        return self._limits.admitted(tenant)

    # -- the request pipeline ------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        if self.identity is not None and (answer := self.identity.route(request)) is not None:
            return answer
        if not (request.path == API_BASE or request.path.startswith(API_BASE + "/")):
            return problem(404, "NotFound", f"No resource at {request.path}; the API is under {API_BASE}")
        resource = request.path[len(API_BASE) :].rstrip("/") or "/"
        tenant_or_refusal = self._authenticate(request)
        if isinstance(tenant_or_refusal, Response):
            return tenant_or_refusal
        tenant = tenant_or_refusal
        with self._counts_lock:
            self._requests[tenant] = self._requests.get(tenant, 0) + 1
        refusal = _decode_body(request)
        if refusal is not None:
            return refusal
        fault = self._faults.take(request.method, resource, tenant)
        if fault is not None and fault.kind == "drop_before":
            return Response(drop=True)
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        return self._admitted(request, resource, tenant, fault)

    def _authenticate(self, request: Request) -> str | Response:
        """The configured tenant this request may act for, or the 401/403 Xero answers."""
        scheme, _, bearer = (request.header("Authorization") or "").partition(" ")
        issued = self.identity is not None and self.identity.token_valid(bearer)
        if scheme != "Bearer" or (bearer != self.token and not issued):
            response = problem(401, "Unauthorized", "AuthenticationUnsuccessful")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        tenant = self._tenant_by_key.get((request.header("Xero-tenant-id") or "").strip().lower())
        if tenant is None:
            return problem(403, "Forbidden", "AuthorizationUnsuccessful")
        return tenant

    def _admitted(self, request: Request, resource: str, tenant: str, fault: Fault | None) -> Response:
        """Pass the rate limits, then process (misbehaving as the fault says) and answer."""
        admission = self._limits.admit(tenant)
        if admission.problem is not None:
            with self._counts_lock:
                self.rate_limited_count += 1
            return rate_limited(admission)
        try:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.seconds)
            response = dispatch(self._books, request, resource, tenant, self._run_write)
            if fault is not None and fault.kind == "duplicate":
                response = dispatch(self._books, request, resource, tenant, self._run_write)
            if fault is not None and fault.kind == "drop_after_commit":
                return Response(drop=True)
        finally:
            self._limits.release(tenant)
        response.headers.update(admission.headers)
        return response

    def _run_write(self, request: Request, tenant: str, handler: WriteHandler) -> Response:
        return run_write(self._books, request, tenant, handler, self.idempotency_window_s)


def _decode_body(request: Request) -> Response | None:
    """Decompress a gzip body in place; None when the body is usable, else the refusal."""
    encoding = (request.header("Content-Encoding") or "identity").strip().lower()
    if encoding == "gzip":
        try:
            request.body = gzip.decompress(request.body)
        except (OSError, EOFError) as exc:
            return api_error(400, ERR_POST_DATA, f"Content-Encoding gzip but the body is not gzip: {exc}")
    elif encoding != "identity":
        return problem(415, "UnsupportedMediaType", f"Content-Encoding {encoding} is not supported")
    return None
