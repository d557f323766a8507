"""`billbridge events serve|list`: the webhook inbox from the command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any


def cmd_events_serve(args: argparse.Namespace) -> int:
    """Serve the webhook endpoint until interrupted."""
    from pipelines.events_server import SECRET_ENV, EventsServer
    from resources.event_inbox import EventInbox
    from resources.webhook_secrets import WebhookSecrets

    secrets = WebhookSecrets()
    if not secrets.verifying():
        print(
            f"billbridge events serve: set {SECRET_ENV} to the secret the PM system signs with "
            "(or create one with `billbridge auth rotate`)",
            file=sys.stderr,
        )
        return 2
    inbox = EventInbox()
    server = EventsServer(inbox, secrets.verifying, host=args.host, port=args.port)
    print(f"webhook endpoint {server.url}  inbox {inbox.path}")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_events_list(args: argparse.Namespace) -> int:
    """Counts by status and the latest rejected events with their reasons."""
    from resources.event_inbox import EventInbox

    inbox = EventInbox()
    counts = inbox.counts()
    print("events: " + (", ".join(f"{n} {status}" for status, n in counts.items()) or "none"))
    for event_id, event_type, reason in inbox.rejected(args.limit):
        print(f"  rejected {event_id[:40]:40} {event_type or '-':22} {reason}")
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge events ...`."""
    events = subparsers.add_parser("events", help="PM change notifications (webhook inbox)")
    sub = events.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="accept signed PM webhooks into the inbox until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8713)
    serve.set_defaults(func=cmd_events_serve)
    listing = sub.add_parser("list", help="events by status and the latest rejections")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=cmd_events_list)
