"""The retention policy in configuration: how long each record type is kept, per jurisdiction.

An entity names its jurisdiction (`entities[].jurisdiction`); the policy gives each jurisdiction a
span per record type. A record type a jurisdiction does not name is kept indefinitely (never purged),
so a forgotten line errs on the side of keeping.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RecordType(StrEnum):
    """What a warehouse row is, for retention (tables by type: rules/retention/tables.py)."""

    INVOICES = "invoices"  # drafts, corrections, intercompany documents and their sources
    LEDGER = "ledger"  # what was posted or settled: outbox, posted lines, allocations, reconciliation
    BILLABLE_LINES = "billable_lines"  # normalized time and expense lines, quarantine, pinned FX rates
    RAW_PAYLOADS = "raw_payloads"  # PM payloads as extracted, their versions and rejections
    REQUEST_LOGS = "request_logs"  # every request the poster sent and what came back


class RetentionSpan(BaseModel):
    """How long records are kept after the end of their period: years and months, added."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: int = Field(default=0, ge=0, le=100)
    months: int = Field(default=0, ge=0, le=1200)

    @model_validator(mode="after")
    def _not_zero(self) -> RetentionSpan:
        if self.total_months == 0:
            raise ValueError("a retention span of zero would purge a period as soon as it closes")
        return self

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    def __str__(self) -> str:
        return f"{self.total_months // 12}y{self.total_months % 12}m"


DEFAULT_JURISDICTION = "default"
# The example: invoices and ledger 10 years, raw payloads 2 years, request logs 18 months.
DEFAULT_SPANS: dict[RecordType, RetentionSpan] = {
    RecordType.INVOICES: RetentionSpan(years=10),
    RecordType.LEDGER: RetentionSpan(years=10),
    RecordType.BILLABLE_LINES: RetentionSpan(years=10),
    RecordType.RAW_PAYLOADS: RetentionSpan(years=2),
    RecordType.REQUEST_LOGS: RetentionSpan(months=18),
}


class RetentionPolicy(BaseModel):
    """`retention:` in the configuration: jurisdiction -> record type -> span."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jurisdictions: dict[str, dict[RecordType, RetentionSpan]] = Field(
        default_factory=lambda: {DEFAULT_JURISDICTION: dict(DEFAULT_SPANS)},
        description="jurisdiction name -> {record type: {years, months}}",
    )

    def span(self, jurisdiction: str, record_type: RecordType) -> RetentionSpan | None:
        """How long `record_type` is kept in `jurisdiction`; None: kept indefinitely."""
        return self.jurisdictions.get(jurisdiction, {}).get(record_type)
