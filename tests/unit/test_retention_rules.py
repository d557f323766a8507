"""Retention decisions on hand-written dates at the boundary, what a legal hold covers, and the
retention policy refused at load with the file and the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.config_types import ConfigurationError
from rules.retention.decisions import (
    ArchivedSlice,
    HoldScope,
    PurgeScope,
    expires_on,
    is_closed,
    past_retention,
    plan_purge,
)
from rules.retention.policy import RecordType, RetentionPolicy, RetentionSpan
from rules.retention.tables import RETAINED_TABLES
from rules.schemas.catalog import ENTITY_TABLES


def test_invoices_kept_ten_years_expire_the_first_day_after_the_span() -> None:
    assert expires_on("2016-11", 120) == date(2026, 12, 1)
    assert not past_retention("2016-11", 120, date(2026, 11, 30))
    assert past_retention("2016-11", 120, date(2026, 12, 1))


def test_request_logs_kept_eighteen_months() -> None:
    assert expires_on("2024-12", 18) == date(2026, 7, 1)
    assert not past_retention("2024-12", 18, date(2026, 6, 30))
    assert past_retention("2024-12", 18, date(2026, 7, 1))


def test_a_december_period_rolls_into_the_next_year() -> None:
    assert expires_on("2024-12", 24) == date(2027, 1, 1)


def test_a_period_is_closed_once_the_next_month_begins() -> None:
    assert not is_closed("2026-11", date(2026, 11, 30))
    assert is_closed("2026-11", date(2026, 12, 1))
    with pytest.raises(ValueError, match="YYYY-MM"):
        is_closed("2026-13", date(2026, 12, 1))


def test_what_a_hold_covers() -> None:
    clients = frozenset({5001})
    assert HoldScope("us").covers("us", "2015-01", clients)
    assert not HoldScope("us").covers("uk", "2015-01", clients)
    assert HoldScope("us", period="2015-01").covers("us", "2015-01", frozenset())
    assert not HoldScope("us", period="2015-02").covers("us", "2015-01", clients)
    assert HoldScope("us", client_id=5001).covers("us", "2015-01", clients)
    assert not HoldScope("us", client_id=5002).covers("us", "2015-01", clients)
    assert not HoldScope("us", client_id=5001, period="2015-02").covers("us", "2015-01", clients)


def _scope(*holds: HoldScope, today: date = date(2026, 11, 30)) -> PurgeScope:
    return PurgeScope("us", "default", RetentionPolicy(), holds, today)


def test_the_plan_deletes_only_expired_unheld_slices_and_says_why_it_keeps_the_rest() -> None:
    archived = {
        "2016-10": ([ArchivedSlice("billing.invoice_drafts", "2016-10", 3)], frozenset({5001})),
        "2016-11": ([ArchivedSlice("billing.invoice_drafts", "2016-11", 2)], frozenset({5001})),
        "2015-05": (
            [
                ArchivedSlice("billing.invoice_drafts", "2015-05", 4),
                ArchivedSlice("raw.time_entries", "2015-05", 9),
            ],
            frozenset({5002}),
        ),
    }
    plan = plan_purge(_scope(HoldScope("us", client_id=5002)), archived)
    assert plan.deletable == [ArchivedSlice("billing.invoice_drafts", "2016-10", 3)]
    reasons = {(s.table, s.period): why for s, why in plan.kept}
    assert reasons[("billing.invoice_drafts", "2016-11")] == "invoices kept 10y0m until 2026-12-01"
    assert reasons[("raw.time_entries", "2015-05")] == "legal hold (entity us, client 5002)"


def test_a_record_type_the_jurisdiction_does_not_name_is_kept() -> None:
    policy = RetentionPolicy(jurisdictions={"de": {RecordType.RAW_PAYLOADS: RetentionSpan(years=2)}})
    scope = PurgeScope("us", "de", policy, (), date(2026, 12, 1))
    plan = plan_purge(
        scope, {"2010-01": ([ArchivedSlice("billing.invoice_drafts", "2010-01", 1)], frozenset())}
    )
    assert plan.deletable == []
    assert plan.kept[0][1] == "invoices kept indefinitely in de"


def test_the_fingerprint_changes_with_what_would_be_deleted() -> None:
    one = {"2010-01": ([ArchivedSlice("billing.invoice_drafts", "2010-01", 1)], frozenset())}
    two = {"2010-01": ([ArchivedSlice("billing.invoice_drafts", "2010-01", 2)], frozenset())}
    assert plan_purge(_scope(), one).fingerprint() == plan_purge(_scope(), one).fingerprint()
    assert plan_purge(_scope(), one).fingerprint() != plan_purge(_scope(), two).fingerprint()


def _write(tmp_path: Path, retention: str, jurisdiction: str = "") -> Path:
    text = DEFAULT_CONFIG_PATH.read_text()
    if jurisdiction:
        text = text.replace(
            "    invoice_status: DRAFT\n", f"    invoice_status: DRAFT\n    jurisdiction: {jurisdiction}\n", 1
        )
    path = tmp_path / "billbridge.yaml"
    path.write_text(text + retention)
    (tmp_path / "mapping.yaml").write_text((DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text())
    return path


def test_a_policy_per_jurisdiction_loads(tmp_path: Path) -> None:
    retention = (
        "retention:\n  jurisdictions:\n    default: {invoices: {years: 10}}\n"
        "    de: {invoices: {years: 10}, request_logs: {months: 18}}\n"
    )
    config = load_config(_write(tmp_path, retention, jurisdiction="de"))
    assert config.entities[0].jurisdiction == "de"
    assert config.retention.span("de", RecordType.REQUEST_LOGS) == RetentionSpan(months=18)


def test_an_unknown_record_type_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "retention:\n  jurisdictions:\n    default: {invoice: {years: 10}}\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "retention.jurisdictions.default.invoice" in str(caught.value)


def test_a_zero_span_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "retention:\n  jurisdictions:\n    default: {invoices: {months: 0}}\n")
    with pytest.raises(ConfigurationError, match=r"retention\.jurisdictions\.default\.invoices"):
        load_config(path)


def test_an_entity_naming_an_unknown_jurisdiction_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"jurisdiction 'fr' is not in retention\.jurisdictions"):
        load_config(_write(tmp_path, "", jurisdiction="fr"))


def test_every_table_kept_by_period_is_registered_with_its_period_column() -> None:
    for retained in RETAINED_TABLES:
        assert retained.name in ENTITY_TABLES, retained.name
        assert ENTITY_TABLES[retained.name].column(retained.period_column).type in ("VARCHAR", "DATE")
