"""How much a bank line's payer name looks like an accounting contact (the `party` component).

Names are upper-cased, punctuation becomes space and legal-form words (Ltd, Inc, GmbH...) are
dropped, because a bank writes "ACME CORPORATION" where the ledger says "Acme Corp Ltd". The
similarity is rapidfuzz's token-set ratio (0..100: word order and extra words do not count
against a name). Every distinct payer is compared with every distinct contact in one
vectorized call, never pair by pair in Python.
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


def party_similarities(payers: pl.Series, contacts: pl.Series, min_similarity: int) -> pl.DataFrame:
    """(payer, contact, similarity 0..1) for every pair of keys at or above `min_similarity` percent."""
    payer_keys = [p for p in payers.unique().to_list() if p]
    contact_keys = [c for c in contacts.unique().to_list() if c]
    if not payer_keys or not contact_keys:
        return pl.DataFrame(schema=SIMILARITY_SCHEMA)
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
