"""What every handler works on: the ledger, the clock, each organisation's settings, and one write's options."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from resources.http_server import Request, Response
from sandbox.xero.answers import ok
from sandbox.xero.exact import ms_date, utc_day
from sandbox.xero.ledger import Ledger

DEFAULT_CURRENCY = "USD"  # an organisation without a configured base currency


@dataclass
class Books:
    """The sandbox's books: the stored ledger, the clock, and per-tenant organisation settings."""

    ledger: Ledger
    clock: Callable[[], float]
    base_currencies: dict[str, str] = field(default_factory=dict)
    lock_dates: dict[str, tuple[date | None, date | None]] = field(default_factory=dict)

    def base_currency(self, tenant: str) -> str | None:
        """The organisation's base currency, when configured."""
        return self.base_currencies.get(tenant)

    def today(self) -> date:
        """Today in UTC by the sandbox's clock (Xero's default for a missing Date)."""
        return utc_day(self.clock())

    def check_lock_date(self, tenant: str, issued: date, errors: list[str]) -> None:
        """Xero refuses a non-draft document dated on or before the organisation's lock date."""
        period_lock, year_end_lock = self.lock_dates.get(tenant, (None, None))
        if year_end_lock is not None and issued <= year_end_lock:
            errors.append(
                f"The document date cannot be on or before the end of year lock date ({year_end_lock.isoformat()})."
            )
        elif period_lock is not None and issued <= period_lock:
            errors.append(
                f"The document date cannot be on or before the period lock date ({period_lock.isoformat()})."
            )

    def organisation(self, tenant: str) -> Response:
        """The tenant's organisation, with its lock dates (the only settings the sandbox keeps)."""
        period_lock, year_end_lock = self.lock_dates.get(tenant, (None, None))
        organisation: dict[str, Any] = {
            "OrganisationID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"billbridge-sandbox:{tenant}")),
            "Name": f"Sandbox organisation {tenant}",
            "BaseCurrency": self.base_currencies.get(tenant, DEFAULT_CURRENCY),
            "OrganisationStatus": "ACTIVE",
        }
        if period_lock is not None:
            organisation["PeriodLockDate"] = ms_date(period_lock)
        if year_end_lock is not None:
            organisation["EndOfYearLockDate"] = ms_date(year_end_lock)
        return ok({"Organisations": [organisation]}, self.clock())


@dataclass(frozen=True)
class Write:
    """One write request as a handler sees it, inside the ledger transaction."""

    tenant: str
    request: Request
    summarize: bool  # summarizeErrors: one invalid element refuses the whole request
    unitdp4: bool  # unitdp=4: unit amounts kept to four decimal places
    key: str | None  # the Idempotency-Key, stored with what the write creates
    now: float


# A write handler: the answer to one write, given the books (run inside the ledger transaction).
WriteHandler = Callable[[Books, Write], Response]
