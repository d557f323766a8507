"""Find the invoice and credit-note numbers a payment's remittance text quotes, exactly or with a typo.

Payers write numbers their own way (`BB-US-202608-5001-USD`, `bb us 202608 5001 usd`,
`BBUS2026085001USD`), so both sides are compacted to upper-case letters and digits, and the
remittance is read as runs of up to `ngram_tokens` consecutive words (the number split by spaces
joins again). A run equal to a number is an exact reference. A run one edit away (a character
missing, extra, wrong or two neighbours swapped: optimal string alignment distance 1) is a typo;
candidates for it come from a join on the deletion neighbourhood of both sides (every string
with one character dropped), so no pair of strings is ever compared one by one, and each pair
found is confirmed by its distance.
"""

from __future__ import annotations

import polars as pl
from rapidfuzz.distance import OSA

MIN_KEY_LENGTH = 6  # shorter numbers are too easy to meet by chance in free text
_WORD_SPLIT = r"[\s,;:/#()\[\]]+"
HIT_SCHEMA = pl.Schema({"line_id": pl.String(), "item_id": pl.String(), "reference_score": pl.Float64()})


def compact(text: pl.Expr) -> pl.Expr:
    """Upper-case letters and digits only: how a number is compared."""
    return text.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def _grams(lines: pl.DataFrame, ngram_tokens: int, shortest: int, longest: int) -> pl.DataFrame:
    """(line_id, gram): each run of 1..ngram_tokens consecutive remittance words, compacted."""
    words = (
        lines.select(
            "line_id",
            word=pl.col("remittance").fill_null("").str.replace_all(_WORD_SPLIT, " ").str.split(" "),
        )
        .explode("word")
        .with_columns(word=compact(pl.col("word")))
        .filter(pl.col("word") != "")
    )
    runs = [words.select("line_id", gram=pl.col("word"))]
    for width in range(2, ngram_tokens + 1):
        # Words are in line order, so a plain shift reaches the next words; a shift past the line's
        # last word lands in the next line and is dropped by the line check (cheaper than a window).
        same_line = pl.col("line_id").shift(-(width - 1)) == pl.col("line_id")
        joined = pl.concat_str([pl.col("word").shift(-k) for k in range(width)])
        runs.append(words.select("line_id", gram=pl.when(same_line).then(joined)))
    grams = pl.concat(runs).drop_nulls("gram").unique()
    length = pl.col("gram").str.len_chars()
    return grams.filter((length >= shortest - 1) & (length <= longest + 1))


def _deletions(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Every row once as itself and once per character dropped, in column `variant`."""
    text = pl.col(column)
    dropped = (
        frame.with_columns(_i=pl.int_ranges(0, text.str.len_chars()))
        .explode("_i")
        .with_columns(variant=pl.concat_str(text.str.head(pl.col("_i")), text.str.slice(pl.col("_i") + 1)))
        .drop("_i")
    )
    return pl.concat([frame.with_columns(variant=text), dropped])


def reference_hits(
    lines: pl.DataFrame, items: pl.DataFrame, *, ngram_tokens: int, typo_score: float
) -> pl.DataFrame:
    """(line_id, item_id, reference_score): 1.0 for a number quoted exactly, `typo_score` for one edit off.

    A line with an exact hit gets no typo hits: the payer's own number wins over a near miss.
    """
    keys = (
        items.select("item_id", key=compact(pl.col("number")))
        .filter(pl.col("key").str.len_chars() >= MIN_KEY_LENGTH)
        .unique()
    )
    if keys.height == 0 or lines.height == 0:
        return pl.DataFrame(schema=HIT_SCHEMA)
    lengths = keys["key"].str.len_chars()
    grams = _grams(lines, ngram_tokens, int(lengths.min()), int(lengths.max()))  # type: ignore[arg-type]
    exact = (
        grams.join(keys, left_on="gram", right_on="key")
        .select("line_id", "item_id", reference_score=pl.lit(1.0))
        .unique()
    )
    rest = grams.join(exact.select("line_id").unique(), on="line_id", how="anti")
    near = (
        _deletions(rest, "gram")
        .join(_deletions(keys, "key"), on="variant")
        .select("line_id", "item_id", "gram", "key")
        .unique()
    )
    confirmed = [OSA.distance(g, k) <= 1 for g, k in zip(near["gram"], near["key"], strict=True)]
    typos = (
        near.filter(pl.Series(confirmed, dtype=pl.Boolean))
        .select("line_id", "item_id", reference_score=pl.lit(typo_score))
        .unique()
    )
    return pl.concat([exact, typos]).cast(HIT_SCHEMA)
