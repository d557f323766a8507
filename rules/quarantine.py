"""What a quarantined record's `detail` says: which record, how much, on what, and why in words.

The reason column names the first rule a record failed; the detail is for the person who must
fix it: `time entry 9001: 0 h, project 6001 (Website Rebuild), client 5001 (Acme Corp):
hours_out_of_range (hours must be above 0 and at most 24: a 0-hour entry is an empty or
never-started timer; delete it or record its time in Harvest)`.
"""

from __future__ import annotations

import polars as pl

# Each rule's reason in words, with what to do about it.
REASONS = {
    "claimed_by_two_entities": "a client and a project code prefix in the mapping name different entities",
    "unclaimed_by_entity": "no entity's mapping claims its client or project; add it to config/mapping.yaml",
    "unknown_project": "its project is not in the PM directory (deleted or archived?)",
    "no_contact_mapping": "its client has no contact_name in the mapping",
    "invalid_quantity": "its hours or units are not a number",
    "hours_out_of_range": (
        "hours must be above 0 and at most {max_hours}: a 0-hour entry is an empty or never-started timer; "
        "delete it or record its time in Harvest"
    ),
    "missing_billable_rate": "billable, but neither a rate rule nor the PM entry gives a rate",
    "negative_amount": "a negative rate or amount",
    "rate_currency_mismatch": "its rate rule is in another currency than the client's",
    "unknown_currency": "its client's currency is not a 3-letter ISO code",
    "fx_rate_missing": "no ECB rate converts its currency on that day (see fx_max_rate_age_days)",
}


def _or(column: str, default: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).fill_null(default)


def _named(id_column: str, name_column: str) -> pl.Expr:
    """`6001 (Website Rebuild)`, or just `6001` when the name is empty, `?` when the id is missing."""
    name = pl.col(name_column).fill_null("")
    return (
        pl.when(name == "")
        .then(_or(id_column, "?"))
        .otherwise(pl.format("{} ({})", _or(id_column, "?"), name))
    )


def quarantine_detail(failures: pl.Expr, max_hours: int) -> pl.Expr:
    """The detail of each quarantined record; `failures` is the list of rule names it failed, first first.

    Reads the record's source_kind, source_id, quantity_text, price_text, txn_currency, project_id,
    project_name, client_id and client_name columns.
    """
    words = {name: f"{name} ({text.format(max_hours=max_hours)})" for name, text in REASONS.items()}
    what = (
        pl.when(pl.col("source_kind") == "time")
        .then(pl.format("time entry {}: {} h", _or("source_id", "?"), _or("quantity_text", "no hours")))
        .otherwise(
            pl.format(
                "expense {}: {} {}",
                _or("source_id", "?"),
                _or("price_text", "no amount"),
                _or("txn_currency", ""),
            )
        )
    )
    reasons = failures.list.eval(pl.element().replace(words)).list.join("; ")
    return pl.format(
        "{}, project {}, client {}: {}",
        what,
        _named("project_id", "project_name"),
        _named("client_id", "client_name"),
        reasons,
    )
