"""The workbench: a Starlette application rendering Jinja2 pages over the entities' warehouse files.

Who is acting comes from a configurable request header (set by the proxy in front of it) or, when none
is configured, from the local login; a request without the configured header is refused. Pages show
bank lines, candidates, source records and history, never configuration or environment values, so no
secret can reach a page. Every decision goes through web/actions.py and so through the match log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from resources.bank_statements_parties import party_records, write_alias
from resources.bank_statements_store import reconciliation_transaction
from resources.warehouse import Warehouse, default_home
from rules.reconciliation.duplicates import Suggestion, duplicate_suggestions
from rules.reconciliation.rule_file import ReconciliationRules
from web.actions import Decision, Template, add_comment, apply_template, decide

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
OPEN = ("proposed", "exception")


@dataclass(frozen=True)
class WorkbenchSettings:
    """Where the data is and how the person acting is named."""

    warehouse: Warehouse
    rules: ReconciliationRules
    entities: tuple[str, ...]
    user_header: str = ""  # e.g. X-Remote-User; empty: `local_user` acts
    local_user: str = ""
    contact_of: Mapping[str, Mapping[str, str]] = field(
        default_factory=dict
    )  # entity -> PM client -> contact

    def suggestions(self) -> list[Suggestion]:
        """Duplicate-party suggestions of every entity with a warehouse file."""
        found: list[Suggestion] = []
        for entity in self.entities:
            if self.warehouse.exists(entity):
                with reconciliation_transaction(self.warehouse, entity) as con:
                    parties = party_records(con, entity)
                found += duplicate_suggestions(parties, dict(self.contact_of.get(entity, {})))
        return found


def _queue_rows(settings: WorkbenchSettings, filters: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    statuses = [filters["status"]] if filters.get("status") else list(OPEN)
    for entity in settings.entities:
        if (filters.get("entity") and filters["entity"] != entity) or not settings.warehouse.exists(entity):
            continue
        with reconciliation_transaction(settings.warehouse, entity) as con:
            rows += (
                con.sql(
                    "SELECT b.entity, b.line_id, b.booking_date, b.amount, b.currency, b.counterparty_name, b.remittance,"
                    " s.status, s.version, m.confidence, array_to_string(m.anomalies, ', ') AS anomalies,"
                    " json_extract_string(m.items, '$[*].number') AS numbers"
                    " FROM reconciliation.line_state s JOIN reconciliation.bank_lines b USING (line_id)"
                    " JOIN reconciliation.match_log m ON m.decision_id = s.decision_id"
                    " WHERE s.status IN (SELECT unnest(?::VARCHAR[]))"
                    " AND (? = '' OR list_contains(m.anomalies, ?))"
                    " AND (? = '' OR b.counterparty_name ILIKE '%' || ? || '%' OR b.remittance ILIKE '%' || ? || '%')"
                    " ORDER BY b.booking_date, b.line_id",
                    params=[
                        statuses,
                        filters.get("anomaly", ""),
                        filters.get("anomaly", ""),
                        *[filters.get("q", "")] * 3,
                    ],
                )
                .pl()
                .to_dicts()
            )
    for row in rows:
        row["numbers"] = ", ".join(row["numbers"] or [])
    return rows


def _line_page(settings: WorkbenchSettings, entity: str, line_id: str) -> dict[str, Any]:
    with reconciliation_transaction(settings.warehouse, entity) as con:
        line = (
            con.sql("SELECT * FROM reconciliation.bank_lines WHERE line_id = ?", params=[line_id])
            .pl()
            .to_dicts()
        )
        state = (
            con.sql("SELECT * FROM reconciliation.line_state WHERE line_id = ?", params=[line_id])
            .pl()
            .to_dicts()
        )
        log = con.sql("SELECT * FROM reconciliation.match_log WHERE line_id = ? ORDER BY decided_at",
                      params=[line_id]).pl().to_dicts()  # fmt: skip
        comments = con.sql("SELECT * FROM reconciliation.comments WHERE line_id = ? ORDER BY created_at",
                           params=[line_id]).pl().to_dicts()  # fmt: skip
    if not line or not state:
        raise LookupError(f"no bank line {line_id} in {entity}")
    last = next(r for r in log if r["decision_id"] == state[0]["decision_id"])
    proposal = {"item_ids": last["item_ids"], "numbers": [i["number"] for i in json.loads(last["items"])],
                "rung": last["rung"], "confidence": last["confidence"],
                "components": {k: last[f"{k}_score"] for k in ("reference", "amount", "party", "date")},
                "settlement": json.loads(last["settlement"]).get("settlement_reason")}  # fmt: skip
    candidates = ([proposal] if last["item_ids"] else []) + json.loads(last["alternatives"] or "[]")
    history = [{"at": r["decided_at"], "who": r["decided_by"], "what": f"{r['action']}: {r['status']}",
                "detail": r["comment"] or r["explanation"]} for r in log]  # fmt: skip
    history += [
        {"at": c["created_at"], "who": c["author"], "what": "comment", "detail": c["body"]} for c in comments
    ]
    return {"line": line[0], "state": state[0], "candidates": candidates, "items": json.loads(last["items"]),
            "history": sorted(history, key=lambda h: h["at"])}  # fmt: skip


def create_app(settings: WorkbenchSettings) -> Starlette:
    """The workbench application over `settings`."""

    def person(request: Request) -> str | None:
        if settings.user_header:
            return request.headers.get(settings.user_header) or None
        return settings.local_user or None

    def page(request: Request, name: str, context: dict[str, Any], who: str) -> Response:
        messages = [(k, t) for k, t in json.loads(request.query_params.get("m", "[]"))]
        return TEMPLATES.TemplateResponse(request, name, {"person": who, "messages": messages, **context})

    def back(path: str, messages: list[tuple[str, str]]) -> Response:
        query = "?" + urlencode({"m": json.dumps(messages)}) if messages else ""
        return RedirectResponse(path + query, status_code=303)

    def signed_in(
        handler: Callable[[Request, str], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = person(request)
            if who is None:
                return PlainTextResponse(
                    f"who is acting? send the {settings.user_header} header", status_code=401
                )
            return await handler(request, who)

        return endpoint

    async def queue(request: Request, who: str) -> Response:
        filters = {k: request.query_params.get(k, "") for k in ("entity", "status", "anomaly", "q")}
        rows = _queue_rows(settings, filters)
        return page(
            request, "queue.html", {"rows": rows, "filters": filters, "entities": settings.entities}, who
        )

    async def line(request: Request, who: str) -> Response:
        try:
            context = _line_page(settings, request.path_params["entity"], request.path_params["line_id"])
        except LookupError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return page(request, "line.html", context, who)

    async def post_decide(request: Request, who: str) -> Response:
        form = await request.form()
        chosen = tuple(i for i in str(form.get("items") or "").split(",") if i)
        outcomes = []
        for value in form.getlist("line"):
            entity, line_id, version = str(value).split("|")
            if entity not in settings.entities:
                continue
            decision = Decision(entity, line_id, int(version), str(form.get("action")), chosen,
                                str(form.get("comment") or "").strip())  # fmt: skip
            outcomes.append(decide(settings.warehouse, settings.rules, who, decision))
        messages = [("done" if o.done else "refused", o.message) for o in outcomes]
        target = str(form.get("back") or "/queue")
        return back(
            target if target.startswith("/") else "/queue", messages or [("refused", "nothing selected")]
        )

    async def post_comment(request: Request, who: str) -> Response:
        form = await request.form()
        entity, line_id = str(form["entity"]), str(form["line_id"])
        if entity in settings.entities and str(form.get("body") or "").strip():
            with reconciliation_transaction(settings.warehouse, entity) as con:
                add_comment(con, entity, line_id, who, str(form["body"]).strip())
        return back(f"/line/{entity}/{line_id}", [("done", "comment added")])

    async def templates(request: Request, who: str) -> Response:
        found: dict[str, dict[str, Any]] = {}
        for entity in settings.entities:
            if settings.warehouse.exists(entity):
                with reconciliation_transaction(settings.warehouse, entity) as con:
                    for t in (
                        con.sql("SELECT * FROM reconciliation.templates ORDER BY created_at").pl().to_dicts()
                    ):
                        found.setdefault(t["template_id"], t)
        return page(
            request, "templates.html", {"templates": list(found.values()), "entities": settings.entities}, who
        )

    async def post_template(request: Request, who: str) -> Response:
        form = await request.form()
        values = [uuid.uuid4().hex[:12], str(form["name"]), str(form["payer_pattern"]), str(form["reference_pattern"]),
                  str(form["action"]), None, who, datetime.now(UTC)]  # fmt: skip
        for entity in settings.entities:  # a template serves every entity: each file keeps a copy
            with reconciliation_transaction(settings.warehouse, entity) as con:
                con.execute("INSERT INTO reconciliation.templates VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
        return back("/templates", [("done", f"template {values[1]} saved")])

    async def post_apply(request: Request, who: str) -> Response:
        form = await request.form()
        entities = [str(e) for e in form.getlist("entity") if str(e) in settings.entities]
        with reconciliation_transaction(
            settings.warehouse, entities[0] if entities else settings.entities[0]
        ) as con:
            t = con.sql("SELECT * FROM reconciliation.templates WHERE template_id = ?",
                        params=[str(form["template_id"])]).pl().to_dicts()  # fmt: skip
        if not t:
            return back("/templates", [("refused", "no such template")])
        template = Template(t[0]["template_id"], t[0]["name"], t[0]["payer_pattern"], t[0]["reference_pattern"],
                            t[0]["action"])  # fmt: skip
        outcomes = apply_template(settings.warehouse, settings.rules, who, template, entities)
        done = sum(o.done for o in outcomes)
        messages = [("done", f"template {template.name}: {done} line(s) decided")]
        messages += [("refused", o.message) for o in outcomes if not o.done]
        return back("/queue", messages)

    async def parties(request: Request, who: str) -> Response:
        path = Path(settings.warehouse.home or default_home()) / "mapping_suggestions" / "aliases.yaml"
        return page(
            request, "parties.html", {"suggestions": settings.suggestions(), "aliases_path": path}, who
        )

    async def accept_party(request: Request, who: str) -> Response:
        form = await request.form()
        chosen = [
            s
            for s in settings.suggestions()
            if s.key == str(form.get("key")) and s.entity == form.get("entity")
        ]
        alias = chosen[0].alias_entry() if chosen else None
        if alias is None:
            return back("/parties", [("refused", "that suggestion is gone or cannot be an alias")])
        written = write_alias(settings.warehouse.home or default_home(), alias, who)
        return back(
            "/parties", [("done", f"alias for PM client {alias['pm_client_id']} written to {written}")]
        )

    return Starlette(
        routes=[
            Route("/", lambda r: RedirectResponse("/queue", status_code=303)),
            Route("/queue", signed_in(queue)),
            Route("/line/{entity}/{line_id}", signed_in(line)),
            Route("/decide", signed_in(post_decide), methods=["POST"]),
            Route("/comment", signed_in(post_comment), methods=["POST"]),
            Route("/templates", signed_in(templates), methods=["GET"]),
            Route("/templates", signed_in(post_template), methods=["POST"]),
            Route("/templates/apply", signed_in(post_apply), methods=["POST"]),
            Route("/parties", signed_in(parties)),
            Route("/parties/accept", signed_in(accept_party), methods=["POST"]),
        ]
    )
