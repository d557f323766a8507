"""Which handler answers a path below the API base: one table of collections, and the sub-resources."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from resources.http_server import Request, Response
from sandbox.xero.allocations import allocate_credit_note
from sandbox.xero.answers import method_not_allowed, problem
from sandbox.xero.bank_transactions import create_bank_transactions
from sandbox.xero.books import Books, WriteHandler
from sandbox.xero.contacts import create_contacts, get_contact, list_contacts
from sandbox.xero.invoices import create_documents
from sandbox.xero.kinds import KINDS, TRANSACTION_KINDS
from sandbox.xero.payment_reversal import delete_payment
from sandbox.xero.payments import create_payments
from sandbox.xero.reads import get_document, get_transaction, list_documents, list_transactions

# Runs a write handler inside the idempotency protocol: (request, tenant, handler) -> answer.
RunWrite = Callable[[Request, str, WriteHandler], Response]
ListHandler = Callable[[Books, Request, str], Response]
GetHandler = Callable[[Books, Request, str, str], Response]  # (books, request, tenant, id)


@dataclass(frozen=True)
class Collection:
    """One endpoint family: list (GET), one element (GET /{id}) and, when it accepts them, writes (PUT/POST)."""

    list: ListHandler
    get: GetHandler
    create: WriteHandler | None = None
    update: Callable[[str], WriteHandler] | None = None  # POST /{id}: the handler for that element


def _collections() -> dict[str, Collection]:
    table = {
        "contacts": Collection(
            list_contacts,
            lambda books, request, tenant, ident: get_contact(books, tenant, ident),
            create_contacts,
        )
    }
    for name, kind in KINDS.items():
        table[name] = Collection(
            functools.partial(list_documents, kind=kind),
            functools.partial(get_document, kind=kind),
            functools.partial(create_documents, kind),
        )
    for name, tx_kind in TRANSACTION_KINDS.items():
        table[name] = Collection(
            functools.partial(list_transactions, kind=tx_kind),
            functools.partial(get_transaction, kind=tx_kind),
        )
    table["payments"] = replace(
        table["payments"],
        create=create_payments,
        update=lambda ident: functools.partial(delete_payment, ident),
    )
    table["banktransactions"] = replace(table["banktransactions"], create=create_bank_transactions)
    return table


# Sub-resources written through a parent element: (collection, sub-resource) -> handler of the parent id.
SUB_RESOURCES: dict[tuple[str, str], Callable[[str], WriteHandler]] = {
    ("creditnotes", "allocations"): lambda ident: functools.partial(allocate_credit_note, ident),
}

COLLECTIONS = _collections()


def dispatch(books: Books, request: Request, resource: str, tenant: str, run_write: RunWrite) -> Response:
    """Answer one admitted request for `resource` (the path below the API base)."""
    parts = resource.strip("/").split("/")
    # Xero matches endpoint names case-insensitively (/invoices works as well as /Invoices).
    name = parts[0].lower()
    method = request.method.upper()
    if name == "organisation" and len(parts) == 1:
        if method != "GET":
            return method_not_allowed(f"{method} is not allowed on {resource}")
        return books.organisation(tenant)
    if len(parts) == 3 and (name, parts[2].lower()) in SUB_RESOURCES:
        if method not in ("PUT", "POST"):
            return method_not_allowed(f"{method} is not allowed on {resource}")
        return run_write(request, tenant, SUB_RESOURCES[(name, parts[2].lower())](parts[1]))
    collection = COLLECTIONS.get(name)
    if collection is None or len(parts) > 2:
        return problem(404, "NotFound", f"The sandbox does not serve {resource}")
    if len(parts) == 2:
        if method == "POST" and collection.update is not None:
            return run_write(request, tenant, collection.update(parts[1]))
        if method != "GET":
            return method_not_allowed("The sandbox does not update documents")
        return collection.get(books, request, tenant, parts[1])
    if method == "GET":
        return collection.list(books, request, tenant)
    if method in ("PUT", "POST") and collection.create is not None:
        return run_write(request, tenant, collection.create)
    return method_not_allowed(f"{method} is not allowed on {resource}")
