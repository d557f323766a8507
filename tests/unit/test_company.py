"""The seeded demo company: deterministic, the fixed ids the mapping refers to, exact numbers, the messy cases."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest

from sandbox.company import Company, generate_company

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CLOCK_12H = re.compile(r"^(1[0-2]|[1-9]):[0-5]\d(am|pm)$")


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=7)


def _json(company: Company) -> str:
    return json.dumps(asdict(company), sort_keys=True, default=str)


def test_same_seed_same_json_and_another_seed_differs(company: Company) -> None:
    assert _json(generate_company(seed=7)) == _json(company)
    assert _json(generate_company(seed=8)) != _json(company)


def test_fixed_directory_of_the_demo(company: Company) -> None:
    clients = {c["id"]: (c["name"], c["currency"]) for c in company.clients}
    assert clients == {
        5001: ("Acme Corp", "USD"),
        5002: ("ACME Corporation", "USD"),
        5003: ("Globex LLC", "USD"),
        5101: ("Initech Ltd", "GBP"),
        5102: ("Umbrella plc", "GBP"),
        5201: ("Stark Industrie GmbH", "EUR"),
        5202: ("Wayne Enterprises", "USD"),
        5301: ("Billbridge Internal", "USD"),
    }
    projects = {
        p["id"]: (p["client"]["id"], p["code"], p["is_billable"], p["bill_by"]) for p in company.projects
    }
    assert projects == {
        6001: (5001, "US-ACM-01", True, "People"),
        6002: (5002, "US-ACM-02", True, "People"),
        6003: (5003, None, True, "People"),
        6101: (5101, "UK-INI-01", True, "People"),
        6102: (5102, "UK-UMB-01", True, "People"),
        6201: (5201, "DE-STA-01", True, "People"),
        6202: (5202, "DE-WAY-01", True, "People"),
        6301: (5301, "INT-TRN", False, "none"),
    }
    assert {t["id"]: t["billable_by_default"] for t in company.tasks} == {
        7001: True,
        7002: True,
        7003: True,
        7004: True,
        7005: False,
    }
    assert sorted(u["id"] for u in company.users) == [8001, 8002, 8003, 8101, 8102, 8103, 8201, 8202, 8203]
    assigned = {(a["user"]["id"], a["project"]["id"]) for a in company.user_assignments}
    for office, projects_here in {"80": (6001, 6002, 6003), "81": (6101, 6102), "82": (6201, 6202)}.items():
        for user in (int(f"{office}0{n}") for n in (1, 2, 3)):
            # Harry Walsh (UK) also helps on the US Website Rebuild: the demo's intercompany work.
            cross_entity = {6001} if user == 8103 else set()
            assert {p for u, p in assigned if u == user} == {*projects_here, 6301, *cross_entity}
    training = [a for a in company.task_assignments if a["task"]["id"] == 7005]
    assert training and all(not a["billable"] for a in training)
    assert all(a["billable"] for a in company.task_assignments if a["task"]["id"] != 7005)


def test_messy_cases_each_exactly_once_in_the_first_month(company: Company) -> None:
    negative = [e for e in company.time_entries if e["hours"] == -1.5]
    too_long = [e for e in company.time_entries if e["hours"] == 25.0]
    ghost = [e for e in company.time_entries if e["project"]["id"] not in {p["id"] for p in company.projects}]
    assert len(negative) == len(too_long) == len(ghost) == 1
    assert ghost[0]["project"] == {"id": 6999, "name": "Ghost Project", "code": "GH-01"}
    assert ghost[0]["client"]["id"] == 5003
    for entry in (*negative, *too_long, *ghost):
        assert entry["spent_date"] < "2026-09-01"
        assert entry["is_closed"] and entry["billable"] and entry["billable_rate"] is not None
        assert entry["client"]["currency"] == "USD"  # all claimed by the US entity
    assert (
        sum(1 for e in company.time_entries if e["project"]["id"] == 6003 and e["project"]["code"] is None)
        > 3
    )
    assert any(e["client"]["id"] == 5002 for e in company.time_entries)
    # Nothing else is out of range.
    assert sum(1 for e in company.time_entries if not 0 < e["hours"] <= 24) == 2


def test_a_uk_person_works_on_a_us_project_some_days(company: Company) -> None:
    cross = [e for e in company.time_entries if e["user"]["id"] == 8103 and e["project"]["id"] == 6001]
    assert len(cross) == 12 and sum(Decimal(str(e["hours"])) for e in cross) == Decimal("23.75")
    assert all(
        e["client"]["id"] == 5001 and e["billable_rate"] == 160.0 and e["cost_rate"] == 75.0 for e in cross
    )
    assert len({e["spent_date"] for e in cross}) == 12  # one entry on each of those days
    assert not any(
        e["user"]["id"] // 100 != 81 for e in company.time_entries if e["project"]["id"] in (6101, 6102)
    )


def test_time_entries_follow_the_calendar_and_the_ids_the_date_order(company: Company) -> None:
    entries = company.time_entries
    assert [e["id"] for e in entries] == list(range(1_000_000_001, 1_000_000_001 + len(entries)))
    assert [e["spent_date"] for e in entries] == sorted(e["spent_date"] for e in entries)
    days = {date.fromisoformat(e["spent_date"]) for e in entries}
    weekdays = {
        date(2026, 8, 1) + timedelta(days=k)
        for k in range(92)
        if (date(2026, 8, 1) + timedelta(days=k)).weekday() < 5
    }
    assert days == weekdays
    per_person_day = Counter((e["user"]["id"], e["spent_date"]) for e in entries)
    assert len(per_person_day) == 9 * len(weekdays)
    assert set(per_person_day.values()) <= {2, 3, 4}
    assert 1_500 < len(entries) < 2_100


def test_numbers_are_exact_decimals_and_consistent(company: Company) -> None:
    rates = {(a["user"]["id"], a["project"]["id"]): a["hourly_rate"] for a in company.user_assignments}
    costs = {u["id"]: u["cost_rate"] for u in company.users}
    projects = {p["id"]: p for p in company.projects}
    timed = 0
    for entry in company.time_entries:
        hours = Decimal(str(entry["hours"]))
        assert hours == hours.quantize(Decimal("0.01"))
        assert (hours / Decimal("0.05")) % 1 == 0
        assert entry["hours_without_timer"] == entry["hours"]
        quarters = (hours / Decimal("0.25")).to_integral_value(rounding=ROUND_CEILING)
        assert Decimal(str(entry["rounded_hours"])) == quarters * Decimal("0.25")
        assert entry["cost_rate"] == costs[entry["user"]["id"]]
        project = projects.get(entry["project"]["id"])
        expected_billable = project is None or (project["is_billable"] and entry["task"]["id"] != 7005)
        assert entry["billable"] is expected_billable
        if entry["billable"]:
            rate = Decimal(str(entry["billable_rate"]))
            assert rate * 2 % 1 == 0  # whole or .50
            if project is not None:
                assert entry["billable_rate"] == rates[(entry["user"]["id"], entry["project"]["id"])]
        else:
            assert entry["billable_rate"] is None
        if entry["started_time"] is not None:
            timed += 1
            assert CLOCK_12H.match(entry["started_time"]) and CLOCK_12H.match(entry["ended_time"])
        else:
            assert entry["ended_time"] is None
            assert hours in {Decimal(q) / 4 for q in range(1, 17)} or hours in (Decimal("-1.5"), Decimal(25))
    assert 0.02 < timed / len(company.time_entries) < 0.09
    internal = sum(1 for e in company.time_entries if e["project"]["id"] == 6301)
    assert 0.06 < internal / len(company.time_entries) < 0.14
    assert {
        e["billable_rate"]
        for e in company.time_entries
        if e["user"]["id"] == 8001 and e["project"]["id"] == 6002
    } == {140.0}


def test_approval_closes_all_but_the_last_ten_days(company: Company) -> None:
    for record in (*company.time_entries, *company.expenses):
        closed = (date(2026, 10, 31) - date.fromisoformat(record["spent_date"])).days > 10
        assert record["is_closed"] is closed and record["is_locked"] is closed
        assert record["locked_reason"] == (
            "Item Approved and Locked for this Time Period" if closed else None
        )
        assert STAMP.match(record["created_at"]) and STAMP.match(record["updated_at"])
        assert record["created_at"].startswith(record["spent_date"])
        assert record["updated_at"] >= record["created_at"]
        assert record["is_billed"] is False and record["invoice"] is None
    assert any(not e["is_closed"] for e in company.time_entries)
    entry = company.time_entries[0]
    assert (
        entry["is_running"] is False
        and entry["external_reference"] is None
        and entry["timer_started_at"] is None
    )


def test_expenses(company: Company) -> None:
    expenses = company.expenses
    assert [x["id"] for x in expenses] == list(range(3_000_001, 3_000_001 + len(expenses)))
    assert [x["spent_date"] for x in expenses] == sorted(x["spent_date"] for x in expenses)
    billable_projects = {p["id"] for p in company.projects if p["is_billable"]}
    assert {x["project"]["id"] for x in expenses} == billable_projects
    assert 7 * 3 * 1 <= len(expenses) <= 7 * 3 * 3
    assert (
        any(not x["billable"] for x in expenses) and sum(x["billable"] for x in expenses) > len(expenses) / 2
    )
    for expense in expenses:
        cost = Decimal(str(expense["total_cost"]))
        assert cost > 0 and cost == cost.quantize(Decimal("0.01"))
        assert set(expense["expense_category"]) == {"id", "name", "unit_price", "unit_name"}
        assert expense["units"] is None or isinstance(expense["units"], int)
        assert expense["client"]["id"] == next(
            p["client"]["id"] for p in company.projects if p["id"] == expense["project"]["id"]
        )


def test_nested_references_resolve(company: Company) -> None:
    users = {u["id"]: f"{u['first_name']} {u['last_name']}" for u in company.users}
    assignments = {a["id"] for a in company.user_assignments}
    task_assignments = {a["id"] for a in company.task_assignments}
    for entry in company.time_entries:
        assert users[entry["user"]["id"]] == entry["user"]["name"]
        if entry["project"]["id"] != 6999:
            assert entry["user_assignment"]["id"] in assignments
            assert entry["task_assignment"]["id"] in task_assignments


def test_scale_adds_people_and_projects_and_keeps_the_messy_cases() -> None:
    big = generate_company(seed=7, scale=2.0)
    assert len(big.users) == 18 and len(big.projects) == 7 * 2 + 1
    for kind in Company.KINDS:
        ids = [r["id"] for r in big.records(kind)]
        assert len(ids) == len(set(ids)), kind
    extra = [p for p in big.projects if p["id"] > 60_000]
    assert extra and all(re.match(r"^[A-Z]{2}-[A-Z]{3}-\d{4}$", p["code"]) for p in extra)
    assert len({p["code"] for p in big.projects if p["code"]}) == len([p for p in big.projects if p["code"]])
    assert sum(1 for e in big.time_entries if e["hours"] in (-1.5, 25.0)) == 2
    assert sum(1 for e in big.time_entries if e["project"]["id"] == 6999) == 1
    assert 2 * 1_500 < len(big.time_entries) < 2 * 2_100
    assert big.summary()["time_entries"] == len(big.time_entries)
    assigned_projects = {a["project"]["id"] for a in big.user_assignments}
    assert assigned_projects == {p["id"] for p in big.projects}


def test_other_ranges_and_bad_arguments() -> None:
    short = generate_company(seed=1, start=date(2026, 1, 15), months=1)
    assert short.start == date(2026, 1, 15) and short.end == date(2026, 2, 14)
    assert all("2026-01-15" <= e["spent_date"] <= "2026-02-14" for e in short.time_entries)
    assert sum(1 for e in short.time_entries if e["hours"] in (-1.5, 25.0)) == 2
    with pytest.raises(ValueError):
        generate_company(scale=0)
    with pytest.raises(ValueError):
        generate_company(months=0)


def test_summary_counts_every_list(company: Company) -> None:
    summary = company.summary()
    assert set(summary) == set(Company.KINDS)
    assert summary["clients"] == 8 and summary["projects"] == 8 and summary["users"] == 9
    assert summary["time_entries"] == len(company.time_entries)
