"""Validate recorded sandbox exchanges against the vendored OpenAPI contracts (openapi-core 0.23).

`validate_exchange(load_contract("xero"), exchange)` checks one `Exchange` both ways:

- request: the operation exists (method + path under the spec's server), path/query/header
  parameters (required ones present, values of the declared types, `explode: false` lists),
  security (the spec's schemes present, and an `Authorization: Bearer <token>` wherever a scheme
  uses that header: Xero's OAuth2 scheme, Harvest's `BearerAuth` apiKey), the JSON body against
  the operation's schema, and that every query parameter sent is one the operation declares
  (a misspelt `summarizeerrors` would otherwise be ignored by the provider without a word);
- response: the status is declared for the operation and the JSON body matches its schema.

Why openapi-core and not a hand-rolled jsonschema validator: measured on this machine (2 cores),
importing openapi-core takes ~0.4 s, parsing the 900 KB Xero file with yaml.CSafeLoader ~0.25-0.3 s
(Harvest ~0.1 s), building `OpenAPI` with spec validation off ~0 s, and validating one exchange
~2 ms for a small one and ~12-15 ms for a 50-invoice batch or a 100-invoice page (~44 KB bodies).
That is fast enough to validate every exchange of an end-to-end run, so the full engine is used
and there is no fallback.

Deliberate leniency, each for a reason:

- The specs themselves are not validated on load (`spec_validator_cls=None`): the Xero file is
  not valid OpenAPI 3.0 (e.g. `HasAttachments: {type: boolean, default: 'false'}`) and the Harvest
  file's response codes are YAML integers (`200:`), which the spec validator crashes on. We
  normalise the integer codes to strings, which is what OpenAPI means.
- Xero's OAuth2 scheme cannot be checked by openapi-core (it warns "Unsupported scheme type"); the
  warning is silenced and the bearer token checked here instead.
- Statuses the spec does not list for an operation but the provider documents for every call
  (Xero: 400/401/403/404/405/429/500/501/503 from its HTTP response codes page) are accepted when
  the body is JSON (or empty); a Xero 400 must still match the spec's `Error` schema. Any other
  undeclared status fails. (Harvest declares a `default` response on every operation, so its
  error answers are validated against that schema by openapi-core; the 401/403/404/422/429/5xx
  list only applies if an operation ever lacks one.) Any 429 must carry a whole-seconds
  `Retry-After`, and a Xero 429 a known `X-Rate-Limit-Problem`, as the providers document.
- MS JSON dates (`/Date(1754006400000+0000)/`, `x-is-msdate`) are plain strings in the spec and
  are checked as such; the spec gives no pattern to hold them to.
- Response schemas do not forbid undeclared properties (the specs do not say
  `additionalProperties: false`), so Xero's envelope fields `Id`, `Status`, `ProviderName`,
  `DateTimeUTC`, which the `Invoices` schema omits, are accepted; they are what the real API sends.
"""

from __future__ import annotations

import functools
import json
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import ParameterValidationError
from openapi_schema_validator import OAS30Validator

from resources.http_server import Exchange

ContractName = Literal["harvest", "xero"]
CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
CONTRACT_FILES: dict[str, str] = {"harvest": "harvest-openapi.yaml", "xero": "xero_accounting.yaml"}

# Statuses the providers document for every endpoint, which the spec files do not list per operation.
PROVIDER_STATUSES: dict[str, frozenset[int]] = {
    "xero": frozenset({400, 401, 403, 404, 405, 429, 500, 501, 503}),
    "harvest": frozenset({401, 403, 404, 422, 429, 500, 502, 503}),
}
XERO_RATE_PROBLEMS = frozenset({"minute", "day", "concurrent", "appminute"})
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Operation:
    """One operation of a contract: its path template, method, and the parts validation needs."""

    template: str
    method: str
    spec: dict[str, Any]
    parameters: tuple[dict[str, Any], ...]  # path-item and operation parameters, $refs resolved


@dataclass(frozen=True)
class Contract:
    """A parsed contract: the raw spec, the openapi-core app, and where its server lives."""

    name: str
    spec: dict[str, Any]
    app: OpenAPI
    origin: str  # scheme://host of the spec's server, e.g. https://api.xero.com
    base_path: str  # the server's path prefix, e.g. /api.xro/2.0
    patterns: tuple[tuple[re.Pattern[str], str], ...]  # (full-path regex, template); literal paths first
    load_seconds: float

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for a method and a full path (base path included), if the contract has one."""
        return _find_operation(self, method.lower(), path)


@functools.cache
def load_contract(name: ContractName) -> Contract:
    """Parse `contracts/<file>` once per process (the Xero file is ~900 KB; CSafeLoader parses it in ~0.2 s)."""
    if name not in CONTRACT_FILES:
        raise ValueError(f"unknown contract {name!r}; expected one of {sorted(CONTRACT_FILES)}")
    started = time.perf_counter()
    with (CONTRACTS_DIR / CONTRACT_FILES[name]).open("rb") as handle:
        spec = yaml.load(handle, Loader=yaml.CSafeLoader)
    _normalise_response_codes(spec)
    app = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
    server = urlsplit(spec["servers"][0]["url"])
    base_path = server.path.rstrip("/")
    return Contract(
        name=name,
        spec=spec,
        app=app,
        origin=f"{server.scheme}://{server.netloc}",
        base_path=base_path,
        patterns=_path_patterns(base_path, list(spec["paths"])),
        load_seconds=time.perf_counter() - started,
    )


def validate_exchange(contract: Contract, exchange: Exchange) -> None:
    """Validate one recorded request and its response against the contract.

    Raises AssertionError listing every problem found (not only the first), headed by the
    exchange's method, path and status so a failing test names what was sent.
    """
    method = exchange.method.lower()
    path = spec_path(contract, exchange.path)
    heading = f"{exchange.method} {path} -> {exchange.status} violates the {contract.name} contract:"
    operation = contract.find(method, path)
    if operation is None:
        raise AssertionError(f"{heading}\n  - no operation {exchange.method} {path} in the contract")
    request = MockRequest(
        contract.origin,
        method,
        path,
        args=exchange.query,
        headers=exchange.request_headers,
        data=exchange.request_body,
        content_type=_header(exchange.request_headers, "Content-Type") or "application/json",
    )
    problems: list[str] = []
    with warnings.catch_warnings():
        # openapi-core cannot check OAuth2; _security_problems does it below.
        warnings.filterwarnings("ignore", message="Unsupported scheme type")
        for error in contract.app.request_validator.iter_errors(request):
            problems.extend(describe_error("request", error))
    problems.extend(_security_problems(contract, operation, exchange.request_headers))
    problems.extend(_undeclared_query(operation, exchange.query))
    problems.extend(_response_problems(contract, operation, request, exchange))
    if problems:
        raise AssertionError(heading + "".join(f"\n  - {problem}" for problem in problems))


def spec_path(contract: Contract, path: str) -> str:
    """Map a sandbox path onto the spec's server: keep the base path if present, else prefix it."""
    if path == contract.base_path or path.startswith(contract.base_path + "/"):
        return path
    return contract.base_path + (path if path.startswith("/") else "/" + path)


def describe_error(side: str, error: BaseException) -> list[str]:
    """Readable lines for an openapi-core error, one per underlying schema error, with its JSON path."""
    # Parameter errors say which parameter ("Query parameter error: page"); body and data errors
    # would repeat the whole value, so those are labelled by class and located by JSON path.
    label = (
        f"{side}: {error}"
        if isinstance(error, ParameterValidationError)
        else f"{side}: {type(error).__name__}"
    )
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None) or [])
    if not schema_errors:
        detail = f" ({cause})" if cause is not None and str(cause) not in str(error) else ""
        return [f"{side}: {error}{detail}"]
    lines = []
    for schema_error in schema_errors:
        where = getattr(schema_error, "json_path", "$")
        message = getattr(schema_error, "message", str(schema_error))
        lines.append(f"{label}: at {where}: {_shorten(message)}")
    return lines


# --------------------------------------------------------------------------------------------------
# internals
# --------------------------------------------------------------------------------------------------


def _normalise_response_codes(spec: dict[str, Any]) -> None:
    """Response codes written as YAML integers (`200:`) become the strings OpenAPI means."""
    for path_item in (spec.get("paths") or {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method) if isinstance(path_item, dict) else None
            if isinstance(operation, dict) and isinstance(operation.get("responses"), dict):
                operation["responses"] = {str(code): body for code, body in operation["responses"].items()}


def _path_patterns(base_path: str, templates: list[str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """A regex per path template; templates with more literal text come first, as OpenAPI says
    concrete paths win (`/Contacts/{ContactID}` vs `/Contacts/{ContactNumber}` tie and keep file order)."""
    patterns = []
    for template in templates:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(base_path + template))
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        patterns.append((literal, re.compile(f"^{regex}$"), template))
    patterns.sort(key=lambda item: -item[0])
    return tuple((regex, template) for _literal, regex, template in patterns)


def _find_operation(contract: Contract, method: str, path: str) -> Operation | None:
    for regex, template in contract.patterns:
        if not regex.match(path):
            continue
        path_item = contract.spec["paths"][template]
        if method not in path_item:
            continue
        operation = path_item[method]
        parameters = [_resolve(contract.spec, p) for p in operation.get("parameters", [])]
        parameters += [_resolve(contract.spec, p) for p in path_item.get("parameters", [])]
        return Operation(template, method, operation, tuple(parameters))
    return None


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/components/...`)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _security_problems(contract: Contract, operation: Operation, headers: dict[str, str]) -> list[str]:
    """Require `Authorization: Bearer <token>` when the operation's security uses that header."""
    requirements = operation.spec.get("security", contract.spec.get("security")) or []
    schemes = contract.spec.get("components", {}).get("securitySchemes", {})
    uses_bearer = False
    for requirement in requirements:
        for scheme_name in requirement:
            scheme = schemes.get(scheme_name, {})
            kind = scheme.get("type")
            token_scheme = kind in ("oauth2", "openIdConnect") or (
                kind == "http" and scheme.get("scheme") == "bearer"
            )
            authorization_key = (
                kind == "apiKey"
                and scheme.get("in") == "header"
                and str(scheme.get("name", "")).lower() == "authorization"
            )
            uses_bearer = uses_bearer or token_scheme or authorization_key
    if not uses_bearer:
        return []
    value = _header(headers, "Authorization") or ""
    if not re.match(r"^Bearer \S+$", value):
        shown = f"{value[:12]}..." if value else "nothing"
        return [f"security: expected 'Authorization: Bearer <token>', got {shown}"]
    return []


def _undeclared_query(operation: Operation, query: dict[str, list[str]]) -> list[str]:
    declared = {p["name"] for p in operation.parameters if p.get("in") == "query"}
    extra = sorted(set(query) - declared)
    if not extra:
        return []
    return [
        f"request: query parameter {name!r} is not declared for {operation.method.upper()} {operation.template} "
        f"(declared: {', '.join(sorted(declared)) or 'none'})"
        for name in extra
    ]


def _response_problems(
    contract: Contract, operation: Operation, request: MockRequest, exchange: Exchange
) -> list[str]:
    status = exchange.status
    responses = operation.spec.get("responses") or {}
    problems: list[str] = []
    if status == 429:
        problems.extend(_rate_limit_header_problems(contract, exchange.response_headers))
    if str(status) in responses or "default" in responses:
        response = MockResponse(
            exchange.response_body,
            status_code=status,
            headers=exchange.response_headers,
            content_type=_header(exchange.response_headers, "Content-Type") or "application/json",
        )
        for error in contract.app.response_validator.iter_errors(request, response):
            problems.extend(describe_error("response", error))
        return problems
    if status not in PROVIDER_STATUSES[contract.name]:
        declared = ", ".join(sorted(responses)) or "none"
        return [
            *problems,
            f"response: status {status} is not declared for {operation.method.upper()} {operation.template} "
            f"(declared: {declared}) nor one the provider documents for every call",
        ]
    if not exchange.response_body:
        return problems
    try:
        body = json.loads(exchange.response_body)
    except ValueError:
        return [*problems, f"response: the {status} body is not JSON: {exchange.response_body[:80]!r}"]
    if contract.name == "xero" and status == 400:
        problems.extend(_schema_problems(contract, "Error", body))
    elif not isinstance(body, dict):
        problems.append(f"response: the {status} body is not a JSON object")
    return problems


def _rate_limit_header_problems(contract: Contract, headers: dict[str, str]) -> list[str]:
    problems = []
    retry_after = _header(headers, "Retry-After")
    if retry_after is None or not retry_after.strip().isdigit():
        problems.append(f"response: a 429 must carry Retry-After in whole seconds, got {retry_after!r}")
    if contract.name == "xero":
        problem = _header(headers, "X-Rate-Limit-Problem")
        if problem not in XERO_RATE_PROBLEMS:
            problems.append(
                f"response: a Xero 429 must carry X-Rate-Limit-Problem in {sorted(XERO_RATE_PROBLEMS)}, got {problem!r}"
            )
    return problems


def _schema_problems(contract: Contract, schema_name: str, body: Any) -> list[str]:
    """Validate a body against `#/components/schemas/<name>` with the OpenAPI 3.0 dialect."""
    # The $ref resolves against this wrapper document, which carries the spec's components.
    wrapper = {"$ref": f"#/components/schemas/{schema_name}", "components": contract.spec["components"]}
    validator = OAS30Validator(wrapper, format_checker=OAS30Validator.FORMAT_CHECKER)
    return [
        f"response: at {error.json_path}: {_shorten(error.message)} (schema {schema_name})"
        for error in validator.iter_errors(body)
    ]


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
