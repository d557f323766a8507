"""Raw PM payloads -> typed, priced billable lines plus a quarantine with reasons (pure polars).

Each record is judged by every rule; a record failing any rule is quarantined with the
first failing rule as its reason and all failures in the detail. Nothing is dropped:
every raw record ends up either as a line or in quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from rules.fx_conversion import contract_rates_frame, rates_for, with_contract_rates
from rules.fx_rates import FxSnapshot
from rules.money import (
    FX_CONVERSION_RULE,
    LINE_AMOUNT_RULE,
    MONEY,
    QUANTITY,
    exact_product,
    round_to_minor_units,
)
from rules.pricing import (
    attach_scoped,
    marked_up,
    markup_columns,
    rate_rules_frame,
    rate_source,
    resolve_rates,
    round_up_to_increment,
    share_of_hours,
    time_rounding_columns,
)
from rules.quarantine import quarantine_detail
from rules.routing import AMBIGUOUS, CLAIMED
from rules.settings import BillbridgeConfig, EntityConfig

# Harvest sends hours and money as JSON numbers; we read their decimal text and accept at
# most 4 decimals (the stored scale), refusing rather than silently truncating more.
_DECIMAL_TEXT = r"^-?\d{1,12}(\.\d{1,4})?$"
_COST_TEXT = r"^\d{1,12}(\.\d{1,4})?$"  # costs are never negative
MAX_HOURS_PER_ENTRY = 24

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

QUARANTINE_SCHEMA = pl.Schema(
    {
        "entity": pl.String,
        "day": pl.Date,
        "source_kind": pl.String,
        "source_id": pl.Int64,
        "reason": pl.String,
        "detail": pl.String,
        "payload": pl.String,
        "rule_set_version": pl.String,
        "run_id": pl.String,
    }
)


@dataclass(frozen=True)
class NormalizedResult:
    """The lines that proceed and the records held back."""

    lines: pl.DataFrame
    quarantine: pl.DataFrame
    rates_used: pl.DataFrame  # every conversion rate applied, with its source: pin these for reruns


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
        "payload",
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
        "payload",
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


def normalize_lines(
    raw_time_entries: pl.DataFrame,
    raw_expenses: pl.DataFrame,
    directory: pl.DataFrame,
    entity: EntityConfig,
    config: BillbridgeConfig,
    fx: FxSnapshot,
    run_id: str,
    pinned_rates: pl.DataFrame | None = None,
) -> NormalizedResult:
    """Type, validate, price and convert the raw records of one entity's days.

    `pinned_rates` (from an earlier run of the same days) are reused before `fx`, so a rerun
    converts with the rates it used the first time.
    """
    contacts = pl.DataFrame(
        {
            "client_id": [c.pm_client_id for c in config.mapping.clients],
            "contact_name": [c.contact_name for c in config.mapping.clients],
        },
        schema={"client_id": pl.Int64, "contact_name": pl.String},
    )
    projects, clients = directory_tables(directory)
    records = pl.concat([_time_entries(raw_time_entries), _expenses(raw_expenses)], how="vertical_relaxed")
    records = (
        records.join(projects, on="project_id", how="left")
        .join(clients, on="client_id", how="left")
        .join(contacts, on="client_id", how="left")
        .with_columns(pl.col("client_name").fill_null(""), pl.col("project_name").fill_null(""))
        .with_columns(
            pl.coalesce("client_currency", "embedded_currency").alias("txn_currency"),
            pl.lit(entity.base_currency).alias("base_currency"),
            pl.col("quantity_text").cast(QUANTITY, strict=False).alias("quantity"),
            pl.col("price_text").cast(QUANTITY, strict=False).alias("unit_price_parsed"),
            # Cost rates (Harvest `cost_rate`) are in the entity's base currency; an expense's
            # cost is its total in the transaction currency. A cost that cannot be read is 0
            # and never blocks billing: costs feed allocation, not invoices.
            pl.when(pl.col("cost_text").str.contains(_COST_TEXT))
            .then(pl.col("cost_text").cast(QUANTITY, strict=False))
            .otherwise(pl.lit(0).cast(QUANTITY))
            .alias("cost_rate"),
            (pl.col("entry_billable") & pl.col("project_is_billable").fill_null(False)).alias("billable"),
        )
    )
    # Every line carries three currencies: transaction, the entity's base, the group's reporting.
    records = records.with_columns(pl.lit(config.reporting_currency).alias("reporting_currency"))
    to_base = records.select(
        "day", pl.col("txn_currency").alias("from_currency"), pl.col("base_currency").alias("to_currency")
    )
    to_reporting = records.select(
        "day",
        pl.col("txn_currency").alias("from_currency"),
        pl.col("reporting_currency").alias("to_currency"),
    )
    rates = rates_for(
        pl.concat([to_base, to_reporting]).drop_nulls(),
        fx.rates,
        fx.label,
        pinned_rates,
        config.fx_max_rate_age_days,
    )
    reporting = rates.select(
        "day", "from_currency", "to_currency",
        pl.col("fx_rate").alias("fx_rate_reporting"), pl.col("fx_rate_date").alias("fx_rate_date_reporting"),
    )  # fmt: skip
    records = records.join(
        rates,
        left_on=["day", "txn_currency", "base_currency"],
        right_on=["day", "from_currency", "to_currency"],
        how="left",
    ).join(
        reporting,
        left_on=["day", "txn_currency", "reporting_currency"],
        right_on=["day", "from_currency", "to_currency"],
        how="left",
    )
    # A client's or project's contract rate overrides the ECB rate (fx_type "contract", not pinned:
    # it comes from the versioned mapping document, whose version every line records).
    records = with_contract_rates(records, contract_rates_frame(config.mapping.fx_contract_rates, entity.id))

    records = records.with_columns(
        pl.format("{}-{}", pl.col("source_kind"), pl.col("source_id")).alias("line_id")
    )
    records = resolve_rates(records, rate_rules_frame(config.mapping.rates, entity.id))
    records = attach_scoped(records, config.mapping.time_rounding, time_rounding_columns(), "rounding")
    records = attach_scoped(records, config.mapping.expense_markups, markup_columns(), "markup")

    quantity_ok = pl.col("quantity_text").str.contains(_DECIMAL_TEXT).fill_null(False)
    price_ok = pl.col("price_text").str.contains(_DECIMAL_TEXT).fill_null(False)
    is_time = pl.col("source_kind") == "time"
    # Rate rules price time only; expenses are billed at cost (plus any markup).
    has_rule = is_time & pl.col("rate_rule_id").is_not_null()
    # (reason, failed?) in order of precedence: the first failing rule names the reason.
    rules: list[tuple[str, pl.Expr]] = [
        ("claimed_by_two_entities", pl.col("routing").str.starts_with(AMBIGUOUS)),
        ("unclaimed_by_entity", pl.col("routing") != CLAIMED),
        ("unknown_project", pl.col("project_known").is_null()),
        ("no_contact_mapping", pl.col("contact_name").is_null()),
        ("invalid_quantity", ~quantity_ok),
        (
            "hours_out_of_range",
            is_time & quantity_ok & ((pl.col("quantity") <= 0) | (pl.col("quantity") > MAX_HOURS_PER_ENTRY)),
        ),
        ("missing_billable_rate", pl.col("billable") & ~(has_rule | price_ok)),
        ("negative_amount", pl.col("billable") & ~has_rule & price_ok & (pl.col("unit_price_parsed") < 0)),
        (
            "rate_currency_mismatch",
            pl.col("billable") & has_rule & (pl.col("rule_currency") != pl.col("txn_currency")),
        ),
        ("unknown_currency", ~pl.col("txn_currency").str.contains(r"^[A-Z]{3}$").fill_null(False)),
        ("fx_rate_missing", pl.col("fx_rate").is_null() | pl.col("fx_rate_reporting").is_null()),
    ]
    failures = pl.concat_list([pl.when(failed.fill_null(True)).then(pl.lit(name)) for name, failed in rules])
    records = records.with_columns(failures.list.drop_nulls().alias("failures"))

    bad = records.filter(pl.col("failures").list.len() > 0)
    quarantine = bad.select(
        "entity",
        "day",
        "source_kind",
        "source_id",
        pl.col("failures").list.first().alias("reason"),
        quarantine_detail(pl.col("failures"), MAX_HOURS_PER_ENTRY).alias("detail"),
        "payload",
        pl.lit(config.rule_set_version).alias("rule_set_version"),
        pl.lit(run_id).alias("run_id"),
    )

    good = records.filter(pl.col("failures").list.len() == 0)
    shared = (
        pl.when(has_rule)
        .then(share_of_hours(pl.col("quantity"), pl.col("rule_share")))
        .otherwise(pl.col("quantity"))
    )
    per_entry = is_time & (pl.col("rounding_apply") == "per_entry")
    billed_quantity = (
        pl.when(per_entry)
        .then(
            round_up_to_increment(
                shared, pl.col("rounding_increment_minutes"), pl.col("rounding_minimum_minutes")
            )
        )
        .otherwise(shared)
    )
    unit_price = (
        pl.when(~pl.col("billable"))
        .then(pl.lit(0).cast(QUANTITY))
        .when(has_rule)
        .then(pl.col("rule_rate"))
        .when(is_time)
        .then(pl.col("unit_price_parsed"))
        .otherwise(
            marked_up(pl.col("unit_price_parsed"), pl.col("markup_markup_percent"), pl.col("txn_currency"))
        )
    )
    priced_by = (
        pl.when(has_rule)
        .then(rate_source(pl.col("rate_rule_level"), pl.col("rate_rule_id")))
        .when(pl.col("markup_id").is_not_null() & ~is_time)
        .then(
            pl.format(
                "expense.total_cost + markup {} ({}%)", pl.col("markup_id"), pl.col("markup_markup_percent")
            )
        )
        .otherwise(pl.col("rate_source"))
    )
    per_line = is_time & (pl.col("rounding_apply") == "per_line")
    good = good.with_columns(
        pl.when(is_time).then(pl.col("quantity")).alias("hours"),
        billed_quantity.cast(QUANTITY).alias("quantity"),
        priced_by.alias("rate_source"),
        pl.when(has_rule).then(pl.col("rate_rule_id")).alias("rate_rule_id"),
        pl.when(is_time).then(pl.col("rounding_id")).alias("rounding_rule_id"),
        pl.when(per_line).then(pl.col("rounding_increment_minutes")).alias("line_increment_minutes"),
        pl.when(per_line).then(pl.col("rounding_minimum_minutes")).alias("line_minimum_minutes"),
        pl.when(~is_time).then(pl.col("markup_id")).alias("markup_rule_id"),
    )
    amount_txn = round_to_minor_units(
        exact_product(pl.col("quantity"), pl.col("unit_price")), pl.col("txn_currency"), LINE_AMOUNT_RULE
    )
    lines = (
        good.with_columns(unit_price.cast(QUANTITY).alias("unit_price"))
        .with_columns(amount_txn.alias("amount_txn"))
        .with_columns(
            round_to_minor_units(
                exact_product(pl.col("amount_txn"), pl.col("fx_rate")),
                pl.col("base_currency"),
                FX_CONVERSION_RULE,
            ).alias("amount_base"),
            round_to_minor_units(
                exact_product(pl.col("amount_txn"), pl.col("fx_rate_reporting")),
                pl.col("reporting_currency"),
                FX_CONVERSION_RULE,
            ).alias("amount_reporting"),
            pl.when(pl.col("billable"))
            .then(pl.lit("billable"))
            .when(~pl.col("entry_billable"))
            .then(pl.lit("entry marked non-billable"))
            .otherwise(pl.lit("project not billable"))
            .alias("billable_reason"),
            pl.when(pl.col("approved"))
            .then(pl.lit("harvest:is_closed"))
            .otherwise(pl.lit("awaiting approval"))
            .alias("approval_source"),
            pl.when(pl.col("billable"))
            .then(pl.col("rate_source"))
            .otherwise(pl.lit("none (not billable)"))
            .alias("rate_source"),
            pl.when(pl.col("source_kind") == "time")
            .then(
                round_to_minor_units(
                    exact_product(pl.col("quantity"), pl.col("cost_rate")),
                    pl.col("base_currency"),
                    FX_CONVERSION_RULE,
                )
            )
            .otherwise(
                round_to_minor_units(
                    exact_product(pl.col("cost_rate"), pl.col("fx_rate")),
                    pl.col("base_currency"),
                    FX_CONVERSION_RULE,
                )
            )
            .alias("amount_cost_base"),
            pl.lit(config.rule_set_version).alias("rule_set_version"),
            pl.lit(run_id).alias("run_id"),
        )
        .select(
            "line_id",
            "entity",
            "day",
            "source_kind",
            "source_id",
            "payload_hash",
            "client_id",
            "client_name",
            "contact_name",
            "project_id",
            "project_name",
            "project_code",
            "task_id",
            "task_name",
            "category_name",
            "person_id",
            "person_name",
            "started_time",
            "quantity",
            "unit_price",
            "rate_source",
            "billable",
            "billable_reason",
            "approved",
            "approval_source",
            "locked_reason",
            "txn_currency",
            pl.col("amount_txn").cast(MONEY),
            "base_currency",
            "fx_rate",
            "fx_rate_date",
            "fx_source",
            "fx_type",
            pl.col("amount_base").cast(MONEY),
            "reporting_currency",
            "fx_rate_reporting",
            "fx_rate_date_reporting",
            pl.col("amount_reporting").cast(MONEY),
            pl.col("cost_rate").cast(MONEY),
            pl.col("amount_cost_base").cast(MONEY),
            pl.col("hours").cast(QUANTITY),
            "rate_rule_id",
            "rounding_rule_id",
            pl.col("line_increment_minutes").cast(pl.Int64),
            pl.col("line_minimum_minutes").cast(pl.Int64),
            "markup_rule_id",
            "rule_set_version",
            "run_id",
        )
        .sort("day", "line_id")
    )
    return NormalizedResult(
        rates_used=rates, lines=lines, quarantine=quarantine.cast(QUARANTINE_SCHEMA).sort("day", "source_id")
    )  # type: ignore[arg-type]
