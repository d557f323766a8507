"""The time one entity charges another for: its people's time on projects the other entity bills.

A line's `entity` is the buyer (it bills the project); the person's home entity (mapping `people`)
is the seller. The buyer reads its own normalized lines; the seller holds only the raw records
(raw.intercompany_time_entries, decision 0010: it never opens the buyer's file) and judges them with
the normalizing step's own rules (`rules.normalizing.held_time`), so both sides charge the same lines.
"""

from __future__ import annotations

import polars as pl

from rules.fx_rates import FxSnapshot
from rules.money import MONEY, QUANTITY
from rules.normalizing import Judging, held_time
from rules.settings import BillbridgeConfig

WORK_SCHEMA = pl.Schema(
    {
        "line_id": pl.String(), "buyer_entity": pl.String(), "day": pl.Date(), "source_id": pl.Int64(),
        "project_id": pl.Int64(), "project_name": pl.String(), "project_code": pl.String(),
        "person_id": pl.Int64(), "person_name": pl.String(), "hours": QUANTITY, "cost_rate": MONEY,
        "seller_entity": pl.String(),
    }
)  # fmt: skip
# What the pricing needs of each normalized time line.
WORK_COLUMNS = [
    "line_id", "entity", "day", "source_id", "project_id", "project_name", "project_code",
    "person_id", "person_name", "hours", "cost_rate",
]  # fmt: skip


def intercompany_work(
    lines: pl.DataFrame, config: BillbridgeConfig, *, seller: str | None = None, buyer: str | None = None
) -> pl.DataFrame:
    """The normalized time lines another entity's people worked, with `seller_entity` (their home entity).

    A line's `entity` is the buyer (it bills the project). Lines awaiting approval are left for
    a later run when the seller bills only approved time, exactly as invoices are.
    """
    homes = pl.DataFrame(
        {
            "person_id": [p.pm_user_id for p in config.mapping.people],
            "seller_entity": [p.home_entity for p in config.mapping.people],
        },
        schema={"person_id": pl.Int64, "seller_entity": pl.String},
    )
    approval = {e.id: e.require_approval for e in config.entities}
    work = (
        lines.filter(pl.col("source_kind") == "time")
        .select([*WORK_COLUMNS, "approved"])
        .join(homes, on="person_id", how="inner")
        .filter(pl.col("seller_entity") != pl.col("entity"))
        .filter(
            pl.col("approved")
            | ~pl.col("seller_entity").replace_strict(approval, default=True, return_dtype=pl.Boolean)
        )
    )
    if seller is not None:
        work = work.filter(pl.col("seller_entity") == seller)
    if buyer is not None:
        work = work.filter(pl.col("entity") == buyer)
    return work.rename({"entity": "buyer_entity"}).drop("approved")


def seller_work(
    worked_elsewhere: pl.DataFrame,
    directory: pl.DataFrame,
    seller: str,
    config: BillbridgeConfig,
    fx: FxSnapshot,
) -> pl.DataFrame:
    """The seller's own view of its people's time on other entities' projects.

    `worked_elsewhere` are rows of raw.intercompany_time_entries (raw records plus `billed_by`);
    each buyer's records are judged exactly as the buyer's normalizing judges them (its entity
    configuration, the same rules and quarantine: `held_time`), so the seller charges precisely the
    lines the buyer's ledger holds. Nothing is priced or converted for the buyer: the charge uses none.
    """
    parts = []
    for (buyer,) in worked_elsewhere.select("billed_by").unique().sort("billed_by").iter_rows():
        raw = worked_elsewhere.filter(pl.col("billed_by") == buyer).drop("billed_by")
        buyers_view = Judging(config.entity(buyer), config, fx)
        held = held_time(raw.with_columns(pl.lit(buyer).alias("entity")), directory, buyers_view)
        parts.append(intercompany_work(held, config, seller=seller, buyer=buyer).select(WORK_SCHEMA.names()))
    return pl.concat(parts) if parts else pl.DataFrame(schema=WORK_SCHEMA)
