"""Every CLI command passes here: the permission it needs, the caller's role, and an audit entry.

One table says which permission each command needs (a command may also declare its own with
`set_defaults(permission=...)`); a command in neither table needs `manage_access`, so a new
command is admin-only until someone decides otherwise. A refusal is one line naming the
permission, exit status 3, and an audit entry; an allowed command is audited with its
outcome. Commands that only read financial or personal data are audited as views.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from resources.access_config import current_access, current_identity
from resources.audit_config import note_configuration_change
from resources.audit_log import AuditEvent, AuditLog
from resources.identity import IdentityProblem
from rules.access import Permission

REFUSED_STATUS = 3
OPEN = None  # commands that touch only the local sandboxes

COMMAND_PERMISSIONS: dict[str, Permission | None] = {
    "demo": Permission.SYNC,
    "sync": Permission.POST,  # extracts, bills and posts
    "close": Permission.POST,  # every entity's sync, then the group close
    "report": Permission.VIEW,
    "sandbox.up": OPEN,
    "ui": Permission.SYNC,
    "events.serve": Permission.RECEIVE_EVENTS,
    "events.list": Permission.VIEW,
    "dlq.list": Permission.VIEW,
    "dlq.show": Permission.VIEW,
    "dlq.replay": Permission.REPLAY,
    "dlq.discard": Permission.DISCARD,
    "export-drafts": Permission.EXPORT,
    "allocate": Permission.REALLOCATE,
    "auth.xero": Permission.MANAGE_CREDENTIALS,
    "auth.refresh": Permission.MANAGE_CREDENTIALS,
    "auth.rotate": Permission.MANAGE_CREDENTIALS,
    "auth.status": Permission.VIEW,
    "audit.verify": Permission.VERIFY_AUDIT,
    "audit.show": Permission.VERIFY_AUDIT,
    "access.token": Permission.MANAGE_ACCESS,
    "access.keygen": Permission.MANAGE_ACCESS,
    "access.whoami": OPEN,
    "keys.status": Permission.MANAGE_KEYS,
    "keys.rotate": Permission.MANAGE_KEYS,
    "gdpr.export": Permission.EXPORT,
    "gdpr.erase": Permission.PURGE,  # destroys a person's key for good: an admin's step
    "reconcile": Permission.POST,  # auto-accepted matches become settlements the outbox posts
    "workbench": Permission.VIEW,  # serving it; what a person does in it is the workbench's to check
    "migrate": Permission.MANAGE_ACCESS,  # rewrites every warehouse file's layout: an admin's step
    "schemas.check": OPEN,  # compares the repository's schema files; reads no data
    "schemas.snapshot": Permission.CHANGE_MAPPING,  # records a release's table and payload shapes
    "trace": Permission.VIEW,  # reads entries, names and approvals: audited as a view
    "hold.set": Permission.LEGAL_HOLD,
    "hold.lift": Permission.LEGAL_HOLD,
    "hold.list": Permission.VIEW,
    "archive": Permission.PURGE,  # retention's first step; writes a period's data to files
    "restore": Permission.PURGE,  # rewrites the warehouse from an archive
    "purge": Permission.PURGE,
    "shadow.diff": Permission.SYNC,  # drafts an entity-month into the shadow tables; never posts
    "shadow.promote": Permission.CHANGE_MAPPING,  # switches the rules that draft real invoices
    "shadow.revert": Permission.CHANGE_MAPPING,
}
# Arguments worth naming in an audit entry (never a secret: none of these carry one).
TARGET_ARGUMENTS = (
    "entity", "period", "month", "id", "ids", "out", "connection", "reason", "user", "person",
    "invoice", "line", "entry", "client",
)  # fmt: skip


def command_name(args: argparse.Namespace) -> str:
    """`dlq.replay`, `sync`, ...: the command and its action."""
    action = getattr(args, "action", None)
    return f"{args.command}.{action}" if action else str(args.command)


def required_permission(args: argparse.Namespace) -> Permission | None:
    """What the command needs: its own declaration, the table, else `manage_access` (fail closed)."""
    declared = getattr(args, "permission", None)
    if declared is not None:
        return Permission(declared)
    return COMMAND_PERMISSIONS.get(command_name(args), Permission.MANAGE_ACCESS)


def _target(args: argparse.Namespace) -> str:
    parts = []
    for name in TARGET_ARGUMENTS:
        value = getattr(args, name, None)
        if value not in (None, [], ""):
            parts.append(f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}")
    return " ".join(parts)


def run_authorised(args: argparse.Namespace) -> int:
    """Decide, audit and run one parsed command; its exit status."""
    log, name = AuditLog(), command_name(args)
    permission = required_permission(args)
    try:
        identity = current_identity()
    except IdentityProblem as exc:
        log.append(AuditEvent("(unverified token)", name, _target(args), "refused", {"reason": str(exc)}))
        print(f"billbridge: refused: {exc}", file=sys.stderr)
        return REFUSED_STATUS
    note_configuration_change(log, identity.user)
    detail: dict[str, Any] = {"via": identity.source}
    if permission is not None:
        decision = current_access().decide(identity.user, permission)
        detail.update(permission=permission.value, role=decision.role)
        if not decision.allowed:
            log.append(AuditEvent(identity.user, name, _target(args), "refused", detail))
            print(f"billbridge {name.replace('.', ' ')}: refused: {decision.refusal()}", file=sys.stderr)
            return REFUSED_STATUS
    kind = "view" if permission is Permission.VIEW else "action"
    try:
        status = int(args.func(args))
    except BaseException as exc:
        log.append(
            AuditEvent(
                identity.user,
                name,
                _target(args),
                "failed",
                {**detail, "kind": kind, "error": type(exc).__name__},
            )
        )
        raise
    outcome = "ok" if status == 0 else "failed"
    log.append(
        AuditEvent(identity.user, name, _target(args), outcome, {**detail, "kind": kind, "status": status})
    )
    return status


def cmd_access_whoami(args: argparse.Namespace) -> int:
    """The caller's identity, role and permissions."""
    identity, policy = current_identity(), current_access()
    if not policy.restricted:
        print(f"{identity}: unrestricted (no access file)")
        return 0
    role = policy.role_of(identity.user)
    permissions = ", ".join(sorted(p.value for p in policy.permissions_of(role))) or "none"
    print(f"{identity}: role {role or 'none'}; permissions: {permissions}")
    return 0


def cmd_access_keygen(args: argparse.Namespace) -> int:
    """A new Ed25519 key pair: the private key to a 0600 file, the public key for the access file."""
    import base64
    import os
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(Path(args.private_key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    print(
        f"private key written to {args.private_key}; add to token_public_keys: {base64.b64encode(public).decode()}"
    )
    return 0


def cmd_access_token(args: argparse.Namespace) -> int:
    """An identity token for a user (service account, CI), signed with an Ed25519 private key."""
    import time
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from resources.identity import issue_token

    key = serialization.load_pem_private_key(Path(args.private_key).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        print(f"billbridge access token: {args.private_key} is not an Ed25519 private key", file=sys.stderr)
        return 2
    print(issue_token(key, args.user, time.time() + args.hours * 3600))
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge access ...`."""
    access = subparsers.add_parser("access", help="who you are, and identity tokens")
    sub = access.add_subparsers(dest="action", required=True)
    sub.add_parser("whoami", help="your identity, role and permissions").set_defaults(func=cmd_access_whoami)
    keygen = sub.add_parser("keygen", help="an Ed25519 key pair for signing identity tokens")
    keygen.add_argument("--private-key", required=True, help="file to create (mode 0600)")
    keygen.set_defaults(func=cmd_access_keygen)
    token = sub.add_parser("token", help="a signed identity token (set it as BILLBRIDGE_IDENTITY_TOKEN)")
    token.add_argument("--user", required=True)
    token.add_argument("--hours", type=float, default=24.0)
    token.add_argument("--private-key", required=True)
    token.set_defaults(func=cmd_access_token)
