"""Who and what the seeded demo company is made of: fixed ids, names, rates, and the `Roster` that
a larger company (sandbox/group_company.py) replaces them with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

FIRST_TIME_ENTRY_ID = 1_000_000_001
FIRST_EXPENSE_ID = 3_000_001
FIRST_USER_ASSIGNMENT_ID = 120_000_001
FIRST_TASK_ASSIGNMENT_ID = 150_000_001
# Days before the end of the range that are still awaiting timesheet approval.
UNAPPROVED_TAIL_DAYS = 10
LOCKED_REASON = "Item Approved and Locked for this Time Period"

GHOST_PROJECT: Record = {"id": 6999, "name": "Ghost Project", "code": "GH-01"}
GHOST_CLIENT_ID = 5003
# The ghost project's assignments were deleted with it; the ids exist on no list.
GHOST_USER_ASSIGNMENT_ID = 119_999_999
GHOST_TASK_ASSIGNMENT_ID = 149_999_999

# (id, name, currency, office)
CLIENTS: tuple[tuple[int, str, str, str], ...] = (
    (5001, "Acme Corp", "USD", "US"),
    (5002, "ACME Corporation", "USD", "US"),
    (5003, "Globex LLC", "USD", "US"),
    (5101, "Initech Ltd", "GBP", "UK"),
    (5102, "Umbrella plc", "GBP", "UK"),
    (5201, "Stark Industrie GmbH", "EUR", "DE"),
    (5202, "Wayne Enterprises", "USD", "DE"),
    (5301, "Billbridge Internal", "USD", "INT"),
)
# (id, client id, name, code, code prefix for the extra projects of larger scales)
BILLABLE_PROJECTS: tuple[tuple[int, int, str, str | None, str], ...] = (
    (6001, 5001, "Website Rebuild", "US-ACM-01", "US-ACM"),
    (6002, 5002, "Support Retainer", "US-ACM-02", "US-ACM"),
    (6003, 5003, "Data Platform", None, "US-GLX"),
    (6101, 5101, "ERP Rollout", "UK-INI-01", "UK-INI"),
    (6102, 5102, "Annual Audit Support", "UK-UMB-01", "UK-UMB"),
    (6201, 5201, "Factory IoT", "DE-STA-01", "DE-STA"),
    (6202, 5202, "Security Review", "DE-WAY-01", "DE-WAY"),
)
INTERNAL_PROJECT = (6301, 5301, "Internal Training", "INT-TRN")
INTERNAL_PROJECT_ID = 6301
TRAINING_TASK_ID = 7005
# (id, name, billable_by_default)
TASKS: tuple[tuple[int, str, bool], ...] = (
    (7001, "Development", True),
    (7002, "Design", True),
    (7003, "Project Management", True),
    (7004, "Travel", True),
    (7005, "Training", False),
)
# Which task a billable entry is logged against: cumulative weights over 7001..7004.
TASK_WEIGHTS: tuple[tuple[float, int], ...] = ((0.5, 7001), (0.7, 7002), (0.9, 7003), (1.0, 7004))
NOTES: dict[int, tuple[str, ...]] = {
    7001: ("Feature work", "Code review", "Bug fixing", "API integration", "Data migration scripts"),
    7002: ("Wireframes", "UI mockups", "Design review", "Style guide updates"),
    7003: ("Sprint planning", "Client status call", "Backlog grooming", "Steering committee"),
    7004: ("Travel to client site", "Return travel"),
    7005: ("Internal workshop", "Certification study", "Onboarding session"),
}
# (office, timezone, [(user id, first, last, default rate, cost rate)])
OFFICES: tuple[tuple[str, str, tuple[tuple[int, str, str, float, float], ...]], ...] = (
    (
        "US",
        "Eastern Time (US & Canada)",
        (
            (8001, "Maya", "Thompson", 150.0, 70.0),
            (8002, "Ethan", "Brooks", 175.0, 80.0),
            (8003, "Olivia", "Chen", 200.0, 95.0),
        ),
    ),
    (
        "UK",
        "London",
        (
            (8101, "Oliver", "Hughes", 120.0, 55.0),
            (8102, "Amelia", "Patel", 140.0, 65.0),
            (8103, "Harry", "Walsh", 160.0, 75.0),
        ),
    ),
    (
        "DE",
        "Berlin",
        (
            (8201, "Lukas", "Becker", 110.0, 50.0),
            (8202, "Hannah", "Schmidt", 130.0, 60.0),
            (8203, "Felix", "Wagner", 150.0, 70.0),
        ),
    ),
)
# Extra people of larger scales get ids office_base + n, far from the fixed 8xxx ids.
EXTRA_USER_ID_BASE = {"US": 10_000_000, "UK": 11_000_000, "DE": 12_000_000}
EXTRA_FIRST_NAMES = ("Alex", "Sam", "Jordan", "Taylor", "Riley", "Casey", "Morgan", "Jamie", "Robin", "Avery")
EXTRA_LAST_NAMES = ("Novak", "Silva", "Kowalski", "Okafor", "Larsen", "Moreau", "Ito", "Haddad", "Byrne")
# Cross-entity work: a UK person also helps on a US project (an assignment of their own, added
# after every other so no id moves); their first entry of every fifth weekday is on it, which the
# US entity bills and the UK entity charges it for (intercompany, docs/decisions/0010).
CROSS_ENTITY_WORK = (8103, 6001)
CROSS_ENTITY_EVERY_DAYS = 5
# Negotiated rates: these user assignments do not use the person's default rate.
RATE_OVERRIDES: dict[tuple[int, int], float] = {(8001, 6002): 140.0, (8101, 6102): 127.5, (8201, 6202): 137.5}
# (id, name, range of a random cost in cents, units); Software costs come from a price list instead.
EXPENSE_CATEGORIES: tuple[tuple[int, str, tuple[int, int], int | None], ...] = (
    (4100001, "Travel", (4_500, 48_000), 1),
    (4100002, "Lodging", (9_000, 35_000), 1),
    (4100003, "Software", (0, 0), None),
)
SOFTWARE_COSTS_CENTS = (2_900, 4_900, 8_420, 12_000, 19_900)

Client = tuple[int, str, str, str]  # (id, name, currency, office)
BillableProject = tuple[int, int, str, str | None, str]  # (id, client id, name, code, extra code prefix)
Person = tuple[int, str, str, float, float]  # (user id, first, last, default rate, cost rate)
Office = tuple[str, str, tuple[Person, ...]]  # (office, timezone, people)


@dataclass(frozen=True)
class Roster:
    """Who and what a company is made of; the default is the demo's, `sandbox/group_company.py` a group's.

    `projects_per_person` None puts everybody on every client of their office (the demo);
    `cross_entity_work` pairs (person, another office's project) get an assignment of their own and
    one entry in CROSS_ENTITY_EVERY_DAYS on it; `messy_records` adds the demo's fixed bad entries.
    """

    clients: tuple[Client, ...] = CLIENTS
    projects: tuple[BillableProject, ...] = BILLABLE_PROJECTS
    offices: tuple[Office, ...] = OFFICES
    projects_per_person: int | None = None
    cross_entity_work: tuple[tuple[int, int], ...] = (CROSS_ENTITY_WORK,)
    messy_records: bool = True
    unapproved_tail_days: int = UNAPPROVED_TAIL_DAYS


DEMO_ROSTER = Roster()
