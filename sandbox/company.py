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

from datetime import date, timedelta

from sandbox.company_directory import Company, DirectoryBuilder, add_months
from sandbox.company_roster import (
    CROSS_ENTITY_EVERY_DAYS,
    DEMO_ROSTER,
    EXPENSE_CATEGORIES,
    FIRST_EXPENSE_ID,
    FIRST_TIME_ENTRY_ID,
    GHOST_CLIENT_ID,
    GHOST_PROJECT,
    GHOST_TASK_ASSIGNMENT_ID,
    GHOST_USER_ASSIGNMENT_ID,
    INTERNAL_PROJECT_ID,
    LOCKED_REASON,
    NOTES,
    SOFTWARE_COSTS_CENTS,
    TASK_WEIGHTS,
    TRAINING_TASK_ID,
    Record,
    Roster,
)


def _money(cents: int) -> float:
    # Correctly rounded division: the float's shortest repr is exactly the decimal `cents / 100`.
    return cents / 100


def _clock_12h(minutes: int) -> str:
    """Harvest's started_time/ended_time form: minutes after midnight -> "1:05pm"."""
    hour, minute = divmod(minutes % (24 * 60), 60)
    return f"{hour % 12 or 12}:{minute:02d}{'am' if hour < 12 else 'pm'}"


class _Builder(DirectoryBuilder):
    """Adds the time entries and expenses to the directory `DirectoryBuilder` made."""

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
