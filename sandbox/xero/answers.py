"""The bodies Xero answers with: the success envelope, problem JSON, ApiException and validation errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from resources.http_server import Response
from sandbox.xero.exact import dumps_exact, ms_date

API_BASE = "/api.xro/2.0"  # the contract's server path
PROVIDER_NAME = "billbridge accounting sandbox"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"  # Xero's id for an element that was not saved

# Xero's ApiException error numbers: 10 and 16 are documented; 14 and 17 are the sandbox's best
# reading of the provider's list and only matter to a client that switches on them (ours does not).
ERR_VALIDATION = (10, "ValidationException")
ERR_POST_DATA = (14, "PostDataInvalidException")
ERR_QUERY_PARSE = (16, "QueryParseException")
ERR_NO_DATA = (17, "NoDataProcessedException")
ERR_METHOD = (0, "MethodNotAllowedException")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer written with exact decimals."""
    return Response(status, dumps_exact(body).encode("utf-8"), headers=dict(headers or {}))


def ok(body: dict[str, Any], now: float) -> Response:
    """Xero's success envelope: Id, Status, ProviderName, DateTimeUTC, then the collection."""
    envelope = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": ms_date(now, offset=False),
        **body,
    }
    return json_response(200, envelope)


def problem(status: int, title: str, detail: str) -> Response:
    """The problem-JSON body Xero's gateway gives for 401/403/404/429."""
    return json_response(
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


def api_error(status: int, error: tuple[int, str], message: str) -> Response:
    """Xero's ApiException body (the spec's `Error` schema)."""
    number, kind = error
    return json_response(status, {"ErrorNumber": number, "Type": kind, "Message": message})


def method_not_allowed(message: str) -> Response:
    """A 405 in Xero's ApiException shape."""
    return api_error(405, ERR_METHOD, message)


def validation_exception(elements: list[dict[str, Any]]) -> Response:
    """A 400 ValidationException carrying each element with its ValidationErrors."""
    return json_response(
        400,
        {
            "ErrorNumber": ERR_VALIDATION[0],
            "Type": ERR_VALIDATION[1],
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
    )


def validation_messages(messages: Iterable[str]) -> list[dict[str, str]]:
    """`ValidationErrors` as Xero writes them: one object per message."""
    return [{"Message": message} for message in messages]


def safe_echo(element: Any, keys: Iterable[str]) -> dict[str, Any]:
    """The string fields of a rejected element, echoed back so the client can tell which one failed."""
    if not isinstance(element, dict):
        return {}
    return {k: element[k] for k in keys if isinstance(element.get(k), str)}


def rejected_element(
    echo: dict[str, Any], id_field: str, errors: list[str], flag: str | None
) -> dict[str, Any]:
    """An element as answered when it was not saved: echoed fields, a zero id, and its errors
    (`flag` names the element's has-errors field, e.g. HasValidationErrors, if it has one)."""
    has_errors = bool(errors)
    answer: dict[str, Any] = {**echo, id_field: ZERO_GUID}
    if flag is not None:
        answer[flag] = has_errors
    answer["StatusAttributeString"] = "ERROR" if has_errors else "OK"
    answer["ValidationErrors"] = validation_messages(errors)
    return answer
