"""The month report as values: one entity-month's figures, and the flat list of named figures the HTML
page, the asset's metadata and the weekly review all show (pure: no Dagster, no I/O).

One list of `Figure`s is the single source: the page writes each as an element with `data-entity`,
`data-figure` and `data-value`, the asset turns each into a number the Dagster UI plots, so the page and
the UI can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rules.money import minor_units
from rules.month_kpis import BilledUnbilled, HandsOff, Latency, to_minor_units

# The health asset's counts (assets/health/states.py Outcome.numbers) the report shows, read, not recomputed.
OUTCOME_FIGURES = (
    "documents",
    "in_ledger",
    "not_sent",
    "dead_letters",
    "held",
    "quarantined",
    "accepted_lines",
)
RECONCILIATION_FIGURES = ("matched_automatically", "matched_by_hand", "proposed", "open_exceptions")


@dataclass(frozen=True)
class EntityMonth:
    """Everything the report says about one entity's month."""

    entity: str
    base_currency: str
    outcome: dict[str, int]
    billing: BilledUnbilled
    hands_off: HandsOff
    invoices: int
    corrections: int
    corrections_per_invoice: Decimal | None
    latency: Latency
    reconciliation: dict[str, object]
    weekly_exceptions: dict[str, int]


@dataclass(frozen=True)
class MonthReport:
    """The month's report over the entities in scope; `busy` ones a run held while the report read."""

    period: str
    entities: list[EntityMonth]
    busy: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """One figure on the page: what it is, its exact value (None: not applicable) and how it reads."""

    entity: str
    name: str
    value: Decimal | int | None
    text: str
    money_places: int | None = None  # minor units of a money figure, so metadata carries it exactly

    @property
    def data_value(self) -> str:
        """The exact value as the page's `data-value` (empty when not applicable)."""
        return "" if self.value is None else str(self.value)


def format_amount(amount: Decimal, places: int) -> str:
    """`1,154.15`: thousands separated, in `places` decimals (the currency's minor units)."""
    return f"{amount.quantize(Decimal(1).scaleb(-places)):,}"


def _money(entity: str, name: str, amount: Decimal, currency: str) -> Figure:
    places = minor_units(currency)
    exact = amount.quantize(Decimal(1).scaleb(-places))
    return Figure(entity, name, exact, f"{format_amount(exact, places)} {currency}", places)


def _count(entity: str, name: str, value: object) -> Figure:
    number = int(str(value)) if value is not None else 0
    return Figure(entity, name, number, f"{number:,}")


def _optional(entity: str, name: str, value: Decimal | int | None, unit: str = "") -> Figure:
    return Figure(entity, name, value, "-" if value is None else f"{value}{unit}")


def entity_figures(month: EntityMonth) -> list[Figure]:
    """The entity-month's figures in the order the page lists them."""
    e, ccy = month.entity, month.base_currency
    dso = month.reconciliation.get("dso_days")
    return [
        _money(e, "billed", month.billing.billed, ccy),
        _money(e, "unbilled", month.billing.unbilled, ccy),
        *(_count(e, name, month.outcome.get(name, 0)) for name in OUTCOME_FIGURES),
        _count(e, "documents_without_hand_edit", month.hands_off.documents),
        _count(e, "lines_without_hand_edit", month.hands_off.lines),
        _count(e, "invoices", month.invoices),
        _count(e, "corrections", month.corrections),
        _optional(e, "corrections_per_invoice", month.corrections_per_invoice),
        _optional(e, "posting_latency_median_days", month.latency.median_days, " d"),
        _optional(e, "posting_latency_max_days", month.latency.max_days, " d"),
        *(_count(e, name, month.reconciliation.get(name, 0)) for name in RECONCILIATION_FIGURES),
        _optional(e, "dso_days", None if dso is None else Decimal(str(dso)), " d"),
        _count(e, "exceptions", sum(month.weekly_exceptions.values())),
    ]


def report_figures(report: MonthReport) -> list[Figure]:
    """Every figure of the report, entity by entity."""
    return [f for month in report.entities for f in entity_figures(month)]


def metadata_numbers(figures: list[Figure]) -> dict[str, int | float]:
    """`<entity>/<figure>` -> a number for the Dagster UI: counts as ints, money in whole minor units
    (`..._minor`, exact), days and ratios as floats (not money); figures not applicable are left out."""
    numbers: dict[str, int | float] = {}
    for f in figures:
        if f.value is None:
            continue
        if f.money_places is not None:
            numbers[f"{f.entity}/{f.name}_minor"] = to_minor_units(Decimal(f.value), f.money_places)
        elif isinstance(f.value, int):
            numbers[f"{f.entity}/{f.name}"] = f.value
        else:
            numbers[f"{f.entity}/{f.name}"] = float(f.value)
    return numbers


def figures_markdown(figures: list[Figure]) -> str:
    """The figures as a markdown table, a column per entity (the weekly review shows it in the UI)."""
    entities = list(dict.fromkeys(f.entity for f in figures))
    if not entities:
        return "No entity-month to report."
    names = list(dict.fromkeys(f.name for f in figures))
    text = {(f.entity, f.name): f.text for f in figures}
    lines = ["| figure | " + " | ".join(entities) + " |", "| --- |" + " ---: |" * len(entities)]
    lines += [
        f"| {n.replace('_', ' ')} | " + " | ".join(text.get((e, n), "") for e in entities) + " |"
        for n in names
    ]
    return "\n".join(lines)
