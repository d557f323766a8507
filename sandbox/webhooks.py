"""Change notifications from the PM sandbox: HMAC-SHA256 signed, retried, sometimes delivered twice.

Harvest itself has no webhooks; PM tools that do (and integration platforms in front of
Harvest) behave like this sender, which is what the inbox must survive: at-least-once
delivery, so a notification can arrive twice, and retries after a failed or slow answer.

Body: `{"id", "event", "occurred_at", "data", "previous"}` with `event` such as
`time_entry.updated`; `data` is the record as the API would list it and `previous` the
fields that changed (so a move to another day also re-syncs the day it left).
Header `X-Billbridge-Signature: t=<unix seconds>,sha256=<hex HMAC-SHA256 of "<t>." + the raw body
under the shared secret>` (`rules.pm_events.sign`): the send time is signed, so a replay is refused.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from rules.pm_events import SIGNATURE_HEADER, sign

# Resource kind (the API's list name) -> the singular used in event names.
EVENT_SUBJECTS = {
    "time_entries": "time_entry",
    "expenses": "expense",
    "projects": "project",
    "clients": "client",
    "tasks": "task",
    "users": "user",
}


@dataclass
class WebhookSender:
    """Deliver notifications to `url` from a background thread, in order, at least once.

    A delivery that fails (connection error or a non-2xx answer other than 401) is retried up
    to `max_attempts` times with a short backoff; after a success, a fraction `duplicate_rate`
    of notifications is delivered a second time, as real senders do after a lost ack.
    """

    url: str
    secret: str
    max_attempts: int = 4
    backoff_s: float = 0.05
    duplicate_rate: float = 0.0
    seed: int = 0
    delivered: list[str] = field(default_factory=list)  # event ids, one per accepted delivery
    failed: list[str] = field(default_factory=list)  # event ids given up on

    def __post_init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._random = random.Random(self.seed)
        self._thread = threading.Thread(target=self._run, name="pm-webhooks", daemon=True)
        self._thread.start()

    def notify(self, kind: str, action: str, record: dict[str, Any], previous: dict[str, Any]) -> str:
        """Queue one notification about `record` (of list `kind`); returns its event id."""
        event_id = str(uuid.uuid4())
        subject = EVENT_SUBJECTS.get(kind, kind)
        body = {
            "id": event_id,
            "event": f"{subject}.{action}",
            "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": record,
            "previous": previous,
        }
        self._queue.put(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return event_id

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every queued notification was delivered or given up on."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._queue.unfinished_tasks:
            raise TimeoutError(f"{self._queue.unfinished_tasks} webhook(s) still pending after {timeout_s} s")

    def close(self) -> None:
        """Stop the delivery thread after the queue drains."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                body = self._queue.get()
                try:
                    if body is None:
                        return
                    event_id = json.loads(body)["id"]
                    if self._deliver(client, body):
                        self.delivered.append(event_id)
                        if self._random.random() < self.duplicate_rate and self._deliver(client, body):
                            self.delivered.append(event_id)
                    else:
                        self.failed.append(event_id)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: httpx.Client, body: bytes) -> bool:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        for attempt in range(self.max_attempts):
            try:
                response = client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.is_success:
                return True
            if response is not None and response.status_code == 401:
                return False  # a wrong secret does not get better by retrying
            time.sleep(self.backoff_s * (2**attempt))
        return False
