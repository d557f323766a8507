"""`/Contacts`: create (Name required and unique among active contacts), list, one by id; and the
contact a document names, matched by id or by name (created with the document when new)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from resources.http_server import Request, Response
from sandbox.xero.answers import (
    ok,
    problem,
    rejected_element,
    safe_echo,
    validation_exception,
)
from sandbox.xero.books import Books, Write
from sandbox.xero.exact import ms_date
from sandbox.xero.kinds import CONTACT_FIELDS
from sandbox.xero.ledger import Ledger
from sandbox.xero.reads import Listing, list_collection
from sandbox.xero.validation import CURRENCY_RE, Checked, PlannedContact, request_elements
from sandbox.xero.where import GUID_RE, like_literal

MAX_NAME_LENGTH = 255
# The simple string fields kept from a request; nested structures are out of scope.
KEPT_FIELDS = ("FirstName", "LastName", "EmailAddress", "ContactNumber", "AccountNumber", "TaxNumber")


def create_contacts(books: Books, write: Write) -> Response:
    """PUT/POST /Contacts."""
    elements = request_elements(write.request, "Contacts")
    if isinstance(elements, Response):
        return elements
    seen: set[str] = set()
    checked = [_check_contact(books.ledger, write.tenant, element, seen) for element in elements]
    if write.summarize and any(c.errors for c in checked):
        return validation_exception([_error_element(c) for c in checked])
    answers: list[dict[str, Any]] = []
    for item in checked:
        if item.errors:
            answers.append(_error_element(item))
            continue
        stored = insert_contact(books.ledger, write, item.element, str(uuid.uuid4()))
        answers.append({**stored, "StatusAttributeString": "OK", "ValidationErrors": []})
    return ok({"Contacts": answers}, write.now)


def _check_contact(ledger: Ledger, tenant: str, element: Any, seen: set[str]) -> Checked:
    item = Checked(element)
    if not isinstance(element, dict):
        item.errors.append("Each element of Contacts must be an object.")
        return item
    if element.get("ContactID"):
        item.errors.append("The sandbox does not update contacts: send new contacts without ContactID.")
    name = element.get("Name")
    if not isinstance(name, str) or not name.strip():
        item.errors.append("The contact name must be specified.")
        return item
    if len(name) > MAX_NAME_LENGTH:
        item.errors.append(f"The contact name must not exceed {MAX_NAME_LENGTH} characters.")
    if ledger.active_name_taken(tenant, name) or name.lower() in seen:
        item.errors.append(
            f"The contact name {name} is already assigned to another contact. "
            "The contact name must be unique across all active contacts."
        )
    seen.add(name.lower())
    return item


def _error_element(item: Checked) -> dict[str, Any]:
    return rejected_element(
        safe_echo(item.element, ("Name",)), "ContactID", item.errors, "HasValidationErrors"
    )


def insert_contact(
    ledger: Ledger, write: Write, element: Mapping[str, Any], contact_id: str
) -> dict[str, Any]:
    """Store a contact (the caller holds the ledger lock inside a transaction) and return it."""
    contact: dict[str, Any] = {"ContactID": contact_id, "ContactStatus": "ACTIVE", "Name": element["Name"]}
    for name in KEPT_FIELDS:
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
            "UpdatedDateUTC": ms_date(write.now),
        }
    )
    ledger.insert_contact(write.tenant, contact, write.key, write.now)
    return contact


def create_planned_contact(ledger: Ledger, write: Write, contact: PlannedContact | None) -> None:
    """Store the contact a document named by a new name, once, before the document."""
    if contact is not None and not contact.exists:
        insert_contact(ledger, write, {"Name": contact.name}, contact.contact_id)
        contact.exists = True


def resolve_contact(
    ledger: Ledger, tenant: str, contact: Any, errors: list[str], planned: dict[str, PlannedContact]
) -> PlannedContact | None:
    """A document's contact: an existing ContactID, or a Name matched (or created on commit)."""
    if not isinstance(contact, dict) or not (contact.get("ContactID") or contact.get("Name")):
        errors.append("Contact cannot be empty.")
        return None
    contact_id = contact.get("ContactID")
    if contact_id:
        if not isinstance(contact_id, str) or not GUID_RE.match(contact_id):
            errors.append(f"Contact.ContactID {contact_id!r} is not a valid GUID.")
            return None
        row = ledger.contact_by_id(tenant, contact_id)
        if row is None:
            errors.append(f"The contact with ContactID {contact_id} could not be found.")
            return None
        return PlannedContact(row["contact_id"], row["name"], exists=True)
    name = contact.get("Name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        errors.append("Contact.Name must be a non-empty string of at most 255 characters.")
        return None
    if name.lower() in planned:
        return planned[name.lower()]
    row = ledger.first_contact_named(tenant, name)
    found = (
        PlannedContact(row["contact_id"], row["name"], exists=True)
        if row is not None
        else PlannedContact(str(uuid.uuid4()), name, exists=False)
    )
    planned[name.lower()] = found
    return found


# `searchTerm` searches these fields, ignoring case (the contract's words).
SEARCHED_FIELDS = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")


def list_contacts(books: Books, request: Request, tenant: str) -> Response:
    """GET /Contacts: `where`, `IDs`, `searchTerm`, paging (`page`, `pageSize`)."""
    listing = Listing("contacts", "Contacts", CONTACT_FIELDS, ["tenant = ?"], [tenant])
    listing.add_list_parameters(request, [("IDs", "contact_id")])
    term = request.param("searchTerm")
    if term:
        # A case-insensitive text search: the term anywhere in any of the fields, as a literal.
        fields = " OR ".join(
            f"coalesce(json_extract(body, '$.{name}'), '') LIKE ? ESCAPE '\\'" for name in SEARCHED_FIELDS
        )
        listing.conditions.append(f"({fields})")
        listing.params.extend([f"%{like_literal(term)}%"] * len(SEARCHED_FIELDS))
    return list_collection(books, request, listing)


def get_contact(books: Books, tenant: str, ident: str) -> Response:
    """GET /Contacts/{ContactID}."""
    now = books.clock()
    if not GUID_RE.match(ident):
        return problem(404, "NotFound", f"{ident!r} is not a ContactID")
    bodies = books.ledger.bodies(
        "SELECT body FROM contacts WHERE tenant = ? AND contact_id = ?", [tenant, ident.lower()]
    )
    if not bodies:
        return problem(404, "NotFound", f"No contact {ident} in this organisation")
    return ok({"Contacts": bodies[:1]}, now)
