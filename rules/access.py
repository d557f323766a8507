"""Who may do what: roles, their permissions, and the decision for one person and one permission.

Pure: the access file is read by `resources/access_config.py`, identities are established by
`resources/identity.py`, and the CLI asks `AccessPolicy.decide` before every privileged command.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Permission(StrEnum):
    """Every privileged action, by what it does to the firm's money or data."""

    VIEW = "view"  # read financial or personal data (reports, dead letters, events, audit entries)
    FLAG_BILLABLE = "flag_billable"  # mark entries billable or non-billable
    SYNC = "sync"  # extract and normalize; run the local demo
    POST = "post"  # bill and post to the accounting system
    REPLAY = "replay"  # send dead letters again
    DISCARD = "discard"  # close dead letters unsent
    REALLOCATE = "reallocate"  # re-run cost allocations
    EXPORT = "export"  # write drafts, ledgers or a person's data to files
    CHANGE_MAPPING = "change_mapping"  # change the mapping document or rule sets
    RECEIVE_EVENTS = "receive_events"  # run the webhook endpoint
    MANAGE_CREDENTIALS = "manage_credentials"  # authorise connections, rotate webhook secrets
    MANAGE_KEYS = "manage_keys"  # rotate encryption keys
    VERIFY_AUDIT = "verify_audit"  # verify and read the audit trail
    PURGE = "purge"  # archive and delete past retention; erase a person
    LEGAL_HOLD = "legal_hold"  # set and lift legal holds
    MANAGE_ACCESS = "manage_access"  # issue identity tokens


_VIEWER = {Permission.VIEW}
_OPERATOR = _VIEWER | {Permission.SYNC, Permission.REPLAY, Permission.REALLOCATE, Permission.RECEIVE_EVENTS}
_APPROVER = _OPERATOR | {Permission.POST, Permission.DISCARD, Permission.EXPORT, Permission.FLAG_BILLABLE}
DEFAULT_ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset(_VIEWER),
    "operator": frozenset(_OPERATOR),
    "approver": frozenset(_APPROVER),
    "admin": frozenset(Permission),
}


class ProxyIdentity(BaseModel):
    """Identity from an authenticating proxy: the header it sets, and the addresses it calls from."""

    model_config = ConfigDict(extra="forbid")

    header: str = Field(min_length=1, description="e.g. X-Forwarded-User")
    trusted_proxies: list[str] = Field(min_length=1, description="client addresses allowed to set the header")


class AccessSettings(BaseModel):
    """The access file: roles (built-in ones may be redefined), members, and how web identities arrive."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, list[Permission]] = {}
    members: dict[str, str] = Field(default={}, description="user name -> role")
    default_role: str | None = Field(default=None, description="role of anyone not listed (None: no access)")
    proxy: ProxyIdentity | None = None
    token_public_keys: list[str] = Field(
        default=[], description="base64 Ed25519 public keys whose signed identity tokens are accepted"
    )

    @model_validator(mode="after")
    def _roles_exist(self) -> AccessSettings:
        known = set(DEFAULT_ROLES) | set(self.roles)
        unknown = {r for r in [*self.members.values(), self.default_role] if r is not None and r not in known}
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; roles: {sorted(known)}")
        return self


@dataclass(frozen=True)
class Decision:
    """Whether `user` may use `permission`, and the role that decided it."""

    user: str
    permission: Permission
    role: str | None
    allowed: bool

    def refusal(self) -> str:
        """The one line a refused person reads."""
        held = f"role {self.role}" if self.role else "no role"
        return f"{self.user} ({held}) lacks the permission {self.permission.value!r}"


@dataclass(frozen=True)
class AccessPolicy:
    """Settings turned into a decision per (user, permission). `restricted=False`: no access file."""

    settings: AccessSettings
    restricted: bool = True

    def role_of(self, user: str) -> str | None:
        """The user's role from the members list, else the default role."""
        return self.settings.members.get(user, self.settings.default_role)

    def permissions_of(self, role: str | None) -> frozenset[Permission]:
        """A role's permissions (its definition in the file wins over the built-in one)."""
        if role is None:
            return frozenset()
        if role in self.settings.roles:
            return frozenset(self.settings.roles[role])
        return DEFAULT_ROLES.get(role, frozenset())

    def decide(self, user: str, permission: Permission) -> Decision:
        """Allowed when the user's role holds the permission (everything, without an access file)."""
        if not self.restricted:
            return Decision(user, permission, "unrestricted", True)
        role = self.role_of(user)
        return Decision(user, permission, role, permission in self.permissions_of(role))
