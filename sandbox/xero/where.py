"""The `where` query parameter: the subset of Xero's filter language the sandbox evaluates.

Supported: `Field=="text"`, `Field==guid("...")` (and `!=`), and `Field.StartsWith("text")`,
joined by AND/&&. Anything else (OR, other method calls, comparisons, parentheses) is refused
with a message naming what is supported, rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Filterable fields: name as Xero spells it (matched case-insensitively) -> (column, literal kind).
Fields = Mapping[str, tuple[str, str]]

_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_GUID_LITERAL_RE = re.compile(r'guid\(\s*"([^"]*)"\s*\)', re.IGNORECASE)
_AND_RE = re.compile(r"(AND\b|&&)", re.IGNORECASE)
_OR_RE = re.compile(r"(OR\b|\|\|)", re.IGNORECASE)
_LITERALS = {"guid": 'guid("...")', "string": '"..."'}


class WhereError(ValueError):
    """A `where` expression the sandbox cannot evaluate (answered as a 400 QueryParseException)."""


@dataclass(frozen=True)
class Clause:
    """One condition: a stored column, an operator ("==", "!=" or "startswith") and its literal."""

    column: str
    op: str
    value: str


def parse_where(expression: str, fields: Fields) -> list[Clause]:
    """Parse `Field=="text"`, `Field==guid("...")` (and `!=`) and `Field.StartsWith("...")` joined by AND/&&."""
    return _Parser(expression, fields).clauses()


def like_literal(value: str) -> str:
    """`value` as a literal inside a LIKE pattern with ESCAPE '\\' (its %, _ and \\ match themselves)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_sql(clauses: list[Clause]) -> tuple[list[str], list[str]]:
    """SQL conditions and their parameters for parsed clauses (string comparisons ignore case)."""
    conditions: list[str] = []
    params: list[str] = []
    for clause in clauses:
        if clause.op == "startswith":
            conditions.append(f"{clause.column} LIKE ? ESCAPE '\\'")  # ASCII case-insensitive
            params.append(like_literal(clause.value) + "%")
            continue
        conditions.append(f"{clause.column} {'=' if clause.op == '==' else '!='} ? COLLATE NOCASE")
        params.append(clause.value)
    return conditions, params


class _Parser:
    """A left-to-right reader of one expression; `pos` is the next character to read."""

    def __init__(self, text: str, fields: Fields):
        self.text = text
        self.pos = 0
        self.by_lower = {name.lower(): (name, spec) for name, spec in fields.items()}
        self.supported = ", ".join(f"{name}=={_LITERALS[kind]}" for name, (_column, kind) in fields.items())

    def fail(self, reason: str) -> WhereError:
        return WhereError(
            f"cannot evaluate where={self.text!r}: {reason}. The sandbox supports {self.supported}, joined by AND"
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def clauses(self) -> list[Clause]:
        found: list[Clause] = []
        while True:
            self.skip_ws()
            match = _FIELD_RE.match(self.text, self.pos)
            if not match:
                raise self.fail(f"expected a field name at position {self.pos}")
            is_call = self.text[match.end() : match.end() + 1] == "("
            found.append(self.starts_with(match) if is_call else self.comparison(match))
            self.skip_ws()
            if self.at_end():
                return found
            if not is_call and _OR_RE.match(self.text, self.pos):
                raise self.fail(
                    "OR is not supported (use the Statuses/IDs/InvoiceNumbers parameters, or several calls)"
                )
            joiner = _AND_RE.match(self.text, self.pos)
            if not joiner:
                raise self.fail(
                    f"unexpected text at position {self.pos}: {self.text[self.pos : self.pos + 20]!r}"
                )
            self.pos = joiner.end()

    def starts_with(self, match: re.Match[str]) -> Clause:
        # Xero's string method used to find a family of numbers in one call: Field.StartsWith("x").
        name = match.group(0)
        base, _, method = name.rpartition(".")
        if method.lower() != "startswith" or base.lower() not in self.by_lower:
            raise self.fail(f"method calls such as {name}(...) are not supported (only Field.StartsWith)")
        proper, (column, kind) = self.by_lower[base.lower()]
        if kind != "string":
            raise self.fail(f"{proper} is not a string field, so it has no StartsWith")
        self.pos = match.end() + 1
        self.skip_ws()
        if self.at_end() or self.text[self.pos] != '"':
            raise self.fail(f'{proper}.StartsWith takes a "quoted" literal')
        value = self.string_literal()
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] != ")":
            raise self.fail(f"expected ) after {proper}.StartsWith(...)")
        self.pos += 1
        return Clause(column, "startswith", value)

    def comparison(self, match: re.Match[str]) -> Clause:
        name = match.group(0)
        if name.lower() not in self.by_lower:
            raise self.fail(f"unsupported field {name!r}")
        proper, (column, kind) = self.by_lower[name.lower()]
        self.pos = match.end()
        self.skip_ws()
        op = self.text[self.pos : self.pos + 2]
        if op not in ("==", "!="):
            raise self.fail(f"expected == or != after {proper} at position {self.pos}")
        self.pos += 2
        self.skip_ws()
        if kind == "guid":
            return Clause(column, op, self.guid_literal(proper))
        if self.at_end() or self.text[self.pos] != '"':
            raise self.fail(f'{proper} is a string: compare it with a "quoted" literal')
        return Clause(column, op, self.string_literal())

    def guid_literal(self, proper: str) -> str:
        guid = _GUID_LITERAL_RE.match(self.text, self.pos)
        if not guid:
            raise self.fail(f'{proper} is a Guid: compare it with guid("...")')
        if not GUID_RE.match(guid.group(1)):
            raise self.fail(f"{guid.group(1)!r} is not a GUID")
        self.pos = guid.end()
        return guid.group(1).lower()

    def string_literal(self) -> str:
        """A double-quoted literal at `pos` (backslash escapes \\" and \\\\); moves past its closing quote."""
        out: list[str] = []
        i = self.pos + 1
        text = self.text
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
            elif char == '"':
                self.pos = i + 1
                return "".join(out)
            else:
                out.append(char)
                i += 1
        raise self.fail("unterminated string literal")
