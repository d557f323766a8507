"""What keeps a small threaded HTTP server alive when clients misbehave on purpose.

The standard library's ThreadingHTTPServer trusts its clients: a thread per connection with
no limit, no socket timeout, and a request may take forever to arrive. An endpoint open to
the internet (the PM webhook) needs four limits, collected in `ServerLimits`:

* `max_body_bytes`: a declared body above it is refused unread (413), and a body that is not
  declared by one plain decimal `Content-Length` is refused (400 or 411) instead of being read
  "to the end of the stream";
* `socket_timeout_s`: one read or write that stalls that long ends the connection;
* `request_deadline_s`: the whole request (request line, headers, body) must arrive within it,
  however slowly it trickles in (a socket timeout alone restarts on every byte);
* `max_connections`: connections beyond it are answered 503 at once, without a thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

_BUSY_BODY = b'{"error": "server is busy"}'
_REFUSED_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n".encode()
    + b"Connection: close\r\nRetry-After: 1\r\n\r\n"
    + _BUSY_BODY
)


@dataclass(frozen=True)
class ServerLimits:
    """Limits of one server; None means unlimited (the local sandboxes, which inject faults)."""

    max_body_bytes: int | None = None
    socket_timeout_s: float | None = None
    request_deadline_s: float | None = None
    max_connections: int | None = None


class BodyLengthError(ValueError):
    """The request's body length is missing, malformed or too large: `status` says which answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def declared_body_length(headers: Any, max_body_bytes: int | None) -> int:
    """The body length a request declares, checked before a byte of it is read.

    Chunked or other transfer codings get 411 (the body must be declared up front), a
    `Content-Length` that is not one plain decimal number (negative, `abc`, two different
    values) 400, and a length over the limit 413.
    """
    if headers.get("Transfer-Encoding"):
        raise BodyLengthError(411, "send the body with a Content-Length, not a Transfer-Encoding")
    values = {v.strip() for v in headers.get_all("Content-Length") or []}
    if not values:
        return 0
    if len(values) > 1 or not next(iter(values)).isdigit() or not next(iter(values)).isascii():
        raise BodyLengthError(400, "Content-Length must be one non-negative decimal number")
    length = int(next(iter(values)))
    if max_body_bytes is not None and length > max_body_bytes:
        raise BodyLengthError(413, f"body too large (limit {max_body_bytes} bytes)")
    return length


class RequestDeadlines:
    """One watchdog thread that ends connections whose request has not arrived in time.

    A handler arms a deadline before reading a request and disarms it once the body is in;
    the watchdog shuts the socket of a connection past its deadline, which wakes the handler's
    blocked read with end-of-stream. No 408 is written: on an idle keep-alive connection the
    client could take it for the answer to the request it is just sending.
    """

    def __init__(self, deadline_s: float, tick_s: float = 0.1):
        self.deadline_s = deadline_s
        self._tick_s = tick_s
        self._due: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="http-request-deadlines", daemon=True)
        self._thread.start()

    def arm(self, connection: socket.socket) -> None:
        """Start the clock for the next request on `connection`."""
        with self._lock:
            self._due[connection] = time.monotonic() + self.deadline_s

    def disarm(self, connection: socket.socket) -> None:
        """The request has arrived (or the connection is over): stop its clock."""
        with self._lock:
            self._due.pop(connection, None)

    def stop(self) -> None:
        """Stop the watchdog thread."""
        self._stopped.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stopped.wait(self._tick_s):
            now = time.monotonic()
            with self._lock:
                late = [c for c, due in self._due.items() if due <= now]
                for connection in late:
                    del self._due[connection]
            for connection in late:
                with contextlib.suppress(OSError):  # the client may be gone already
                    connection.shutdown(socket.SHUT_RDWR)


class BoundedThreadingHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that runs at most `max_connections` handler threads at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int | None):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections) if max_connections else None

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._slots is not None and not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_REFUSED_BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self._slots is not None:
                self._slots.release()
