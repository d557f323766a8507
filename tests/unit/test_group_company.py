"""The group scale profile (sandbox/group_company.py) and its configuration (sandbox/group_config.py)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from resources.allocation_config import load_allocation_inputs
from resources.configuration import load_config
from sandbox.company import Company
from sandbox.company_roster import INTERNAL_PROJECT_ID
from sandbox.group_company import GroupProfile, generate_group, group_roster
from sandbox.group_config import write_group_configuration

SMALL = GroupProfile(entries=20_000)


@pytest.fixture(scope="module")
def group() -> Company:
    return generate_group(SMALL)


def _fingerprint(company: Company) -> str:
    text = json.dumps({kind: company.records(kind) for kind in Company.KINDS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_month_holds_about_the_requested_entries_all_approved(group: Company) -> None:
    entries = group.time_entries
    assert 19_000 <= len(entries) <= 23_000
    assert {e["spent_date"][:7] for e in entries} == {"2026-10"}
    assert all(e["is_closed"] and e["is_locked"] for e in entries)


def test_twenty_entities_in_several_currencies(group: Company) -> None:
    roster = group_roster(SMALL)
    offices = {office for _id, _name, _currency, office in roster.clients} - {"INT"}
    assert len(offices) == 20
    assert len(roster.offices) == 20
    currencies = {e["client"]["currency"] for e in group.time_entries}
    assert {"GBP", "USD", "EUR", "AUD", "CAD", "CHF"} <= currencies
    # 20,000 entries at one invoice a client per 50 entries: 20 clients per entity, plus the internal one.
    assert len(group.clients) == 401
    assert len({e["user"]["id"] for e in group.time_entries}) == len(group.users)


def test_people_of_one_entity_work_on_anothers_projects(group: Company) -> None:
    roster = group_roster(SMALL)
    home = {person[0]: office for office, _tz, people in roster.offices for person in people}
    office_of_client = {client_id: office for client_id, _n, _c, office in roster.clients}
    billable = [e for e in group.time_entries if e["project"]["id"] != INTERNAL_PROJECT_ID]
    crossing = [e for e in billable if office_of_client[e["client"]["id"]] != home[e["user"]["id"]]]
    # About a fifth of the people, one entry in five weekdays each: roughly one entry in a hundred.
    assert 0.003 < len(crossing) / len(billable) < 0.03
    assert len({home[e["user"]["id"]] for e in crossing}) >= 15  # a fifth of 16 people may be none


def test_the_same_seed_gives_the_same_group_and_another_seed_another(group: Company) -> None:
    assert _fingerprint(generate_group(SMALL)) == _fingerprint(group)
    other = generate_group(GroupProfile(entries=20_000, seed=18))
    assert _fingerprint(other) != _fingerprint(group)


def test_the_configuration_loads_and_maps_every_client_and_person(tmp_path: Path, group: Company) -> None:
    files = write_group_configuration(tmp_path, SMALL, group_roster(SMALL))
    config = load_config(files.config)
    assert len(config.entities) == 20
    assert {e.base_currency for e in config.entities} >= {"GBP", "USD", "EUR", "AUD"}
    assert config.billing_start == date(2026, 10, 1)
    assert {c.pm_client_id for c in config.mapping.clients} == {c["id"] for c in group.clients}
    assert {p.pm_user_id for p in config.mapping.people} == {u["id"] for u in group.users}


def test_overheads_per_entity_in_the_shipped_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_group_configuration(tmp_path, SMALL, group_roster(SMALL))
    monkeypatch.setenv("BILLBRIDGE_ALLOCATION_RULES", str(files.allocation_rules))
    inputs = load_allocation_inputs()
    assert len({o.entity for o in inputs.overheads}) == 20
    with (tmp_path / "overheads.csv").open() as rows:
        first = next(csv.DictReader(rows))
    assert first == {
        "reference": "US-2026-10-RENT", "entity": "us", "date": "2026-10-01", "category": "rent",
        "description": "Office rent", "amount": "8000.00",
    }  # fmt: skip
    assert Counter(o.category for o in inputs.overheads)["hardware"] == 5
