"""ECB reference rates as a snapshot value: the parsed history, its source and content hash."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass

import polars as pl

from rules.money import FX_RATE


@dataclass(frozen=True)
class FxSnapshot:
    """ECB rates in long form: rate_date, currency, per_eur (units of currency per 1 EUR)."""

    rates: pl.DataFrame
    source: str
    content_hash: str

    @property
    def label(self) -> str:
        """Short provenance for line metadata: source and the first 12 hex digits of the hash."""
        return f"{self.source}#{self.content_hash[:12]}"


def parse_ecb_history(zipped: bytes, source: str) -> FxSnapshot:
    """Parse `eurofxref-hist.zip` (one CSV: Date, then a column per currency, N/A where unpublished)."""
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        text = archive.read(name)
    wide = pl.read_csv(io.BytesIO(text), infer_schema=False)
    wide = wide.select([c for c in wide.columns if c.strip()])
    long = (
        wide.unpivot(index="Date", variable_name="currency", value_name="value")
        .with_columns(pl.col("currency").str.strip_chars(), pl.col("value").str.strip_chars())
        .filter(pl.col("value").is_not_null() & (pl.col("value") != "N/A") & (pl.col("value") != ""))
        .select(
            pl.col("Date").str.to_date("%Y-%m-%d").alias("rate_date"),
            pl.col("currency"),
            pl.col("value").cast(FX_RATE).alias("per_eur"),
        )
        .sort("currency", "rate_date")
    )
    return FxSnapshot(long, source, hashlib.sha256(zipped).hexdigest())
