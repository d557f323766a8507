"""Parties that share a tax number or a company e-mail domain (pure; suggestions only, never merged).

A client that appears twice (two PM clients, or a PM client and an accounting contact under another
name) often gives itself away by what it shares rather than by its name: the same VAT or tax number,
or addresses at the same company mail domain. Tax numbers compare without spaces, dots, dashes and
case ("GB 123 4567 89" is "GB123456789"). Mail domains compare lower-cased; public mail providers
(PUBLIC_MAIL_DOMAINS) say nothing about who a party is, so they never make two parties one.
"""

from __future__ import annotations

import re
from itertools import combinations

import polars as pl

# Mail providers anyone can sign up to: a shared domain there is no evidence of a shared party.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "hotmail.co.uk",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yahoo.co.uk",
        "yandex.com",
    }
)
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def tax_key(tax_number: str | None) -> str:
    """A tax number as compared: upper case, letters and digits only ("" when there is none)."""
    return _NOT_ALNUM.sub("", (tax_number or "").upper())


def mail_domain(email: str | None) -> str:
    """The company mail domain of an address, lower-cased ("" when there is none, or a public provider)."""
    _, at, domain = (email or "").strip().rpartition("@")
    domain = domain.strip().strip(".").lower()
    if not at or not domain or domain in PUBLIC_MAIL_DOMAINS:
        return ""
    return domain


Side = tuple[str, str, str]  # entity, source, party id


def shared_identifier_pairs(parties: pl.DataFrame) -> list[tuple[dict[str, object], dict[str, object], str]]:
    """Pairs of distinct parties of one entity with the same tax number or company mail domain, and which.

    `parties`: rows with source, party_id, name, entity, tax_number and email (either may be null).
    Each pair comes once, its sides ordered by (source, party_id); a pair sharing both comes once,
    as "shared tax number and e-mail domain".
    """
    rows = parties.to_dicts()
    by_side: dict[Side, dict[str, object]] = {
        (str(r["entity"]), str(r["source"]), str(r["party_id"])): r for r in rows
    }
    reasons: dict[tuple[Side, Side], list[str]] = {}
    for what, column, key_of in (
        ("tax number", "tax_number", tax_key),
        ("e-mail domain", "email", mail_domain),
    ):
        groups: dict[tuple[str, str], set[Side]] = {}
        for side, row in by_side.items():
            key = key_of(row.get(column))  # type: ignore[arg-type]
            if key:
                groups.setdefault((side[0], key), set()).add(side)
        for members in groups.values():
            for a, b in combinations(sorted(members), 2):
                reasons.setdefault((a, b), []).append(what)
    return [
        (by_side[a], by_side[b], "shared " + " and ".join(found)) for (a, b), found in sorted(reasons.items())
    ]
