"""The access file: roles and members (docs/decisions/0027), read and validated once per process.

`$BILLBRIDGE_ACCESS_FILE`, else `access.yaml` beside the configuration file. Without one,
billbridge runs unrestricted (every command allowed, audit entries say `unrestricted`), which
suits a laptop and nothing else: a deployment ships an access file with `default_role`
unset or `viewer`. A bad key stops the load naming the file, the key and what was expected.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from resources.configuration import DEFAULT_CONFIG_PATH, _format_errors, _read_yaml
from resources.identity import Identity, cli_identity
from rules.access import AccessPolicy, AccessSettings
from rules.config_types import ConfigurationError

ACCESS_FILE_ENV = "BILLBRIDGE_ACCESS_FILE"


def access_file() -> Path | None:
    """$BILLBRIDGE_ACCESS_FILE, else access.yaml beside the configuration (None when there is none)."""
    if os.environ.get(ACCESS_FILE_ENV):
        return Path(os.environ[ACCESS_FILE_ENV])
    beside = Path(os.environ.get("BILLBRIDGE_CONFIG") or DEFAULT_CONFIG_PATH).resolve().parent / "access.yaml"
    return beside if beside.exists() else None


def load_access(path: Path | None) -> AccessPolicy:
    """The policy from an access file; unrestricted without one."""
    if path is None:
        return AccessPolicy(AccessSettings(), restricted=False)
    raw = _read_yaml(path)
    try:
        return AccessPolicy(AccessSettings.model_validate(raw or {}))
    except ValidationError as exc:
        raise ConfigurationError(_format_errors(path, exc)) from None


@cache
def current_access() -> AccessPolicy:
    """This process's access policy (loaded once)."""
    return load_access(access_file())


@cache
def current_identity() -> Identity:
    """Who runs this process: a verified identity token's subject, else the OS account."""
    return cli_identity(current_access().settings)
