"""Suggested duplicate parties across the PM clients and the accounting contacts (pure; never merged).

Two names are suggested as one party when their comparable keys (rules/reconciliation/parties.py:
upper case, legal forms dropped) have a token-set similarity at or above `min_similarity`, unless the
mapping document already sends the PM client to that contact. Accepting a suggestion writes an alias
in the mapping document's `clients[]` format (`alias_entry`); a person copies it into the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rules.reconciliation.parties import party_key, party_similarities

PARTY_SCHEMA = pl.Schema(
    {"source": pl.String(), "party_id": pl.String(), "name": pl.String(), "entity": pl.String()}
)


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
    similarity: float

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
    """Pairs of distinct `parties` (PARTY_SCHEMA) of one entity whose names look alike.

    `contact_of`: PM client id -> the contact name the mapping document sends it to; pairs it already
    joins are never suggested.
    """
    keyed = parties.with_columns(key=party_key(pl.col("name"))).filter(pl.col("key") != "")
    similar = party_similarities(keyed["key"], keyed["key"], min_similarity)
    pairs = (
        keyed.join(similar, left_on="key", right_on="payer")
        .join(keyed, left_on=["contact", "entity"], right_on=["key", "entity"], suffix="_b")
        .filter((pl.col("source") + pl.col("party_id")) < (pl.col("source_b") + pl.col("party_id_b")))
        .sort("entity", "source", "party_id", "source_b", "party_id_b")
    )
    found = []
    for row in pairs.iter_rows(named=True):
        if _known(row, contact_of):
            continue
        found.append(Suggestion(row["source"], row["party_id"], row["name"], row["source_b"], row["party_id_b"],
                                row["name_b"], row["entity"], row["similarity"]))  # fmt: skip
    return found
