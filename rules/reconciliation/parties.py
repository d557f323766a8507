"""How much a bank line's payer name looks like an accounting contact (the `party` component).

Names are upper-cased, punctuation becomes space and legal-form words (Ltd, Inc, GmbH...) are
dropped, because a bank writes "ACME CORPORATION" where the ledger says "Acme Corp Ltd". The
similarity is rapidfuzz's token-set ratio (0..100: word order and extra words do not count
against a name). Distinct payers are compared with distinct contacts in vectorized calls (rapidfuzz's cdist and
cpdist), never pair by pair in Python.
"""

from __future__ import annotations

import polars as pl
from rapidfuzz import fuzz, process

LEGAL_FORMS = (
    "LTD",
    "LIMITED",
    "INC",
    "INCORPORATED",
    "LLC",
    "LLP",
    "PLC",
    "GMBH",
    "AG",
    "SA",
    "SARL",
    "BV",
    "NV",
    "CORP",
    "CORPORATION",
    "CO",
    "COMPANY",
    "KG",
    "SE",
)
_FORMS = r"\b(" + "|".join(LEGAL_FORMS) + r")\b"
SIMILARITY_SCHEMA = pl.Schema({"payer": pl.String(), "contact": pl.String(), "similarity": pl.Float64()})


def party_key(name: pl.Expr) -> pl.Expr:
    """The comparable form of a name: upper case, letters and digits, legal forms dropped."""
    words = name.fill_null("").str.to_uppercase().str.replace_all(r"[^A-Z0-9]+", " ")
    return words.str.replace_all(_FORMS, " ").str.replace_all(r"\s+", " ").str.strip_chars()


# Beyond this many payer x contact pairs, only pairs sharing an uncommon word are compared.
FULL_COMPARISON_LIMIT = 1_000_000
# A word in more than this share of contacts (or 20 of them) is too common to block on ("TRADERS").
COMMON_WORD_SHARE = 0.01


def pair_similarity(payers: list[str], contacts: list[str]) -> list[float]:
    """Similarity 0..1 of each payer key with the contact key at the same position."""
    if not payers:
        return []
    scores = process.cpdist(payers, contacts, scorer=fuzz.token_set_ratio, workers=-1)
    return [float(x) / 100 for x in scores]


def _blocked_pairs(payer_keys: list[str], contact_keys: list[str]) -> pl.DataFrame:
    """(payer, contact) pairs that share at least one word used by few contacts."""
    words = (
        pl.DataFrame({"contact": contact_keys})
        .with_columns(word=pl.col("contact").str.split(" "))
        .explode("word")
    )
    frequency = words.group_by("word").len()
    cap = max(20, int(len(contact_keys) * COMMON_WORD_SHARE))
    rare = words.join(frequency.filter(pl.col("len") <= cap), on="word").select("word", "contact")
    payer_words = (
        pl.DataFrame({"payer": payer_keys}).with_columns(word=pl.col("payer").str.split(" ")).explode("word")
    )
    return payer_words.join(rare, on="word").select("payer", "contact").unique()


def party_similarities(payers: pl.Series, contacts: pl.Series, min_similarity: int) -> pl.DataFrame:
    """(payer, contact, similarity 0..1) for pairs of keys at or above `min_similarity` percent.

    Every pair is compared while there are few; beyond FULL_COMPARISON_LIMIT pairs, only those sharing
    an uncommon word (a name with every word misspelt is then left to the amount and reference rungs).
    """
    payer_keys = [p for p in payers.unique().to_list() if p]
    contact_keys = [c for c in contacts.unique().to_list() if c]
    if not payer_keys or not contact_keys:
        return pl.DataFrame(schema=SIMILARITY_SCHEMA)
    if len(payer_keys) * len(contact_keys) > FULL_COMPARISON_LIMIT:
        pairs = _blocked_pairs(payer_keys, contact_keys)
        scored = pairs.with_columns(
            similarity=pl.Series(
                pair_similarity(pairs["payer"].to_list(), pairs["contact"].to_list()), dtype=pl.Float64
            )
        )
        return scored.filter(pl.col("similarity") >= min_similarity / 100).cast(SIMILARITY_SCHEMA)
    matrix = process.cdist(
        payer_keys,
        contact_keys,
        scorer=fuzz.token_set_ratio,
        score_cutoff=min_similarity,
        dtype="uint8",
        workers=-1,
    )
    rows, cols = matrix.nonzero()
    return pl.DataFrame(
        {
            "payer": [payer_keys[r] for r in rows],
            "contact": [contact_keys[c] for c in cols],
            "similarity": [float(matrix[r, c]) / 100 for r, c in zip(rows, cols, strict=True)],
        },
        schema=SIMILARITY_SCHEMA,
    )
