"""A small threaded JSON HTTP server with an optional exchange log.

Serves the PM webhook endpoint (`billbridge events serve`) and both sandboxes. Built on
the standard library's ThreadingHTTPServer rather than an ASGI stack: the sandboxes must
be able to misbehave at the socket level (drop a connection before reading the request,
or after committing but before answering), which a framework would hide.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from resources.http_limits import (
    BodyLengthError,
    BoundedThreadingHTTPServer,
    RequestDeadlines,
    ServerLimits,
    declared_body_length,
)

log = logging.getLogger("billbridge.http")


@dataclass
class Exchange:
    """One request and the response the sandbox gave, for contract tests and debugging."""

    method: str
    path: str
    query: dict[str, list[str]]
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""


@dataclass
class Request:
    """The parsed request a sandbox route receives."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    handler: BaseHTTPRequestHandler

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter (names are case-insensitive, as Xero's are)."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return default

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    """What a route answers. `drop` closes the socket without answering (fault injection)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, default=str).encode("utf-8")


Route = Callable[[Request], Response]


class JsonHTTPServer:
    """Serve `route` in a background thread; port 0 picks an ephemeral port.

    Every exchange is appended to `exchanges` when `record` is true, so contract tests
    can validate what was actually sent and answered on the wire. `limits` bound body size,
    slow clients and connections (`resources/http_limits.py`); a route that raises is
    answered 500 with no detail (the traceback goes to the log, never to the client).
    """

    def __init__(
        self,
        route: Route,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = False,
        limits: ServerLimits | None = None,
    ):
        self.route = route
        self.record = record
        self.limits = limits or ServerLimits()
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        deadlines = (
            RequestDeadlines(self.limits.request_deadline_s) if self.limits.request_deadline_s else None
        )
        self._deadlines = deadlines
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately; with Nagle's algorithm on, a small body
            # waits for the client's delayed ACK (~40 ms a request on Linux loopback).
            disable_nagle_algorithm = True
            timeout = server.limits.socket_timeout_s  # applied to the socket by StreamRequestHandler

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the exchange log is the record

            def handle_one_request(self) -> None:
                if deadlines is not None:
                    deadlines.arm(self.connection)
                try:
                    super().handle_one_request()
                finally:
                    if deadlines is not None:
                        deadlines.disarm(self.connection)

            def _read_body(self) -> bytes | None:
                """The declared body, or None when the request was answered (refused) or cut short."""
                try:
                    length = declared_body_length(self.headers, server.limits.max_body_bytes)
                except BodyLengthError as exc:
                    # Refused unread: the connection closes rather than drain a body of unknown size.
                    self.close_connection = True
                    self._write(Response(exc.status, {"error": str(exc)}))
                    return None
                body = self.rfile.read(length) if length else b""
                if deadlines is not None:
                    deadlines.disarm(self.connection)
                if len(body) < length:  # the client went away (or was cut off) mid-body
                    self.close_connection = True
                    return None
                return body

            def _handle(self) -> None:
                body = self._read_body()
                if body is None:
                    return
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                    handler=self,
                )
                try:
                    response = server.route(request)
                except Exception:  # a bug must answer, not hang the client, and not show its internals
                    log.exception("%s %s failed", request.method, request.path)
                    response = Response(500, {"error": "internal error"})
                if response.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the client may already be gone
                        self.connection.shutdown(2)
                    return
                payload = response.encoded()
                headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
                # Recorded before the answer is written: a client that has its answer must find
                # the exchange in the log (appending afterwards raced the test reading it).
                if server.record:
                    with server._lock:
                        server.exchanges.append(
                            Exchange(
                                method=request.method,
                                path=request.path,
                                query=request.query,
                                request_headers=request.headers,
                                request_body=body,
                                status=response.status,
                                response_headers=headers,
                                response_body=payload,
                            )
                        )
                self._write(response, headers, payload)

            def _write(
                self, response: Response, headers: dict[str, str] | None = None, payload: bytes | None = None
            ) -> None:
                payload = response.encoded() if payload is None else payload
                if headers is None:
                    headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
                self.send_response(response.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_PUT = _handle
            do_POST = _handle
            do_DELETE = _handle

        self._httpd = BoundedThreadingHTTPServer((host, port), Handler, self.limits.max_connections)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> JsonHTTPServer:
        """Start serving in a daemon thread and return self."""
        # A short poll interval: stop() waits for the serving loop to notice, up to one interval
        # (0.5 s by default, which would dominate a test suite that starts a server per test).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._deadlines is not None:
            self._deadlines.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread (for `billbridge sandbox up`)."""
        self._httpd.serve_forever()

    def __enter__(self) -> JsonHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
