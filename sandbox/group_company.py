"""The group at scale: 20 entities in several currencies closing one month (issue #17's scale profile).

`group_roster(profile)` lays out the clients, projects, offices and people of a group of entities
so that the demo's generator (`sandbox/company.py`) produces about `profile.entries` time entries
in `profile.month`, about one invoice per 50 entries (one per billed client: 20,000 at a million),
and intercompany work: a share of each entity's people also work on a project of the next
entity. `sandbox/group_config.py` writes the configuration and mapping that go with it.

Everything derives from `profile.seed`, never from the clock or global random state.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date
from random import Random

from sandbox.company import Company, generate_company
from sandbox.company_roster import (
    EXTRA_FIRST_NAMES,
    EXTRA_LAST_NAMES,
    BillableProject,
    Client,
    Office,
    Person,
    Roster,
)

# A person logs 2 to 4 entries a weekday (sandbox/company.py), 3 on average.
ENTRIES_PER_PERSON_DAY = 3
ENTRIES_PER_INVOICE = 50
FIRST_CLIENT_ID = 200_001
FIRST_PROJECT_ID = 400_001
FIRST_USER_ID = 30_000_001
INTERNAL_CLIENT: Client = (5301, "Billbridge Internal", "USD", "INT")  # the demo's internal client


@dataclass(frozen=True)
class GroupEntity:
    """One legal entity of the group: its id, name, ledger currency, time zone and sales tax."""

    id: str
    name: str
    currency: str
    timezone: str
    tax_type: str
    tax_rate_percent: str


# Tax codes are the accounting sandbox's (sandbox/xero/pricing.py: OUTPUT 10 % GST, OUTPUT2 20 % and
# OUTPUT3 19 % VAT, NONE): a European entity whose VAT is not on that table charges 20 % in the sandbox.
GROUP_ENTITIES: tuple[GroupEntity, ...] = (
    GroupEntity("us", "Billbridge Group Inc.", "USD", "America/New_York", "NONE", "0"),
    GroupEntity("uk", "Billbridge Group Ltd", "GBP", "Europe/London", "OUTPUT2", "20"),
    GroupEntity("de", "Billbridge Group GmbH", "EUR", "Europe/Berlin", "OUTPUT3", "19"),
    GroupEntity("au", "Billbridge Group Pty Ltd", "AUD", "Australia/Sydney", "OUTPUT", "10"),
    GroupEntity("fr", "Billbridge Group SAS", "EUR", "Europe/Paris", "OUTPUT2", "20"),
    GroupEntity("ca", "Billbridge Group Canada Inc.", "CAD", "America/Toronto", "NONE", "0"),
    GroupEntity("nz", "Billbridge Group NZ Ltd", "NZD", "Pacific/Auckland", "OUTPUT", "10"),
    GroupEntity("sg", "Billbridge Group Pte Ltd", "SGD", "Asia/Singapore", "OUTPUT", "10"),
    GroupEntity("ie", "Billbridge Group Ireland Ltd", "EUR", "Europe/Dublin", "OUTPUT2", "20"),
    GroupEntity("nl", "Billbridge Group B.V.", "EUR", "Europe/Amsterdam", "OUTPUT2", "20"),
    GroupEntity("ch", "Billbridge Group AG", "CHF", "Europe/Zurich", "NONE", "0"),
    GroupEntity("se", "Billbridge Group AB", "SEK", "Europe/Stockholm", "OUTPUT2", "20"),
    GroupEntity("es", "Billbridge Group S.L.", "EUR", "Europe/Madrid", "OUTPUT2", "20"),
    GroupEntity("us_west", "Billbridge Group West LLC", "USD", "America/Los_Angeles", "NONE", "0"),
    GroupEntity("dk", "Billbridge Group ApS", "DKK", "Europe/Copenhagen", "OUTPUT2", "20"),
    GroupEntity("no", "Billbridge Group AS", "NOK", "Europe/Oslo", "OUTPUT2", "20"),
    GroupEntity("pl", "Billbridge Group Sp. z o.o.", "PLN", "Europe/Warsaw", "OUTPUT2", "20"),
    GroupEntity("hk", "Billbridge Group HK Ltd", "HKD", "Asia/Hong_Kong", "NONE", "0"),
    GroupEntity("us_tx", "Billbridge Group Texas LLC", "USD", "America/Chicago", "NONE", "0"),
    GroupEntity("scot", "Billbridge Group Scotland Ltd", "GBP", "Europe/London", "OUTPUT2", "20"),
)
CLIENT_NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Tyrell")
CLIENT_SUFFIXES = ("Holdings", "Partners", "Labs", "Group", "Systems", "Trading", "Works")
PROJECT_NAMES = ("Website Rebuild", "Support Retainer", "Data Platform", "ERP Rollout", "Security Review")


@dataclass(frozen=True)
class GroupProfile:
    """The size of the group and its month; `intercompany_share`: people also on another entity's work."""

    entries: int = 1_000_000
    entities: int = 20
    month: date = date(2026, 10, 1)
    seed: int = 17
    intercompany_share: float = 0.2
    projects_per_person: int = 4
    foreign_client_share: float = 0.15

    def __post_init__(self) -> None:
        if not 1 <= self.entities <= len(GROUP_ENTITIES):
            raise ValueError(f"entities must be 1..{len(GROUP_ENTITIES)}, got {self.entities}")
        if self.entries < 1:
            raise ValueError(f"entries must be positive, got {self.entries}")

    @property
    def members(self) -> tuple[GroupEntity, ...]:
        """The group's entities, in order."""
        return GROUP_ENTITIES[: self.entities]

    @property
    def people_per_entity(self) -> int:
        """People per entity so the month holds about `entries` time entries."""
        year, month = self.month.year, self.month.month
        weekdays = sum(
            1
            for day in range(1, calendar.monthrange(year, month)[1] + 1)
            if date(year, month, day).weekday() < 5
        )
        return max(1, math.ceil(self.entries / (weekdays * ENTRIES_PER_PERSON_DAY * self.entities)))

    @property
    def clients_per_entity(self) -> int:
        """Clients per entity: one invoice a client, about one per ENTRIES_PER_INVOICE entries."""
        return max(1, round(self.entries / ENTRIES_PER_INVOICE / self.entities))


def _clients_and_projects(
    profile: GroupProfile, rng: Random
) -> tuple[list[Client], list[BillableProject], dict[str, list[int]]]:
    """Each entity's clients (mostly in its currency) with one or two projects each; projects by office."""
    clients: list[Client] = []
    projects: list[BillableProject] = []
    by_office: dict[str, list[int]] = {}
    for entity in profile.members:
        code = entity.id.upper()
        for _ in range(profile.clients_per_entity):
            client_id = FIRST_CLIENT_ID + len(clients)
            currency = entity.currency
            if rng.random() < profile.foreign_client_share:
                currency = "EUR" if entity.currency == "USD" else "USD"
            name = f"{rng.choice(CLIENT_NAMES)} {rng.choice(CLIENT_SUFFIXES)} {client_id}"
            clients.append((client_id, name, currency, entity.id))
            for _ in range(1 + (rng.random() < 0.5)):
                project_id = FIRST_PROJECT_ID + len(projects)
                name = f"{rng.choice(PROJECT_NAMES)} {project_id}"
                projects.append((project_id, client_id, name, f"{code}-{project_id}", code))
                by_office.setdefault(entity.id, []).append(project_id)
    return clients, projects, by_office


def _offices(profile: GroupProfile, rng: Random) -> list[Office]:
    """Each entity's people, with rates in hundredths (exact as floats)."""
    offices: list[Office] = []
    next_id = FIRST_USER_ID
    for entity in profile.members:
        people: list[Person] = []
        for n in range(profile.people_per_entity):
            first = EXTRA_FIRST_NAMES[n % len(EXTRA_FIRST_NAMES)]
            last = EXTRA_LAST_NAMES[(n // len(EXTRA_FIRST_NAMES)) % len(EXTRA_LAST_NAMES)]
            rate = 5 * rng.randrange(18, 45)  # 90.00 .. 220.00 an hour
            people.append((next_id, first, last, float(rate), float(rate * 45 // 100)))
            next_id += 1
        offices.append((entity.id, entity.timezone, tuple(people)))
    return offices


def _cross_entity_work(
    profile: GroupProfile, offices: list[Office], by_office: dict[str, list[int]], rng: Random
) -> list[tuple[int, int]]:
    """A share of each entity's people also on one project of the next entity (intercompany work)."""
    work: list[tuple[int, int]] = []
    if len(offices) < 2:
        return work
    for index, (_office, _tz, people) in enumerate(offices):
        other = by_office[offices[(index + 1) % len(offices)][0]]
        for person in people:
            if rng.random() < profile.intercompany_share:
                work.append((person[0], rng.choice(other)))
    return work


def group_roster(profile: GroupProfile) -> Roster:
    """The clients, projects, offices and people of the group (deterministic in `profile.seed`)."""
    rng = Random(profile.seed)
    clients, projects, by_office = _clients_and_projects(profile, rng)
    offices = _offices(profile, rng)
    return Roster(
        clients=(*clients, INTERNAL_CLIENT),
        projects=tuple(projects),
        offices=tuple(offices),
        projects_per_person=profile.projects_per_person,
        cross_entity_work=tuple(_cross_entity_work(profile, offices, by_office, rng)),
        messy_records=False,
        unapproved_tail_days=-1,  # a closed month: every entry approved and locked
    )


def generate_group(profile: GroupProfile) -> Company:
    """The group's PM account over `profile.month`: the demo generator over the group's roster."""
    return generate_company(seed=profile.seed, start=profile.month, months=1, roster=group_roster(profile))
