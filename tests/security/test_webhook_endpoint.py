"""The PM webhook endpoint under hostile clients (issue 16, found on main).

Raw sockets on loopback against the real endpoint and a real SQLite inbox: a `Content-Length`
of -1 or `abc`, a half-sent request, more connections than the server takes, a signature
header that is not ASCII, and a signed delivery replayed long after it was sent.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from pipelines.events_server import MAX_BODY_BYTES, EventsServer
from resources.event_inbox import EventInbox
from resources.http_limits import ServerLimits
from rules.pm_events import SIGNATURE_HEADER, sign

SECRET = "whsec-3f9a1c7e5b2d4086"
FAST = ServerLimits(
    max_body_bytes=MAX_BODY_BYTES, socket_timeout_s=1.0, request_deadline_s=1.0, max_connections=4
)


@pytest.fixture
def endpoint() -> Iterator[tuple[EventInbox, EventsServer]]:
    inbox = EventInbox()
    server = EventsServer(inbox, SECRET, limits=FAST).start()
    try:
        yield inbox, server
    finally:
        server.stop()


def _event(event_id: str = "evt-1") -> bytes:
    data = {"id": 7, "spent_date": "2026-09-03", "updated_at": "2026-11-01T10:00:00Z", "client": {"id": 5101}}
    return json.dumps({"id": event_id, "event": "time_entry.updated", "data": data}).encode()


def _connect(server: EventsServer) -> socket.socket:
    host, port = server._http._httpd.server_address[:2]
    return socket.create_connection((str(host), int(port)), timeout=10)


def _head(headers: dict[str, str]) -> bytes:
    lines = ["POST /webhooks/pm HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _answer(conn: socket.socket, timeout_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or the timeout passes)."""
    conn.settimeout(timeout_s)
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    except TimeoutError:
        pass
    return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def _status(answer: bytes) -> int:
    assert answer, "the server sent no answer"
    return int(answer.split(b" ", 2)[1])


def test_a_negative_content_length_is_refused_before_the_body_is_read(
    endpoint: tuple[EventInbox, EventsServer],
) -> None:
    inbox, server = endpoint
    big = json.dumps({"id": "big", "event": "time_entry.updated", "pad": "x" * (5 * MAX_BODY_BYTES)}).encode()
    with _connect(server) as conn:
        conn.sendall(_head({"Content-Length": "-1", SIGNATURE_HEADER: sign(SECRET, big)}))
        try:
            conn.sendall(big)  # the server must not wait for it: it may close before we finish
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        answer = _answer(conn)
    assert _status(answer) == 400
    assert b"Content-Length" in answer
    assert inbox.counts() == {}  # a signed 5 MB event is not stored past the 1 MB limit


@pytest.mark.parametrize("length", ["abc", "1e3", "+10", "10, 12"])
def test_a_malformed_content_length_is_answered_400(
    endpoint: tuple[EventInbox, EventsServer], length: str
) -> None:
    _, server = endpoint
    with _connect(server) as conn:
        conn.sendall(_head({"Content-Length": length}) + b"{}")
        assert _status(_answer(conn)) == 400


def test_a_chunked_body_is_refused_with_411(endpoint: tuple[EventInbox, EventsServer]) -> None:
    _, server = endpoint
    with _connect(server) as conn:
        conn.sendall(_head({"Transfer-Encoding": "chunked"}) + b"2\r\n{}\r\n0\r\n\r\n")
        assert _status(_answer(conn)) == 411


def test_a_non_ascii_signature_is_401_without_internals(endpoint: tuple[EventInbox, EventsServer]) -> None:
    inbox, server = endpoint
    body = _event()
    with _connect(server) as conn:
        conn.sendall(_head({"Content-Length": str(len(body)), SIGNATURE_HEADER: "sha256=é☃"}) + body)
        answer = _answer(conn)
    assert _status(answer) == 401
    assert b"Error" not in answer and b"Traceback" not in answer and b"compare_digest" not in answer
    assert inbox.counts() == {}


def test_a_half_sent_request_is_cut_off_at_the_deadline(endpoint: tuple[EventInbox, EventsServer]) -> None:
    _, server = endpoint
    with _connect(server) as conn:
        started = time.monotonic()
        conn.sendall(b"POST /webhooks/pm HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Trickle a byte at a time, faster than the socket timeout: only the deadline stops it.
        conn.settimeout(0.3)
        closed = False
        while time.monotonic() - started < 8 and not closed:
            try:
                conn.sendall(b"X")
                closed = conn.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        held = time.monotonic() - started
    assert closed and held < 4, f"a half-sent request held the connection for {held:.1f} s"


def test_connections_beyond_the_limit_get_503_at_once_and_service_resumes(
    endpoint: tuple[EventInbox, EventsServer],
) -> None:
    inbox, server = endpoint
    stalled = [_connect(server) for _ in range(FAST.max_connections or 0)]
    try:
        for conn in stalled:
            conn.sendall(b"POST /webhooks/pm HTTP/1.1\r\n")
        time.sleep(0.2)
        with _connect(server) as extra:
            started = time.monotonic()
            assert _status(_answer(extra, timeout_s=5)) == 503
            assert time.monotonic() - started < 1
        time.sleep((FAST.request_deadline_s or 0) + 1.0)  # the stalled ones are cut off ...
        body = _event("after-the-stall")
        answer = _post(server, body, sign(SECRET, body))  # ... and a real delivery gets in
        assert answer.status_code == 202
        assert inbox.counts() == {"accepted": 1}
    finally:
        for conn in stalled:
            conn.close()


def _post(server: EventsServer, body: bytes, signature: str) -> httpx.Response:
    return httpx.post(server.url, content=body, headers={SIGNATURE_HEADER: signature}, timeout=5)


def test_a_signature_without_a_signed_timestamp_is_refused(endpoint: tuple[EventInbox, EventsServer]) -> None:
    import hashlib
    import hmac

    inbox, server = endpoint
    body = _event()
    body_only = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = _post(server, body, body_only)
    assert answer.status_code == 401 and "t=<unix seconds>" in answer.json()["error"]
    assert inbox.counts() == {}


@pytest.mark.parametrize("age_s", [330, -330, 86_400])
def test_a_delivery_signed_outside_the_window_is_refused_as_a_replay(
    endpoint: tuple[EventInbox, EventsServer], age_s: int
) -> None:
    inbox, server = endpoint
    body = _event(f"captured-{age_s}")
    answer = _post(server, body, sign(SECRET, body, timestamp=int(time.time()) - age_s))
    assert answer.status_code == 401 and "stale or replayed" in answer.json()["error"]
    assert inbox.counts() == {}


def test_a_fresh_signature_over_a_changed_timestamp_fails(endpoint: tuple[EventInbox, EventsServer]) -> None:
    inbox, server = endpoint
    body = _event()
    old = int(time.time()) - 3600
    mac = sign(SECRET, body, timestamp=old).split(",sha256=")[1]
    answer = _post(server, body, f"t={int(time.time())},sha256={mac}")  # re-dated, not re-signed
    assert answer.status_code == 401 and "does not match" in answer.json()["error"]
    fresh = _post(server, body, sign(SECRET, body))
    assert fresh.status_code == 202
    assert inbox.counts() == {"accepted": 1}
