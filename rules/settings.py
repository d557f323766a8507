"""The shape of the entity configuration and the mapping document, as validated models.

Bad configuration must stop at load with the file, the key and what was expected,
so the models forbid unknown keys and every error is re-raised as a
`ConfigurationError` that names all of them at once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.config_types import CurrencyCode, EntityId
from rules.health_settings import HeartbeatSettings, OnCallRoute, SloSettings, objectives
from rules.mapping_document import MappingDocument
from rules.outcomes import QuarantineLimits
from rules.retention.policy import DEFAULT_JURISDICTION, RetentionPolicy
from rules.shadow_candidates import shadow_conflicts
from rules.slo import Objective


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostingSettings(_Strict):
    """How an entity's documents are posted to its accounting tenant."""

    enabled: bool = Field(
        default=True, description="the kill switch: false stops posting, drafts keep building"
    )
    max_attempts: int = Field(
        default=5, ge=1, le=50, description="sends of one document before it goes to the dead letters"
    )
    processing_bound_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="the longest the accounting system takes to book a request it has received; a send "
        "whose outcome is unknown is looked up only after the client timeout plus this",
    )


class EntityConfig(_Strict):
    """One legal entity: its own ledger (DuckDB file) and accounting tenant."""

    id: EntityId
    name: str
    base_currency: CurrencyCode
    timezone: str
    accounting_tenant_id: str = Field(min_length=1)
    require_approval: bool = True
    revenue_account_code: str = Field(min_length=1)
    tax_type: str = Field(min_length=1)
    tax_rate_percent: Decimal = Field(ge=0, le=100)
    # Further tax codes of this entity's tenant (code -> rate percent), for client overrides.
    tax_codes: dict[str, Annotated[Decimal, Field(ge=0, le=100)]] = {}
    # Whether line amounts exclude tax (tax added on top) or include it (the accounting API's LineAmountTypes).
    line_amount_types: Literal["Exclusive", "Inclusive"] = "Exclusive"
    payment_terms_days: int = Field(ge=0, le=365)
    invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "DRAFT"
    posting: PostingSettings = PostingSettings()
    # Write what the ledger booked back to the PM system (invoices with their time locked, payments):
    # off unless the entity's contract with its clients allows it (docs/decisions/0031).
    pm_write_back: bool = False
    # The explicit rounding line (docs/decisions/0009): its account (Xero's default Rounding account
    # is 860) and a 0% tax code of this entity, so the line moves money but never tax.
    rounding_account_code: str = Field(default="860", min_length=1, max_length=10)
    rounding_tax_type: str | None = Field(default=None, min_length=1)  # None: see rounding_tax_code()
    # Whose retention law the entity keeps its records by: a key of `retention.jurisdictions`.
    jurisdiction: str = Field(default=DEFAULT_JURISDICTION, min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"an IANA time zone such as Europe/London, got {value!r}") from exc
        return value

    def tax_rates(self) -> dict[str, Decimal]:
        """Every tax code of this entity with its rate percent (the default one included)."""
        return {**self.tax_codes, self.tax_type: self.tax_rate_percent}

    def rounding_tax_code(self) -> str:
        """The tax code of the rounding line: as configured, else the entity's own code when it is 0%,
        else `NONE` (no tax, outside the tax return; checked at load to exist at 0%)."""
        if self.rounding_tax_type is not None:
            return self.rounding_tax_type
        return self.tax_type if self.tax_rate_percent == 0 else "NONE"


class OrchestrationConfig(_Strict):
    """When the schedules fire and how the sensors poll (all optional; defaults suit the demo)."""

    daily_sync_time: str = Field(
        default="02:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, entity-local"
    )
    close_working_day: int = Field(default=3, ge=1, le=20, description="first working day the close may run")
    close_deadline_working_day: int = Field(
        default=5, ge=1, le=23, description="working day the close runs even with approvals missing"
    )
    review_cron: str = Field(default="0 7 * * 1", min_length=9, description="weekly review, UTC cron")
    poll_interval_seconds: int = Field(default=300, ge=30, le=86400)
    poll_overlap_seconds: int = Field(default=3600, ge=1, le=7 * 86400)
    # The PM directory is read with updated_since between whole reads; a whole read (which turns
    # deleted clients, projects, tasks, people and assignments into tombstones) once its last one is
    # this old. 0: every extraction reads it whole (docs/decisions/0042).
    directory_full_read_hours: int = Field(default=24, ge=0, le=31 * 24)
    alert_webhook_url: str = Field(default="", description="run-failure alerts are POSTed here when set")
    # Honest outcomes (docs/decisions/0020): above this share of a partition's records in quarantine
    # (and at least the minimum count), the run fails instead of reporting success.
    quarantine_failure_share: Decimal = Field(default=Decimal("0.5"), gt=0, le=1)
    quarantine_failure_min_records: int = Field(default=20, ge=1)
    runbook_base_url: str = Field(
        default="docs/runbooks/", description="where alerts link runbooks (e.g. the repository's URL)"
    )
    escalation: str = Field(default="", description="who to call when a runbook does not settle it")
    slo: SloSettings = SloSettings()
    heartbeat: HeartbeatSettings = HeartbeatSettings()
    oncall: OnCallRoute = OnCallRoute()

    def objectives(self) -> list[Objective]:
        """Every SLO with its threshold and severity (the heartbeat's lateness among them)."""
        return objectives(self.slo, self.heartbeat)

    def quarantine_limits(self) -> QuarantineLimits:
        """The share and minimum count above which a partition is mostly quarantined."""
        return QuarantineLimits(self.quarantine_failure_share, self.quarantine_failure_min_records)

    @model_validator(mode="after")
    def _deadline_after_close(self) -> OrchestrationConfig:
        if self.close_deadline_working_day < self.close_working_day:
            raise ValueError("close_deadline_working_day must not be before close_working_day")
        return self


class TelemetryConfig(_Strict):
    """OpenTelemetry spans for extraction, pricing, drafting and posting (docs/decisions/0036): off unless
    one of these is set (or OTEL_EXPORTER_OTLP_ENDPOINT / BILLBRIDGE_SPANS_FILE in the environment)."""

    spans_file: str = Field(default="", description="append each finished span as a JSON line to this file")
    otlp_endpoint: str = Field(
        default="",
        pattern=r"^(https?://.+)?$",
        description="OTLP/HTTP collector base URL, e.g. http://host:4318",
    )


class BillbridgeConfig(_Strict):
    """The whole configuration: entities plus the mapping document they bill by."""

    version: Literal[1]
    reporting_currency: CurrencyCode
    billing_start: date
    # A day without a published ECB rate uses the latest one before it, at most this many days old.
    fx_max_rate_age_days: int = Field(default=7, ge=0, le=31)
    mapping: MappingDocument
    unclaimed_records_entity: EntityId
    entities: list[EntityConfig] = Field(min_length=1)
    orchestration: OrchestrationConfig = OrchestrationConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    retention: RetentionPolicy = RetentionPolicy()  # docs/decisions/0032
    source_path: str = ""
    content_hash: str = ""

    @model_validator(mode="after")
    def _entities_consistent(self) -> BillbridgeConfig:
        ids = [e.id for e in self.entities]
        problems = [f"entity id {i!r} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
        known = set(ids)
        if self.unclaimed_records_entity not in known:
            problems.append(f"unclaimed_records_entity {self.unclaimed_records_entity!r} is not an entity id")
        for client in self.mapping.clients:
            if client.entity not in known:
                problems.append(
                    f"mapping client {client.pm_client_id} names unknown entity {client.entity!r}"
                )
        entity_of = {c.pm_client_id: c.entity for c in self.mapping.clients}
        codes = {e.id: e.tax_rates() for e in self.entities}
        for override in self.mapping.tax_overrides:
            entity = entity_of.get(override.client)
            if entity is None:
                problems.append(
                    f"tax override {override.id!r}: client {override.client} is not in the mapping"
                )
            elif override.tax_type not in codes.get(entity, {}):
                problems.append(
                    f"tax override {override.id!r}: tax code {override.tax_type!r} does not exist for entity "
                    f"{entity!r} (known: {', '.join(sorted(codes.get(entity, {})))})"
                )
            elif override.treatment != "standard" and codes[entity][override.tax_type] != 0:
                problems.append(
                    f"tax override {override.id!r}: {override.treatment} must use a 0% tax code, "
                    f"{override.tax_type!r} is {codes[entity][override.tax_type]}%"
                )
        for prefix in self.mapping.project_code_prefixes:
            if prefix.entity not in known:
                problems.append(
                    f"mapping project code prefix {prefix.prefix!r} names unknown entity {prefix.entity!r}"
                )
        for person in self.mapping.people:
            if person.home_entity not in known:
                problems.append(
                    f"mapping person {person.pm_user_id} names unknown entity {person.home_entity!r}"
                )
        for rule in self.mapping.rates:
            if rule.entity is not None and rule.entity not in known:
                problems.append(f"mapping rate rule {rule.id!r} names unknown entity {rule.entity!r}")
        for project in self.mapping.projects:
            if project.entity not in known:
                problems.append(
                    f"mapping project {project.pm_project_id} names unknown entity {project.entity!r}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _contract_rates_and_intercompany_known(self) -> BillbridgeConfig:
        known = {e.id: e for e in self.entities}
        problems = [
            f"mapping contract rate {r.id!r} names unknown entity {r.entity!r}"
            for r in self.mapping.fx_contract_rates
            if r.entity is not None and r.entity not in known
        ]
        policy = self.mapping.intercompany
        for markup in policy.markups:
            problems += [
                f"mapping intercompany markup {markup.id!r} names unknown {role} {name!r}"
                for role, name in (("seller", markup.seller), ("buyer", markup.buyer))
                if name not in known
            ]
        for accounts in policy.entities:
            entity = known.get(accounts.entity)
            if entity is None:
                problems.append(f"mapping intercompany accounts name unknown entity {accounts.entity!r}")
                continue
            for key in ("sale_tax_type", "purchase_tax_type"):
                code = getattr(accounts, key)
                if code is not None and code not in entity.tax_rates():
                    problems.append(
                        f"mapping intercompany.entities {accounts.entity}.{key}: tax code {code!r} does not exist "
                        f"for entity {accounts.entity!r} (known: {', '.join(sorted(entity.tax_rates()))})"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _rounding_and_retainers_known(self) -> BillbridgeConfig:
        known = set(self.entity_ids)
        entity_of = {c.pm_client_id: c.entity for c in self.mapping.clients}
        problems = [
            f"mapping {kind} {rule.id!r} names unknown entity {rule.entity!r}"
            for kind, rules in (
                ("money rounding", self.mapping.money_rounding),
                ("tax rounding", self.mapping.tax_rounding),
                ("retainer", self.mapping.retainers),
            )
            for rule in rules
            if rule.entity is not None and rule.entity not in known
        ]
        problems += [
            f"mapping money rounding {rule.id!r}: client {rule.client} is not in the mapping"
            for rule in self.mapping.money_rounding
            if rule.client is not None and rule.client not in entity_of
        ]
        for retainer in self.mapping.retainers:
            if retainer.client not in entity_of:
                problems.append(
                    f"mapping retainer {retainer.id!r}: client {retainer.client} is not in the mapping"
                )
            elif entity_of[retainer.client] != retainer.entity:
                problems.append(
                    f"mapping retainer {retainer.id!r}: client {retainer.client} is billed by entity "
                    f"{entity_of[retainer.client]!r}, not {retainer.entity!r}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _rounding_lines_untaxed(self) -> BillbridgeConfig:
        problems = []
        for entity in self.entities:
            rates = entity.tax_rates()
            code = entity.rounding_tax_code()
            if code not in rates:
                problems.append(
                    f"entity {entity.id!r} rounding_tax_type: tax code {code!r} does not exist for the entity "
                    f"(expected a 0% code; known: {', '.join(sorted(rates))})"
                )
            elif rates[code] != 0:
                problems.append(
                    f"entity {entity.id!r} rounding_tax_type: expected a 0% tax code, {code!r} is {rates[code]}%"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _heartbeat_on_its_own_tenant(self) -> BillbridgeConfig:
        # The synthetic transaction posts invoices: never into a real entity's books.
        tenant = self.orchestration.heartbeat.tenant_id
        owners = [e.id for e in self.entities if e.accounting_tenant_id.lower() == tenant.lower()]
        if tenant and owners:
            raise ValueError(
                f"orchestration.heartbeat.tenant_id {tenant!r} is entity {owners[0]!r}'s tenant; "
                "expected a dedicated test tenant"
            )
        return self

    @model_validator(mode="after")
    def _corrections_name_known_entities(self) -> BillbridgeConfig:
        known = {e.id for e in self.entities}
        problems = [
            f"mapping corrections.entities names unknown entity {c.entity!r}"
            for c in self.mapping.corrections.entities
            if c.entity not in known
        ]
        problems += [f"mapping {p}" for p in shadow_conflicts(self.mapping.shadow, known)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _jurisdictions_known(self) -> BillbridgeConfig:
        known = sorted(self.retention.jurisdictions)
        problems = [
            f"entities.{n}.jurisdiction {e.jurisdiction!r} is not in retention.jurisdictions ({', '.join(known)})"
            for n, e in enumerate(self.entities)
            if e.jurisdiction not in self.retention.jurisdictions
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def entity_ids(self) -> list[str]:
        """Entity ids in configuration order."""
        return [e.id for e in self.entities]

    def entity(self, entity_id: str) -> EntityConfig:
        """The entity with this id; KeyError naming the known ids otherwise."""
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(f"unknown entity {entity_id!r}; configured: {', '.join(self.entity_ids)}")

    @property
    def rule_set_version(self) -> str:
        """Mapping version plus the first 12 hex digits of the configuration's content hash."""
        return f"{self.mapping.version}+{self.content_hash[:12]}"
