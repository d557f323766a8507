"""The parties reconciliation compares: an entity's PM clients (raw directory) and accounting contacts
(the latest receivables snapshot), and where an accepted duplicate suggestion's alias is written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import yaml

from rules.reconciliation.duplicates import IDENTIFIED_PARTY_SCHEMA


def party_records(con: duckdb.DuckDBPyConnection, entity: str) -> pl.DataFrame:
    """PM clients and accounting contacts of `entity` (IDENTIFIED_PARTY_SCHEMA); contacts are named by their name.

    Contacts carry the tax number and e-mail address the accounting system holds for them. A PM client
    (Harvest's client object) has neither field, so its tax number and e-mail are null.
    """
    return con.sql(
        "SELECT 'pm' AS source, CAST(record_id AS VARCHAR) AS party_id, json_extract_string(payload, '$.name') AS name,"
        " ? AS entity, NULL::VARCHAR AS tax_number, NULL::VARCHAR AS email FROM raw.directory"
        " WHERE entity = ? AND kind = 'clients'"
        " UNION SELECT 'accounting', c.name, c.name, ?, any_value(i.tax_number), any_value(i.email)"
        " FROM (SELECT DISTINCT contact_name AS name FROM reconciliation.receivables"
        "       WHERE entity = ? AND contact_name IS NOT NULL) c"
        " LEFT JOIN reconciliation.contact_identifiers i ON i.entity = ? AND i.contact_name = c.name"
        " GROUP BY c.name ORDER BY 1, 2",
        params=[entity, entity, entity, entity, entity],
    ).pl().cast(IDENTIFIED_PARTY_SCHEMA)  # fmt: skip


def write_alias(home: str | Path, alias: dict[str, object], accepted_by: str) -> Path:
    """Append `alias` (a mapping document `clients[]` entry) to the suggestions file and return its path."""
    path = Path(home) / "mapping_suggestions" / "aliases.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = yaml.safe_load(path.read_text()) if path.exists() else None
    document = document or {"clients": []}
    document["clients"].append(alias)
    header = (f"# Aliases accepted in the workbench; copy them into the mapping document's clients[].\n"
              f"# Last: {accepted_by} at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n")  # fmt: skip
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path
