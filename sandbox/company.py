"""The seeded synthetic demo company: Harvest-v2-shaped clients, projects, people, time and expenses.

Everything is derived from `random.Random(seed)` and the requested date range, never from the
wall clock or global random state, so the same arguments always give byte-identical JSON. The
records are plain dicts exactly as Harvest's list endpoints return them; nested objects that
Harvest repeats on every record (`client`, `project`, `task`, `user`, the assignments) are
shared between records rather than copied, which keeps a million entries in about 1.2 GB.

Amounts are generated in integer hundredths and only then turned into floats, so every value
(hours, rates, costs) is exact when read back as a decimal string: `2.4`, never `2.4000000001`.

Scale 1 is the demo company the configuration's mapping refers to; its ids are fixed. Larger
scales add people and projects around it (ids outside the fixed ranges) and keep the messy
records, so benchmarks exercise the same edge cases as the demo.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
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


@dataclass
class Company:
    """A Harvest account's data as the list endpoints would return it, one list per resource.

    Nested objects (`client`, `project`, `user`, ...) are shared between records: replace a
    record's nested object rather than editing it, or every record referring to it changes.
    """

    clients: list[Record] = field(default_factory=list)
    projects: list[Record] = field(default_factory=list)
    tasks: list[Record] = field(default_factory=list)
    users: list[Record] = field(default_factory=list)
    user_assignments: list[Record] = field(default_factory=list)
    task_assignments: list[Record] = field(default_factory=list)
    time_entries: list[Record] = field(default_factory=list)
    expenses: list[Record] = field(default_factory=list)
    start: date = date(2026, 8, 1)
    end: date = date(2026, 10, 31)  # last day of the generated range, inclusive

    KINDS = (
        "clients",
        "projects",
        "tasks",
        "users",
        "user_assignments",
        "task_assignments",
        "time_entries",
        "expenses",
    )

    def records(self, kind: str) -> list[Record]:
        """The list for a Harvest resource name such as "time_entries"."""
        if kind not in self.KINDS:
            raise KeyError(kind)
        records: list[Record] = getattr(self, kind)
        return records

    def summary(self) -> dict[str, int]:
        """How many records each list holds."""
        return {kind: len(self.records(kind)) for kind in self.KINDS}


def add_months(day: date, months: int) -> date:
    """`day` moved forward by whole months, clamped to the target month's length."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(cents: int) -> float:
    # Correctly rounded division: the float's shortest repr is exactly the decimal `cents / 100`.
    return cents / 100


def _clock_12h(minutes: int) -> str:
    """Harvest's started_time/ended_time form: minutes after midnight -> "1:05pm"."""
    hour, minute = divmod(minutes % (24 * 60), 60)
    return f"{hour % 12 or 12}:{minute:02d}{'am' if hour < 12 else 'pm'}"


class _Builder:
    """Holds the shared nested objects while one company is generated."""

    def __init__(self, seed: int, scale: float, start: date, months: int, roster: Roster) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if months < 1:
            raise ValueError(f"months must be at least 1, got {months}")
        self.rng = Random(seed)
        self.roster = roster
        self.scale = scale
        self.start = start
        self.end = add_months(start, months) - timedelta(days=1)
        self.months = months
        # Directory records predate the range; fixed offsets keep them deterministic.
        self.epoch = datetime(start.year, start.month, start.day) - timedelta(days=400)
        self.company = Company(start=start, end=self.end)
        self.client_ref: dict[int, Record] = {}
        self.project_ref: dict[int, Record] = {}
        self.project_client: dict[int, int] = {}
        self.project_billable: dict[int, bool] = {}
        self.task_ref: dict[int, Record] = {}
        self.user_ref: dict[int, Record] = {}
        self.user_rates: dict[int, tuple[float, float]] = {}
        # (user, project) -> (shallow assignment object as nested in entries, billable rate)
        self.user_assignment: dict[tuple[int, int], tuple[Record, float]] = {}
        self.task_assignment: dict[tuple[int, int], Record] = {}
        self.office_users: dict[str, list[int]] = {}
        self.office_projects: dict[str, list[int]] = {}
        self.user_projects: dict[int, list[int]] = {}

    def stamp(self, days: float) -> str:
        return _stamp(self.epoch + timedelta(days=days))

    # -- directory ---------------------------------------------------------------------------------

    def clients(self) -> None:
        for index, (client_id, name, currency, _office) in enumerate(self.roster.clients):
            created = self.stamp(index * 3 + 0.4)
            self.company.clients.append(
                {
                    "id": client_id,
                    "name": name,
                    "is_active": True,
                    "address": None,
                    "statement_key": f"{client_id:x}{index:02d}5e8c0d1f",
                    "currency": currency,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            self.client_ref[client_id] = {"id": client_id, "name": name, "currency": currency}

    def tasks(self) -> None:
        for index, (task_id, name, billable) in enumerate(TASKS):
            created = self.stamp(index * 0.5 + 0.1)
            self.company.tasks.append(
                {
                    "id": task_id,
                    "name": name,
                    "billable_by_default": billable,
                    "default_hourly_rate": None,
                    "is_default": billable,
                    "is_active": True,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            self.task_ref[task_id] = {"id": task_id, "name": name}

    def _project(self, project_id: int, client_id: int, name: str, code: str | None, billable: bool) -> None:
        index = len(self.company.projects)
        created = self.stamp(40 + index * 0.01)
        self.company.projects.append(
            {
                "id": project_id,
                "name": name,
                "code": code,
                "is_active": True,
                "is_billable": billable,
                "is_fixed_fee": False,
                "bill_by": "People" if billable else "none",
                # Billed by People: the rate lives on the user assignment, not the project.
                "hourly_rate": None,
                "budget": None,
                "budget_by": "none",
                "budget_is_monthly": False,
                "notify_when_over_budget": False,
                "over_budget_notification_percentage": 80.0,
                "over_budget_notification_date": None,
                "show_budget_to_all": False,
                "cost_budget": None,
                "cost_budget_include_expenses": False,
                "fee": None,
                "notes": "",
                "starts_on": None,
                "ends_on": None,
                "created_at": created,
                "updated_at": created,
                "client": self.client_ref[client_id],
            }
        )
        self.project_ref[project_id] = {"id": project_id, "name": name, "code": code}
        self.project_client[project_id] = client_id
        self.project_billable[project_id] = billable

    def projects(self) -> None:
        per_client = max(1, round(self.scale))
        office_of = {client_id: office for client_id, _n, _c, office in self.roster.clients}
        by_office: dict[str, list[list[int]]] = {}
        for slot, (project_id, client_id, name, code, prefix) in enumerate(self.roster.projects):
            ids = [project_id]
            self._project(project_id, client_id, name, code, True)
            for n in range(1, per_client):
                # Unique across clients: the slot is the last digit, and every id is above 60000.
                extra_id = 60_000 + n * 10 + slot
                self._project(
                    extra_id, client_id, f"{name} {n + 1:04d}", f"{prefix}-{extra_id - 60_000:04d}", True
                )
                ids.append(extra_id)
            by_office.setdefault(office_of[client_id], []).append(ids)
        # The firm's own training project does not multiply with the size of the client base.
        self._project(*INTERNAL_PROJECT, False)
        for office, lists in by_office.items():
            # Interleave clients so that consecutive projects belong to different clients.
            self.office_projects[office] = [pid for group in zip(*lists, strict=True) for pid in group]

    def users(self) -> None:
        for office_no, (office, timezone, people) in enumerate(self.roster.offices):
            per_office = max(1, round(len(people) * self.scale))
            ids: list[int] = []
            for n in range(per_office):
                if n < len(people):
                    user_id, first, last, rate, cost = people[n]
                else:
                    user_id = EXTRA_USER_ID_BASE[office] + n
                    first = EXTRA_FIRST_NAMES[n % len(EXTRA_FIRST_NAMES)]
                    last = EXTRA_LAST_NAMES[(n // len(EXTRA_FIRST_NAMES)) % len(EXTRA_LAST_NAMES)]
                    _u, _f, _l, rate, cost = people[n % len(people)]
                created = self.stamp(20 + office_no + n * 0.001)
                self.company.users.append(
                    {
                        "id": user_id,
                        "first_name": first,
                        "last_name": last,
                        "email": f"{first}.{last}.{user_id}@billbridge.example".lower(),
                        "telephone": "",
                        "timezone": timezone,
                        "has_access_to_all_future_projects": False,
                        "is_contractor": False,
                        "is_active": True,
                        "weekly_capacity": 144_000,
                        "default_hourly_rate": rate,
                        "cost_rate": cost,
                        "roles": ["Consultant"],
                        "access_roles": ["member"],
                        "avatar_url": None,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                self.user_ref[user_id] = {"id": user_id, "name": f"{first} {last}"}
                self.user_rates[user_id] = (rate, cost)
                ids.append(user_id)
            self.office_users[office] = ids

    def assignments(self) -> None:
        ua_id = FIRST_USER_ASSIGNMENT_ID
        created = self.stamp(45)
        for office, _tz, _people in self.roster.offices:
            projects = self.office_projects[office]
            per_person = self.roster.projects_per_person or len(projects) // max(1, round(self.scale))
            clients_here = min(per_person, len(projects))
            for j, user_id in enumerate(self.office_users[office]):
                # Each person works for every client of the office, on a rotating slice of projects,
                # so at scale 1 everybody is on all of the office's projects and at larger scales
                # every project gets a few people.
                mine = [projects[(j * clients_here + t) % len(projects)] for t in range(clients_here)]
                self.user_projects[user_id] = mine
                for project_id in [*mine, INTERNAL_PROJECT_ID]:
                    default_rate = self.user_rates[user_id][0]
                    override = RATE_OVERRIDES.get((user_id, project_id))
                    rate = override if override is not None else default_rate
                    shallow = {
                        "id": ua_id,
                        "is_project_manager": j == 0,
                        "is_active": True,
                        "use_default_rates": override is None,
                        "budget": None,
                        "created_at": created,
                        "updated_at": created,
                        "hourly_rate": rate,
                    }
                    self.company.user_assignments.append(
                        {
                            **shallow,
                            "project": self.project_ref[project_id],
                            "user": self.user_ref[user_id],
                        }
                    )
                    self.user_assignment[(user_id, project_id)] = (shallow, rate)
                    ua_id += 1
        for work in self.roster.cross_entity_work:
            ua_id = self._cross_entity_assignment(work, ua_id, created)
        ta_id = FIRST_TASK_ASSIGNMENT_ID
        for project in self.company.projects:
            project_id = project["id"]
            task_ids = [7001, 7002, 7003, 7004] if project["is_billable"] else [TRAINING_TASK_ID]
            for task_id in task_ids:
                shallow = {
                    "id": ta_id,
                    "billable": task_id != TRAINING_TASK_ID,
                    "is_active": True,
                    "created_at": created,
                    "updated_at": created,
                    "hourly_rate": None,
                    "budget": None,
                }
                self.company.task_assignments.append(
                    {**shallow, "project": self.project_ref[project_id], "task": self.task_ref[task_id]}
                )
                self.task_assignment[(project_id, task_id)] = shallow
                ta_id += 1

    def _cross_entity_assignment(self, work: tuple[int, int], ua_id: int, created: str) -> int:
        """A person's assignment to another office's project, at their default rate (in the project's
        currency); the next free assignment id."""
        user_id, project_id = work
        if user_id not in self.user_rates or project_id not in self.project_ref:
            return ua_id
        rate = self.user_rates[user_id][0]
        shallow = {
            "id": ua_id, "is_project_manager": False, "is_active": True, "use_default_rates": True,
            "budget": None, "created_at": created, "updated_at": created, "hourly_rate": rate,
        }  # fmt: skip
        self.company.user_assignments.append(
            {**shallow, "project": self.project_ref[project_id], "user": self.user_ref[user_id]}
        )
        self.user_assignment[(user_id, project_id)] = (shallow, rate)
        return ua_id + 1

    # -- time and expenses -------------------------------------------------------------------------

    def weekdays(self) -> list[date]:
        days, day = [], self.start
        while day <= self.end:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        return days

    def is_closed(self, day: date) -> bool:
        return (self.end - day).days > self.roster.unapproved_tail_days

    def time_entries(self) -> None:
        rng = self.rng
        random = rng.random
        out = self.company.time_entries
        append = out.append
        next_id = FIRST_TIME_ENTRY_ID
        days = self.weekdays()
        # The messy records: fixed weekdays of the first weeks, all by the first US person.
        messy = {2: "negative", 7: "too_long", 12: "ghost"} if self.roster.messy_records else {}
        first_us = self.office_users["US"][0] if messy else None
        assignments = self.user_assignment
        people = [
            (user_id, self.user_ref[user_id], self.user_rates[user_id][1], self.user_projects[user_id])
            for office, _tz, _p in self.roster.offices
            for user_id in self.office_users[office]
        ]
        project_client, project_ref, client_ref = self.project_client, self.project_ref, self.client_ref
        task_ref, task_assignment, project_billable = (
            self.task_ref,
            self.task_assignment,
            self.project_billable,
        )
        cross_work = {
            user: project for user, project in self.roster.cross_entity_work if (user, project) in assignments
        }
        ghost_ua, ghost_ta = self._ghost_assignments(first_us)
        for day_no, day in enumerate(days):
            spent = day.isoformat()
            closed = self.is_closed(day)
            locked_reason = LOCKED_REASON if closed else None
            approved_on = [(day + timedelta(days=k)).isoformat() for k in (1, 2, 3)]
            for user_id, user, cost_rate, projects in people:
                count = 2 + int(random() * 3)
                for slot in range(count):
                    if random() < 0.1:
                        project_id, task_id = INTERNAL_PROJECT_ID, TRAINING_TASK_ID
                    else:
                        project_id = projects[int(random() * len(projects))]
                        pick = random()
                        task_id = next(t for w, t in TASK_WEIGHTS if pick < w)
                    client_id = project_client[project_id]
                    project = project_ref[project_id]
                    started_time = ended_time = None
                    if random() < 0.05:
                        # Start/end tracking: durations in 3-minute steps keep hours exact at 2 dp.
                        start_min = 8 * 60 + int(random() * 360)
                        duration = 3 * (5 + int(random() * 76))
                        started_time = _clock_12h(start_min)
                        ended_time = _clock_12h(start_min + duration)
                        hundredths = duration * 5 // 3
                    else:
                        hundredths = 25 * (1 + int(random() * 16))
                    ua, rate = assignments[(user_id, project_id)]
                    ta = task_assignment[(project_id, task_id)]
                    notes_pool = NOTES[task_id]
                    notes = notes_pool[int(random() * len(notes_pool))]
                    second = int(random() * 14_400)  # logged between 16:00 and 20:00 UTC
                    created = f"{spent}T{16 + second // 3600}:{second // 60 % 60:02d}:{second % 60:02d}Z"
                    if closed:
                        k = int(random() * 3)
                        updated = f"{approved_on[k]}T{9 + k:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
                    else:
                        updated = created
                    cross_project = cross_work.get(user_id)
                    if (
                        cross_project is not None
                        and slot == 0
                        and day_no % CROSS_ENTITY_EVERY_DAYS == 3
                        and project_id != INTERNAL_PROJECT_ID
                    ):
                        # No extra random draw: every other entry stays exactly as it was.
                        project_id = cross_project
                        client_id = project_client[project_id]
                        project = project_ref[project_id]
                        ua, rate = assignments[(user_id, project_id)]
                        ta = task_assignment[(project_id, task_id)]
                    kind = messy.get(day_no) if user_id == first_us and slot == 0 else None
                    if kind == "negative":
                        project_id, task_id, hundredths = 6001, 7001, -150
                    elif kind == "too_long":
                        project_id, task_id, hundredths = 6002, 7003, 2500
                    if kind is not None:
                        started_time = ended_time = None
                        client_id = GHOST_CLIENT_ID if kind == "ghost" else project_client[project_id]
                        project = GHOST_PROJECT if kind == "ghost" else project_ref[project_id]
                        if kind == "ghost":
                            task_id = 7001
                            ua, ta = ghost_ua, ghost_ta
                            rate = self.user_rates[user_id][0]
                        else:
                            ua, rate = assignments[(user_id, project_id)]
                            ta = task_assignment[(project_id, task_id)]
                    billable = ta["billable"] and project_billable.get(project_id, True)
                    hours = hundredths / 100
                    append(
                        {
                            "id": next_id,
                            "spent_date": spent,
                            "user": user,
                            "client": client_ref[client_id],
                            "project": project,
                            "task": task_ref[task_id],
                            "user_assignment": ua,
                            "task_assignment": ta,
                            "hours": hours,
                            "hours_without_timer": hours,
                            # Harvest's "round up to 15 minutes" time rounding setting.
                            "rounded_hours": -(-hundredths // 25) * 25 / 100,
                            "notes": notes,
                            "created_at": created,
                            "updated_at": updated,
                            "is_locked": closed,
                            "locked_reason": locked_reason,
                            "is_closed": closed,
                            "is_billed": False,
                            "timer_started_at": None,
                            "started_time": started_time,
                            "ended_time": ended_time,
                            "is_running": False,
                            "invoice": None,
                            "external_reference": None,
                            "billable": billable,
                            "budgeted": billable,
                            "billable_rate": rate if billable else None,
                            "cost_rate": cost_rate,
                        }
                    )
                    next_id += 1

    def _ghost_assignments(self, first_us: int | None) -> tuple[Record, Record]:
        """The deleted ghost project's assignments (copies of the first US person's on 6001)."""
        if first_us is None:
            return {}, {}
        ghost_ua = {**self.user_assignment[(first_us, 6001)][0], "id": GHOST_USER_ASSIGNMENT_ID}
        ghost_ua["is_active"] = False
        ghost_ta = {**self.task_assignment[(6001, 7001)], "id": GHOST_TASK_ASSIGNMENT_ID, "is_active": False}
        return ghost_ua, ghost_ta

    def expenses(self) -> None:
        rng = self.rng
        pending: list[tuple[str, int, int, Record]] = []
        team: dict[int, list[int | None]] = {}
        for user_id, projects in self.user_projects.items():
            for project_id in projects:
                team.setdefault(project_id, []).append(user_id)
        month_start = self.start
        while month_start <= self.end:
            month_end = min(add_months(month_start, 1) - timedelta(days=1), self.end)
            days = [
                month_start + timedelta(days=k)
                for k in range((month_end - month_start).days + 1)
                if (month_start + timedelta(days=k)).weekday() < 5
            ]
            for project in self.company.projects:
                if not project["is_billable"] or not days:
                    continue
                project_id = project["id"]
                people = team.get(project_id) or [None]
                for _ in range(1 + int(rng.random() * 3)):
                    pending.append(
                        self._expense(project_id, rng.choice(days), rng.choice(people), len(pending))
                    )
            month_start = add_months(month_start, 1)
        # Ids follow spent_date, as Harvest's do for records entered day by day.
        pending.sort(key=lambda item: (item[0], item[1], item[2]))
        for offset, (_day, _project, _seq, record) in enumerate(pending):
            record["id"] = FIRST_EXPENSE_ID + offset
            self.company.expenses.append(record)

    def _expense(
        self, project_id: int, day: date, user_id: int | None, seq: int
    ) -> tuple[str, int, int, Record]:
        rng = self.rng
        category_id, category_name, (low, high), units = EXPENSE_CATEGORIES[
            0 if rng.random() < 0.5 else (1 if rng.random() < 0.4 else 2)
        ]
        # Subscriptions come from a price list; travel and lodging are any amount in their range.
        cents = rng.choice(SOFTWARE_COSTS_CENTS) if category_name == "Software" else rng.randrange(low, high)
        closed = self.is_closed(day)
        second = rng.randrange(14_400)
        spent = day.isoformat()
        created = f"{spent}T{16 + second // 3600}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        updated = (
            f"{(day + timedelta(days=2)).isoformat()}T10:{second // 60 % 60:02d}:00Z" if closed else created
        )
        ua = self.user_assignment[(user_id, project_id)][0] if user_id is not None else None
        record: Record = {
            "id": 0,
            "notes": f"{category_name} for {self.project_ref[project_id]['name']}",
            "total_cost": _money(cents),
            "units": units,
            "is_closed": closed,
            "is_locked": closed,
            "is_billed": False,
            "locked_reason": LOCKED_REASON if closed else None,
            "spent_date": spent,
            "created_at": created,
            "updated_at": updated,
            "billable": rng.random() >= 0.1,
            "receipt": None,
            "user": self.user_ref[user_id] if user_id is not None else None,
            "user_assignment": ua,
            "project": self.project_ref[project_id],
            "expense_category": {
                "id": category_id,
                "name": category_name,
                "unit_price": None,
                "unit_name": None,
            },
            "client": self.client_ref[self.project_client[project_id]],
            "invoice": None,
        }
        return spent, project_id, seq, record


def generate_company(
    seed: int = 7,
    scale: float = 1.0,
    start: date = date(2026, 8, 1),
    months: int = 3,
    roster: Roster = DEMO_ROSTER,
) -> Company:
    """Generate the deterministic demo company over `months` months from `start`.

    Scale 1 is the fixed demo (8 clients, 8 projects, 9 people, ~1,750 time entries over the
    default three months). `scale` multiplies people per office (round(3 x scale)) and projects
    per billable client (round(scale)); scale 600 gives about a million time entries. The same
    arguments always produce identical records. `roster` replaces the demo's clients, projects,
    offices and people (a group of entities: `sandbox/group_company.py`).
    """
    builder = _Builder(seed, scale, start, months, roster)
    builder.clients()
    builder.tasks()
    builder.projects()
    builder.users()
    builder.assignments()
    builder.time_entries()
    builder.expenses()
    return builder.company
