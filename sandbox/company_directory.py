"""The directory half of a generated company: clients, tasks, projects, people and their assignments,
as Harvest's list endpoints return them (the `Company` container, and the builder's first half)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random

from sandbox.company_roster import (
    EXTRA_FIRST_NAMES,
    EXTRA_LAST_NAMES,
    EXTRA_USER_ID_BASE,
    FIRST_TASK_ASSIGNMENT_ID,
    FIRST_USER_ASSIGNMENT_ID,
    INTERNAL_PROJECT,
    INTERNAL_PROJECT_ID,
    RATE_OVERRIDES,
    TASKS,
    TRAINING_TASK_ID,
    Record,
    Roster,
)


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


class DirectoryBuilder:
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
