"""Read a bank statement file as received: ISO 20022 camt.053, SWIFT MT940, or the documented CSV layout.

camt.053 is read with `pycamt` and MT940 with `mt-940` (kept libraries); the CSV layout is ours
(README.md#bank-statements). Every format becomes one `ParsedStatement`: the account, the period,
the opening and closing balances and the lines, amounts as exact Decimals (pycamt turns a debit
balance into a float, so balances are read from its XML tree instead). A file that cannot be read
raises `StatementParseError` with the line number of the problem, and the caller quarantines the
whole file; a statement whose opening balance plus its lines is not its closing balance raises
`UnbalancedStatementError` naming the difference.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import mt940
from lxml import etree
from pycamt.parser import Camt053ParseError, Camt053Parser


class StatementParseError(ValueError):
    """The file is not a readable statement; `line` is where reading stopped (1-based; 0: unknown)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class UnbalancedStatementError(ValueError):
    """Opening balance + lines != closing balance."""


@dataclass(frozen=True)
class StatementLine:
    """One booked line, signed (credit +), as the statement gives it."""

    booking_date: date
    amount: Decimal
    currency: str
    counterparty_name: str
    remittance: str
    bank_reference: str
    charges: Decimal | None = None


@dataclass(frozen=True)
class ParsedStatement:
    """A statement's identity, balances and lines."""

    format: str  # camt053 | mt940 | csv
    account_id: str
    currency: str
    statement_ref: str
    from_date: date
    to_date: date
    opening_balance: Decimal
    closing_balance: Decimal
    lines: tuple[StatementLine, ...]

    def check_balance(self) -> None:
        """Raise UnbalancedStatementError unless opening + lines = closing, to the cent."""
        total = sum((line.amount for line in self.lines), Decimal(0))
        if self.opening_balance + total != self.closing_balance:
            difference = self.closing_balance - (self.opening_balance + total)
            raise UnbalancedStatementError(
                f"opening {self.opening_balance} + lines {total} = {self.opening_balance + total}, "
                f"but closing balance is {self.closing_balance} (difference {difference} {self.currency})"
            )


def parse_statement(raw: bytes) -> ParsedStatement:
    """Recognise the format from the content and parse it (balances checked)."""
    head = raw[:512].lstrip()
    if head.startswith(b"<"):
        statement = _parse_camt(raw)
    elif b":20:" in raw[:2048] and b":60" in raw:
        statement = _parse_mt940(raw)
    else:
        statement = _parse_csv(raw)
    statement.check_balance()
    outside = [
        n
        for n, line in enumerate(statement.lines, 1)
        if not statement.from_date <= line.booking_date <= statement.to_date
    ]
    if outside:
        raise StatementParseError(
            f"line(s) {outside[:5]} booked outside the statement's period {statement.from_date}..{statement.to_date}"
        )
    return statement


# ------------------------------------------------------------------ camt.053
def _camt_balance(parser: Camt053Parser, code: str) -> tuple[Decimal, date]:
    for balance in parser.tree.iter("{*}Bal"):
        if balance.findtext(".//{*}Tp/{*}CdOrPrtry/{*}Cd") == code:
            amount = _decimal(balance.findtext("{*}Amt"), balance.sourceline or 0, "balance amount")
            sign = -1 if balance.findtext("{*}CdtDbtInd") == "DBIT" else 1
            when = balance.findtext(".//{*}Dt/{*}Dt") or (balance.findtext(".//{*}Dt/{*}DtTm") or "")[:10]
            return amount * sign, _date(when, balance.sourceline or 0)
    raise StatementParseError(f"no {code} balance", 0)


def _parse_camt(raw: bytes) -> ParsedStatement:
    try:
        parser = Camt053Parser(raw)
        entries = parser.get_transactions()
        info = parser.get_statement_info()[0]
    except etree.XMLSyntaxError as exc:
        raise StatementParseError(f"not well-formed XML: {exc.msg}", exc.lineno or 0) from None
    except (Camt053ParseError, AttributeError, IndexError) as exc:
        raise StatementParseError(f"not a camt.053 statement ({type(exc).__name__})", 0) from None
    opening, starts = _camt_balance(parser, "OPBD")
    closing, ends = _camt_balance(parser, "CLBD")
    lines = []
    for n, entry in enumerate(entries, start=1):
        where = f"entry {n}"
        sign = -1 if entry.get("CreditDebitIndicator") == "DBIT" else 1
        lines.append(
            StatementLine(
                booking_date=_date(entry.get("BookingDate") or "", 0, where),
                amount=_decimal(entry.get("Amount"), 0, f"{where} amount") * sign,
                currency=entry.get("Currency") or info.get("Currency") or "",
                counterparty_name=(entry.get("DebtorName") if sign > 0 else entry.get("CreditorName")) or "",
                remittance=entry.get("RemittanceInformationFull") or entry.get("RemittanceInformation") or "",
                bank_reference=entry.get("TransactionID") or entry.get("EndToEndId") or "",
            )
        )
    statement_ref = parser.tree.findtext(".//{*}Stmt/{*}Id") or parser.get_group_header().get("MessageID", "")
    return ParsedStatement("camt053", info.get("IBAN") or "", info.get("Currency") or "",
                           statement_ref, starts, ends, opening, closing, tuple(lines))  # fmt: skip


# ------------------------------------------------------------------ MT940
_FIELD_86 = re.compile(r"/(NAME|REMI|CHGS)/([^/]*)")


def _mt940_line(text: str, value: str) -> int:
    """The line of `text` where `value` (the field mt-940 could not read) starts."""
    at = text.find(value) if value else -1
    return text.count("\n", 0, at) + 1 if at >= 0 else 0


def _details(raw: str) -> tuple[str, str, Decimal | None]:
    """(payer, remittance, charges) from a :86: field: `/NAME/../REMI/../CHGS/GBP12,50`, else all remittance."""
    found = dict(_FIELD_86.findall(raw.replace("\n", "")))
    if not found:
        return "", raw.replace("\n", " ").strip(), None
    charges = found.get("CHGS")
    amount = Decimal(charges[3:].replace(",", ".")) if charges else None
    return found.get("NAME", "").strip(), found.get("REMI", "").strip(), amount


def _parse_mt940(raw: bytes) -> ParsedStatement:
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except RuntimeError as exc:
        value = exc.args[2] if len(exc.args) > 2 and isinstance(exc.args[2], str) else ""
        raise StatementParseError(
            f"unreadable MT940 field {value[:40]!r}", _mt940_line(text, value)
        ) from None
    data = transactions.data
    if "final_opening_balance" not in data or "final_closing_balance" not in data:
        raise StatementParseError("no :60F: opening or :62F: closing balance", 0)
    opening, closing = data["final_opening_balance"], data["final_closing_balance"]
    lines = []
    for transaction in transactions:
        item: dict[str, Any] = transaction.data
        payer, remittance, charges = _details(item.get("transaction_details") or "")
        lines.append(
            StatementLine(
                booking_date=date(item["date"].year, item["date"].month, item["date"].day),
                amount=Decimal(item["amount"].amount),
                currency=item["amount"].currency,
                counterparty_name=payer,
                remittance=remittance,
                bank_reference=item.get("customer_reference") or item.get("bank_reference") or "",
                charges=charges,
            )
        )
    return ParsedStatement(
        "mt940", data.get("account_identification", ""), opening.amount.currency,
        data.get("transaction_reference", ""), _mt_date(opening.date), _mt_date(closing.date),
        Decimal(opening.amount.amount), Decimal(closing.amount.amount), tuple(lines),
    )  # fmt: skip


def _mt_date(value: Any) -> date:
    return date(value.year, value.month, value.day)


# ------------------------------------------------------------------ CSV
CSV_COLUMNS = ("record", "date", "amount", "currency", "account_id", "counterparty_name", "remittance",
               "bank_reference", "charges")  # fmt: skip


def _parse_csv(raw: bytes) -> ParsedStatement:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StatementParseError(
            f"not UTF-8 text ({exc.reason})", raw[: exc.start].count(b"\n") + 1
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise StatementParseError(f"header must be {','.join(CSV_COLUMNS)}", 1)
    balances: dict[str, tuple[Decimal, date]] = {}
    lines, account, currency = [], "", ""
    for row in reader:
        n = reader.line_num
        amount, when = _decimal(row["amount"], n, "amount"), _date(row["date"], n)
        account, currency = row["account_id"] or account, row["currency"] or currency
        if row["record"] in ("opening", "closing"):
            balances[row["record"]] = (amount, when)
        elif row["record"] == "line":
            charges = _decimal(row["charges"], n, "charges") if row["charges"] else None
            lines.append(StatementLine(when, amount, row["currency"], row["counterparty_name"] or "",
                                       row["remittance"] or "", row["bank_reference"] or "", charges))  # fmt: skip
        else:
            raise StatementParseError(
                f"column record must be opening, line or closing (got {row['record']!r})", n
            )
    if set(balances) != {"opening", "closing"}:
        raise StatementParseError("an opening and a closing record are required", reader.line_num)
    (opening, starts), (closing, ends) = balances["opening"], balances["closing"]
    return ParsedStatement("csv", account, currency, f"{account}:{starts}:{ends}", starts, ends, opening,
                           closing, tuple(lines))  # fmt: skip


# ------------------------------------------------------------------ fields
def _decimal(value: str | None, line: int, what: str) -> Decimal:
    try:
        amount = Decimal((value or "").strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise StatementParseError(f"{what}: not a decimal amount ({value!r})", line)
    return amount


def _date(value: str, line: int, what: str = "date") -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise StatementParseError(f"{what}: not a date YYYY-MM-DD ({value!r})", line) from None
