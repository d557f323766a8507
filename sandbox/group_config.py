"""The configuration, mapping and allocation inputs of the group at scale (`sandbox/group_company.py`).

`write_group_configuration` writes them into a scratch folder, starting from the shipped files
(config/) so every setting the group does not change stays the demo's: the entities and their
intercompany accounts, the mapping of every client and person, and a month of overheads and
usage per entity. Point `billbridge` at them with the variables of `GroupFiles.environment()`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.company_roster import INTERNAL_PROJECT_ID, Roster
from sandbox.group_company import INTERNAL_CLIENT, GroupEntity, GroupProfile

SHIPPED = Path(__file__).resolve().parents[1] / "config"  # the shipped configuration folder
OVERHEAD_COLUMNS = ("reference", "entity", "date", "category", "description", "amount")
USAGE_COLUMNS = ("entity", "period", "metric", "project_id", "quantity")
# Lists of the shipped mapping that name the demo's clients and projects: empty for the group.
DEMO_RULE_LISTS = ("projects", "tax_overrides", "rates", "time_rounding", "discounts", "retainers")


@dataclass(frozen=True)
class GroupFiles:
    """Where the group's configuration and allocation rule set were written."""

    config: Path
    allocation_rules: Path

    def environment(self) -> dict[str, str]:
        """The variables that make `billbridge` read these files instead of the shipped ones."""
        return {
            "BILLBRIDGE_CONFIG": str(self.config),
            "BILLBRIDGE_ALLOCATION_RULES": str(self.allocation_rules),
        }


def tenant_id(index: int) -> str:
    """The accounting tenant of the group's `index`-th entity (a GUID, as the provider's)."""
    return f"5b0c7a52-5e7a-4a8e-9d0e-{index + 1:012d}"


def _read(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SHIPPED / name).read_text(encoding="utf-8"))
    return loaded


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False), encoding="utf-8")


def _entity(template: dict[str, Any], index: int, entity: GroupEntity) -> dict[str, Any]:
    """The shipped first entity's settings with the group entity's identity, currency and tax."""
    zero_codes = {
        code: "0" for code in ("NONE", "ZERORATEDOUTPUT", "EXEMPTOUTPUT") if code != entity.tax_type
    }
    return {
        **template,
        "id": entity.id,
        "name": entity.name,
        "base_currency": entity.currency,
        "timezone": entity.timezone,
        "accounting_tenant_id": tenant_id(index),
        "revenue_account_code": "200",
        "tax_type": entity.tax_type,
        "tax_rate_percent": entity.tax_rate_percent,
        "tax_codes": zero_codes,
        "rounding_tax_type": "NONE",
    }


def _configuration(profile: GroupProfile) -> dict[str, Any]:
    document = _read("billbridge.yaml")
    template = dict(document["entities"][0])
    document["entities"] = [_entity(template, i, e) for i, e in enumerate(profile.members)]
    document["billing_start"] = profile.month.isoformat()
    document["mapping"] = "mapping.yaml"
    document["unclaimed_records_entity"] = profile.members[0].id
    return document


def _mapping(profile: GroupProfile, roster: Roster) -> dict[str, Any]:
    document = _read("mapping.yaml")
    clients: list[dict[str, Any]] = [
        {"pm_client_id": client_id, "entity": office, "contact_name": name}
        for client_id, name, _currency, office in roster.clients
        if client_id != INTERNAL_CLIENT[0]
    ]
    home = profile.members[0].id
    clients.append(
        {
            "pm_client_id": INTERNAL_CLIENT[0],
            "entity": home,
            "contact_name": INTERNAL_CLIENT[1],
            "internal": True,
        }
    )
    document["clients"] = clients
    document["project_code_prefixes"] = [
        {"prefix": f"{e.id.upper()}-", "entity": e.id} for e in profile.members
    ]
    document["people"] = [
        {"pm_user_id": person[0], "home_entity": office}
        for office, _tz, people in roster.offices
        for person in people
    ]
    document["intercompany"] = {
        "default_markup_percent": "5",
        "markups": [],
        "entities": [
            {
                "entity": e.id,
                "revenue_account_code": "260",
                "cost_account_code": "310",
                "sale_tax_type": "ZERORATEDOUTPUT",
                "purchase_tax_type": "NONE",
            }
            for e in profile.members
        ],
    }
    for key in DEMO_RULE_LISTS:
        if key in document:
            document[key] = []
    return document


def _overheads(profile: GroupProfile) -> list[dict[str, str]]:
    """Rent and software on the 1st, management on the 28th; every fourth entity buys hardware (capex)."""
    month, rows = profile.month, []
    for i, entity in enumerate(profile.members):
        tag = f"{entity.id.upper()}-{month:%Y-%m}"
        rows += [
            {"reference": f"{tag}-RENT", "entity": entity.id, "date": f"{month:%Y-%m}-01", "category": "rent",
             "description": "Office rent", "amount": f"{8000 + 250 * i}.00"},
            {"reference": f"{tag}-SW", "entity": entity.id, "date": f"{month:%Y-%m}-01", "category": "software",
             "description": "Tool seats", "amount": f"{1200 + 25 * i}.00"},
            {"reference": f"{tag}-MGMT", "entity": entity.id, "date": f"{month:%Y-%m}-28", "category": "management",
             "description": "Managing partner time", "amount": "4500.00"},
        ]  # fmt: skip
        if i % 4 == 0:
            rows.append(
                {"reference": f"{tag}-HW", "entity": entity.id, "date": f"{month:%Y-%m}-15",
                 "category": "hardware", "description": "Developer laptops", "amount": "7200.00"}
            )  # fmt: skip
    return rows


def _usage(profile: GroupProfile, roster: Roster) -> list[dict[str, str]]:
    """Software seats on each entity's first three projects."""
    office_of = {client_id: office for client_id, _n, _c, office in roster.clients}
    rows: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for project_id, client_id, _name, _code, _prefix in roster.projects:
        office = office_of[client_id]
        if seen.get(office, 0) < 3:
            seen[office] = seen.get(office, 0) + 1
            rows.append({"entity": office, "period": f"{profile.month:%Y-%m}", "metric": "seats",
                         "project_id": str(project_id), "quantity": str(1 + seen[office])})  # fmt: skip
    return rows


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_group_configuration(folder: Path, profile: GroupProfile, roster: Roster) -> GroupFiles:
    """Write billbridge.yaml, mapping.yaml, allocation_rules.yaml, overheads.csv and usage.csv into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "billbridge.yaml", _configuration(profile))
    _write(folder / "mapping.yaml", _mapping(profile, roster))
    rules = _read("allocation_rules.yaml")
    rules.update(
        {
            "internal_projects": [INTERNAL_PROJECT_ID],
            "cost_centres": [],
            "overheads": "overheads.csv",
            "usage": "usage.csv",
        }
    )
    _write(folder / "allocation_rules.yaml", rules)
    _write_csv(folder / "overheads.csv", OVERHEAD_COLUMNS, _overheads(profile))
    _write_csv(folder / "usage.csv", USAGE_COLUMNS, _usage(profile, roster))
    return GroupFiles(folder / "billbridge.yaml", folder / "allocation_rules.yaml")
