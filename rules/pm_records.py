"""PM payloads -> typed records: each time entry's and expense's fields read from its JSON (pure).

Numbers are read as their decimal text and typed afterwards, so money never passes through a
float column; the normalizing rules (rules/normalizing.py) judge what could not be read.
"""

from __future__ import annotations

import duckdb
import polars as pl

# (column, JSON path, type) read from each payload. Numbers are read as their decimal
# text and typed afterwards, so money never passes through a float column.
Field = tuple[str, str, pl.DataType]
# Fields every time entry and expense carries (client, project, person, approval).
_SHARED_FIELDS: list[Field] = [
    ("billable", "$.billable", pl.Boolean()),
    ("is_closed", "$.is_closed", pl.Boolean()),
    ("locked_reason", "$.locked_reason", pl.String()),
    ("client_id", "$.client.id", pl.Int64()),
    ("client_name", "$.client.name", pl.String()),
    ("embedded_currency", "$.client.currency", pl.String()),
    ("project_id", "$.project.id", pl.Int64()),
    ("project_name", "$.project.name", pl.String()),
    ("project_code", "$.project.code", pl.String()),
    ("person_id", "$.user.id", pl.Int64()),
    ("person_name", "$.user.name", pl.String()),
]
TIME_ENTRY_FIELDS: list[Field] = [
    *_SHARED_FIELDS,
    ("hours", "$.hours", pl.String()),
    ("billable_rate", "$.billable_rate", pl.String()),
    ("cost_rate", "$.cost_rate", pl.String()),
    ("started_time", "$.started_time", pl.String()),
    ("task_id", "$.task.id", pl.Int64()),
    ("task_name", "$.task.name", pl.String()),
]
EXPENSE_FIELDS: list[Field] = [
    *_SHARED_FIELDS,
    ("total_cost", "$.total_cost", pl.String()),
    ("category_name", "$.expense_category.name", pl.String()),
]
PROJECT_FIELDS: list[Field] = [
    ("project_id", "$.id", pl.Int64()),
    ("project_is_billable", "$.is_billable", pl.Boolean()),
]
CLIENT_FIELDS: list[Field] = [
    ("client_id", "$.id", pl.Int64()),
    ("client_currency", "$.currency", pl.String()),
]


def extract_fields(frame: pl.DataFrame, fields: list[Field]) -> pl.DataFrame:
    """`frame` plus one typed column per field read from its JSON `payload` column.

    DuckDB's JSON reader (in memory, no file) parses each payload once for all paths: ten
    times faster than polars' json_decode at a million rows. A value of the wrong JSON type
    becomes null rather than failing the frame; the rules below judge it.
    """
    paths = [path for _, path, _ in fields]
    select = ", ".join(f'v[{i + 1}] AS "{name}"' for i, (name, _, _) in enumerate(fields))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # a large window would print one on the terminal
        con.register("frame", frame.select("payload"))
        texts = con.sql(
            f"SELECT {select} FROM (SELECT json_extract_string(payload, ?) AS v FROM frame)", params=[paths]
        ).pl()
    finally:
        con.close()
    typed = []
    for name, _, dtype in fields:
        column = pl.col(name)
        if dtype == pl.Boolean():
            typed.append(pl.when(column == "true").then(True).when(column == "false").then(False).alias(name))
        else:
            typed.append(column.cast(dtype, strict=False).alias(name))
    return pl.concat([frame, texts.select(typed)], how="horizontal")


# The directory kinds pricing reads: a time entry's project and client (not people or assignments, which
# are most of a large account's directory and hold its sealed personal fields).
PRICED_DIRECTORY_KINDS = ("projects", "clients")


def directory_tables(directory: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(projects: project_id, project_is_billable, project_known; clients: client_id, client_currency)."""
    projects = (
        extract_fields(directory.filter(pl.col("kind") == "projects"), PROJECT_FIELDS)
        .select(
            "project_id",
            pl.col("project_is_billable").fill_null(True),
            pl.lit(True).alias("project_known"),
        )
        .unique("project_id", keep="last")
    )
    clients = (
        extract_fields(directory.filter(pl.col("kind") == "clients"), CLIENT_FIELDS)
        .select("client_id", "client_currency")
        .unique("client_id", keep="last")
    )
    return projects, clients


_COMMON = [
    "client_id",
    "client_name",
    "embedded_currency",
    "project_id",
    "project_name",
    "project_code",
    "person_id",
    "person_name",
    "locked_reason",
]


def _time_entries(raw: pl.DataFrame) -> pl.DataFrame:
    decoded = extract_fields(raw, TIME_ENTRY_FIELDS)
    started = pl.coalesce(
        pl.col("started_time").str.strptime(pl.Time, "%I:%M%P", strict=False),
        pl.col("started_time").str.strptime(pl.Time, "%H:%M", strict=False),
    )
    return decoded.select(
        "entity",
        "day",
        "payload_hash",
        "routing",
        pl.lit("time").alias("source_kind"),
        pl.col("record_id").alias("source_id"),
        *_COMMON,
        pl.col("billable").fill_null(False).alias("entry_billable"),
        pl.col("is_closed").fill_null(False).alias("approved"),
        "task_id",
        "task_name",
        pl.lit(None, pl.String).alias("category_name"),
        started.dt.strftime("%H:%M").alias("started_time"),
        pl.col("hours").alias("quantity_text"),
        pl.col("billable_rate").alias("price_text"),
        pl.col("cost_rate").alias("cost_text"),
        pl.lit("time_entry.billable_rate").alias("rate_source"),
    )


def _expenses(raw: pl.DataFrame) -> pl.DataFrame:
    decoded = extract_fields(raw, EXPENSE_FIELDS)
    return decoded.select(
        "entity",
        "day",
        "payload_hash",
        "routing",
        pl.lit("expense").alias("source_kind"),
        pl.col("record_id").alias("source_id"),
        *_COMMON,
        pl.col("billable").fill_null(False).alias("entry_billable"),
        pl.col("is_closed").fill_null(False).alias("approved"),
        pl.lit(None, pl.Int64).alias("task_id"),
        pl.lit(None, pl.String).alias("task_name"),
        "category_name",
        pl.lit(None, pl.String).alias("started_time"),
        pl.lit("1").alias("quantity_text"),
        pl.col("total_cost").alias("price_text"),
        pl.col("total_cost").alias("cost_text"),
        pl.lit("expense.total_cost").alias("rate_source"),
    )


def raw_payloads(raw_time_entries: pl.DataFrame, raw_expenses: pl.DataFrame) -> pl.Series:
    """The payloads of `typed_records`'s records, in its order (a record's `record_row`)."""
    return pl.concat([raw_time_entries["payload"], raw_expenses["payload"]], rechunk=False)


def typed_records(
    raw_time_entries: pl.DataFrame, raw_expenses: pl.DataFrame, directory: pl.DataFrame
) -> pl.DataFrame:
    """Time entries and expenses as one frame of typed fields, with their project's and client's
    directory entries (`project_is_billable`, `project_known`, `client_currency`; null when unknown).

    Quantity, price and cost stay text (`quantity_text`, `price_text`, `cost_text`) for the
    normalizing rules to judge. The payloads stay behind, read once: `record_row` is each record's
    position in `raw_payloads` (the joins that follow would otherwise copy every payload each time).
    """
    projects, clients = directory_tables(directory)
    records = pl.concat(
        [_time_entries(raw_time_entries), _expenses(raw_expenses)], how="vertical_relaxed"
    ).with_row_index("record_row")
    return records.join(projects, on="project_id", how="left").join(clients, on="client_id", how="left")
