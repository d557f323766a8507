"""The accounting sandbox: a loopback server honouring the Xero Accounting API contract for Contacts,
Invoices, CreditNotes (with Allocations), ManualJournals and the Organisation's lock dates.

What it implements, and how closely (the contract is `contracts/xero_accounting.yaml`, base path
`/api.xro/2.0`; provider facts the file does not carry are in `contracts/README.md`):

- Auth: `Authorization: Bearer TOKEN` (else 401) and a configured `Xero-tenant-id` (else 403), with
  Xero's problem-JSON bodies. Each tenant is a separate ledger.
- `/Contacts`: list (`where`, `page`, `IDs`), create (PUT/POST; `Name` required and unique per tenant),
  `/Contacts/{ContactID}`.
- `/Invoices`: create (PUT/POST, at most 50 per request) with Xero's validation and arithmetic, list
  (`where`, including `InvoiceNumber.StartsWith("...")`, `page`, `pageSize`, `IDs`, `InvoiceNumbers`,
  `ContactIDs`, `Statuses`), `/Invoices/{InvoiceID}`. Request bodies may be sent with `Content-Encoding: gzip`.
  `summarizeErrors` (default true, as Xero behaves, although the spec file says false), `unitdp`,
  and `Idempotency-Key` (at most 128 characters; replays within `idempotency_window_s` answer the
  original response; the same key with another request is a 400).
- `/CreditNotes`: create (ACCRECCREDIT/ACCPAYCREDIT, same validation and arithmetic as invoices, no
  DueDate), list (`where` on CreditNoteNumber, Reference, Type, Status...), `/CreditNotes/{id}`, and
  `PUT /CreditNotes/{id}/Allocations`: an authorised credit note allocated to an authorised invoice of
  the same contact and currency, never more than the remaining credit or the amount due.
- `/ManualJournals`: create (Narration required, two or more lines with AccountCode, balancing to
  zero), list (`where` on Narration, including `Narration.StartsWith`), `/ManualJournals/{id}`.
- `/Organisation`: the tenant's PeriodLockDate and EndOfYearLockDate (set with `set_lock_dates`); a
  non-draft document dated on or before the later of them is refused, as Xero refuses it.
- Amounts are `Decimal` end to end: requests are parsed with `parse_float=Decimal` and answers write
  every amount as a JSON number with its exact decimal digits (never through a float).
- Rate limits per tenant (rolling minute, rolling day, in flight) and app-wide per minute, with Xero's
  429 headers; every answer carries the remaining-calls headers.
- Fault injection for exactly-once tests (`inject(Fault(...))`) and inspection helpers.

Deliberate differences from the real service (so nobody mistakes the sandbox for the oracle):

- Updates are not implemented: an invoice or contact element carrying an ID is rejected with a
  validation error instead of updating (real Xero's POST updates by InvoiceID, and by InvoiceNumber).
- InvoiceNumber is not required to be unique (a tenant may allow duplicates; the client must prove
  its own exactly-once), but `where=InvoiceNumber=="X"` and `InvoiceNumbers=` find every copy.
- There is no chart of accounts: `AccountCode` is stored as given; a line without `TaxType` is taxed
  as `NONE`. Tax rates come from `TAX_RATES` below, not from a tenant's TaxRates.
- A supplied `TaxAmount` overrides the computed one, as Xero documents ("can be overriden if the
  calculated TaxAmount is not correct"), but only within one minor unit (`CENT`: the sandbox books every
  currency in cents) of the sandbox's own per-line half-up figure; the
  given amount is then booked. That tolerance is the sandbox's stand-in for Xero's behaviour: it is
  what per-invoice tax rounding needs (docs/decisions/0009), and a larger difference means the
  client's tax rule disagrees with the ledger's, which we want to see loudly (a ValidationError), not booked.
- String comparisons in `where` are case-insensitive (as Xero's are in practice); `order`,
  `If-Modified-Since`, `includeArchived`, `createdByMyApp`, `summaryOnly` and `searchTerm` are ignored.
- A foreign-currency invoice without `CurrencyRate` gets rate 1 (Xero would look up the XE.com day rate).
"""

from __future__ import annotations

import calendar
import gzip
import hashlib
import json
import math
import re
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from resources.http_server import Exchange, JsonHTTPServer, Request, Response

API_BASE = "/api.xro/2.0"
PROVIDER_NAME = "billbridge accounting sandbox"
MAX_INVOICES_PER_REQUEST = 50  # the provider's documented batch limit
PAGE_SIZE = 100  # Xero pages Invoices and Contacts by 100 unless pageSize says otherwise
MAX_PAGE_SIZE = 1000
MAX_IDEMPOTENCY_KEY_LENGTH = 128  # from the spec's Idempotency-Key parameter
ZERO_GUID = "00000000-0000-0000-0000-000000000000"  # Xero's id for an element that was not saved

# Sandbox tax table (percent), standing in for each tenant's TaxRates. The codes follow Xero's
# regional ones: OUTPUT is AU/NZ-style 10 % GST, OUTPUT2 UK standard VAT 20 %, OUTPUT3 German
# standard VAT 19 %; NONE/EXEMPTOUTPUT/ZERORATEDOUTPUT carry no tax. Any other code is rejected
# with Xero's message, as a tenant without that tax rate would.
TAX_RATES: dict[str, Decimal] = {
    "NONE": Decimal(0),
    "EXEMPTOUTPUT": Decimal(0),
    "ZERORATEDOUTPUT": Decimal(0),
    "OUTPUT": Decimal(10),
    "OUTPUT2": Decimal(20),
    "OUTPUT3": Decimal(19),
}

INVOICE_TYPES = ("ACCREC", "ACCPAY")
NEW_INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")

# Xero's ApiException error numbers: 10 and 16 are documented; 14 and 17 are the sandbox's best
# reading of the provider's list and only matter to a client that switches on them (ours does not).
ERR_VALIDATION = (10, "ValidationException")
ERR_POST_DATA = (14, "PostDataInvalidException")
ERR_QUERY_PARSE = (16, "QueryParseException")
ERR_NO_DATA = (17, "NoDataProcessedException")

CENT = Decimal("0.01")
QUANTITY_STEP = Decimal("0.0001")  # Xero keeps quantities to four decimal places
RATE_STEP = Decimal("0.000001")  # CurrencyRate: "max length = [18].[6]"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T00:00:00)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


# --------------------------------------------------------------------------------------------------
# Exact JSON, money and dates
# --------------------------------------------------------------------------------------------------


def dumps_exact(value: Any) -> str:
    """JSON text in which every Decimal is a JSON number with exactly its digits (never via float)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return format(value, "f")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        items = (json.dumps(str(k), ensure_ascii=False) + ":" + dumps_exact(v) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not a valid JSON number")


def loads_exact(content: bytes | str) -> Any:
    """Parse JSON keeping every number with a fraction or exponent as a Decimal."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def round_half_up(value: Decimal, step: Decimal = CENT) -> Decimal:
    """Round to `step` with ties away from zero, as Xero rounds line amounts and tax."""
    return value.quantize(step, rounding=ROUND_HALF_UP)


def ms_date(moment: float | date, *, offset: bool = True) -> str:
    """Xero's MS JSON date: `/Date(1754006400000+0000)/` (a date is its midnight UTC)."""
    millis = calendar.timegm(moment.timetuple()) * 1000 if isinstance(moment, date) else int(moment * 1000)
    return f"/Date({millis}+0000)/" if offset else f"/Date({millis})/"


def _iso_utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------

FaultKind = Literal["status", "slow", "drop_before", "drop_after_commit", "duplicate"]


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by the first request it matches.

    - `status`: answer `status` (503, 500, 429, ...) without processing; `retry_after` sets
      `Retry-After` (a 429 also gets `X-Rate-Limit-Problem: minute`).
    - `slow`: sleep `seconds`, then process and answer. The sleep comes first so that a client
      which times out and retries races its own original request, as behind a stalled proxy.
    - `drop_before`: close the connection without processing.
    - `drop_after_commit`: process and store, then close without answering (outcome unknown).
    - `duplicate`: process the request twice, as a duplicate delivery would; the client gets
      the answer to the second delivery.

    `method` (e.g. "PUT") and `path` (a prefix of the path below the API base, e.g. "/Invoices")
    narrow which requests match; `tenant` narrows to one tenant.
    """

    kind: FaultKind
    status: int = 503
    retry_after: int | None = None
    seconds: float = 0.0
    method: str | None = None
    path: str | None = None
    tenant: str | None = None

    def matches(self, method: str, resource: str, tenant: str) -> bool:
        """Whether this fault applies to a request (resource is the path below the API base)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if self.tenant and self.tenant != tenant:
            return False
        if self.path:
            prefix = self.path[len(API_BASE) :] if self.path.startswith(API_BASE) else self.path
            return resource.lower().startswith(prefix.lower())
        return True


# --------------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------------


@dataclass
class _Admission:
    """The limiter's verdict for one call: the headers to send, and the problem when refused."""

    headers: dict[str, str]
    problem: str | None = None
    retry_after: int = 0


class _RateLimits:
    """Xero's per-tenant limits (rolling minute, rolling day, in flight) and the app-wide minute limit.

    Only admitted calls count towards the windows: a refused call did not reach the API.
    """

    def __init__(
        self,
        minute_limit: int | None,
        day_limit: int | None,
        concurrent_limit: int | None,
        app_minute_limit: int | None,
        clock: Callable[[], float],
    ):
        self.minute_limit = minute_limit
        self.day_limit = day_limit
        self.concurrent_limit = concurrent_limit
        self.app_minute_limit = app_minute_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._day: dict[str, deque[float]] = {}
        self._app_minute: deque[float] = deque()
        self._in_flight: dict[str, int] = {}

    @staticmethod
    def _prune(window: deque[float], now: float, span: float) -> None:
        while window and now - window[0] >= span:
            window.popleft()

    @staticmethod
    def _wait(window: deque[float], now: float, span: float) -> int:
        return max(1, math.ceil(span - (now - window[0])))

    def admit(self, tenant: str) -> _Admission:
        """Count a call and take an in-flight slot, or refuse it with the first limit it breaks."""
        with self._lock:
            now = self._clock()
            minute = self._minute.setdefault(tenant, deque())
            day = self._day.setdefault(tenant, deque())
            self._prune(minute, now, 60.0)
            self._prune(day, now, 86400.0)
            self._prune(self._app_minute, now, 60.0)
            in_flight = self._in_flight.get(tenant, 0)
            problem, wait = None, 0
            if self.concurrent_limit is not None and in_flight >= self.concurrent_limit:
                problem, wait = "concurrent", 1
            elif self.minute_limit is not None and len(minute) >= self.minute_limit:
                problem, wait = "minute", self._wait(minute, now, 60.0)
            elif self.day_limit is not None and len(day) >= self.day_limit:
                problem, wait = "day", self._wait(day, now, 86400.0)
            elif self.app_minute_limit is not None and len(self._app_minute) >= self.app_minute_limit:
                problem, wait = "appminute", self._wait(self._app_minute, now, 60.0)
            else:
                minute.append(now)
                day.append(now)
                self._app_minute.append(now)
                self._in_flight[tenant] = in_flight + 1
            return _Admission(self._headers(minute, day), problem, wait)

    def release(self, tenant: str) -> None:
        """Give back the in-flight slot of an admitted call."""
        with self._lock:
            self._in_flight[tenant] = max(0, self._in_flight.get(tenant, 0) - 1)

    def _headers(self, minute: deque[float], day: deque[float]) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.minute_limit is not None:
            headers["X-MinLimit-Remaining"] = str(max(0, self.minute_limit - len(minute)))
        if self.day_limit is not None:
            headers["X-DayLimit-Remaining"] = str(max(0, self.day_limit - len(day)))
        if self.app_minute_limit is not None:
            headers["X-AppMinLimit-Remaining"] = str(max(0, self.app_minute_limit - len(self._app_minute)))
        return headers


# --------------------------------------------------------------------------------------------------
# `where` filters
# --------------------------------------------------------------------------------------------------


class WhereError(ValueError):
    """A `where` expression the sandbox cannot evaluate (answered as a 400 QueryParseException)."""


@dataclass(frozen=True)
class _Clause:
    column: str
    op: str  # "==", "!=" or "startswith"
    value: str


# Filterable fields: name as Xero spells it (matched case-insensitively) -> (column, literal kind).
INVOICE_FIELDS: dict[str, tuple[str, str]] = {
    "InvoiceNumber": ("number", "string"),
    "Reference": ("reference", "string"),
    "Type": ("doc_type", "string"),
    "Status": ("status", "string"),
    "InvoiceID": ("doc_id", "guid"),
    "Contact.ContactID": ("contact_id", "guid"),
    "Contact.Name": ("contact_name", "string"),
}
CONTACT_FIELDS: dict[str, tuple[str, str]] = {
    "Name": ("name", "string"),
    "ContactID": ("contact_id", "guid"),
    "ContactStatus": ("status", "string"),
}
CREDIT_NOTE_FIELDS: dict[str, tuple[str, str]] = {
    "CreditNoteNumber": ("number", "string"),
    "Reference": ("reference", "string"),
    "Type": ("doc_type", "string"),
    "Status": ("status", "string"),
    "CreditNoteID": ("doc_id", "guid"),
    "Contact.ContactID": ("contact_id", "guid"),
    "Contact.Name": ("contact_name", "string"),
}
# A journal has no number: its Narration is stored in the number column, so `Narration.StartsWith` works.
JOURNAL_FIELDS: dict[str, tuple[str, str]] = {
    "Narration": ("number", "string"),
    "Status": ("status", "string"),
    "ManualJournalID": ("doc_id", "guid"),
}


@dataclass(frozen=True)
class DocumentKind:
    """One document collection of the ledger: its name, stored types, number and id fields, filters."""

    collection: str
    types: tuple[str, ...]
    number_field: str
    id_field: str
    fields: Mapping[str, tuple[str, str]]
    noun: str


INVOICES = DocumentKind("Invoices", INVOICE_TYPES, "InvoiceNumber", "InvoiceID", INVOICE_FIELDS, "invoice")
CREDIT_NOTES = DocumentKind(
    "CreditNotes",
    ("ACCRECCREDIT", "ACCPAYCREDIT"),
    "CreditNoteNumber",
    "CreditNoteID",
    CREDIT_NOTE_FIELDS,
    "credit note",
)
MANUAL_JOURNALS = DocumentKind(
    "ManualJournals", ("MANUALJOURNAL",), "Narration", "ManualJournalID", JOURNAL_FIELDS, "manual journal"
)
KINDS: dict[str, DocumentKind] = {
    "invoices": INVOICES,
    "creditnotes": CREDIT_NOTES,
    "manualjournals": MANUAL_JOURNALS,
}
# One write: (summarizeErrors, unitdp==4, Idempotency-Key, now) -> the answer, inside the ledger transaction.
_Create = Callable[[bool, bool, str | None, float], Response]

_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_GUID_LITERAL_RE = re.compile(r'guid\(\s*"([^"]*)"\s*\)', re.IGNORECASE)
_AND_RE = re.compile(r"(AND\b|&&)", re.IGNORECASE)
_OR_RE = re.compile(r"(OR\b|\|\|)", re.IGNORECASE)


def parse_where(expression: str, fields: Mapping[str, tuple[str, str]]) -> list[_Clause]:
    """Parse `Field=="text"`, `Field==guid("...")` (and `!=`) joined by AND/&&.

    Anything else (OR, method calls such as `Name.Contains(...)`, comparisons, parentheses) is
    refused with a message that says what the sandbox supports, rather than silently ignored.
    """
    by_lower = {name.lower(): (name, spec) for name, spec in fields.items()}
    literal = {"guid": 'guid("...")', "string": '"..."'}
    supported = ", ".join(f"{name}=={literal[kind]}" for name, (_column, kind) in fields.items())
    clauses: list[_Clause] = []
    pos, text = 0, expression

    def fail(reason: str) -> WhereError:
        return WhereError(
            f"cannot evaluate where={expression!r}: {reason}. The sandbox supports {supported}, joined by AND"
        )

    def skip_ws(p: int) -> int:
        while p < len(text) and text[p].isspace():
            p += 1
        return p

    while True:
        pos = skip_ws(pos)
        match = _FIELD_RE.match(text, pos)
        if not match:
            raise fail(f"expected a field name at position {pos}")
        name = match.group(0)
        if text[match.end() : match.end() + 1] == "(":
            # Xero's string method used to find a family of numbers in one call: Field.StartsWith("x").
            base, _, method = name.rpartition(".")
            if method.lower() != "startswith" or base.lower() not in by_lower:
                raise fail(f"method calls such as {name}(...) are not supported (only Field.StartsWith)")
            proper, (column, kind) = by_lower[base.lower()]
            if kind != "string":
                raise fail(f"{proper} is not a string field, so it has no StartsWith")
            pos = skip_ws(match.end() + 1)
            if pos >= len(text) or text[pos] != '"':
                raise fail(f'{proper}.StartsWith takes a "quoted" literal')
            value, pos = _string_literal(text, pos, fail)
            pos = skip_ws(pos)
            if text[pos : pos + 1] != ")":
                raise fail(f"expected ) after {proper}.StartsWith(...)")
            clauses.append(_Clause(column, "startswith", value))
            pos = skip_ws(pos + 1)
            if pos >= len(text):
                return clauses
            joiner = _AND_RE.match(text, pos)
            if not joiner:
                raise fail(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
            pos = joiner.end()
            continue
        if name.lower() not in by_lower:
            raise fail(f"unsupported field {name!r}")
        proper, (column, kind) = by_lower[name.lower()]
        pos = skip_ws(match.end())
        op = text[pos : pos + 2]
        if op not in ("==", "!="):
            raise fail(f"expected == or != after {proper} at position {pos}")
        pos = skip_ws(pos + 2)
        if kind == "guid":
            guid = _GUID_LITERAL_RE.match(text, pos)
            if not guid:
                raise fail(f'{proper} is a Guid: compare it with guid("...")')
            if not GUID_RE.match(guid.group(1)):
                raise fail(f"{guid.group(1)!r} is not a GUID")
            value, pos = guid.group(1).lower(), guid.end()
        else:
            if pos >= len(text) or text[pos] != '"':
                raise fail(f'{proper} is a string: compare it with a "quoted" literal')
            value, pos = _string_literal(text, pos, fail)
        clauses.append(_Clause(column, op, value))
        pos = skip_ws(pos)
        if pos >= len(text):
            return clauses
        if _OR_RE.match(text, pos):
            raise fail(
                "OR is not supported (use the Statuses/IDs/InvoiceNumbers parameters, or several calls)"
            )
        joiner = _AND_RE.match(text, pos)
        if not joiner:
            raise fail(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        pos = joiner.end()


def _string_literal(text: str, pos: int, fail: Callable[[str], WhereError]) -> tuple[str, int]:
    """A double-quoted literal starting at `pos` (backslash escapes \\" and \\\\); returns (value, end)."""
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise fail("unterminated string literal")


# --------------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    idempotency_key TEXT,
    body TEXT NOT NULL,
    UNIQUE (tenant, contact_id)
);
CREATE INDEX IF NOT EXISTS contacts_by_name ON contacts (tenant, name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    number TEXT,
    reference TEXT,
    status TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    idempotency_key TEXT,
    request_json TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_by_number ON documents (tenant, number COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS documents_by_contact ON documents (tenant, contact_id);
CREATE INDEX IF NOT EXISTS documents_by_key ON documents (tenant, idempotency_key);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    response_body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE IF NOT EXISTS counters (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
"""


class _Ledger:
    """SQLite storage shared by the server threads; one lock serialises every access.

    Writes (documents plus their idempotency record) commit in one transaction, so a crash or a
    dropped connection can never leave a stored document without its key, or the reverse.
    """

    def __init__(self, db_path: str | Path):
        self.lock = threading.RLock()
        self.con = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.con.row_factory = sqlite3.Row
        with self.lock:
            self.con.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.con.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.con.execute(sql, tuple(params)))

    def next_number(self, tenant: str, counter: str = "invoice_number") -> str:
        """The next automatic number (`INV-0001`, `CN-0001`), as a tenant's invoice settings give."""
        row = self.con.execute(
            "INSERT INTO counters VALUES (?, ?, 1) "
            "ON CONFLICT (tenant, name) DO UPDATE SET value = value + 1 RETURNING value",
            (tenant, counter),
        ).fetchone()
        return f"{'CN' if counter == 'credit_note_number' else 'INV'}-{int(row[0]):04d}"


# --------------------------------------------------------------------------------------------------
# Invoice validation and arithmetic
# --------------------------------------------------------------------------------------------------


@dataclass
class _PlannedContact:
    """A contact an invoice names without an id: created on commit unless one already exists."""

    contact_id: str
    name: str
    exists: bool


@dataclass
class _Checked:
    """One request element after validation: the document to store, or the reasons it cannot be."""

    element: Any
    errors: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None
    contact: _PlannedContact | None = None


def _number(value: Any, name: str, errors: list[str]) -> Decimal | None:
    # bool is an int in Python but never a number in JSON's sense.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        errors.append(f"{name} must be a number.")
        return None
    number = Decimal(value)
    if not number.is_finite():
        errors.append(f"{name} must be a finite number.")
        return None
    return number


def _parse_date(value: Any, name: str, errors: list[str]) -> date | None:
    if not isinstance(value, str) or not (match := DATE_RE.match(value)):
        errors.append(f"{name} must be a date in the form YYYY-MM-DD.")
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        errors.append(f"{name} {value!r} is not a valid date.")
        return None


def _optional_string(element: Mapping[str, Any], name: str, errors: list[str], max_length: int) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"{name} must be a string.")
        return None
    if len(value) > max_length:
        errors.append(f"{name} must not exceed {max_length} characters.")
    return value


def _line_tax(line_amount: Decimal, rate_percent: Decimal, line_amount_types: str) -> Decimal:
    """Tax of one line, rounded half-up to cents (Xero taxes per line, then sums)."""
    if line_amount_types == "NoTax" or rate_percent == 0:
        return Decimal("0.00")
    rate = rate_percent / 100
    if line_amount_types == "Inclusive":
        return round_half_up(line_amount * rate / (1 + rate))
    return round_half_up(line_amount * rate)


def price_lines(lines: list[dict[str, Any]], line_amount_types: str) -> tuple[Decimal, Decimal, Decimal]:
    """SubTotal, TotalTax and Total of priced lines (each with LineAmount and TaxAmount set).

    Exclusive/NoTax: SubTotal = sum of line amounts. Inclusive: line amounts include tax, so
    SubTotal = sum of line amounts - tax. Always Total = SubTotal + TotalTax.
    """
    line_sum = sum((line["LineAmount"] for line in lines), Decimal("0.00"))
    total_tax = sum((line["TaxAmount"] for line in lines), Decimal("0.00"))
    sub_total = line_sum - total_tax if line_amount_types == "Inclusive" else line_sum
    return sub_total, total_tax, sub_total + total_tax


# --------------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------------


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
    ):
        self.tenants = frozenset(tenants)
        if not self.tenants:
            raise ValueError("XeroSandbox needs at least one tenant id")
        # Tenant ids are GUIDs, which clients may send in either case; ledgers use the configured form.
        self._tenant_by_key = {tenant.lower(): tenant for tenant in self.tenants}
        self.token = token
        self.idempotency_window_s = idempotency_window_s
        self.base_currencies = dict(base_currencies or {})
        self.rate_limited_count = 0
        self.fired_faults: list[tuple[Fault, str, str]] = []  # (fault, method, path) in firing order
        self._clock = clock
        self._ledger = _Ledger(db_path)
        self._limits = _RateLimits(minute_limit, day_limit, concurrent_limit, app_minute_limit, clock)
        self._faults: list[Fault] = []
        self._state_lock = threading.Lock()
        self._requests: dict[str, int] = {}
        self._lock_dates: dict[str, tuple[date | None, date | None]] = {}
        self._server = JsonHTTPServer(self._route, host=host, port=port, record=record)

    # -- lifecycle -----------------------------------------------------------------------------

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
        self._ledger.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread."""
        self._server.serve_forever()

    def __enter__(self) -> XeroSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and inspection -----------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is consumed by the first later request it matches."""
        with self._state_lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._state_lock:
            self._faults.clear()

    def pending_faults(self) -> list[Fault]:
        """Faults queued and not yet consumed."""
        with self._state_lock:
            return list(self._faults)

    def set_lock_dates(
        self, tenant: str, period_lock: date | None = None, end_of_year_lock: date | None = None
    ) -> None:
        """Set the organisation's PeriodLockDate and EndOfYearLockDate (None clears one)."""
        self._lock_dates[tenant] = (period_lock, end_of_year_lock)

    def documents(self, tenant: str, type: str | None = "ACCREC") -> list[dict[str, Any]]:
        """Stored documents of a tenant in creation order (amounts as Decimal); type=None for all.

        Types: ACCREC, ACCPAY (invoices), ACCRECCREDIT, ACCPAYCREDIT (credit notes), MANUALJOURNAL.
        """
        sql = "SELECT body FROM documents WHERE tenant = ?"
        params: list[Any] = [tenant]
        if type is not None:
            sql += " AND doc_type = ?"
            params.append(type)
        return [loads_exact(row["body"]) for row in self._ledger.query(sql + " ORDER BY seq", params)]

    def contacts(self, tenant: str) -> list[dict[str, Any]]:
        """Stored contacts of a tenant in creation order."""
        rows = self._ledger.query("SELECT body FROM contacts WHERE tenant = ? ORDER BY seq", [tenant])
        return [loads_exact(row["body"]) for row in rows]

    def request_count(self, tenant: str) -> int:
        """Requests that passed authentication for this tenant (including refused and faulted ones)."""
        with self._state_lock:
            return self._requests.get(tenant, 0)

    # -- routing -------------------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        if not (request.path == API_BASE or request.path.startswith(API_BASE + "/")):
            return _problem(404, "NotFound", f"No resource at {request.path}; the API is under {API_BASE}")
        resource = request.path[len(API_BASE) :].rstrip("/") or "/"
        if request.header("Authorization") != f"Bearer {self.token}":
            response = _problem(401, "Unauthorized", "AuthenticationUnsuccessful")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        tenant = self._tenant_by_key.get((request.header("Xero-tenant-id") or "").strip().lower())
        if tenant is None:
            return _problem(403, "Forbidden", "AuthorizationUnsuccessful")
        with self._state_lock:
            self._requests[tenant] = self._requests.get(tenant, 0) + 1
        encoding = (request.header("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            try:
                request.body = gzip.decompress(request.body)
            except (OSError, EOFError) as exc:
                return _api_error(
                    400, ERR_POST_DATA, f"Content-Encoding gzip but the body is not gzip: {exc}"
                )
        elif encoding != "identity":
            return _problem(415, "UnsupportedMediaType", f"Content-Encoding {encoding} is not supported")
        fault = self._take_fault(request.method, resource, tenant)
        if fault is not None and fault.kind == "drop_before":
            return Response(drop=True)
        if fault is not None and fault.kind == "status":
            return _fault_response(fault)
        admission = self._limits.admit(tenant)
        if admission.problem is not None:
            with self._state_lock:
                self.rate_limited_count += 1
            return _rate_limited(admission)
        try:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.seconds)
            response = self._dispatch(request, resource, tenant)
            if fault is not None and fault.kind == "duplicate":
                response = self._dispatch(request, resource, tenant)
            if fault is not None and fault.kind == "drop_after_commit":
                return Response(drop=True)
        finally:
            self._limits.release(tenant)
        response.headers.update(admission.headers)
        return response

    def _take_fault(self, method: str, resource: str, tenant: str) -> Fault | None:
        with self._state_lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(method, resource, tenant):
                    del self._faults[index]
                    self.fired_faults.append((fault, method, resource))
                    return fault
        return None

    def _dispatch(self, request: Request, resource: str, tenant: str) -> Response:
        parts = resource.strip("/").split("/")
        # Xero matches endpoint names case-insensitively (/invoices works as well as /Invoices).
        collection = parts[0].lower()
        method = request.method.upper()
        if collection == "organisation" and len(parts) == 1:
            if method != "GET":
                return _api_error(
                    405, (0, "MethodNotAllowedException"), f"{method} is not allowed on {resource}"
                )
            return self._organisation(tenant)
        if collection == "creditnotes" and len(parts) == 3 and parts[2].lower() == "allocations":
            if method not in ("PUT", "POST"):
                return _api_error(
                    405, (0, "MethodNotAllowedException"), f"{method} is not allowed on {resource}"
                )
            credit_note_id = parts[1]
            return self._write(
                request,
                tenant,
                lambda summarize, unitdp4, key, now: self._allocate(
                    tenant, credit_note_id, request, key, now
                ),
            )
        kind = KINDS.get(collection)
        if (kind is None and collection != "contacts") or len(parts) > 2:
            return _problem(404, "NotFound", f"The sandbox does not serve {resource}")
        if len(parts) == 2:
            if method != "GET":
                return _api_error(
                    405, (0, "MethodNotAllowedException"), "The sandbox does not update documents"
                )
            return self._get_one(request, tenant, parts[1], kind)
        if method == "GET":
            return (
                self._list_documents(request, tenant, kind)
                if kind is not None
                else self._list_contacts(request, tenant)
            )
        if method in ("PUT", "POST"):
            if kind is None:
                return self._write(
                    request,
                    tenant,
                    lambda summarize, unitdp4, key, now: self._create_contacts(
                        tenant, request, summarize, key, now
                    ),
                )
            return self._write(
                request,
                tenant,
                lambda summarize, unitdp4, key, now: self._create_documents(
                    kind, tenant, request, summarize, unitdp4, key, now
                ),
            )
        return _api_error(405, (0, "MethodNotAllowedException"), f"{method} is not allowed on {resource}")

    # -- writes ----------------------------------------------------------------------------------

    def _write(self, request: Request, tenant: str, create: _Create) -> Response:
        """Run one write (documents, contacts, allocations) honouring Idempotency-Key, atomic with the key's record."""
        key = request.header("Idempotency-Key") or None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            return _api_error(
                400,
                ERR_POST_DATA,
                f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters, got {len(key)}",
            )
        summarize = (request.param("summarizeErrors") or "true").lower() != "false"
        unitdp = request.param("unitdp")
        fingerprint = _fingerprint(request.method, request.path, summarize, unitdp, request.body)
        ledger = self._ledger
        with ledger.lock:
            now = self._clock()
            if key is not None:
                stored = ledger.con.execute(
                    "SELECT fingerprint, status, response_body, created_at FROM idempotency WHERE tenant = ? AND key = ?",
                    (tenant, key),
                ).fetchone()
                if stored is not None and now - stored["created_at"] < self.idempotency_window_s:
                    if stored["fingerprint"] != fingerprint:
                        return _api_error(
                            400,
                            ERR_POST_DATA,
                            f"Idempotency-Key {key!r} was already used within the last "
                            f"{self.idempotency_window_s:g} s with a different request; a key may only be "
                            "retried with the same method, path, parameters and body",
                        )
                    return Response(
                        int(stored["status"]),
                        bytes(stored["response_body"]),
                        headers={"X-Sandbox-Idempotent-Replay": "true"},
                    )
            ledger.con.execute("BEGIN IMMEDIATE")
            try:
                response = create(summarize, unitdp == "4", key, now)
                # Only answers that depend on the request alone are replayed; nothing else is written.
                if key is not None and response.status in (200, 400):
                    ledger.con.execute(
                        "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                        (tenant, key, fingerprint, response.status, response.encoded(), now),
                    )
                ledger.con.execute("COMMIT")
            except BaseException:
                ledger.con.execute("ROLLBACK")
                raise
        return response

    def _elements(self, request: Request, collection: str) -> list[Any] | Response:
        """The request's array of elements, or the 400 a malformed body gets."""
        try:
            payload = loads_exact(request.body) if request.body else None
        except (ValueError, UnicodeDecodeError) as exc:
            return _api_error(400, ERR_POST_DATA, f"The request body is not valid JSON: {exc}")
        if not isinstance(payload, dict) or not isinstance(payload.get(collection), list):
            return _api_error(
                400, ERR_POST_DATA, f'The request body must be an object with a "{collection}" array'
            )
        elements: list[Any] = payload[collection]
        if not elements:
            return _api_error(400, ERR_NO_DATA, "No data has been processed for this endpoint.")
        return elements

    def _create_documents(
        self,
        kind: DocumentKind,
        tenant: str,
        request: Request,
        summarize: bool,
        unitdp4: bool,
        key: str | None,
        now: float,
    ) -> Response:
        """Create invoices, credit notes or manual journals (at most 50 per request)."""
        elements = self._elements(request, kind.collection)
        if isinstance(elements, Response):
            return elements
        if len(elements) > MAX_INVOICES_PER_REQUEST:
            return _api_error(
                400,
                ERR_POST_DATA,
                f"At most {MAX_INVOICES_PER_REQUEST} {kind.noun}s may be sent in one request; "
                f"got {len(elements)}",
            )
        planned: dict[str, _PlannedContact] = {}
        checked = [
            self._check_journal(tenant, element)
            if kind is MANUAL_JOURNALS
            else self._check_invoice(tenant, element, unitdp4, planned, kind)
            for element in elements
        ]
        if summarize and any(c.errors for c in checked):
            return _validation_exception([_error_element(kind, c) for c in checked])
        answers: list[dict[str, Any]] = []
        for item in checked:
            if item.errors or item.document is None:
                answers.append(_error_element(kind, item))
                continue
            document = item.document
            contact = item.contact
            if contact is not None and not contact.exists:
                self._insert_contact(tenant, {"Name": contact.name}, contact.contact_id, key, now)
                contact.exists = True
            document[kind.id_field] = str(uuid.uuid4())
            if not document.get(kind.number_field) and document.get("Type") in ("ACCREC", "ACCRECCREDIT"):
                document[kind.number_field] = self._ledger.next_number(
                    tenant, "credit_note_number" if kind is CREDIT_NOTES else "invoice_number"
                )
            document["UpdatedDateUTC"] = ms_date(now)
            self._ledger.con.execute(
                "INSERT INTO documents (tenant, doc_id, doc_type, number, reference, status, contact_id, "
                "contact_name, created_utc, updated_utc, idempotency_key, request_json, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant,
                    document[kind.id_field],
                    document.get("Type", kind.types[0]),
                    document.get(kind.number_field),
                    document.get("Reference"),
                    document["Status"],
                    contact.contact_id if contact is not None else "",
                    contact.name if contact is not None else "",
                    _iso_utc(now),
                    _iso_utc(now),
                    key,
                    dumps_exact(item.element),
                    dumps_exact(document),
                ),
            )
            answers.append(
                {
                    **_render(kind, document, unitdp4, with_lines=True),
                    "StatusAttributeString": "OK",
                    "ValidationErrors": [],
                }
            )
        return _ok({kind.collection: answers}, now)

    def _check_invoice(
        self,
        tenant: str,
        element: Any,
        unitdp4: bool,
        planned: dict[str, _PlannedContact],
        kind: DocumentKind | None = None,
    ) -> _Checked:
        """Validate one invoice or credit-note element as Xero does and price it; nothing is written here."""
        kind = kind or INVOICES
        noun = kind.noun
        checked = _Checked(element)
        errors = checked.errors
        if not isinstance(element, dict):
            errors.append(f"Each element of {kind.collection} must be an object.")
            return checked
        if element.get(kind.id_field):
            errors.append(f"The sandbox does not update {noun}s: send new {noun}s without {kind.id_field}.")
        invoice_type = element.get("Type")
        if invoice_type is None:
            errors.append(f"{noun.capitalize()} Type must be specified.")
        elif invoice_type not in kind.types:
            errors.append(
                f"{noun.capitalize()} Type {invoice_type!r} is not valid; use {' or '.join(kind.types)}."
            )
        checked.contact = self._resolve_contact(tenant, element.get("Contact"), errors, planned)
        status = element.get("Status", "DRAFT")
        if status not in NEW_INVOICE_STATUSES:
            errors.append(
                f"Status {status!r} is not valid for a new {noun}; use DRAFT, SUBMITTED or AUTHORISED."
            )
        line_amount_types = element.get("LineAmountTypes", "Exclusive")
        if line_amount_types not in LINE_AMOUNT_TYPES:
            errors.append(
                f"LineAmountTypes {line_amount_types!r} is not valid; use Exclusive, Inclusive or NoTax."
            )
            line_amount_types = "Exclusive"
        if "Date" in element:
            issued = _parse_date(element["Date"], "Date", errors)
        else:
            issued = datetime.fromtimestamp(self._clock(), UTC).date()  # Xero defaults Date to today
        due = _parse_date(element["DueDate"], "DueDate", errors) if "DueDate" in element else None
        if "DueDate" not in element and status != "DRAFT" and kind is INVOICES:
            errors.append("Due Date is required for an invoice that is not a draft.")
        if issued is not None and status != "DRAFT":
            self._check_lock_date(tenant, issued, errors)
        number = _optional_string(element, kind.number_field, errors, 255)
        reference = _optional_string(element, "Reference", errors, 255)
        currency, rate = self._currency(tenant, element, errors)
        lines = self._check_lines(element.get("LineItems"), unitdp4, line_amount_types, errors)
        if errors or checked.contact is None or issued is None:
            return checked
        sub_total, total_tax, total = price_lines(lines, line_amount_types)
        document: dict[str, Any] = {
            "Type": invoice_type,
            kind.id_field: None,
            kind.number_field: number or "",
            "Reference": reference or "",
            "Contact": {"ContactID": checked.contact.contact_id, "Name": checked.contact.name},
            "Date": ms_date(issued),
            "DateString": f"{issued.isoformat()}T00:00:00",
            "Status": status,
            "LineAmountTypes": line_amount_types,
            "LineItems": lines,
            "SubTotal": sub_total,
            "TotalTax": total_tax,
            "Total": total,
            **(
                {"RemainingCredit": total, "Allocations": []}
                if kind is CREDIT_NOTES
                else {"AmountDue": total, "AmountPaid": Decimal("0.00"), "AmountCredited": Decimal("0.00")}
            ),
            "CurrencyCode": currency,
            "CurrencyRate": rate,
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
        }
        if due is not None:
            document["DueDate"] = ms_date(due)
            document["DueDateString"] = f"{due.isoformat()}T00:00:00"
        checked.document = document
        return checked

    def _check_lock_date(self, tenant: str, issued: date, errors: list[str]) -> None:
        """Xero refuses a non-draft document dated on or before the organisation's lock date."""
        period_lock, year_end_lock = self._lock_dates.get(tenant, (None, None))
        if year_end_lock is not None and issued <= year_end_lock:
            errors.append(
                f"The document date cannot be on or before the end of year lock date ({year_end_lock.isoformat()})."
            )
        elif period_lock is not None and issued <= period_lock:
            errors.append(
                f"The document date cannot be on or before the period lock date ({period_lock.isoformat()})."
            )

    def _check_journal(self, tenant: str, element: Any) -> _Checked:
        """Validate one manual journal: a narration, two or more lines with account codes, balancing to zero."""
        checked = _Checked(element)
        errors = checked.errors
        if not isinstance(element, dict):
            errors.append("Each element of ManualJournals must be an object.")
            return checked
        if element.get("ManualJournalID"):
            errors.append(
                "The sandbox does not update manual journals: send new journals without ManualJournalID."
            )
        narration = element.get("Narration")
        if not isinstance(narration, str) or not narration.strip():
            errors.append("Narration must be specified.")
        status = element.get("Status", "DRAFT")
        if status not in ("DRAFT", "POSTED"):
            errors.append(f"Status {status!r} is not valid for a new manual journal; use DRAFT or POSTED.")
        line_amount_types = element.get("LineAmountTypes", "NoTax")
        if line_amount_types not in LINE_AMOUNT_TYPES:
            errors.append(
                f"LineAmountTypes {line_amount_types!r} is not valid; use Exclusive, Inclusive or NoTax."
            )
        issued = (
            _parse_date(element["Date"], "Date", errors)
            if "Date" in element
            else datetime.fromtimestamp(self._clock(), UTC).date()
        )
        if issued is not None and status != "DRAFT":
            self._check_lock_date(tenant, issued, errors)
        items = element.get("JournalLines")
        if not isinstance(items, list) or len(items) < 2:
            errors.append("A manual journal must have at least two journal lines.")
            items = []
        lines: list[dict[str, Any]] = []
        for index, item in enumerate(items, start=1):
            where = f"Line {index}"
            if not isinstance(item, dict):
                errors.append(f"{where}: each journal line must be an object.")
                continue
            amount = _number(item.get("LineAmount"), "LineAmount", errors) if "LineAmount" in item else None
            if amount is None:
                errors.append(f"{where}: LineAmount must be specified.")
                continue
            account = item.get("AccountCode")
            if not isinstance(account, str) or not account.strip() or len(account) > 10:
                errors.append(f"{where}: AccountCode must be specified (at most 10 characters).")
            tax_type = item.get("TaxType", "NONE")
            if tax_type not in TAX_RATES:
                errors.append(f"{where}: The TaxType code '{tax_type}' does not exist.")
            line: dict[str, Any] = {
                "JournalLineID": str(uuid.uuid4()),
                "LineAmount": round_half_up(amount),
                "AccountCode": account,
                "TaxType": tax_type,
                "TaxAmount": Decimal("0.00"),
                "IsBlank": False,
            }
            if isinstance(item.get("Description"), str):
                line["Description"] = item["Description"]
            lines.append(line)
        if lines and sum((line["LineAmount"] for line in lines), Decimal(0)) != 0:
            errors.append("The total debits must equal the total credits: the journal lines do not balance.")
        if errors or issued is None:
            return checked
        checked.document = {
            "ManualJournalID": None,
            "Narration": narration,
            "Date": ms_date(issued),
            "Status": status,
            "LineAmountTypes": line_amount_types,
            "JournalLines": lines,
            "ShowOnCashBasisReports": bool(element.get("ShowOnCashBasisReports", True)),
            "HasAttachments": False,
        }
        return checked

    def _resolve_contact(
        self, tenant: str, contact: Any, errors: list[str], planned: dict[str, _PlannedContact]
    ) -> _PlannedContact | None:
        """The invoice's contact: an existing ContactID, or a Name matched (or created on commit)."""
        if not isinstance(contact, dict) or not (contact.get("ContactID") or contact.get("Name")):
            errors.append("Contact cannot be empty.")
            return None
        contact_id = contact.get("ContactID")
        if contact_id:
            if not isinstance(contact_id, str) or not GUID_RE.match(contact_id):
                errors.append(f"Contact.ContactID {contact_id!r} is not a valid GUID.")
                return None
            row = self._ledger.con.execute(
                "SELECT contact_id, name FROM contacts WHERE tenant = ? AND contact_id = ?",
                (tenant, contact_id.lower()),
            ).fetchone()
            if row is None:
                errors.append(f"The contact with ContactID {contact_id} could not be found.")
                return None
            return _PlannedContact(row["contact_id"], row["name"], exists=True)
        name = contact.get("Name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            errors.append("Contact.Name must be a non-empty string of at most 255 characters.")
            return None
        if name.lower() in planned:
            return planned[name.lower()]
        row = self._ledger.con.execute(
            "SELECT contact_id, name FROM contacts WHERE tenant = ? AND name = ? COLLATE NOCASE ORDER BY seq LIMIT 1",
            (tenant, name),
        ).fetchone()
        found = (
            _PlannedContact(row["contact_id"], row["name"], exists=True)
            if row is not None
            else _PlannedContact(str(uuid.uuid4()), name, exists=False)
        )
        planned[name.lower()] = found
        return found

    def _currency(self, tenant: str, element: Mapping[str, Any], errors: list[str]) -> tuple[str, Decimal]:
        base = self.base_currencies.get(tenant)
        currency = element.get("CurrencyCode", base or "USD")
        if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
            errors.append(f"CurrencyCode {currency!r} is not a three-letter ISO 4217 code.")
            currency = "XXX"
        if "CurrencyRate" not in element or element["CurrencyRate"] is None:
            return currency, Decimal("1.000000")
        rate = _number(element["CurrencyRate"], "CurrencyRate", errors)
        if rate is None:
            return currency, Decimal("1.000000")
        if rate <= 0:
            errors.append("CurrencyRate must be greater than zero.")
        if base is not None and currency == base and rate != 1:
            errors.append(f"CurrencyRate must be 1 for the organisation's base currency {base}.")
        return currency, round_half_up(rate, RATE_STEP)

    def _check_lines(
        self, items: Any, unitdp4: bool, line_amount_types: str, errors: list[str]
    ) -> list[dict[str, Any]]:
        """Validate and price each line: LineAmount = round_half_up(Quantity x UnitAmount, 2), tax per line."""
        if not isinstance(items, list) or not items:
            errors.append("Invoices must have at least one line item.")
            return []
        unit_step = Decimal("0.0001") if unitdp4 else CENT
        priced: list[dict[str, Any]] = []
        for index, item in enumerate(items, start=1):
            where = f"Line {index}"
            if not isinstance(item, dict):
                errors.append(f"{where}: each line item must be an object.")
                continue
            line_errors: list[str] = []
            description = item.get("Description")
            if not isinstance(description, str) or not description.strip():
                line_errors.append("Description needs to be at least 1 char long.")
            quantity = _number(item.get("Quantity"), "Quantity", line_errors) if "Quantity" in item else None
            if "Quantity" not in item:
                line_errors.append("Quantity must be specified.")
            unit_amount = (
                _number(item.get("UnitAmount"), "UnitAmount", line_errors) if "UnitAmount" in item else None
            )
            if "UnitAmount" not in item:
                line_errors.append("UnitAmount must be specified.")
            tax_type = item.get("TaxType", "NONE") if line_amount_types != "NoTax" else "NONE"
            if tax_type not in TAX_RATES:
                line_errors.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
                )
            for name, limit in (("AccountCode", 10), ("ItemCode", 30)):
                _optional_string(item, name, line_errors, limit)
            if quantity is not None and quantity < 0:
                line_errors.append(
                    f"The quantity value '{round_half_up(quantity, QUANTITY_STEP)}' is invalid. "
                    "Quantity must not be less than zero."
                )
            if line_errors or quantity is None or unit_amount is None or tax_type not in TAX_RATES:
                errors.extend(f"{where}: {message}" for message in line_errors)
                continue
            quantity = round_half_up(quantity, QUANTITY_STEP)
            unit_amount = round_half_up(unit_amount, unit_step)
            line_amount = round_half_up(quantity * unit_amount)
            tax_amount = _line_tax(line_amount, TAX_RATES[tax_type], line_amount_types)
            given_line = item.get("LineAmount")
            if given_line is not None:
                given = _number(given_line, "LineAmount", errors)
                if given is not None and given != line_amount:
                    errors.append(
                        f"{where}: The line total {round_half_up(given)} does not match the expected line total "
                        f"of {line_amount}."
                    )
            given_tax = item.get("TaxAmount")
            if given_tax is not None:
                given = _number(given_tax, "TaxAmount", errors)
                # An override within one minor unit of the per-line figure is booked as given
                # (per-invoice tax rounding); anything further off is refused.
                if given is not None and abs(given - tax_amount) > CENT:
                    errors.append(
                        f"{where}: The tax amount {round_half_up(given)} does not match the expected tax amount "
                        f"of {tax_amount} for TaxType {tax_type} ({TAX_RATES[tax_type]}%)."
                    )
                elif given is not None:
                    tax_amount = round_half_up(given)
            line: dict[str, Any] = {
                "LineItemID": str(uuid.uuid4()),
                "Description": description,
                "Quantity": quantity,
                "UnitAmount": unit_amount,
                "TaxType": tax_type,
                "TaxAmount": tax_amount,
                "LineAmount": line_amount,
                "Tracking": [],
            }
            for name in ("AccountCode", "ItemCode"):
                if isinstance(item.get(name), str):
                    line[name] = item[name]
            priced.append(line)
        return priced

    def _create_contacts(
        self, tenant: str, request: Request, summarize: bool, key: str | None, now: float
    ) -> Response:
        elements = self._elements(request, "Contacts")
        if isinstance(elements, Response):
            return elements
        seen: set[str] = set()
        checked: list[_Checked] = []
        for element in elements:
            item = _Checked(element)
            checked.append(item)
            if not isinstance(element, dict):
                item.errors.append("Each element of Contacts must be an object.")
                continue
            if element.get("ContactID"):
                item.errors.append(
                    "The sandbox does not update contacts: send new contacts without ContactID."
                )
            name = element.get("Name")
            if not isinstance(name, str) or not name.strip():
                item.errors.append("The contact name must be specified.")
                continue
            if len(name) > 255:
                item.errors.append("The contact name must not exceed 255 characters.")
            taken = self._ledger.con.execute(
                "SELECT 1 FROM contacts WHERE tenant = ? AND name = ? COLLATE NOCASE AND status = 'ACTIVE'",
                (tenant, name),
            ).fetchone()
            if taken is not None or name.lower() in seen:
                item.errors.append(
                    f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts."
                )
            seen.add(name.lower())
        if summarize and any(c.errors for c in checked):
            return _validation_exception([_contact_error_element(c) for c in checked])
        answers: list[dict[str, Any]] = []
        for item in checked:
            if item.errors:
                answers.append(_contact_error_element(item))
                continue
            stored = self._insert_contact(tenant, item.element, str(uuid.uuid4()), key, now)
            answers.append({**stored, "StatusAttributeString": "OK", "ValidationErrors": []})
        return _ok({"Contacts": answers}, now)

    def _insert_contact(
        self, tenant: str, element: Mapping[str, Any], contact_id: str, key: str | None, now: float
    ) -> dict[str, Any]:
        """Store a contact (the caller holds the ledger lock inside a transaction)."""
        contact: dict[str, Any] = {
            "ContactID": contact_id,
            "ContactStatus": "ACTIVE",
            "Name": element["Name"],
        }
        # Keep the simple string fields a client may send; nested structures are out of scope.
        for name in ("FirstName", "LastName", "EmailAddress", "ContactNumber", "AccountNumber", "TaxNumber"):
            if isinstance(element.get(name), str):
                contact[name] = element[name]
        if isinstance(element.get("DefaultCurrency"), str) and CURRENCY_RE.match(element["DefaultCurrency"]):
            contact["DefaultCurrency"] = element["DefaultCurrency"]
        contact.update(
            {
                "Addresses": [],
                "Phones": [],
                "ContactGroups": [],
                "ContactPersons": [],
                "IsSupplier": False,
                "IsCustomer": False,
                "HasAttachments": False,
                "HasValidationErrors": False,
                "UpdatedDateUTC": ms_date(now),
            }
        )
        self._ledger.con.execute(
            "INSERT INTO contacts (tenant, contact_id, name, status, created_utc, updated_utc, idempotency_key, body) "
            "VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?)",
            (tenant, contact_id, contact["Name"], _iso_utc(now), _iso_utc(now), key, dumps_exact(contact)),
        )
        return contact

    # -- reads -----------------------------------------------------------------------------------

    def _get_one(self, request: Request, tenant: str, ident: str, kind: DocumentKind | None) -> Response:
        now = self._clock()
        if kind is not None:
            # Like Xero, an invoice's or credit note's path segment may be its id or its number.
            column = "doc_id" if GUID_RE.match(ident) or kind is MANUAL_JOURNALS else "number"
            rows = self._ledger.query(
                f"SELECT body FROM documents WHERE tenant = ? AND {column} = ? COLLATE NOCASE "
                f"AND doc_type IN ({','.join('?' * len(kind.types))}) ORDER BY seq LIMIT 1",
                [tenant, ident.lower() if column == "doc_id" else ident, *kind.types],
            )
            if not rows:
                return _problem(404, "NotFound", f"No {kind.collection} element {ident} in this organisation")
            unitdp4 = request.param("unitdp") == "4"
            return _ok(
                {kind.collection: [_render(kind, loads_exact(rows[0]["body"]), unitdp4, with_lines=True)]},
                now,
            )
        if not GUID_RE.match(ident):
            return _problem(404, "NotFound", f"{ident!r} is not a ContactID")
        rows = self._ledger.query(
            "SELECT body FROM contacts WHERE tenant = ? AND contact_id = ?", [tenant, ident.lower()]
        )
        if not rows:
            return _problem(404, "NotFound", f"No contact {ident} in this organisation")
        return _ok({"Contacts": [loads_exact(rows[0]["body"])]}, now)

    def _list_documents(self, request: Request, tenant: str, kind: DocumentKind) -> Response:
        conditions: list[str] = ["tenant = ?", f"doc_type IN ({','.join('?' * len(kind.types))})"]
        params: list[Any] = [tenant, *kind.types]
        filters = [("IDs", "doc_id"), ("ContactIDs", "contact_id"), ("Statuses", "status")]
        if kind is INVOICES:
            filters.append(("InvoiceNumbers", "number"))
        for name, column in filters:
            values = _csv_param(request, name)
            if values is not None:
                conditions.append(f"{column} COLLATE NOCASE IN ({','.join('?' * len(values))})")
                params.extend(values)
        return self._list(request, "documents", kind.collection, kind.fields, conditions, params)

    def _organisation(self, tenant: str) -> Response:
        """The tenant's organisation, with its lock dates (the only settings the sandbox keeps)."""
        period_lock, year_end_lock = self._lock_dates.get(tenant, (None, None))
        organisation: dict[str, Any] = {
            "OrganisationID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"billbridge-sandbox:{tenant}")),
            "Name": f"Sandbox organisation {tenant}",
            "BaseCurrency": self.base_currencies.get(tenant, "USD"),
            "OrganisationStatus": "ACTIVE",
        }
        if period_lock is not None:
            organisation["PeriodLockDate"] = ms_date(period_lock)
        if year_end_lock is not None:
            organisation["EndOfYearLockDate"] = ms_date(year_end_lock)
        return _ok({"Organisations": [organisation]}, self._clock())

    def _allocate(
        self, tenant: str, credit_note_id: str, request: Request, key: str | None, now: float
    ) -> Response:
        """Allocate an authorised credit note to invoices of the same contact and currency."""
        elements = self._elements(request, "Allocations")
        if isinstance(elements, Response):
            return elements
        con = self._ledger.con
        row = con.execute(
            "SELECT body FROM documents WHERE tenant = ? AND doc_id = ? COLLATE NOCASE AND doc_type IN (?, ?)",
            (tenant, credit_note_id.lower(), *CREDIT_NOTES.types),
        ).fetchone()
        if row is None:
            return _problem(404, "NotFound", f"No credit note {credit_note_id} in this organisation")
        credit = loads_exact(row["body"])
        answers: list[dict[str, Any]] = []
        errors: list[str] = []
        updates: dict[str, dict[str, Any]] = {}
        for element in elements:
            invoice_id = (
                ((element or {}).get("Invoice") or {}).get("InvoiceID") if isinstance(element, dict) else None
            )
            amount = _number(element.get("Amount"), "Amount", errors) if isinstance(element, dict) else None
            target = (
                con.execute(
                    "SELECT body FROM documents WHERE tenant = ? AND doc_id = ? COLLATE NOCASE AND doc_type IN (?, ?)",
                    (tenant, str(invoice_id).lower(), *INVOICES.types),
                ).fetchone()
                if invoice_id
                else None
            )
            if target is None:
                errors.append(f"Invoice {invoice_id} could not be found.")
                continue
            invoice = updates.get(str(invoice_id).lower()) or loads_exact(target["body"])
            if amount is None or amount <= 0:
                errors.append("Allocation Amount must be greater than zero.")
                continue
            if credit["Status"] != "AUTHORISED":
                errors.append("Only an authorised credit note can be allocated.")
            if invoice["Status"] != "AUTHORISED":
                errors.append("Only an authorised invoice can have a credit note allocated to it.")
            if invoice["Contact"]["ContactID"] != credit["Contact"]["ContactID"]:
                errors.append("The credit note and the invoice must have the same contact.")
            if invoice["CurrencyCode"] != credit["CurrencyCode"]:
                errors.append("The credit note and the invoice must be in the same currency.")
            if amount > Decimal(credit["RemainingCredit"]):
                errors.append(
                    f"The allocation amount {amount} exceeds the remaining credit {credit['RemainingCredit']}."
                )
            if amount > Decimal(invoice["AmountDue"]):
                errors.append(
                    f"The allocation amount {amount} exceeds the invoice's amount due {invoice['AmountDue']}."
                )
            if errors:
                continue
            allocation_id = str(uuid.uuid4())
            issued = _parse_date(element.get("Date"), "Date", errors) if element.get("Date") else None
            allocated_on = ms_date(issued) if issued is not None else ms_date(now)
            credit["RemainingCredit"] = Decimal(credit["RemainingCredit"]) - amount
            credit.setdefault("Allocations", []).append(
                {"AllocationID": allocation_id, "Amount": amount, "Date": allocated_on,
                 "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber", "")}}
            )  # fmt: skip
            if credit["RemainingCredit"] == 0:
                credit["Status"] = "PAID"
            invoice["AmountCredited"] = Decimal(invoice["AmountCredited"]) + amount
            invoice["AmountDue"] = Decimal(invoice["AmountDue"]) - amount
            if invoice["AmountDue"] == 0:
                invoice["Status"] = "PAID"
            updates[str(invoice["InvoiceID"]).lower()] = invoice
            answers.append(
                {"AllocationID": allocation_id, "Amount": amount, "Date": allocated_on,
                 "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber", "")},
                 "CreditNote": {"CreditNoteID": credit["CreditNoteID"], "CreditNoteNumber": credit.get("CreditNoteNumber", "")}}
            )  # fmt: skip
        if errors:
            return _validation_exception([{"ValidationErrors": [{"Message": message} for message in errors]}])
        credit["UpdatedDateUTC"] = ms_date(now)
        for document in (credit, *updates.values()):
            id_field = "CreditNoteID" if "CreditNoteID" in document else "InvoiceID"
            con.execute(
                "UPDATE documents SET body = ?, status = ?, updated_utc = ? WHERE tenant = ? AND doc_id = ?",
                (dumps_exact(document), document["Status"], _iso_utc(now), tenant, document[id_field]),
            )
        return _ok({"Allocations": answers}, now)

    def _list_contacts(self, request: Request, tenant: str) -> Response:
        conditions: list[str] = ["tenant = ?"]
        params: list[Any] = [tenant]
        ids = _csv_param(request, "IDs")
        if ids is not None:
            conditions.append(f"contact_id COLLATE NOCASE IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        return self._list(request, "contacts", "Contacts", CONTACT_FIELDS, conditions, params)

    def _list(
        self,
        request: Request,
        table: str,
        collection: str,
        fields: Mapping[str, tuple[str, str]],
        conditions: list[str],
        params: list[Any],
    ) -> Response:
        """List a collection with `where`, paging 100 (or pageSize) per page when `page` is given.

        As in Xero, an invoice list without `page` omits line items; a page past the end is empty.
        """
        now = self._clock()
        where = request.param("where")
        if where:
            try:
                clauses = parse_where(where, fields)
            except WhereError as exc:
                return _api_error(400, ERR_QUERY_PARSE, str(exc))
            for clause in clauses:
                if clause.op == "startswith":
                    escaped = clause.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    conditions.append(f"{clause.column} LIKE ? ESCAPE '\\'")  # ASCII case-insensitive
                    params.append(escaped + "%")
                    continue
                conditions.append(f"{clause.column} {'=' if clause.op == '==' else '!='} ? COLLATE NOCASE")
                params.append(clause.value)
        page = _positive_int(request.param("page"))
        page_size = _positive_int(request.param("pageSize")) or PAGE_SIZE
        if request.param("page") is not None and page is None:
            return _api_error(400, ERR_QUERY_PARSE, "page must be a positive integer")
        if request.param("pageSize") is not None and not (0 < page_size <= MAX_PAGE_SIZE):
            return _api_error(400, ERR_QUERY_PARSE, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
        sql = f"SELECT body FROM {table} WHERE {' AND '.join(conditions)} ORDER BY seq"
        if page is not None:
            count = self._ledger.query(
                f"SELECT COUNT(*) AS n FROM {table} WHERE {' AND '.join(conditions)}", params
            )
            item_count = int(count[0]["n"])
            rows = self._ledger.query(sql + " LIMIT ? OFFSET ?", [*params, page_size, (page - 1) * page_size])
        else:
            rows = self._ledger.query(sql, params)
        bodies = [loads_exact(row["body"]) for row in rows]
        kind = KINDS.get(collection.lower())
        if kind is not None:
            unitdp4 = request.param("unitdp") == "4"
            bodies = [_render(kind, body, unitdp4, with_lines=page is not None) for body in bodies]
        envelope: dict[str, Any] = {collection: bodies}
        if page is not None:
            envelope["pagination"] = {
                "page": page,
                "pageSize": page_size,
                "pageCount": math.ceil(item_count / page_size),
                "itemCount": item_count,
            }
        return _ok(envelope, now)


# --------------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------------


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps_exact(body).encode("utf-8"), headers=dict(headers or {}))


def _ok(body: dict[str, Any], now: float) -> Response:
    """Xero's success envelope: Id, Status, ProviderName, DateTimeUTC, then the collection."""
    envelope = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": ms_date(now, offset=False),
        **body,
    }
    return _json(200, envelope)


def _problem(status: int, title: str, detail: str) -> Response:
    """The problem-JSON body Xero's gateway gives for 401/403/404/429."""
    return _json(
        status,
        {
            "Type": None,
            "Title": title,
            "Status": status,
            "Detail": detail,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        },
    )


def _api_error(status: int, error: tuple[int, str], message: str) -> Response:
    """Xero's ApiException body (the spec's `Error` schema)."""
    number, kind = error
    return _json(status, {"ErrorNumber": number, "Type": kind, "Message": message})


def _validation_exception(elements: list[dict[str, Any]]) -> Response:
    return _json(
        400,
        {
            "ErrorNumber": ERR_VALIDATION[0],
            "Type": ERR_VALIDATION[1],
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
    )


def _rate_limited(admission: _Admission) -> Response:
    response = _problem(429, "Too Many Requests", f"Rate limit exceeded: {admission.problem}")
    response.headers.update(admission.headers)
    response.headers["Retry-After"] = str(admission.retry_after)
    response.headers["X-Rate-Limit-Problem"] = str(admission.problem)
    return response


def _fault_response(fault: Fault) -> Response:
    if fault.status == 429:
        response = _problem(429, "Too Many Requests", "Rate limit exceeded: minute (injected)")
        response.headers["X-Rate-Limit-Problem"] = "minute"
        response.headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
        return response
    if fault.status >= 500:
        kind = "NotAvailableException" if fault.status == 503 else "InternalServerErrorException"
        response = _api_error(fault.status, (0, kind), f"Injected fault: HTTP {fault.status}")
    else:
        response = _problem(fault.status, "Injected fault", f"HTTP {fault.status}")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _render_invoice(document: dict[str, Any], unitdp4: bool, *, with_lines: bool) -> dict[str, Any]:
    """A stored invoice as answered: UnitAmount shown to 2 dp unless unitdp=4; lines only when asked."""
    rendered = dict(document)
    if not with_lines:
        rendered["LineItems"] = []
    elif not unitdp4:
        rendered["LineItems"] = [
            {**line, "UnitAmount": round_half_up(Decimal(line["UnitAmount"]))}
            for line in document["LineItems"]
        ]
    return rendered


def _render(
    kind: DocumentKind, document: dict[str, Any], unitdp4: bool, *, with_lines: bool
) -> dict[str, Any]:
    """A stored document as answered; journals are shown as stored."""
    if kind is MANUAL_JOURNALS:
        return document if with_lines else {**document, "JournalLines": []}
    return _render_invoice(document, unitdp4, with_lines=with_lines)


def _safe_echo(element: Any, keys: Iterable[str]) -> dict[str, Any]:
    """The string fields of a rejected element, echoed back so the client can tell which one failed."""
    if not isinstance(element, dict):
        return {}
    return {k: element[k] for k in keys if isinstance(element.get(k), str)}


def _error_element(kind: DocumentKind, item: _Checked) -> dict[str, Any]:
    echo = _safe_echo(item.element, (kind.number_field, "Reference"))
    if isinstance(item.element, dict) and item.element.get("Type") in kind.types:
        echo["Type"] = item.element["Type"]
    has_errors = bool(item.errors)
    return {
        **echo,
        kind.id_field: ZERO_GUID,
        "HasErrors": has_errors,
        "StatusAttributeString": "ERROR" if has_errors else "OK",
        "ValidationErrors": [{"Message": message} for message in item.errors],
    }


def _contact_error_element(item: _Checked) -> dict[str, Any]:
    has_errors = bool(item.errors)
    return {
        **_safe_echo(item.element, ("Name",)),
        "ContactID": ZERO_GUID,
        "HasValidationErrors": has_errors,
        "StatusAttributeString": "ERROR" if has_errors else "OK",
        "ValidationErrors": [{"Message": message} for message in item.errors],
    }


def _fingerprint(method: str, path: str, summarize: bool, unitdp: str | None, body: bytes) -> str:
    """What makes two requests 'the same' for an idempotency key: method, path, parameters, JSON body.

    The body is compared as parsed JSON (key order and whitespace do not matter); a body that is
    not JSON is compared byte for byte.
    """
    try:
        canonical = dumps_exact(_sorted(loads_exact(body))) if body else ""
    except (ValueError, UnicodeDecodeError):
        canonical = body.hex()
    text = f"{method.upper()} {path.lower()} summarize={summarize} unitdp={unitdp}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _csv_param(request: Request, name: str) -> list[str] | None:
    """A comma-separated list parameter (`InvoiceNumbers=A,B`); quotes around items are dropped."""
    raw = request.param(name)
    if raw is None:
        return None
    return [item.strip().strip('"') for item in raw.split(",") if item.strip()]


def _positive_int(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit() or int(raw) < 1:
        return None
    return int(raw)
