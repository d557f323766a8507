"""Partitions: entity x day for extraction and normalization, entity x month for billing and posting.

Entities come from configuration: `Partitions.of(config)` builds the partitions of one
configuration, and every asset factory takes them (`pipelines/definitions.py`). A day partition
is the entity's local calendar day (Harvest's `spent_date`); a month partition is named by its
first day (YYYY-MM-01).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import dagster as dg

from rules.calendar import month_end
from rules.settings import BillbridgeConfig

ENTITY = "entity"
DAY = "day"
MONTH = "month"


@dataclass(frozen=True)
class Partitions:
    """The partitions of one configuration: its entities by day and by month, and the group's months."""

    entity_day: dg.MultiPartitionsDefinition
    entity_month: dg.MultiPartitionsDefinition
    # The group's months (consolidation); the entity-month partitions share this definition.
    month: dg.MonthlyPartitionsDefinition

    @classmethod
    def of(cls, config: BillbridgeConfig) -> Partitions:
        """The configured entities, from the configuration's `billing_start`."""
        entities = dg.StaticPartitionsDefinition(config.entity_ids)
        start = config.billing_start
        month = dg.MonthlyPartitionsDefinition(start_date=start.replace(day=1).isoformat())
        return cls(
            entity_day=dg.MultiPartitionsDefinition(
                {ENTITY: entities, DAY: dg.DailyPartitionsDefinition(start_date=start.isoformat())}
            ),
            entity_month=dg.MultiPartitionsDefinition({ENTITY: entities, MONTH: month}),
            month=month,
        )


# The group close of a month reads that month of every entity.
entity_months_to_month = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=MONTH)

# A month's billing reads every day of that month, entity by entity.
days_to_month = dg.MultiPartitionMapping(
    {
        ENTITY: dg.DimensionPartitionMapping(ENTITY, dg.IdentityPartitionMapping()),
        DAY: dg.DimensionPartitionMapping(MONTH, dg.TimeWindowPartitionMapping()),
    }
)


@dataclass(frozen=True)
class DaySlice:
    """The entity and the days a run of a day-partitioned asset covers."""

    entity: str
    days: tuple[date, ...]

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]

    def label(self) -> str:
        if len(self.days) == 1:
            return f"{self.entity}|{self.first.isoformat()}"
        return f"{self.entity}|{self.first.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True)
class MonthSlice:
    """The entity and billing period (first day of the month) a monthly run covers."""

    entity: str
    month: date

    @property
    def period(self) -> str:
        return self.month.strftime("%Y-%m")

    @property
    def month_end(self) -> date:
        return month_end(self.month)

    def label(self) -> str:
        return f"{self.entity}|{self.period}"


def _dims(key: str) -> dict[str, str]:
    """A partition key's values by dimension name."""
    if isinstance(key, dg.MultiPartitionKey):
        return dict(key.keys_by_dimension)
    # The string form orders dimensions by name (day|entity but entity|month): find the date.
    first, second = key.split("|")
    when, entity = (first, second) if first[:1].isdigit() else (second, first)
    return {ENTITY: entity, DAY: when, MONTH: when}


class SeveralEntitiesError(ValueError):
    """A run's partitions span more than one entity: it would write several entities' files."""

    def __init__(self, entities: list[str]):
        super().__init__(
            f"this run covers the partitions of {len(entities)} entities ({', '.join(entities)}), "
            "but a run may write one entity's warehouse file only: launch one run per entity "
            "(the team deployment's run coordinator, deploy/dagster.yaml, splits backfills so), "
            "or `billbridge sync --entity ENTITY`"
        )
        self.entities = entities


def keys_by_entity(keys: Iterable[str]) -> dict[str, list[str]]:
    """Partition keys (entity-day or entity-month, in their given order) grouped by their entity."""
    grouped: dict[str, list[str]] = {}
    for key in keys:
        grouped.setdefault(_dims(key)[ENTITY], []).append(key)
    return grouped


def one_entity(keys: Iterable[str]) -> tuple[str, list[str]]:
    """The one entity of a run's partition keys, and its keys; SeveralEntitiesError for more than one
    (docs/decisions/0045: each entity's file admits one writer, so no run writes two of them)."""
    grouped = keys_by_entity(keys)
    if len(grouped) != 1:
        raise SeveralEntitiesError(sorted(grouped))
    [(entity, own)] = grouped.items()
    return entity, own


def day_slices(context: dg.AssetExecutionContext) -> list[DaySlice]:
    """The run's days, of its one entity (a backfill run may span many days, never two entities)."""
    entity, keys = one_entity(context.partition_keys)
    return [DaySlice(entity, tuple(sorted(date.fromisoformat(_dims(k)[DAY]) for k in keys)))]


def day_windows(part: DaySlice, records_by_day: Mapping[date, int], max_records: int) -> list[DaySlice]:
    """`part`'s days in consecutive windows of at most `max_records` raw records each, in day order.

    A day is never split (its lines are replaced as one slice); a day holding more than
    `max_records` is a window of its own. Days without records still belong to a window: a rerun
    must clear what an earlier run wrote for them.
    """
    windows: list[tuple[date, ...]] = []
    current: list[date] = []
    held = 0
    for day in part.days:
        records = records_by_day.get(day, 0)
        if current and held + records > max_records:
            windows.append(tuple(current))
            current, held = [], 0
        current.append(day)
        held += records
    if current:
        windows.append(tuple(current))
    return [DaySlice(part.entity, days) for days in windows]


def month_slices(context: dg.AssetExecutionContext) -> list[MonthSlice]:
    """The run's monthly partitions as (entity, month) pairs, of its one entity."""
    entity, keys = one_entity(context.partition_keys)
    return [
        MonthSlice(entity, month) for month in sorted({date.fromisoformat(_dims(k)[MONTH]) for k in keys})
    ]


def day_key(entity: str, day: date) -> dg.MultiPartitionKey:
    """The partition key of one entity-day."""
    return dg.MultiPartitionKey({ENTITY: entity, DAY: day.isoformat()})


def month_key(entity: str, month: date) -> dg.MultiPartitionKey:
    """The partition key of one entity-month."""
    return dg.MultiPartitionKey({ENTITY: entity, MONTH: month.replace(day=1).isoformat()})
