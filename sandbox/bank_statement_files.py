"""Write bank statement files as a bank would send them: camt.053 (XML), MT940, or the documented CSV.

Used by the demo and the tests to drop realistic files into an entity's inbox; the lines come from
sandbox/bank_statements.py or from the accounting sandbox's invoices. Debit amounts are written
unsigned with DBIT / D, as the formats require.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Statement:
    """What a statement file says: account, period, opening balance and lines (dicts of
    booking_date, amount (signed), currency, counterparty_name, remittance, bank_reference, charges)."""

    account_id: str
    currency: str
    statement_ref: str
    from_date: date
    to_date: date
    opening: Decimal
    lines: tuple[dict[str, Any], ...]

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((Decimal(line["amount"]) for line in self.lines), Decimal(0))


def _mt_amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def render_mt940(s: Statement, closing: Decimal | None = None) -> bytes:
    """An MT940 statement; `closing` overrides the true closing balance (to make a broken file)."""

    def balance(tag: str, when: date, amount: Decimal) -> str:
        return f":{tag}:{'D' if amount < 0 else 'C'}{when:%y%m%d}{s.currency}{_mt_amount(amount)}"

    out = [f":20:{s.statement_ref[:16]}", f":25:{s.account_id}", ":28C:00001/001",
           balance("60F", s.from_date, s.opening)]  # fmt: skip
    for line in s.lines:
        amount, when = Decimal(line["amount"]), line["booking_date"]
        out.append(f":61:{when:%y%m%d}{when:%m%d}{'D' if amount < 0 else 'C'}{_mt_amount(amount)}"
                   f"NTRF{str(line['bank_reference'])[:16]}")  # fmt: skip
        details = f"/NAME/{line['counterparty_name']}/REMI/{line['remittance']}"
        if line.get("charges") is not None:
            details += f"/CHGS/{line['currency']}{_mt_amount(Decimal(line['charges']))}"
        out.append(f":86:{details}")
    out.append(balance("62F", s.to_date, s.closing if closing is None else closing))
    return ("\n".join(out) + "\n").encode()


def _camt_balance(code: str, when: date, amount: Decimal, currency: str) -> str:
    sign = "DBIT" if amount < 0 else "CRDT"
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{currency}\">{abs(amount):.2f}</Amt>"
            f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{when.isoformat()}</Dt></Dt></Bal>")  # fmt: skip


def _camt_entry(line: dict[str, Any]) -> str:
    amount = Decimal(line["amount"])
    party = "Dbtr" if amount >= 0 else "Cdtr"
    return (
        f'<Ntry><Amt Ccy="{line["currency"]}">{abs(amount):.2f}</Amt>'
        f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{line['booking_date'].isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{line['booking_date'].isoformat()}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(str(line['bank_reference']))}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{escape(str(line['bank_reference']))}</EndToEndId></Refs>"
        f"<RltdPties><{party}><Nm>{escape(str(line['counterparty_name']))}</Nm></{party}></RltdPties>"
        f"<RmtInf><Ustrd>{escape(str(line['remittance']))}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def render_camt053(s: Statement) -> bytes:
    """A camt.053.001.08 statement."""
    body = "".join(_camt_entry(line) for line in s.lines)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{escape(s.statement_ref)}</MsgId><CreDtTm>{s.to_date.isoformat()}T23:59:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{escape(s.statement_ref)}</Id><Acct><Id><IBAN>{s.account_id}</IBAN></Id><Ccy>{s.currency}</Ccy></Acct>"
        f"{_camt_balance('OPBD', s.from_date, s.opening, s.currency)}"
        f"{_camt_balance('CLBD', s.to_date, s.closing, s.currency)}{body}</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


def render_csv(s: Statement) -> bytes:
    """The documented CSV layout (README.md#bank-statements): opening, lines, closing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["record", "date", "amount", "currency", "account_id", "counterparty_name", "remittance",
                     "bank_reference", "charges"])  # fmt: skip
    writer.writerow(["opening", s.from_date, f"{s.opening:.2f}", s.currency, s.account_id, "", "", "", ""])
    for line in s.lines:
        charges = "" if line.get("charges") is None else f"{Decimal(line['charges']):.2f}"
        writer.writerow(["line", line["booking_date"], f"{Decimal(line['amount']):.2f}", line["currency"],
                         s.account_id, line["counterparty_name"], line["remittance"], line["bank_reference"],
                         charges])  # fmt: skip
    writer.writerow(["closing", s.to_date, f"{s.closing:.2f}", s.currency, s.account_id, "", "", "", ""])
    return out.getvalue().encode()
