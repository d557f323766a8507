"""A fingerprint of what the demo booked in the accounting sandbox, to compare two releases.

`python -m bench.demo_ledger [LEDGER]` reads the sandbox's SQLite ledger (default
`$BILLBRIDGE_HOME/sandbox/xero.sqlite`, where `make demo` leaves it) and prints one line per
booked document: tenant, type, number, reference, contact, date, currency, status, totals and
each line's description, quantity, unit amount, account, tax and amount; then a SHA-256 over
those lines. Generated ids and timestamps are left out, so two runs of the same release give
the same digest, and a refactoring that changes no money gives the same digest as before it.
A manual journal's number ends in a hash of its allocation run's id (decision 0038), which is new
on every run: that suffix is masked, and the journal is told by its reference instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import sys
from pathlib import Path

HEADER_FIELDS = (
    "Type",
    "Date",
    "DueDate",
    "CurrencyCode",
    "Status",
    "SubTotal",
    "TotalTax",
    "Total",
    "Narration",
)
# BB-US-202609-MJ- + 10 hex of sha256("<journal ref>|<allocation run id>").
RUN_HASHED_NUMBER = re.compile(r"(-MJ-)[0-9A-F]{10}$")
LINE_FIELDS = ("Description", "Quantity", "UnitAmount", "AccountCode", "TaxType", "TaxAmount", "LineAmount")


def _line(value: dict[str, object], fields: tuple[str, ...]) -> str:
    return "|".join(str(value.get(f, "")) for f in fields)


def fingerprint(ledger: Path) -> list[str]:
    """One canonical text line per booked document, sorted."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT tenant, doc_type, number, reference, contact_name, body FROM documents"
        ).fetchall()
    out = []
    for tenant, doc_type, number, reference, contact, body in rows:
        document = json.loads(body)
        lines = document.get("LineItems") or document.get("JournalLines") or []
        text = " ; ".join(_line(line, LINE_FIELDS) for line in lines)
        number = RUN_HASHED_NUMBER.sub(r"\1*", number or "")
        out.append(
            f"{tenant} {doc_type} {number} {reference} {contact} {_line(document, HEADER_FIELDS)} :: {text}"
        )
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    """Print the fingerprint lines and their digest."""
    args = sys.argv[1:] if argv is None else argv
    home = Path(os.environ.get("BILLBRIDGE_HOME", ".billbridge"))
    ledger = Path(args[0]) if args else home / "sandbox" / "xero.sqlite"
    lines = fingerprint(ledger)
    for line in lines:
        print(line)
    print(f"{len(lines)} documents, sha256 {hashlib.sha256(chr(10).join(lines).encode()).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
