"""The pure parts of SLOs and the heartbeat, by hand: which figures breach which thresholds, the
alert bodies each route receives, the synthetic line's price and the booking's check, and the
configuration that keeps the heartbeat off every entity's tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rules.alert_payloads import Alert, opsgenie_alert, pagerduty_event, webhook_body
from rules.health_settings import HeartbeatSettings, SloSettings
from rules.heartbeat import booking_problem, draft, heartbeat_number, pick_entry, price
from rules.settings import OrchestrationConfig
from rules.slo import Breach, Objective, SloFigures, evaluate, minutes_between, success_rate
from tests.factories import configuration


def figures(**overrides: object) -> SloFigures:
    base: dict[str, object] = {
        "sync_success_rate": Decimal("0.95"),
        "change_to_ledger_hours": Decimal("48"),
        "unposted_documents": 25,
        "dead_letters": 3,
        "dead_letter_growth": 0,
        "reconciliation_mismatches": 20,
        "heartbeat_age_minutes": None,
    }
    return SloFigures(**{**base, **overrides})  # type: ignore[arg-type]


def test_figures_on_the_threshold_are_within_their_objective() -> None:
    assert evaluate(figures(), OrchestrationConfig().objectives()) == []


def test_a_figure_past_its_threshold_is_a_breach_with_its_severity_and_runbook() -> None:
    objectives = OrchestrationConfig().objectives()
    breaches = evaluate(
        figures(
            sync_success_rate=Decimal("0.9499"), unposted_documents=26, heartbeat_age_minutes=Decimal("90.01")
        ),
        objectives,
    )
    assert breaches == [
        Breach("sync_success_rate", Decimal("0.9499"), Decimal("0.95"), "ERROR", "slo-breach.md", floor=True),
        Breach("unposted_documents", Decimal(26), Decimal(25), "WARN", "slo-breach.md"),
        Breach("heartbeat_age_minutes", Decimal("90.01"), Decimal(90), "ERROR", "heartbeat.md"),
    ]
    assert breaches[0].line("https://x.test/rb/") == (
        "SLO sync_success_rate breached: 0.9499 is below the floor 0.95 (ERROR)  [runbook: https://x.test/rb/slo-breach.md]"
    )


def test_a_figure_not_measured_is_never_a_breach() -> None:
    floor = Objective("sync_success_rate", Decimal("0.95"), "ERROR", floor=True)
    assert not floor.breached(None)
    assert evaluate(figures(sync_success_rate=None, change_to_ledger_hours=None), [floor]) == []


def test_severities_follow_the_configuration() -> None:
    orchestration = OrchestrationConfig(slo=SloSettings(error_severity=["unposted_documents"]))
    severities = {o.name: o.severity for o in orchestration.objectives()}
    assert severities == {
        "sync_success_rate": "WARN",
        "change_to_ledger_hours": "WARN",
        "unposted_documents": "ERROR",
        "dead_letter_growth": "WARN",
        "reconciliation_mismatches": "WARN",
        "heartbeat_age_minutes": "WARN",
    }
    with pytest.raises(ValidationError, match="unknown SLO name"):
        SloSettings(error_severity=["backlog"])


def test_rates_and_ages_are_exact() -> None:
    assert success_rate(19, 1) == Decimal("0.9500")
    assert success_rate(2, 1) == Decimal("0.6667")
    assert success_rate(0, 0) is None
    assert minutes_between(1_000.0, 1_000.0 + 5_430.0) == Decimal("90.50")


ALERT = Alert(
    "billbridge SLO x breached", "WARN", "billbridge/slo/x", "https://x.test/rb/slo-breach.md", {"slo": "x"}
)


def test_each_route_gets_the_alert_in_its_own_shape() -> None:
    assert webhook_body(ALERT) == {
        "text": "billbridge SLO x breached  [runbook: https://x.test/rb/slo-breach.md]",
        "severity": "WARN",
        "key": "billbridge/slo/x",
        "slo": "x",
    }
    assert pagerduty_event(ALERT, "R0UT1NG") == {
        "routing_key": "R0UT1NG",
        "event_action": "trigger",
        "dedup_key": "billbridge/slo/x",
        "payload": {
            "summary": "billbridge SLO x breached",
            "source": "billbridge",
            "severity": "warning",
            "custom_details": {"slo": "x"},
        },
        "links": [{"href": "https://x.test/rb/slo-breach.md", "text": "runbook"}],
    }
    assert opsgenie_alert(ALERT) == {
        "message": "billbridge SLO x breached",
        "alias": "billbridge/slo/x",
        "description": "billbridge SLO x breached\nrunbook: https://x.test/rb/slo-breach.md",
        "priority": "P3",
        "source": "billbridge",
        "details": {"slo": "x", "runbook": "https://x.test/rb/slo-breach.md"},
    }


def test_the_synthetic_line_is_priced_by_the_invoice_line_rule() -> None:
    entries = [
        {"id": 1, "hours": 0, "billable_rate": 100},
        {"id": 2, "hours": 1.5, "billable_rate": None},
        {"id": 3, "hours": 1.335, "billable_rate": 150.5},
    ]
    entry = pick_entry(entries)
    assert entry is not None and entry["id"] == 3
    line = price(entry, "USD")
    assert (line.hours, line.rate, line.amount) == (Decimal("1.335"), Decimal("150.5"), Decimal("200.92"))
    assert price({"id": 4, "hours": 2, "billable_rate": 333.335}, "JPY").amount == Decimal("667")
    assert pick_entry([{"id": 5, "hours": "x", "billable_rate": 1}]) is None


def test_the_synthetic_invoice_is_a_draft_on_the_test_tenant_and_its_booking_is_checked() -> None:
    settings = HeartbeatSettings(tenant_id="tenant-test")
    line = price({"id": 3, "hours": 2, "billable_rate": 100}, "USD")
    number = heartbeat_number(datetime(2026, 12, 7, 3, 0, 5, tzinfo=UTC), "abcdef123456")
    assert number == "HB-20261207T030005-abcdef12"
    document = draft(number, line, settings, "contact-1", date(2026, 12, 7))
    assert (document["Type"], document["Status"], document["InvoiceNumber"]) == ("ACCREC", "DRAFT", number)
    assert document["LineItems"][0]["LineAmount"] == Decimal(200)
    assert document["LineItems"][0]["TaxType"] == "NONE"
    assert booking_problem({number: {"Total": "200.00"}}, number, line) is None
    assert (
        booking_problem({number: {"Total": "199.99"}}, number, line)
        == f"{number} is booked at 199.99, drafted at 200.00"
    )
    assert booking_problem({}, number, line) == f"{number} is not in the test tenant after posting"


def test_the_heartbeat_may_not_use_an_entitys_tenant() -> None:
    config = configuration()
    orchestration = config.orchestration.model_copy(
        update={"heartbeat": HeartbeatSettings(tenant_id="TENANT-ACME")}
    )
    with pytest.raises(ValidationError, match="entity 'acme''s tenant; expected a dedicated test tenant"):
        type(config).model_validate({**config.model_dump(), "orchestration": orchestration.model_dump()})
    assert not HeartbeatSettings().enabled
