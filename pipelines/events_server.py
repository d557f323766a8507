"""`billbridge events serve`: the HTTP endpoint that takes PM change notifications into the inbox.

POST /webhooks/pm with the signature header: 401 and nothing stored when the signature is
wrong; otherwise the event is judged and stored once by id (accepted, or rejected with the
reason) and answered 202, so the sender stops retrying even for a body we cannot use:
retrying it would not make it better, and the rejection is visible in `billbridge report`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from resources.access_config import current_access
from resources.audit_log import AuditEvent, AuditLog
from resources.configuration import current_config
from resources.event_inbox import EventInbox
from resources.http_limits import ServerLimits
from resources.http_server import JsonHTTPServer, Request, Response
from resources.identity import proxy_identity
from resources.webhook_secrets import SECRET_ENV
from rules.access import AccessPolicy, Permission
from rules.pm_events import SIGNATURE_HEADER, judge, signature_problem
from rules.routing import EntityRoutes

WEBHOOK_PATH = "/webhooks/pm"
MAX_BODY_BYTES = 1_000_000
# An endpoint open to the PM system's network: bounded bodies, time and connections.
ENDPOINT_LIMITS = ServerLimits(
    max_body_bytes=MAX_BODY_BYTES, socket_timeout_s=10.0, request_deadline_s=15.0, max_connections=32
)


class EventsServer:
    """The webhook endpoint on `host:port` (port 0: an ephemeral one), storing into `inbox`.

    `secrets` is the shared secret, or a function returning every secret that verifies right
    now (several during a rotation's overlap window; read on each delivery, so a rotation
    takes effect without a restart). When the access file names an authenticating proxy,
    deliveries must also come through it as a user holding `receive_events` (403 otherwise,
    audited); without one, the signature alone authenticates the PM system.
    """

    def __init__(
        self,
        inbox: EventInbox,
        secrets: str | Callable[[], Sequence[str]],
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits = ENDPOINT_LIMITS,
        access: AccessPolicy | None = None,
    ) -> None:
        if isinstance(secrets, str):
            fixed = (secrets,)
            secrets = lambda: fixed  # noqa: E731
        if not any(secrets()):
            raise ValueError(f"a webhook secret is required (set {SECRET_ENV})")
        self.inbox = inbox
        self.secrets = secrets
        self.access = access or current_access()
        self.routes = EntityRoutes.from_config(current_config())
        self._http = JsonHTTPServer(self._route, host=host, port=port, limits=limits)

    def _route(self, request: Request) -> Response:
        if request.method != "POST" or request.path != WEBHOOK_PATH:
            return Response(404, {"error": "not found"})
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        status, answer = self.receive(request.body, request.header(SIGNATURE_HEADER))
        return Response(status, answer)

    def _refusal(self, request: Request) -> Response | None:
        """403 when a configured proxy did not vouch for a user holding `receive_events`."""
        settings = self.access.settings
        if not self.access.restricted or settings.proxy is None:
            return None
        identity = proxy_identity(settings, request.headers, str(request.handler.client_address[0]))
        decision = self.access.decide(
            identity.user if identity else "(no proxy identity)", Permission.RECEIVE_EVENTS
        )
        if decision.allowed:
            return None
        AuditLog().append(
            AuditEvent(
                decision.user, "events.receive", WEBHOOK_PATH, "refused", {"permission": "receive_events"}
            )
        )
        return Response(403, {"error": f"refused: {decision.refusal()}"})

    def receive(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Verify, judge and store one delivery; the HTTP status and answer body."""
        problem = signature_problem(self.secrets(), body, signature, now=time.time())
        if problem is not None:
            return 401, {"error": f"invalid signature: {problem}"}
        event = judge(body, self.routes)
        stored = self.inbox.store(
            event_id=event.event_id,
            event_type=event.event_type,
            body=body.decode("utf-8", errors="replace"),
            status=event.status,
            reason=event.reason,
            record_kind=event.record_kind,
            record_id=event.record_id,
            updated_at=event.updated_at,
            content_hash=event.content_hash,
            entity=event.entity,
            days=event.days,
        )
        return 202, {"id": event.event_id, "status": event.status, "duplicate": not stored}

    @property
    def url(self) -> str:
        """The webhook URL to give the PM system."""
        host, port = self._http._httpd.server_address[:2]
        return f"http://{host!s}:{port}{WEBHOOK_PATH}"

    def start(self) -> EventsServer:
        """Serve in a daemon thread; return self."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._http.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._http.serve_forever()
