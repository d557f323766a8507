"""Vectorized generation of raw PM frames at benchmark scale (millions of time entries in seconds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from rules.mapping_document import ClientMapping
from rules.pm_payloads import RAW_COLUMNS
from rules.settings import BillbridgeConfig

BENCH_START = date(2026, 8, 1)
BENCH_DAYS = 92


def raw_time_entries(entries: int, projects: int = 1000, seed: int = 11, entity: str = "us") -> pl.DataFrame:
    """`entries` Harvest-shaped time entries as raw rows, spread over 92 days and `projects` projects."""
    rng = np.random.default_rng(seed)
    project = rng.integers(0, projects, entries)
    client = 5001 + project % 3  # the demo's three US clients
    hours = rng.integers(1, 17, entries) * 0.25
    rate = (100 + (project % 12) * 12.5).astype(float)
    day_offset = rng.integers(0, BENCH_DAYS, entries)
    days = [BENCH_START + timedelta(days=int(i)) for i in range(BENCH_DAYS)]
    frame = pl.DataFrame(
        {
            "id": np.arange(1, entries + 1, dtype=np.int64),
            "spent_date": pl.Series([d.isoformat() for d in days])[day_offset],
            "hours": hours,
            "billable": np.ones(entries, dtype=bool),
            "billable_rate": rate,
            "is_closed": np.ones(entries, dtype=bool),
            "client_id": client,
            "project_id": 60000 + project,
            "task_id": 7001 + project % 4,
        }
    )
    payload = pl.struct(
        "id",
        "spent_date",
        "hours",
        "billable",
        "billable_rate",
        "is_closed",
        pl.struct(
            pl.col("client_id").alias("id"), pl.lit("Client").alias("name"), pl.lit("USD").alias("currency")
        ).alias("client"),
        pl.struct(
            pl.col("project_id").alias("id"),
            pl.format("Project {}", "project_id").alias("name"),
            pl.format("P-{}", "project_id").alias("code"),
        ).alias("project"),
        pl.struct(pl.col("task_id").alias("id"), pl.lit("Development").alias("name")).alias("task"),
        pl.struct(pl.lit(8001).alias("id"), pl.lit("Ada").alias("name")).alias("user"),
    ).struct.json_encode()
    return _as_raw(frame, entity, pl.col("spent_date").str.to_date(), payload)


def _as_raw(frame: pl.DataFrame, entity: str, day: pl.Expr, payload: pl.Expr) -> pl.DataFrame:
    """Generated records (`id` and what `day` and `payload` read) as rows of a raw table, claimed."""
    return frame.select(
        pl.lit(entity).alias("entity"),
        day.alias("day"),
        pl.col("id").alias("record_id"),
        payload.alias("payload"),
        pl.lit("0" * 64).alias("payload_hash"),
        pl.lit("claimed").alias("routing"),
        pl.lit(datetime(2026, 11, 1, tzinfo=UTC)).alias("extracted_at"),
        pl.lit("bench").alias("request_url"),
        pl.lit("bench").alias("run_id"),
        pl.lit("bench").alias("contract_version"),
    ).cast(RAW_COLUMNS)  # type: ignore[arg-type]


def directory(projects: int = 1000) -> pl.DataFrame:
    """raw.directory rows for the benchmark's projects and clients."""
    rows = [
        {"kind": "projects", "payload": json.dumps({"id": 60000 + p, "code": f"P-{p}", "is_billable": True})}
        for p in range(projects)
    ]
    rows += [
        {"kind": "clients", "payload": json.dumps({"id": c, "currency": "USD"})} for c in (5001, 5002, 5003)
    ]
    return pl.DataFrame(rows)


# A firm's year, as `make bench` bills it (issue #17): hundreds of clients in several currencies,
# thousands of projects, hundreds of people, a few percent of expenses and of records held back.
YEAR_START = date(2025, 11, 1)
YEAR_DAYS = 365
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP", "CAD", "CHF")  # a client's currency, USD most often


@dataclass(frozen=True)
class Firm:
    """The shape of the generated firm: its clients, projects (each of one client) and people."""

    clients: int = 400
    projects: int = 4_000
    people: int = 300
    tasks: int = 20

    def client_ids(self) -> np.ndarray:
        return 100_000 + np.arange(self.clients)

    def currency_of(self, client: np.ndarray) -> np.ndarray:
        return np.array(CURRENCIES)[client % len(CURRENCIES)]

    def directory(self, entity: str = "us") -> pl.DataFrame:
        """raw.directory rows: every project (one in 25 not billable) and every client's currency."""
        projects = [
            {"id": 200_000 + p, "code": f"US-{p}", "is_billable": p % 25 != 0} for p in range(self.projects)
        ]
        clients = [
            {"id": int(c), "currency": str(self.currency_of(np.array([c]))[0])} for c in self.client_ids()
        ]
        payloads = [("projects", json.dumps(p)) for p in projects] + [
            ("clients", json.dumps(c)) for c in clients
        ]
        return pl.DataFrame(
            {
                "entity": entity,
                "kind": [k for k, _ in payloads],
                "record_id": np.arange(len(payloads), dtype=np.int64),
                "payload": [p for _, p in payloads],
                "payload_hash": "0" * 64,
                "extracted_at": datetime(2026, 11, 1, tzinfo=UTC),
                "request_url": "bench",
                "run_id": "bench",
                "contract_version": "bench",
            }
        )

    def config(self, base: BillbridgeConfig, entity: str = "us") -> BillbridgeConfig:
        """`base` with this firm's clients mapped to `entity` and billing from YEAR_START (no retainers:
        the demo's belong to its own clients)."""
        clients = [
            ClientMapping(pm_client_id=int(c), entity=entity, contact_name=f"Client {c} Ltd")
            for c in self.client_ids()
        ]
        mapping = base.mapping.model_copy(update={"clients": clients, "retainers": []})
        return base.model_copy(update={"mapping": mapping, "billing_start": YEAR_START})


def year_of_records(
    firm: Firm, first_id: int, count: int, seed: int, expenses: bool = False, days: range = range(YEAR_DAYS)
) -> pl.DataFrame:
    """`count` raw time entries (or expenses) of `firm`, ids from `first_id`, spread over `days` of
    the year (offsets from YEAR_START) in day order, as extraction stores them day by day.

    One in 20 is not billable, one in 30 awaits approval and one in 1,000 has hours out of range
    (quarantined); rates vary by project and task, hours by quarter hours.
    """
    rng = np.random.default_rng(seed)
    project = rng.integers(0, firm.projects, count)
    client = firm.client_ids()[project % firm.clients]
    person = rng.integers(0, firm.people, count)
    task = project % 7 + rng.integers(0, 3, count)
    quarter_hours = np.where(rng.random(count) < 0.001, 120, rng.integers(1, 33, count))
    frame = pl.DataFrame(
        {
            "id": first_id + np.arange(count, dtype=np.int64),
            "day": pl.Series([YEAR_START + timedelta(days=i) for i in days])[
                np.sort(rng.integers(0, len(days), count))
            ],
            "billable": rng.random(count) >= 0.05,
            "is_closed": rng.random(count) >= 1 / 30,
            "hours": (quarter_hours * 0.25).astype(float),
            "billable_rate": (90 + (project % 13) * 12.5 + (task % 4) * 5).astype(float),
            "cost_rate": (40 + person % 9 * 5).astype(float),
            "total_cost": (rng.integers(500, 50_000, count) / 100).astype(float),
            "client_id": client,
            "currency": firm.currency_of(client),
            "project_id": 200_000 + project,
            "task_id": 7_000 + task,
            "user_id": 9_000 + person,
        }
    )
    return _as_raw(frame, "us", pl.col("day"), _payload(expenses))


def _payload(expense: bool) -> pl.Expr:
    """A Harvest-shaped JSON payload of each generated row."""
    shared: list[str | pl.Expr] = [
        "id",
        pl.col("day").cast(pl.String).alias("spent_date"),
        "billable",
        "is_closed",
        pl.lit(None, pl.String).alias("locked_reason"),
        pl.struct(
            pl.col("client_id").alias("id"),
            pl.format("Client {}", "client_id").alias("name"),
            pl.col("currency"),
        ).alias("client"),
        pl.struct(
            pl.col("project_id").alias("id"),
            pl.format("Project {}", "project_id").alias("name"),
            pl.format("US-{}", pl.col("project_id") - 200_000).alias("code"),
        ).alias("project"),
        pl.struct(pl.col("user_id").alias("id"), pl.format("Person {}", "user_id").alias("name")).alias(
            "user"
        ),
    ]
    if expense:
        own: list[str | pl.Expr] = [
            "total_cost",
            pl.struct(pl.lit("Travel").alias("name")).alias("expense_category"),
        ]
    else:
        own = [
            "hours",
            "billable_rate",
            "cost_rate",
            pl.lit("9:00am").alias("started_time"),
            pl.struct(pl.col("task_id").alias("id"), pl.format("Task {}", "task_id").alias("name")).alias(
                "task"
            ),
            pl.lit("Worked on the sprint's stories").alias("notes"),
        ]
    return pl.struct(*shared, *own).struct.json_encode()
