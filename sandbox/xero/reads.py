"""Reads: lists with `where`, list parameters and paging, and one document by id or number."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from resources.http_server import Request, Response
from sandbox.xero.answers import ERR_QUERY_PARSE, api_error, ok, problem
from sandbox.xero.books import Books
from sandbox.xero.exact import round_half_up
from sandbox.xero.kinds import INVOICES, MANUAL_JOURNALS, DocumentKind, TransactionKind
from sandbox.xero.where import GUID_RE, Fields, WhereError, parse_where, where_sql

LAST_OFFSET = 2**63 - 1  # SQLite's largest integer
PAGE_SIZE = 100  # Xero pages Invoices and Contacts by 100 unless pageSize says otherwise
MAX_PAGE_SIZE = 1000

# A stored body as answered: (body, unitdp=4, with_lines) -> the body to send.
Render = Callable[[dict[str, Any], bool, bool], dict[str, Any]]


@dataclass
class Listing:
    """One list request's table, collection name, filterable fields and the conditions found so far."""

    table: str
    collection: str
    fields: Fields
    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    render: Render | None = None

    def add_list_parameters(self, request: Request, filters: list[tuple[str, str]]) -> None:
        """Narrow by comma-separated list parameters (`IDs=a,b`): (parameter, column) pairs."""
        for name, column in filters:
            values = csv_param(request, name)
            if values is not None:
                self.conditions.append(f"{column} COLLATE NOCASE IN ({','.join('?' * len(values))})")
                self.params.extend(values)


def render_invoice(document: dict[str, Any], unitdp4: bool, with_lines: bool) -> dict[str, Any]:
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


def render_journal(document: dict[str, Any], unitdp4: bool, with_lines: bool) -> dict[str, Any]:
    """A stored journal as answered: as stored, without lines in an unpaged list."""
    return document if with_lines else {**document, "JournalLines": []}


def renderer(kind: DocumentKind) -> Render:
    """How a stored document of this kind is answered."""
    return render_journal if kind is MANUAL_JOURNALS else render_invoice


def list_documents(books: Books, request: Request, tenant: str, kind: DocumentKind) -> Response:
    """GET a document collection: `where`, `IDs`, `ContactIDs`, `Statuses` (and `InvoiceNumbers`), paging."""
    listing = Listing("documents", kind.collection, kind.fields, render=renderer(kind))
    listing.conditions += ["tenant = ?", f"doc_type IN ({','.join('?' * len(kind.types))})"]
    listing.params += [tenant, *kind.types]
    filters = [("IDs", "doc_id"), ("ContactIDs", "contact_id"), ("Statuses", "status")]
    if kind is INVOICES:
        filters.append(("InvoiceNumbers", "number"))
    listing.add_list_parameters(request, filters)
    return list_collection(books, request, listing)


def get_document(books: Books, request: Request, tenant: str, ident: str, kind: DocumentKind) -> Response:
    """GET one document; like Xero, an invoice's or credit note's path segment may be its id or its number."""
    now = books.clock()
    column = "doc_id" if GUID_RE.match(ident) or kind is MANUAL_JOURNALS else "number"
    bodies = books.ledger.bodies(
        f"SELECT body FROM documents WHERE tenant = ? AND {column} = ? COLLATE NOCASE "
        f"AND doc_type IN ({','.join('?' * len(kind.types))}) ORDER BY seq LIMIT 1",
        [tenant, ident.lower() if column == "doc_id" else ident, *kind.types],
    )
    if not bodies:
        return problem(404, "NotFound", f"No {kind.collection} element {ident} in this organisation")
    unitdp4 = request.param("unitdp") == "4"
    return ok({kind.collection: [renderer(kind)(bodies[0], unitdp4, True)]}, now)


def list_collection(books: Books, request: Request, listing: Listing) -> Response:
    """List a collection with `where`, paging 100 (or pageSize) per page when `page` is given.

    As in Xero, an invoice list without `page` omits line items; a page past the end is empty.
    """
    now = books.clock()
    where = request.param("where")
    if where:
        try:
            conditions, params = where_sql(parse_where(where, listing.fields))
        except WhereError as exc:
            return api_error(400, ERR_QUERY_PARSE, str(exc))
        listing.conditions += conditions
        listing.params += params
    page = positive_int(request.param("page"))
    page_size = positive_int(request.param("pageSize")) or PAGE_SIZE
    if request.param("page") is not None and page is None:
        return api_error(400, ERR_QUERY_PARSE, "page must be a positive integer")
    if request.param("pageSize") is not None and not (0 < page_size <= MAX_PAGE_SIZE):
        return api_error(400, ERR_QUERY_PARSE, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
    bodies = _select(books, listing, page, page_size)
    if listing.render is not None:
        unitdp4 = request.param("unitdp") == "4"
        bodies = [listing.render(body, unitdp4, page is not None) for body in bodies]
    envelope: dict[str, Any] = {listing.collection: bodies}
    if page is not None:
        item_count = _count(books, listing)
        envelope["pagination"] = {
            "page": page,
            "pageSize": page_size,
            "pageCount": math.ceil(item_count / page_size),
            "itemCount": item_count,
        }
    return ok(envelope, now)


def _select(books: Books, listing: Listing, page: int | None, page_size: int) -> list[dict[str, Any]]:
    sql = f"SELECT body FROM {listing.table} WHERE {' AND '.join(listing.conditions)} ORDER BY seq"
    if page is None:
        return books.ledger.bodies(sql, listing.params)
    # A page past any SQLite integer is past the end all the same (found by contract fuzzing: it was a 500).
    offset = min((page - 1) * page_size, LAST_OFFSET)
    return books.ledger.bodies(sql + " LIMIT ? OFFSET ?", [*listing.params, page_size, offset])


def _count(books: Books, listing: Listing) -> int:
    rows = books.ledger.query(
        f"SELECT COUNT(*) AS n FROM {listing.table} WHERE {' AND '.join(listing.conditions)}", listing.params
    )
    return int(rows[0]["n"])


def csv_param(request: Request, name: str) -> list[str] | None:
    """A comma-separated list parameter (`InvoiceNumbers=A,B`); quotes around items are dropped."""
    raw = request.param(name)
    if raw is None:
        return None
    return [item.strip().strip('"') for item in raw.split(",") if item.strip()]


def positive_int(raw: str | None) -> int | None:
    """A query parameter that must be a whole number of at least 1, or None."""
    if raw is None or not raw.strip().isdigit() or int(raw) < 1:
        return None
    return int(raw)


def list_transactions(books: Books, request: Request, tenant: str, kind: TransactionKind) -> Response:
    """GET a collection of payments, bank transactions or credits: `where` and paging."""
    render = render_invoice if kind.has_lines else None
    listing = Listing("transactions", kind.collection, kind.fields, render=render)
    listing.conditions += ["tenant = ?", "collection = ?"]
    listing.params += [tenant, kind.collection]
    return list_collection(books, request, listing)


def get_transaction(
    books: Books, request: Request, tenant: str, ident: str, kind: TransactionKind
) -> Response:
    """GET one payment, bank transaction or credit by its id."""
    now = books.clock()
    found = books.ledger.find_transaction(tenant, kind.collection, ident) if GUID_RE.match(ident) else None
    if found is None:
        return problem(404, "NotFound", f"No {kind.collection} element {ident} in this organisation")
    if kind.has_lines:
        found = render_invoice(found, request.param("unitdp") == "4", True)
    return ok({kind.collection: [found]}, now)
