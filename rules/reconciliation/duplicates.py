"""Suggested duplicate parties across the PM clients and the accounting contacts (pure; never merged).

Two names are suggested as one party when their comparable keys (rules/reconciliation/parties.py:
upper case, legal forms dropped) have a token-set similarity at or above `min_similarity`, or when
the two share a tax number or a company e-mail domain (rules/reconciliation/shared_identifiers.py),
unless the mapping document already sends the PM client to that contact. Accepting a suggestion writes an alias
in the mapping document's `clients[]` format (`alias_entry`); a person copies it into the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from rules.reconciliation.parties import party_key, party_similarities
from rules.reconciliation.shared_identifiers import shared_identifier_pairs

PARTY_SCHEMA = pl.Schema(
    {"source": pl.String(), "party_id": pl.String(), "name": pl.String(), "entity": pl.String()}
)
# What a party is known by besides its name (null where the source has none; optional columns).
IDENTIFIER_SCHEMA = pl.Schema({"tax_number": pl.String(), "email": pl.String()})
IDENTIFIED_PARTY_SCHEMA = pl.Schema({**dict(PARTY_SCHEMA), **dict(IDENTIFIER_SCHEMA)})
SIMILAR_NAMES = "similar names"


@dataclass(frozen=True)
class Suggestion:
    """Two records that look like one party, and why."""

    a_source: str
    a_id: str
    a_name: str
    b_source: str
    b_id: str
    b_name: str
    entity: str
    similarity: float  # of the names, 0..1 (0 when only a shared identifier suggests the pair)
    reason: str = SIMILAR_NAMES  # similar names, and/or a shared tax number or e-mail domain

    @property
    def key(self) -> str:
        return f"{self.a_source}:{self.a_id}~{self.b_source}:{self.b_id}"

    def alias_entry(self) -> dict[str, object] | None:
        """The mapping document's `clients[]` entry sending the PM client to the other record's contact name
        (for two PM clients: the second to the first's name); None for two accounting contacts."""
        sides = [(self.a_source, self.a_id, self.a_name), (self.b_source, self.b_id, self.b_name)]
        pm = [side for side in sides if side[0] == "pm"]
        other = [side for side in sides if side[0] == "accounting"] or pm[:1]
        if not pm or (len(pm) == 1 and not other):
            return None
        return {"pm_client_id": int(pm[-1][1]), "entity": self.entity, "contact_name": other[0][2]}


def _known(row: dict[str, object], contact_of: dict[str, str]) -> bool:
    """Whether the mapping document already joins the two records."""
    a, b = (row["source"], row["party_id"], row["name"]), (row["source_b"], row["party_id_b"], row["name_b"])
    if a[0] == b[0] == "pm":
        return a[1] in contact_of and contact_of.get(str(a[1])) == contact_of.get(str(b[1]))
    pm, acc = (a, b) if a[0] == "pm" else (b, a)
    return pm[0] == "pm" and contact_of.get(str(pm[1])) == acc[2]


def duplicate_suggestions(
    parties: pl.DataFrame, contact_of: dict[str, str], min_similarity: int = 90
) -> list[Suggestion]:
    """Pairs of distinct `parties` (PARTY_SCHEMA, with IDENTIFIER_SCHEMA's columns where known) of one
    entity whose names look alike, or that share a tax number or a company e-mail domain (each pair once,
    with every reason).

    `contact_of`: PM client id -> the contact name the mapping document sends it to; pairs it already
    joins are never suggested.
    """
    parties = parties.with_columns(
        pl.lit(None, dtype).alias(column)
        for column, dtype in IDENTIFIER_SCHEMA.items()
        if column not in parties.columns
    )
    keyed = parties.with_columns(key=party_key(pl.col("name"))).filter(pl.col("key") != "")
    similar = party_similarities(keyed["key"], keyed["key"], min_similarity)
    pairs = (
        keyed.join(similar, left_on="key", right_on="payer")
        .join(keyed, left_on=["contact", "entity"], right_on=["key", "entity"], suffix="_b")
        .filter((pl.col("source") + pl.col("party_id")) < (pl.col("source_b") + pl.col("party_id_b")))
        .sort("entity", "source", "party_id", "source_b", "party_id_b")
    )
    found: dict[str, Suggestion] = {}
    for row in pairs.iter_rows(named=True):
        if _known(row, contact_of):
            continue
        s = Suggestion(row["source"], row["party_id"], row["name"], row["source_b"], row["party_id_b"],
                       row["name_b"], row["entity"], row["similarity"])  # fmt: skip
        found[s.key] = s
    for a, b, reason in shared_identifier_pairs(parties):
        row = {**a, **{f"{k}_b": v for k, v in b.items()}}
        if _known(row, contact_of):
            continue
        s = Suggestion(str(a["source"]), str(a["party_id"]), str(a["name"]), str(b["source"]),
                       str(b["party_id"]), str(b["name"]), str(a["entity"]), 0.0, reason)  # fmt: skip
        named = found.get(s.key)
        found[s.key] = replace(named, reason=f"{named.reason}; {reason}") if named else s
    return sorted(found.values(), key=lambda s: (s.entity, s.a_source, s.a_id, s.b_source, s.b_id))
