"""Request validation shared by every collection: the body's element array, numbers, dates, strings, currency.

Each check appends Xero-worded messages to an `errors` list instead of raising, so one request
reports every problem of every element at once, as Xero's ValidationErrors do.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from resources.http_server import Request, Response
from sandbox.xero.answers import ERR_NO_DATA, ERR_POST_DATA, api_error
from sandbox.xero.books import DEFAULT_CURRENCY, Books
from sandbox.xero.exact import RATE_STEP, loads_exact, round_half_up
from sandbox.xero.where import GUID_RE

DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T00:00:00)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
UNIT_RATE = Decimal("1.000000")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
MAX_ACCOUNT_CODE = 10


@dataclass
class PlannedContact:
    """A contact a document names without an id: created on commit unless one already exists."""

    contact_id: str
    name: str
    exists: bool


@dataclass
class Checked:
    """One request element after validation: the document to store, or the reasons it cannot be."""

    element: Any
    errors: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None
    contact: PlannedContact | None = None


def request_elements(request: Request, collection: str) -> list[Any] | Response:
    """The request's array of elements, or the 400 a malformed body gets."""
    try:
        payload = loads_exact(request.body) if request.body else None
    except (ValueError, UnicodeDecodeError) as exc:
        return api_error(400, ERR_POST_DATA, f"The request body is not valid JSON: {exc}")
    if not isinstance(payload, dict) or not isinstance(payload.get(collection), list):
        return api_error(
            400, ERR_POST_DATA, f'The request body must be an object with a "{collection}" array'
        )
    elements: list[Any] = payload[collection]
    if not elements:
        return api_error(400, ERR_NO_DATA, "No data has been processed for this endpoint.")
    return elements


# The largest magnitude an amount, quantity or rate may have: a product of two stays exact within
# Decimal's 28 digits, so pricing never fails to round (what the ledger stores is far below it).
MAX_NUMBER = Decimal(10) ** 12


def number(value: Any, name: str, errors: list[str]) -> Decimal | None:
    """A JSON number as a finite Decimal, or None with a message."""
    # bool is an int in Python but never a number in JSON's sense.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        errors.append(f"{name} must be a number.")
        return None
    result = Decimal(value)
    if not result.is_finite():
        errors.append(f"{name} must be a finite number.")
        return None
    if abs(result) >= MAX_NUMBER:
        # Found by contract fuzzing: a huge number (1.8e308) could not be rounded and answered 500.
        errors.append(f"{name} must be less than {MAX_NUMBER:,} in magnitude.")
        return None
    return result


def parse_date(value: Any, name: str, errors: list[str]) -> date | None:
    """A `YYYY-MM-DD` (optionally `T00:00:00`) date, or None with a message."""
    if not isinstance(value, str) or not (match := DATE_RE.match(value)):
        errors.append(f"{name} must be a date in the form YYYY-MM-DD.")
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        errors.append(f"{name} {value!r} is not a valid date.")
        return None


def document_date(books: Books, element: Mapping[str, Any], errors: list[str]) -> date | None:
    """The element's `Date`, or today when it has none (as Xero defaults it)."""
    if "Date" in element:
        return parse_date(element["Date"], "Date", errors)
    return books.today()


def optional_string(element: Mapping[str, Any], name: str, errors: list[str], max_length: int) -> str | None:
    """A string field that may be absent; too long or not a string is an error."""
    value = element.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(f"{name} must be a string.")
        return None
    if len(value) > max_length:
        errors.append(f"{name} must not exceed {max_length} characters.")
    return value


def currency(books: Books, tenant: str, element: Mapping[str, Any], errors: list[str]) -> tuple[str, Decimal]:
    """The element's CurrencyCode and CurrencyRate (1 when absent, and required to be 1 in the base currency)."""
    base = books.base_currency(tenant)
    code = element.get("CurrencyCode", base or DEFAULT_CURRENCY)
    if not isinstance(code, str) or not CURRENCY_RE.match(code):
        errors.append(f"CurrencyCode {code!r} is not a three-letter ISO 4217 code.")
        code = "XXX"
    return code, currency_rate(element, code, base, errors, default=UNIT_RATE)


def currency_rate(
    element: Mapping[str, Any], code: str, base: str | None, errors: list[str], *, default: Decimal
) -> Decimal:
    """The element's CurrencyRate rounded to six places, `default` when absent or malformed."""
    if "CurrencyRate" not in element or element["CurrencyRate"] is None:
        return default
    rate = number(element["CurrencyRate"], "CurrencyRate", errors)
    if rate is None:
        return default
    if rate <= 0:
        errors.append("CurrencyRate must be greater than zero.")
    if base is not None and code == base and rate != 1:
        errors.append(f"CurrencyRate must be 1 for the organisation's base currency {base}.")
    return round_half_up(rate, RATE_STEP)


def spoken_list(choices: tuple[str, ...]) -> str:
    """`A, B or C`, as the messages name the allowed values."""
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def new_status(element: Mapping[str, Any], noun: str, allowed: tuple[str, ...], errors: list[str]) -> Any:
    """The Status of a new element (the first allowed one by default); another value is an error."""
    status = element.get("Status", allowed[0])
    if status not in allowed:
        errors.append(f"Status {status!r} is not valid for a new {noun}; use {spoken_list(allowed)}.")
    return status


def line_amount_types(element: Mapping[str, Any], default: str, errors: list[str]) -> str:
    """The element's LineAmountTypes; an unknown value is an error and the default is used instead."""
    value = element.get("LineAmountTypes", default)
    if value not in LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes {value!r} is not valid; use Exclusive, Inclusive or NoTax.")
        return default
    return str(value)


def no_update(element: Mapping[str, Any], id_field: str, noun: str, errors: list[str]) -> None:
    """The sandbox creates only: an element carrying its id (an update in Xero) is refused."""
    if element.get(id_field):
        errors.append(f"The sandbox does not update {noun}s: send new {noun}s without {id_field}.")


def account(tenant: str, value: Any, name: str, errors: list[str]) -> dict[str, str] | None:
    """The account a payment or bank transaction uses, named by AccountID or Code.

    The sandbox has no chart of accounts: a Code is taken as given and gets a stable AccountID of
    its own (the same code, the same id, per tenant).
    """
    if not isinstance(value, dict) or not (value.get("AccountID") or value.get("Code")):
        errors.append(f"{name} must be specified by AccountID or Code.")
        return None
    code, account_id = value.get("Code"), value.get("AccountID")
    if code is not None and (not isinstance(code, str) or not code.strip() or len(code) > MAX_ACCOUNT_CODE):
        errors.append(f"{name}.Code must be a string of 1 to {MAX_ACCOUNT_CODE} characters.")
        return None
    if account_id and (not isinstance(account_id, str) or not GUID_RE.match(account_id)):
        errors.append(f"{name}.AccountID {account_id!r} is not a valid GUID.")
        return None
    named: dict[str, str] = {
        "AccountID": str(account_id).lower()
        if account_id
        else str(uuid.uuid5(uuid.NAMESPACE_URL, f"billbridge-sandbox:{tenant}:account:{code}"))
    }
    if code:
        named["Code"] = code
    return named


def flag(element: Mapping[str, Any], name: str, errors: list[str]) -> bool:
    """An optional true/false field (false when absent)."""
    value = element.get(name, False)
    if not isinstance(value, bool):
        errors.append(f"{name} must be true or false.")
        return False
    return value
