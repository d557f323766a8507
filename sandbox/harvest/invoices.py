"""The PM sandbox's invoices and invoice payments, as the vendored Harvest contract describes them.

* `POST /v2/invoices` creates an invoice: free-form `line_items`, and/or `line_items_import`, which
  bills the client's uninvoiced billable time and expenses of the given projects (and dates) and marks
  each imported record billed, locked and pointing at the invoice, as Harvest does. A `number` already
  taken is refused (422), as Harvest refuses it.
* `GET /v2/invoices` lists them, newest issue_date first, with the contract's filters (client_id,
  project_id, updated_since, from/to on issue_date, state) and the list envelope; the sandbox's list
  variants (page faults) apply to it as to every other list.
* `GET /v2/invoices/{id}`; `GET` and `POST /v2/invoices/{id}/payments`: a payment lowers the due
  amount, and an invoice paid in full is `paid`. A payment above the amount due is refused (422).

Requests honour the faults queued with `HarvestSandbox.inject` (kinds of sandbox/xero/faults.py):
`status` answers without processing, `drop_before` closes the connection unprocessed,
`drop_after_commit` processes and closes without answering (the outcome unknown to the client),
`slow` waits, then processes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from resources.http_server import Request, Response
from sandbox.company import Record
from sandbox.harvest.query import InvalidParameter, parse_date, parse_int, parse_updated_since, stamp
from sandbox.xero.faults import FaultQueue

if TYPE_CHECKING:
    from sandbox.harvest.server import HarvestSandbox

CENT = Decimal("0.01")
INVOICED_REASON = "Item Invoiced and Locked for this Time Period"
LIST_FILTERS = ("client_id", "project_id", "updated_since", "from", "to", "state")
FIRST_INVOICE_ID, FIRST_LINE_ID, FIRST_PAYMENT_ID = 13_150_001, 53_341_001, 10_112_001
# summary_type -> the fields a time entry's line groups by (besides project and rate).
TIME_GROUPS: dict[str, Callable[[Record], tuple[Any, ...]]] = {
    "project": lambda r: (),
    "task": lambda r: (r["task"]["id"], r["task"]["name"]),
    "people": lambda r: (r["user"]["id"], r["user"]["name"]),
    "detailed": lambda r: (r["id"], r["spent_date"], r["task"]["name"], r.get("notes") or ""),
}
EXPENSE_GROUPS: dict[str, Callable[[Record], tuple[Any, ...]]] = {
    "project": lambda r: (),
    "category": lambda r: (r["expense_category"]["id"], r["expense_category"]["name"]),
    "people": lambda r: (r["user"]["id"], r["user"]["name"]),
    "detailed": lambda r: (r["id"], r["spent_date"], r.get("notes") or ""),
}


class Refused(ValueError):
    """A write Harvest answers 422 for."""


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Refused(f"{name} must be a number, got {value!r}")
    return Decimal(str(value))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _number(value: Decimal) -> float | int:
    """A JSON number as Harvest writes amounts (the wire format is a float)."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class Line:
    """An invoice line while it is built (amounts exact until written out)."""

    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    project: Record | None
    taxed: bool = False
    taxed2: bool = False

    @property
    def amount(self) -> Decimal:
        return _cents(self.quantity * self.unit_price)


class InvoiceBook:
    """The sandbox's invoices and payments, guarded by one lock; ids increase from Harvest-like bases."""

    def __init__(self, sandbox: HarvestSandbox):
        self.sandbox = sandbox
        self.faults = FaultQueue()
        self.invoices: list[Record] = []
        self.payments: dict[int, list[Record]] = defaultdict(list)
        self._lock = threading.Lock()
        self._ids = {"invoice": FIRST_INVOICE_ID, "line": FIRST_LINE_ID, "payment": FIRST_PAYMENT_ID}

    # -- routing -------------------------------------------------------------------------------------
    def route(self, request: Request, rest: list[str]) -> Response:
        """Answer a request below /v2/invoices (`rest`: the path parts after it)."""
        if request.method not in ("GET", "POST"):
            return _error(405, "The sandbox reads invoices and payments by GET and writes them by POST.")
        fault = self.faults.take(request.method, "/" + "/".join(["invoices", *rest]), "")
        if fault is not None and fault.kind == "status":
            return _error(fault.status, f"injected {fault.status}")
        if fault is not None and fault.kind == "drop_before":
            return Response(drop=True)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        answer = self._write(request, rest) if request.method == "POST" else self._read(request, rest)
        return Response(drop=True) if fault is not None and fault.kind == "drop_after_commit" else answer

    def _write(self, request: Request, rest: list[str]) -> Response:
        try:
            body = json.loads(request.body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "The request body is not JSON.")
        if not isinstance(body, dict):
            return _error(422, "The request body must be a JSON object.")
        try:
            if not rest:
                return _json(201, self.create_invoice(body))
            invoice = self._invoice(rest[0])
            if invoice is None or rest[1:] != ["payments"]:
                return _error(404, "The requested resource could not be found.")
            return _json(201, self.create_payment(invoice, body))
        except Refused as exc:
            return _error(422, str(exc))

    def _read(self, request: Request, rest: list[str]) -> Response:
        try:
            if not rest:
                return self._list(request)
            invoice = self._invoice(rest[0])
            if invoice is None or rest[1:] not in ([], ["payments"]):
                return _error(404, "The requested resource could not be found.")
            if not rest[1:]:
                return _json(200, invoice)
            payments = self.payments.get(invoice["id"], [])
            ordered = sorted(payments, key=lambda p: (p["created_at"], p["id"]), reverse=True)
            return self.sandbox.page_answer("invoice_payments", request, ordered, (0, len(ordered)),
                                            _paging(request))  # fmt: skip
        except InvalidParameter as exc:
            return _error(422, str(exc))

    def _invoice(self, text: str) -> Record | None:
        with self._lock:
            return next((i for i in self.invoices if str(i["id"]) == text), None)

    def _list(self, request: Request) -> Response:
        tests = _list_filters(request)
        with self._lock:
            matched = [dict(i) for i in self.invoices if all(test(i) for test in tests)]
        matched.sort(key=lambda i: (i["issue_date"], i["id"]), reverse=True)
        return self.sandbox.page_answer("invoices", request, matched, (0, len(matched)), _paging(request))

    # -- writes ----------------------------------------------------------------------------------------
    def create_invoice(self, body: dict[str, Any]) -> Record:
        """Create an invoice from `body` (the contract's createInvoice request); raises Refused."""
        client = self._client(body.get("client_id"))
        with self._lock:
            number = body.get("number") or str(self._ids["invoice"] - FIRST_INVOICE_ID + 1001)
            if any(i["number"] == number for i in self.invoices):
                raise Refused(f"Number has already been taken: {number}")
            invoice_id = self._next("invoice")
            lines = [_free_line(item, self._project) for item in body.get("line_items") or []]
            imported = _imported(self.sandbox, client, body.get("line_items_import"))
            lines += [line for line, _ in imported]
            invoice = self._invoice_record(invoice_id, number, client, body, lines)
            self.invoices.append(invoice)
            # Under the lock: a second import at the same moment must not bill the same records.
            reference = {"id": invoice_id, "number": number}
            for kind, record_id in (ref for _, refs in imported for ref in refs):
                self.sandbox.update_record(kind, record_id, is_billed=True, is_locked=True,
                                           locked_reason=INVOICED_REASON, invoice=reference)  # fmt: skip
        return dict(invoice)

    def create_payment(self, invoice: Record, body: dict[str, Any]) -> Record:
        """Record a payment on `invoice` (the contract's createInvoicePayment request); raises Refused."""
        amount = _money(body.get("amount"), "amount")
        if amount <= 0:
            raise Refused(f"amount must be greater than 0, got {amount}")
        if body.get("paid_at") and body.get("paid_date"):
            raise Refused("Pass either paid_at or paid_date, but not both.")
        now = datetime.now(UTC)
        paid_date = body.get("paid_date") or (body.get("paid_at") or stamp(now))[:10]
        parse_date("paid_date", paid_date)
        with self._lock:
            due = Decimal(str(invoice["due_amount"]))
            if amount > due:
                raise Refused(f"amount {amount} is more than the amount due, {due}")
            payment = {
                "id": self._next("payment"), "amount": _number(amount),
                "paid_at": body.get("paid_at") or f"{paid_date}T00:00:00Z", "paid_date": paid_date,
                "recorded_by": "Billbridge Sandbox", "recorded_by_email": "sandbox@billbridge.test",
                "notes": body.get("notes") or "", "transaction_id": None,
                "created_at": stamp(now), "updated_at": stamp(now),
                "payment_gateway": {"id": None, "name": None},
            }  # fmt: skip
            self.payments[invoice["id"]].append(payment)
            left = due - amount
            invoice.update(due_amount=_number(left), updated_at=stamp(now))
            if left == 0:
                invoice.update(state="paid", paid_at=payment["paid_at"], paid_date=paid_date)
        return dict(payment)

    def _next(self, kind: str) -> int:
        value = self._ids[kind]
        self._ids[kind] = value + 1
        return value

    def _client(self, client_id: Any) -> Record:
        if not isinstance(client_id, int) or isinstance(client_id, bool):
            raise Refused(f"client_id must be an integer, got {client_id!r}")
        client = self.sandbox.record("clients", client_id)
        if client is None:
            raise Refused(f"Client {client_id} does not exist.")
        return client

    def _project(self, project_id: Any) -> Record:
        project = self.sandbox.record("projects", project_id)
        if project is None:
            raise Refused(f"Project {project_id!r} does not exist.")
        return project

    def _invoice_record(
        self, invoice_id: int, number: str, client: Record, body: dict[str, Any], lines: list[Line]
    ) -> Record:
        subtotal = sum((line.amount for line in lines), Decimal(0))
        discount = _cents(subtotal * _money(body.get("discount") or 0, "discount") / 100)
        taxes = []
        for rate_name, flag in (("tax", "taxed"), ("tax2", "taxed2")):
            rate = _money(body.get(rate_name) or 0, rate_name)
            taxed = sum((line.amount for line in lines if getattr(line, flag)), Decimal(0))
            taxes.append((rate, _cents(taxed * rate / 100)))
        amount = subtotal - discount + taxes[0][1] + taxes[1][1]
        issue_date = body.get("issue_date") or date.today().isoformat()
        now = stamp(datetime.now(UTC))
        return {
            "id": invoice_id, "client_key": f"{invoice_id:040x}", "number": number,
            "purchase_order": body.get("purchase_order") or "", "amount": _number(amount),
            "due_amount": _number(amount), "tax": _number(taxes[0][0]) if taxes[0][0] else None,
            "tax_amount": _number(taxes[0][1]), "tax2": _number(taxes[1][0]) if taxes[1][0] else None,
            "tax2_amount": _number(taxes[1][1]), "discount": body.get("discount"),
            "discount_amount": _number(discount), "subject": body.get("subject"), "notes": body.get("notes"),
            "currency": body.get("currency") or client.get("currency"), "state": "draft",
            "period_start": _period(body, "from"), "period_end": _period(body, "to"),
            "issue_date": issue_date, "due_date": body.get("due_date") or issue_date,
            "payment_term": body.get("payment_term") or "custom", "payment_options": [],
            "sent_at": None, "paid_at": None, "paid_date": None, "closed_at": None,
            "recurring_invoice_id": None, "created_at": now, "updated_at": now,
            "client": {"id": client["id"], "name": client["name"]}, "estimate": None, "retainer": None,
            "creator": {"id": 8001, "name": "Billbridge Sandbox"},
            "line_items": [
                {"id": self._next("line"), "kind": line.kind, "description": line.description,
                 "quantity": _number(line.quantity), "unit_price": _number(line.unit_price),
                 "amount": _number(line.amount), "taxed": line.taxed, "taxed2": line.taxed2,
                 "project": line.project}
                for line in lines
            ],
        }  # fmt: skip


def _free_line(item: Any, project_of: Callable[[Any], Record]) -> Line:
    if not isinstance(item, dict) or "kind" not in item or "unit_price" not in item:
        raise Refused("each line item needs kind and unit_price")
    project = project_of(item["project_id"]) if item.get("project_id") is not None else None
    reference = (
        {"id": project["id"], "name": project["name"], "code": project.get("code")} if project else None
    )
    return Line(str(item["kind"]), str(item.get("description") or ""),
                _money(item.get("quantity", 1), "quantity"), _money(item["unit_price"], "unit_price"),
                reference, bool(item.get("taxed")), bool(item.get("taxed2")))  # fmt: skip


def _imported(sandbox: HarvestSandbox, client: Record, spec: Any) -> list[tuple[Line, list[tuple[str, int]]]]:
    """The lines `line_items_import` makes, each with the (kind, id) of the records it bills."""
    if spec is None:
        return []
    if not isinstance(spec, dict) or not isinstance(spec.get("project_ids"), list):
        raise Refused("line_items_import needs project_ids")
    projects = set(spec["project_ids"])
    out = []
    for kind, key, groups in (
        ("time_entries", "time", TIME_GROUPS),
        ("expenses", "expenses", EXPENSE_GROUPS),
    ):
        part = spec.get(key)
        if part is None:
            continue
        if not isinstance(part, dict) or part.get("summary_type") not in groups:
            raise Refused(f"line_items_import.{key}.summary_type must be one of {', '.join(groups)}")
        if ("from" in part) != ("to" in part):
            raise Refused(f"line_items_import.{key}: from and to go together")
        first, last = (part["from"], part["to"]) if "from" in part else ("0000-01-01", "9999-12-31")
        records = [
            r for r in sandbox.records(kind)
            if r["project"]["id"] in projects and r.get("client", {}).get("id") == client["id"]
            and r.get("billable") and not r.get("is_billed") and first <= r["spent_date"] <= last
        ]  # fmt: skip
        out += _summarised(kind, records, groups[part["summary_type"]])
    return out


def _summarised(
    kind: str, records: list[Record], group_of: Callable[[Record], tuple[Any, ...]]
) -> list[tuple[Line, list[tuple[str, int]]]]:
    grouped: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for record in records:
        rate = record.get("billable_rate") if kind == "time_entries" else None
        grouped[(record["project"]["id"], rate, *group_of(record))].append(record)
    lines = []
    for key in sorted(grouped, key=str):
        members = grouped[key]
        project = members[0]["project"]
        label = " ".join(str(part) for part in key[2:] if isinstance(part, str))
        if kind == "time_entries":
            hours = sum((Decimal(str(r["hours"])) for r in members), Decimal(0))
            line = Line("Service", f"{project['name']} {label}".strip(), hours, Decimal(str(key[1] or 0)),
                        project, taxed=True)  # fmt: skip
        else:
            total = sum((Decimal(str(r["total_cost"])) for r in members), Decimal(0))
            line = Line("Product", f"{project['name']} expenses {label}".strip(), Decimal(1), total,
                        project, taxed=True)  # fmt: skip
        lines.append((line, [(kind, r["id"]) for r in members]))
    return lines


def _period(body: dict[str, Any], end: str) -> str | None:
    spec = body.get("line_items_import") or {}
    days = [part[end] for part in (spec.get("time"), spec.get("expenses")) if part and end in part]
    return (min(days) if end == "from" else max(days)) if days else None


def _list_filters(request: Request) -> list[Callable[[Record], bool]]:
    tests: list[Callable[[Record], bool]] = []
    if text := request.param("client_id"):
        client_id = parse_int("client_id", text)
        tests.append(lambda i: i["client"]["id"] == client_id)
    if text := request.param("project_id"):
        project_id = parse_int("project_id", text)
        tests.append(
            lambda i: any((line["project"] or {}).get("id") == project_id for line in i["line_items"])
        )
    if text := request.param("updated_since"):
        since = parse_updated_since(text)
        tests.append(lambda i: i["updated_at"] >= since)
    if text := request.param("from"):
        first = parse_date("from", text).isoformat()
        tests.append(lambda i: i["issue_date"] >= first)
    if text := request.param("to"):
        last = parse_date("to", text).isoformat()
        tests.append(lambda i: i["issue_date"] <= last)
    if text := request.param("state"):
        if text not in ("draft", "open", "paid", "closed"):
            raise InvalidParameter(f"state must be draft, open, paid or closed, got {text!r}")
        tests.append(lambda i: i["state"] == text)
    return tests


def _paging(request: Request) -> tuple[int, int]:
    page_text, per_page_text = request.param("page"), request.param("per_page")
    page = parse_int("page", page_text, low=1) if page_text else 1
    per_page = parse_int("per_page", per_page_text, 1, 2000) if per_page_text else 2000
    return page, per_page


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def _error(status: int, message: str) -> Response:
    if status == 404:  # as every other resource of the sandbox answers it
        return _json(404, {"error": "not_found", "error_description": message})
    return _json(status, {"code": status, "message": message})
