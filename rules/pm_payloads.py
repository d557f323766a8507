"""The raw layer's row shape and the canonical text and hash of a PM payload."""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from rules.exact_json import record_text

RAW_COLUMNS = pl.Schema(
    {
        "entity": pl.String(),
        "day": pl.Date(),
        "record_id": pl.Int64(),
        "payload": pl.String(),
        "payload_hash": pl.String(),
        "routing": pl.String(),
        "extracted_at": pl.Datetime("us", "UTC"),
        "request_url": pl.String(),
        "run_id": pl.String(),
        "contract_version": pl.String(),
    }
)


def canonical_payload(record: dict[str, Any]) -> tuple[str, str]:
    """The record as JSON text (keys in the order sent) and its SHA-256."""
    text = record_text(record)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
