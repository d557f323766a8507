"""`POST /Payments/{PaymentID}` with `{"Status": "DELETED"}`: a payment reversed, its document open again.

As in Xero, a deleted payment stays listed with Status DELETED, its amount is outstanding on the
invoice (or credit note) again, and a PAID document goes back to AUTHORISED. A reconciled payment,
or one dated in a locked period, cannot be deleted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from resources.http_server import Response
from sandbox.xero.answers import (
    ERR_POST_DATA,
    api_error,
    ok,
    problem,
    validation_exception,
    validation_messages,
)
from sandbox.xero.books import Books, Write
from sandbox.xero.exact import loads_exact, ms_date, ms_day
from sandbox.xero.kinds import CREDIT_NOTES, INVOICES, PAYMENTS
from sandbox.xero.settlement import restore_amount_due, restore_remaining_credit
from sandbox.xero.where import GUID_RE


def delete_payment(payment_id: str, books: Books, write: Write) -> Response:
    """Reverse one payment (the body must be `{"Status": "DELETED"}`, the contract's PaymentDelete)."""
    refusal = _check_body(write)
    if refusal is not None:
        return refusal
    ledger = books.ledger
    payment = (
        ledger.find_transaction(write.tenant, PAYMENTS.collection, payment_id)
        if GUID_RE.match(payment_id)
        else None
    )
    if payment is None:
        return problem(404, "NotFound", f"No payment {payment_id} in this organisation")
    kind = INVOICES if "Invoice" in payment else CREDIT_NOTES
    document = ledger.find_document(write.tenant, payment[kind.element][kind.id_field], kind.types)
    assert document is not None  # a payment is only ever stored with its document
    errors = _deletion_errors(books, write.tenant, payment)
    if errors:
        return validation_exception(
            [{"PaymentID": payment["PaymentID"], "ValidationErrors": validation_messages(errors)}]
        )
    amount = Decimal(payment["Amount"])
    if kind is CREDIT_NOTES:
        restore_remaining_credit(document, amount)
    else:
        restore_amount_due(document, amount, "AmountPaid")
    document["Payments"] = [p for p in document.get("Payments", []) if p["PaymentID"] != payment["PaymentID"]]
    document["UpdatedDateUTC"] = payment["UpdatedDateUTC"] = ms_date(write.now)
    payment["Status"] = "DELETED"
    ledger.update_document(write.tenant, document[kind.id_field], document, write.now)
    ledger.update_transaction(write.tenant, payment["PaymentID"], payment, write.now)
    return ok({"Payments": [payment]}, write.now)


def _check_body(write: Write) -> Response | None:
    try:
        payload = loads_exact(write.request.body) if write.request.body else None
    except (ValueError, UnicodeDecodeError) as exc:
        return api_error(400, ERR_POST_DATA, f"The request body is not valid JSON: {exc}")
    if (
        isinstance(payload, dict)
        and isinstance(payload.get("Payments"), list)
        and len(payload["Payments"]) == 1
    ):
        payload = payload["Payments"][0]  # the SDKs wrap the one element in the collection
    if not isinstance(payload, dict) or payload.get("Status") != "DELETED":
        return api_error(
            400, ERR_POST_DATA, 'A payment is deleted with {"Status": "DELETED"}; it cannot be updated'
        )
    return None


def _deletion_errors(books: Books, tenant: str, payment: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if payment["Status"] == "DELETED":
        errors.append("This payment has already been deleted.")
    if payment.get("IsReconciled"):
        errors.append("A reconciled payment cannot be deleted.")
    books.check_lock_date(tenant, ms_day(payment["Date"]), errors)
    return errors
