"""The configuration of SLOs, the synthetic heartbeat and the on-call route (docs/decisions/0035).

Part of `orchestration` in the configuration file (rules/settings.py); kept apart so the
settings module stays readable. Unknown keys are refused like everywhere in the configuration.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules.rule_sets import ISO_4217
from rules.slo import (
    CHANGE_TO_LEDGER,
    DEAD_LETTER_GROWTH,
    HEARTBEAT_AGE,
    HEARTBEAT_RUNBOOK,
    RECONCILIATION_MISMATCHES,
    SLO_NAMES,
    SYNC_SUCCESS,
    UNPOSTED_BACKLOG,
    Objective,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SloSettings(_Strict):
    """The published service-level objectives (docs/decisions/0035; defaults in the README)."""

    window_hours: int = Field(default=168, ge=1, le=24 * 90, description="run history measured, hours")
    cron: str = Field(default="15 * * * *", min_length=9, description="UTC cron of the SLO measurement")
    min_sync_success_rate: Decimal = Field(default=Decimal("0.95"), ge=0, le=1)
    max_change_to_ledger_hours: Decimal = Field(default=Decimal("48"), gt=0)
    max_unposted_documents: int = Field(default=25, ge=0)
    max_dead_letter_growth: int = Field(default=0, ge=0)
    max_reconciliation_mismatches: int = Field(default=20, ge=0)
    # A breach of these is ERROR (money not booked, the path broken); of the others WARN.
    error_severity: list[str] = [SYNC_SUCCESS, DEAD_LETTER_GROWTH, HEARTBEAT_AGE]

    @field_validator("error_severity")
    @classmethod
    def _known_names(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SLO_NAMES))
        if unknown:
            raise ValueError(f"unknown SLO name(s) {unknown}; known: {', '.join(SLO_NAMES)}")
        return value


class HeartbeatSettings(_Strict):
    """The synthetic transaction against a dedicated test tenant (off while `tenant_id` is empty)."""

    tenant_id: str = Field(default="", description="a dedicated test tenant, never an entity's own")
    cron: str = Field(default="*/30 * * * *", min_length=9, description="UTC cron of the heartbeat schedule")
    late_after_minutes: int = Field(default=90, ge=1, le=7 * 24 * 60)
    contact_name: str = Field(default="billbridge heartbeat", min_length=1, max_length=255)
    account_code: str = Field(default="200", min_length=1)
    tax_type: str = Field(default="NONE", min_length=1)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. USD")

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @property
    def enabled(self) -> bool:
        """Whether a test tenant is configured."""
        return bool(self.tenant_id)


class OnCallRoute(_Strict):
    """Where SLO and heartbeat alerts page someone: a PagerDuty Events v2 or Opsgenie alerts URL."""

    url: str = Field(default="", description="e.g. https://events.pagerduty.com/v2/enqueue; empty: none")
    format: Literal["pagerduty", "opsgenie"] = "pagerduty"
    # The routing key (PagerDuty) or API key (Opsgenie) is a secret: read from this variable when sending.
    key_variable: str = Field(default="BILLBRIDGE_ONCALL_KEY", pattern=r"^[A-Z][A-Z0-9_]*$")


def objectives(slo: SloSettings, heartbeat: HeartbeatSettings) -> list[Objective]:
    """Every SLO with its threshold and severity (the heartbeat's lateness among them)."""
    thresholds = {
        SYNC_SUCCESS: slo.min_sync_success_rate,
        CHANGE_TO_LEDGER: slo.max_change_to_ledger_hours,
        UNPOSTED_BACKLOG: Decimal(slo.max_unposted_documents),
        DEAD_LETTER_GROWTH: Decimal(slo.max_dead_letter_growth),
        RECONCILIATION_MISMATCHES: Decimal(slo.max_reconciliation_mismatches),
        HEARTBEAT_AGE: Decimal(heartbeat.late_after_minutes),
    }
    return [
        Objective(
            name,
            thresholds[name],
            "ERROR" if name in slo.error_severity else "WARN",
            floor=name == SYNC_SUCCESS,
            **({"runbook": HEARTBEAT_RUNBOOK} if name == HEARTBEAT_AGE else {}),
        )
        for name in SLO_NAMES
    ]
