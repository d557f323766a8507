"""Raw PM payloads -> typed, priced billable lines plus a quarantine with reasons (pure polars).

Each record is judged by every rule; a record failing any rule is quarantined with the
first failing rule as its reason and all failures in the detail. Nothing is dropped:
every raw record ends up either as a line or in quarantine.

`normalize_lines` is a pipeline of named steps, each a screen or less:

1. `judge_records`: read the payloads (rules/pm_records.py), attach contacts and currencies,
   conversion rates (rules/fx_conversion.py) and pricing rules (rules/pricing.py,
   rules/time_rounding.py), then judge each record by RULES;
2. `_quarantined`: the records that failed, with their reasons;
3. `_billed_quantities`: a rate rule's share of the hours, then the entry's invoiceable units;
4. `_priced`: the unit price and where it came from;
5. `_with_amounts`: the amount in the transaction, base and reporting currencies, and the cost;
6. `_as_lines`: the columns of normalized.billable_lines, in order.

This step owns rate resolution and an entry's invoiceable units (docs/decisions/0019): billing
reads `unit_price` and `rate_source` from the lines and never resolves a rate again.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from rules.pm_records import raw_payloads, typed_records
from rules.pricing import (
    attach_scoped,
    marked_up,
    markup_columns,
    rate_rules_frame,
    rate_source,
    resolve_rates,
    share_of_hours,
)
from rules.quarantine import quarantine_detail
from rules.routing import AMBIGUOUS, CLAIMED
from rules.settings import BillbridgeConfig, EntityConfig
from rules.time_rounding import entry_units, with_time_rounding

# Harvest sends hours and money as JSON numbers; we read their decimal text and accept at
# most 4 decimals (the stored scale), refusing rather than silently truncating more.
_DECIMAL_TEXT = r"^-?\d{1,12}(\.\d{1,4})?$"
_COST_TEXT = r"^\d{1,12}(\.\d{1,4})?$"  # costs are never negative
MAX_HOURS_PER_ENTRY = 24

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
# What every line carries to trace it to the work it records (intercompany charges read these).
TRACE_COLUMNS = [
    "line_id", "entity", "day", "source_kind", "source_id", "project_id", "project_name", "project_code",
    "person_id", "person_name", "hours", "cost_rate", "approved",
]  # fmt: skip

_IS_TIME = pl.col("source_kind") == "time"
# Rate rules price time only; expenses are billed at cost (plus any markup).
_HAS_RULE = _IS_TIME & pl.col("rate_rule_id").is_not_null()
_QUANTITY_OK = pl.col("quantity_text").str.contains(_DECIMAL_TEXT).fill_null(False)
_PRICE_OK = pl.col("price_text").str.contains(_DECIMAL_TEXT).fill_null(False)
# (reason, failed?) in order of precedence: the first failing rule names the reason.
RULES: list[tuple[str, pl.Expr]] = [
    ("claimed_by_two_entities", pl.col("routing").str.starts_with(AMBIGUOUS)),
    ("unclaimed_by_entity", pl.col("routing") != CLAIMED),
    ("unknown_project", pl.col("project_known").is_null()),
    ("no_contact_mapping", pl.col("contact_name").is_null()),
    ("invalid_quantity", ~_QUANTITY_OK),
    (
        "hours_out_of_range",
        _IS_TIME & _QUANTITY_OK & ((pl.col("quantity") <= 0) | (pl.col("quantity") > MAX_HOURS_PER_ENTRY)),
    ),
    ("missing_billable_rate", pl.col("billable") & ~(_HAS_RULE | _PRICE_OK)),
    ("negative_amount", pl.col("billable") & ~_HAS_RULE & _PRICE_OK & (pl.col("unit_price_parsed") < 0)),
    ("rate_currency_mismatch", pl.col("billable") & _HAS_RULE & (pl.col("rule_currency") != pl.col("txn_currency"))),
    ("unknown_currency", ~pl.col("txn_currency").str.contains(r"^[A-Z]{3}$").fill_null(False)),
    ("fx_rate_missing", pl.col("fx_rate").is_null() | pl.col("fx_rate_reporting").is_null()),
]  # fmt: skip
_HOURS_WORKED = pl.when(_IS_TIME).then(pl.col("quantity")).cast(QUANTITY).alias("hours")  # before any rule


@dataclass(frozen=True)
class NormalizedResult:
    """The lines that proceed and the records held back."""

    lines: pl.DataFrame
    quarantine: pl.DataFrame
    rates_used: pl.DataFrame  # every conversion rate applied, with its source: pin these for reruns


@dataclass(frozen=True)
class Judging:
    """What records are judged under: the entity, the configuration (its mapping document's rules)
    and the conversion rates, `pinned_rates` (from an earlier run of the same days) before `fx`."""

    entity: EntityConfig
    config: BillbridgeConfig
    fx: FxSnapshot
    pinned_rates: pl.DataFrame | None = None


@dataclass(frozen=True)
class JudgedRecords:
    """The records that passed every rule (`admitted`), those that failed one or more (`rejected`, each
    with its `failures` in order of precedence), and the conversion rates they were judged with."""

    admitted: pl.DataFrame
    rejected: pl.DataFrame
    rates_used: pl.DataFrame


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
    judged = judge_records(
        raw_time_entries, raw_expenses, directory, Judging(entity, config, fx, pinned_rates)
    )
    stamp = (pl.lit(config.rule_set_version).alias("rule_set_version"), pl.lit(run_id).alias("run_id"))
    lines = (
        judged.admitted.pipe(_billed_quantities)
        .pipe(_priced)
        .pipe(_with_amounts)
        .with_columns(*stamp)
        .pipe(_as_lines)
    )
    payloads = raw_payloads(raw_time_entries, raw_expenses)
    quarantine = _quarantined(judged.rejected, payloads).with_columns(*stamp)
    return NormalizedResult(
        lines=lines,
        quarantine=quarantine.cast(QUARANTINE_SCHEMA).sort("day", "source_id"),  # type: ignore[arg-type]
        rates_used=judged.rates_used,
    )


def judge_records(
    raw_time_entries: pl.DataFrame, raw_expenses: pl.DataFrame, directory: pl.DataFrame, under: Judging
) -> JudgedRecords:
    """Every raw record, typed, converted and matched to its pricing rules, then judged by RULES:
    admitted, or rejected with the rules it fails. The first step of `normalize_lines`."""
    entity, config = under.entity, under.config
    records = _with_currencies(
        _with_contacts(typed_records(raw_time_entries, raw_expenses, directory), config), entity, config
    )
    rates = rates_for(
        _conversions_needed(records),
        under.fx.rates,
        under.fx.label,
        under.pinned_rates,
        config.fx_max_rate_age_days,
    )
    records = _with_pricing_rules(_converted(records, rates, entity, config), entity, config)
    # Whether a record failed any rule is a cheap boolean; the list of the rules it failed is built for
    # the failing few only (built for every record, it was most of judging: 11 strings a record).
    failed_any = pl.any_horizontal(failed.fill_null(True) for _, failed in RULES)
    judged = records.with_columns(failed_any.alias("_failed"))
    failures = pl.concat_list([pl.when(failed.fill_null(True)).then(pl.lit(name)) for name, failed in RULES])
    rejected = judged.filter("_failed").drop("_failed")
    return JudgedRecords(
        admitted=judged.filter(~pl.col("_failed")).drop("_failed"),
        rejected=rejected.with_columns(failures.list.drop_nulls().alias("failures")),
        rates_used=rates,
    )


def held_time(raw_time_entries: pl.DataFrame, directory: pl.DataFrame, under: Judging) -> pl.DataFrame:
    """The time entries `under.entity`'s ledger holds as lines (judged exactly as `normalize_lines`
    judges them), with their TRACE_COLUMNS: hours, cost rate and approval, without pricing them."""
    admitted = judge_records(raw_time_entries, raw_time_entries.clear(), directory, under).admitted
    return admitted.with_columns(_HOURS_WORKED, pl.col("cost_rate").cast(MONEY)).select(TRACE_COLUMNS)


def _with_contacts(records: pl.DataFrame, config: BillbridgeConfig) -> pl.DataFrame:
    """Each record's accounting contact (null: the client is not mapped), names never null."""
    contacts = pl.DataFrame(
        {
            "client_id": [c.pm_client_id for c in config.mapping.clients],
            "contact_name": [c.contact_name for c in config.mapping.clients],
        },
        schema={"client_id": pl.Int64, "contact_name": pl.String},
    )
    return records.join(contacts, on="client_id", how="left").with_columns(
        pl.col("client_name").fill_null(""), pl.col("project_name").fill_null("")
    )


def _with_currencies(records: pl.DataFrame, entity: EntityConfig, config: BillbridgeConfig) -> pl.DataFrame:
    """The three currencies of every line (transaction, the entity's base, the group's reporting),
    quantity, price and cost read from their text, and whether the record is billable."""
    return records.with_columns(
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
    ).with_columns(pl.lit(config.reporting_currency).alias("reporting_currency"))


def _conversions_needed(records: pl.DataFrame) -> pl.DataFrame:
    """(day, from, to) of every conversion the records need: to the base and to the reporting currency."""
    pairs = [
        records.select(
            "day", pl.col("txn_currency").alias("from_currency"), pl.col(target).alias("to_currency")
        )
        for target in ("base_currency", "reporting_currency")
    ]
    return pl.concat(pairs).drop_nulls()


def _converted(
    records: pl.DataFrame, rates: pl.DataFrame, entity: EntityConfig, config: BillbridgeConfig
) -> pl.DataFrame:
    """Each record's conversion rates: `fx_rate*` to the base currency (a client's or project's
    contract rate overriding the ECB's), `fx_rate*_reporting` to the reporting currency."""
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
    return with_contract_rates(records, contract_rates_frame(config.mapping.fx_contract_rates, entity.id))


def _with_pricing_rules(
    records: pl.DataFrame, entity: EntityConfig, config: BillbridgeConfig
) -> pl.DataFrame:
    """Each record's `line_id`, the most specific rate rule in force, its time rounding and expense markup."""
    records = records.with_columns(
        pl.format("{}-{}", pl.col("source_kind"), pl.col("source_id")).alias("line_id")
    )
    records = resolve_rates(records, rate_rules_frame(config.mapping.rates, entity.id))
    records = with_time_rounding(records, config.mapping.time_rounding)
    return attach_scoped(records, config.mapping.expense_markups, markup_columns(), "markup")


def _quarantined(bad: pl.DataFrame, payloads: pl.Series) -> pl.DataFrame:
    """The records that failed a rule: the first failure is the reason, all of them the detail,
    and the payload as received (`payloads`, by `record_row`)."""
    return bad.select(
        "entity",
        "day",
        "source_kind",
        "source_id",
        pl.col("failures").list.first().alias("reason"),
        quarantine_detail(pl.col("failures"), MAX_HOURS_PER_ENTRY).alias("detail"),
        payloads.gather(bad["record_row"]).alias("payload"),
    )


def _billed_quantities(good: pl.DataFrame) -> pl.DataFrame:
    """`quantity` billed: a rate rule's share of the hours, then rounded to the entry's invoiceable
    units (rules/time_rounding.py); `rounding_rule_id` names the time rounding rule of time entries."""
    shared = (
        pl.when(_HAS_RULE)
        .then(share_of_hours(pl.col("quantity"), pl.col("rule_share")))
        .otherwise(pl.col("quantity"))
    )
    return good.with_columns(
        _HOURS_WORKED,
        entry_units(shared, only=_IS_TIME).cast(QUANTITY).alias("quantity"),
        pl.when(_IS_TIME).then(pl.col("rounding_id")).alias("rounding_rule_id"),
    )  # fmt: skip


def _priced(good: pl.DataFrame) -> pl.DataFrame:
    """`unit_price` and `rate_source`: the rule's rate, else the PM rate of time, else the expense
    at cost plus any markup; zero where not billable. `rate_rule_id` and `markup_rule_id` trace the rule."""
    unit_price = (
        pl.when(~pl.col("billable"))
        .then(pl.lit(0).cast(QUANTITY))
        .when(_HAS_RULE)
        .then(pl.col("rule_rate"))
        .when(_IS_TIME)
        .then(pl.col("unit_price_parsed"))
        .otherwise(marked_up(pl.col("unit_price_parsed"), pl.col("markup_markup_percent"), pl.col("txn_currency")))
    )  # fmt: skip
    marked = pl.format(
        "expense.total_cost + markup {} ({}%)", pl.col("markup_id"), pl.col("markup_markup_percent")
    )
    priced_by = (
        pl.when(_HAS_RULE)
        .then(rate_source(pl.col("rate_rule_level"), pl.col("rate_rule_id")))
        .when(pl.col("markup_id").is_not_null() & ~_IS_TIME)
        .then(marked)
        .otherwise(pl.col("rate_source"))
    )
    return good.with_columns(
        unit_price.cast(QUANTITY).alias("unit_price"),
        pl.when(pl.col("billable")).then(priced_by).otherwise(pl.lit("none (not billable)")).alias("rate_source"),
        pl.when(_HAS_RULE).then(pl.col("rate_rule_id")).alias("rate_rule_id"),
        pl.when(~_IS_TIME).then(pl.col("markup_id")).alias("markup_rule_id"),
    )  # fmt: skip


def _converted_amount(amount: str, rate: str, currency: str) -> pl.Expr:
    return round_to_minor_units(
        exact_product(pl.col(amount), pl.col(rate)), pl.col(currency), FX_CONVERSION_RULE
    )


def _with_amounts(priced: pl.DataFrame) -> pl.DataFrame:
    """The line amount (LINE_AMOUNT_RULE) converted to base and reporting currency (FX_CONVERSION_RULE),
    the cost in base currency, and why the line is or is not billable and approved."""
    amount_txn = round_to_minor_units(
        exact_product(pl.col("quantity"), pl.col("unit_price")), pl.col("txn_currency"), LINE_AMOUNT_RULE
    )
    return (
        priced.with_columns(amount_txn.alias("amount_txn"))
        .with_columns(
            _converted_amount("amount_txn", "fx_rate", "base_currency").alias("amount_base"),
            _converted_amount("amount_txn", "fx_rate_reporting", "reporting_currency").alias("amount_reporting"),
            # Time costs hours x the base-currency cost rate; an expense its cost converted to base.
            pl.when(_IS_TIME)
            .then(_converted_amount("quantity", "cost_rate", "base_currency"))
            .otherwise(_converted_amount("cost_rate", "fx_rate", "base_currency"))
            .alias("amount_cost_base"),
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
        )
    )  # fmt: skip


def _as_lines(lines: pl.DataFrame) -> pl.DataFrame:
    """The columns of normalized.billable_lines (checks/schemas.py BillableLines), in order, sorted."""
    return lines.select(
        "line_id", "entity", "day", "source_kind", "source_id", "payload_hash",
        "client_id", "client_name", "contact_name", "project_id", "project_name", "project_code",
        "task_id", "task_name", "category_name", "person_id", "person_name", "started_time",
        "quantity", "unit_price", "rate_source", "billable", "billable_reason", "approved", "approval_source",
        "locked_reason", "txn_currency", pl.col("amount_txn").cast(MONEY),
        "base_currency", "fx_rate", "fx_rate_date", "fx_source", "fx_type", pl.col("amount_base").cast(MONEY),
        "reporting_currency", "fx_rate_reporting", "fx_rate_date_reporting", pl.col("amount_reporting").cast(MONEY),
        pl.col("cost_rate").cast(MONEY), pl.col("amount_cost_base").cast(MONEY), pl.col("hours").cast(QUANTITY),
        "rate_rule_id", "rounding_rule_id", "markup_rule_id", "rule_set_version", "run_id",
    ).sort("day", "line_id")  # fmt: skip
