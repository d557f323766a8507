"""The ladder's candidate search, vectorized: which open items each bank line might pay.

Rung by rung (docs/decisions/0024):
1. `reference`: items whose number the remittance quotes, exactly or one edit off;
2. `party`: items of contacts whose name matches the payer (fuzzy), with an amount within the
   matching tolerance, or, for lines without a better candidate, up to `max_combination_candidates`
   of that contact's open items in the line's currency (the pool for many-to-one combinations);
3. `amount`: for lines nothing else found, open items of exactly the line's amount and currency
   (never enough to auto-accept: they give a person the nearest candidates).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from rules.money import WIDE, exact_product
from rules.reconciliation.parties import pair_similarity, party_key, party_similarities
from rules.reconciliation.references import reference_hits
from rules.reconciliation.rows import among
from rules.reconciliation.rule_file import Matching

AMOUNT_ONLY_LIMIT = 3


@dataclass
class CandidatePool:
    """Per bank line: the candidate items of each rung and their partial scores."""

    reference: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    party: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    combination_pool: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    amount_only: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    known_payers: set[str] = field(default_factory=set)

    def item_ids(self) -> set[str]:
        """Every item some line has as a candidate, on any rung."""
        found: set[str] = set()
        for rung in (self.reference, self.party, self.combination_pool):
            for candidates in rung.values():
                found.update(candidates)
        for listed in self.amount_only.values():
            found.update(listed)
        return found

    def party_score(self, line_id: str, item_id: str) -> float:
        """The payer's similarity to the item's contact (0.0 below the minimum)."""
        return self.party.get(line_id, {}).get(item_id) or self.combination_pool.get(line_id, {}).get(
            item_id, 0.0
        )


def _party_pairs(lines: pl.DataFrame, items: pl.DataFrame, matching: Matching) -> pl.DataFrame:
    """(line_id, item_id, party_score) for every item of a contact the payer's name matches."""
    payers = lines.select("line_id", payer=party_key(pl.col("counterparty_name")))
    contacts = items.select("item_id", contact=party_key(pl.col("contact_name")))
    similar = party_similarities(payers["payer"], contacts["contact"], matching.party_min_similarity)
    return (
        payers.join(similar, on="payer")
        .join(contacts, on="contact")
        .select("line_id", "item_id", party_score="similarity")
    )


@dataclass(frozen=True)
class Slack:
    """How far a line's amount may be from an amount due for the pair to be worth settling."""

    fraction: Decimal  # of the amount due
    absolute: Decimal


def _referenced_party(
    references: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, matching: Matching
) -> pl.DataFrame:
    """(line_id, item_id, party_score) for the items a line quotes: the payer against that item's contact."""
    pairs = references.join(
        lines.select("line_id", payer=party_key(pl.col("counterparty_name"))), on="line_id"
    ).join(items.select("item_id", contact=party_key(pl.col("contact_name"))), on="item_id")
    scores = pair_similarity(pairs["payer"].to_list(), pairs["contact"].to_list())
    scored = pairs.with_columns(party_score=pl.Series(scores, dtype=pl.Float64))
    return scored.filter(pl.col("party_score") >= matching.party_min_similarity / 100).select(
        "line_id", "item_id", "party_score"
    )


def _plausible(pairs: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, slack: Slack) -> pl.DataFrame:
    """Party pairs whose amount due is within `slack` of the line's amount, in the
    item's currency (a line in another currency converted at the item's booking rate); a coarse
    pre-filter: every kept pair is settled exactly afterwards."""
    joined = pairs.join(lines.select("line_id", "amount", "currency"), on="line_id").join(
        items.select("item_id", "amount_due", "currency_rate", item_currency="currency"), on="item_id"
    )
    amount = pl.col("amount").cast(WIDE)
    same = pl.col("item_currency") == pl.col("currency")
    in_item_currency = pl.when(same).then(amount).otherwise(exact_product(amount, pl.col("currency_rate")))
    due = pl.col("amount_due").cast(WIDE)
    gap = (in_item_currency - due).abs()
    near = (gap <= exact_product(due.abs(), pl.lit(slack.fraction, WIDE))) | (
        gap <= pl.lit(slack.absolute, WIDE)
    )
    return joined.filter(near & (due != 0))


def find_candidates(
    lines: pl.DataFrame, items: pl.DataFrame, matching: Matching, slack: Slack
) -> CandidatePool:
    """Every rung's candidates for `lines` among `items` (both of one entity)."""
    pool = CandidatePool()
    references = reference_hits(
        lines,
        items,
        ngram_tokens=matching.reference_ngram_tokens,
        typo_score=float(matching.typo_reference_score),
    )
    for line_id, item_id, score in references.iter_rows():
        pool.reference[line_id][item_id] = score
    referenced = _referenced_party(references, lines, items, matching)
    unreferenced = lines.join(references.select("line_id").unique(), on="line_id", how="anti")
    pairs = _party_pairs(unreferenced, items, matching)
    pool.known_payers = set(pairs["line_id"].unique().to_list()) | set(
        referenced["line_id"].unique().to_list()
    )
    plausible = _plausible(pairs, lines, items, slack).select(pairs.columns)
    for line_id, item_id, score in pl.concat([referenced, plausible]).iter_rows():
        pool.party[line_id][item_id] = score
    _combination_pools(pool, pairs, lines, items, matching)
    _amount_only(pool, lines, items)
    return pool


def _combination_pools(
    pool: CandidatePool, pairs: pl.DataFrame, lines: pl.DataFrame, items: pl.DataFrame, matching: Matching
) -> None:
    """For lines quoting no number: the payer's open items that could be part of the payment."""
    bare = lines.filter(~among("line_id", pool.reference))
    fitting = (
        pairs.join(bare.select("line_id", "amount", "currency"), on="line_id")
        .join(items.select("item_id", "amount_due", "due_date", item_currency="currency"), on="item_id")
        .filter(
            (pl.col("item_currency") == pl.col("currency"))
            & (pl.col("amount_due").sign() == pl.col("amount").sign())
            & (pl.col("amount_due").abs() < pl.col("amount").abs())
        )
        .sort("line_id", "due_date", "item_id")
        .group_by("line_id", maintain_order=True)
        .head(matching.max_combination_candidates)
    )
    for line_id, item_id, score in fitting.select("line_id", "item_id", "party_score").iter_rows():
        pool.combination_pool[line_id][item_id] = score


def _amount_only(pool: CandidatePool, lines: pl.DataFrame, items: pl.DataFrame) -> None:
    """For lines nothing else found: open items of exactly their amount and currency."""
    found = set(pool.reference) | set(pool.party) | set(pool.combination_pool)
    bare = lines.filter(~among("line_id", found))
    exact = (
        bare.select("line_id", "amount", "currency")
        .join(
            items.filter(pl.col("amount_due") != 0).select("item_id", "amount_due", "currency", "due_date"),
            left_on=["currency", "amount"],
            right_on=["currency", "amount_due"],
        )
        .sort("line_id", "due_date", "item_id")
        .group_by("line_id", maintain_order=True)
        .head(AMOUNT_ONLY_LIMIT)
    )
    for line_id, item_id in exact.select("line_id", "item_id").iter_rows():
        pool.amount_only[line_id].append(item_id)
