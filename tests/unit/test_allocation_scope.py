"""The `reallocate` run config: scope resolution, the effective date, and bad input named."""

from datetime import date

import pytest

from pipelines.allocation_jobs import ReallocateConfig, resolve_scope

KNOWN = ["us", "uk", "de"]  # the configured entities, in configuration order


def test_months_ending_before_the_effective_date_are_kept() -> None:
    config = ReallocateConfig(months=["2026-10", "2026-08", "2026-09"], effective_date="2026-09-10")
    entities, months, kept = resolve_scope(config, KNOWN)
    assert entities == ["us", "uk", "de"]
    assert months == [date(2026, 9, 1), date(2026, 10, 1)]  # September is reallocated whole
    assert kept == [date(2026, 8, 1)]


def test_unknown_entity_and_bad_month_are_named() -> None:
    with pytest.raises(ValueError, match=r"\['zz'\] are not configured"):
        resolve_scope(ReallocateConfig(months=["2026-09"], entities=["zz"]), KNOWN)
    with pytest.raises(ValueError, match="YYYY-MM"):
        resolve_scope(ReallocateConfig(months=["Sept"]), KNOWN)
    with pytest.raises(ValueError, match="at least one month"):
        resolve_scope(ReallocateConfig(months=[]), KNOWN)
