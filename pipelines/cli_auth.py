"""`billbridge auth xero|status|refresh|rotate`: connections that renew themselves, and webhook secrets.

`auth xero` is the one step a person does: it prints (and opens) the provider's consent URL and
receives the authorisation code on a loopback redirect (`http://127.0.0.1:<port>/callback`,
which must be registered with the app), then stores the tokens and tenants encrypted. From then
on runs refresh on their own (resources/oauth.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import webbrowser
from datetime import UTC, datetime
from typing import Any

from pipelines.cli_args import one_line_errors
from resources.http_server import JsonHTTPServer, Request, Response
from resources.oauth import (
    OAuthApp,
    OAuthConfigurationError,
    ReauthorisationRequired,
    TokenManager,
    authorisation_request,
    exchange_code,
)
from resources.token_store import TokenRecord, TokenStore
from resources.webhook_secrets import WebhookSecrets

CALLBACK_PATH = "/callback"


class _Callback:
    """The loopback redirect target: keeps the first `code` and `state` it receives."""

    def __init__(self) -> None:
        self.query: dict[str, str] = {}
        self.arrived = threading.Event()

    def route(self, request: Request) -> Response:
        if request.path != CALLBACK_PATH or self.arrived.is_set():
            return Response(404, {"error": "not found"})
        self.query = {k: v[0] for k, v in request.query.items() if v}
        self.arrived.set()
        return Response(200, {"message": "billbridge is authorised; you can close this window"})


def cmd_auth_xero(args: argparse.Namespace) -> int:
    """Authorise a Xero connection once (consent in the browser, code on a loopback redirect)."""
    app = OAuthApp.xero()
    callback = _Callback()
    with JsonHTTPServer(callback.route, port=args.port) as server:
        request = authorisation_request(app, f"http://127.0.0.1:{server.port}{CALLBACK_PATH}")
        print(f"open this URL to authorise billbridge (waiting {args.timeout} s for the redirect):")
        print(f"  {request.url}")
        sys.stdout.flush()
        if not args.no_browser:
            webbrowser.open(request.url)
        if not callback.arrived.wait(args.timeout):
            print("billbridge auth xero: no redirect arrived in time; nothing stored", file=sys.stderr)
            return 1
    query = callback.query
    if query.get("state") != request.state:
        print(
            "billbridge auth xero: the redirect's state does not match (a forged redirect?)", file=sys.stderr
        )
        return 1
    if "code" not in query:
        print(f"billbridge auth xero: consent refused: {query.get('error', 'no code')}", file=sys.stderr)
        return 1
    record = exchange_code(app, args.connection, request, query["code"], now=time.time())
    TokenStore().save(record)
    tenants = ", ".join(f"{t.name or '?'} ({t.tenant_id})" for t in record.tenants) or "none"
    print(f"connection {args.connection!r} authorised; tenants: {tenants}")
    return 0


def _when(seconds: float | None, now: float) -> str:
    if seconds is None:
        return "never"
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    delta = int(seconds - now)
    return f"{stamp} (in {delta} s)" if delta >= 0 else f"{stamp} ({-delta} s ago)"


def _status_row(record: TokenRecord, now: float) -> dict[str, Any]:
    return {
        "connection": record.connection,
        "state": record.state,
        "problem": record.problem,
        "tenants": [f"{t.name} ({t.tenant_id})" for t in record.tenants],
        "access_token_expires": _when(record.access_expires_at, now),
        "last_refresh": _when(record.last_refresh_at, now),
        "authorised": _when(record.authorised_at, now),
        "interrupted_refresh": _when(record.refresh_started_at, now) if record.refresh_started_at else "",
    }


def cmd_auth_status(args: argparse.Namespace) -> int:
    """Each connection's state, tenants, expiry and last refresh; the webhook secrets' windows."""
    store, now = TokenStore(), time.time()
    rows = [_status_row(record, now) for name in store.connections() if (record := store.load(name))]
    webhook = [
        {
            "created": _when(s.created_at, now),
            "retires": _when(s.retires_at, now) if s.retires_at else "current",
        }
        for s in WebhookSecrets().stored()
    ]
    if args.json:
        print(json.dumps({"connections": rows, "webhook_secrets": webhook}, indent=2))
        return 0
    if not rows:
        print("no connections: run `billbridge auth xero`")
    for row in rows:
        state = row["state"].upper() + (f": {row['problem']}" if row["problem"] else "")
        print(f"{row['connection']}: {state}")
        print(f"  tenants: {', '.join(row['tenants']) or 'none'}")
        print(f"  access token expires {row['access_token_expires']}; last refresh {row['last_refresh']}")
        if row["interrupted_refresh"]:
            print(f"  a refresh was interrupted at {row['interrupted_refresh']}; the next run retries it")
    for secret in webhook:
        print(f"webhook secret created {secret['created']}: {secret['retires']}")
    return 0


def cmd_auth_refresh(args: argparse.Namespace) -> int:
    """Refresh a connection's tokens now."""
    record = TokenManager().refresh(args.connection)
    print(
        f"connection {args.connection!r} refreshed; access token expires {_when(record.access_expires_at, time.time())}"
    )
    return 0


def cmd_auth_rotate(args: argparse.Namespace) -> int:
    """Rotate the webhook signing secret; the old one keeps verifying for the overlap window."""
    fresh = WebhookSecrets().rotate(overlap_s=args.overlap_hours * 3600)
    print(
        f"new webhook secret (give it to the PM system; the old one verifies for {args.overlap_hours} h more):"
    )
    print(f"  {fresh.secret}")
    return 0


def _one_line(func: Any) -> Any:
    return one_line_errors(func, OAuthConfigurationError, ReauthorisationRequired, ValueError)


def register(subparsers: Any) -> None:
    """Add `billbridge auth ...`."""
    auth = subparsers.add_parser("auth", help="OAuth connections and webhook secrets")
    sub = auth.add_subparsers(dest="action", required=True)
    xero = sub.add_parser("xero", help="authorise a Xero connection (once; refreshes are automatic)")
    xero.add_argument("--connection", default="xero", help="name of the connection (default xero)")
    xero.add_argument("--port", type=int, default=8714, help="loopback port of the redirect URI")
    xero.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the redirect")
    xero.add_argument("--no-browser", action="store_true", help="print the URL only")
    xero.set_defaults(func=_one_line(cmd_auth_xero))
    status = sub.add_parser("status", help="connections, tenants, expiry, last refresh; webhook secrets")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_one_line(cmd_auth_status))
    refresh = sub.add_parser("refresh", help="refresh a connection's tokens now")
    refresh.add_argument("--connection", default="xero")
    refresh.set_defaults(func=_one_line(cmd_auth_refresh))
    rotate = sub.add_parser("rotate", help="rotate the webhook secret with an overlap window")
    rotate.add_argument("--overlap-hours", type=float, default=24.0)
    rotate.set_defaults(func=_one_line(cmd_auth_rotate))
