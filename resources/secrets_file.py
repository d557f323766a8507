"""Secrets from the environment or a secrets file, never from the repository.

The secrets file (`BILLBRIDGE_SECRETS_FILE`, default `$BILLBRIDGE_HOME/secrets/secrets.env`)
holds `NAME=value` lines (the `.env` format, read with python-dotenv) for the Harvest personal
token, the Xero app's client id and secret and the webhook secret. It is read at process
start into the environment for names the environment does not set already, so every
resource keeps reading `dg.EnvVar(...)` and the environment always wins. A file that others
could read, or that lies inside the repository, is refused with a message saying why:
a secret that another account can read, or that `git add .` can commit, is not a secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dotenv import dotenv_values

from resources.private_files import private_by_default
from resources.warehouse import default_home
from rules.config_types import ConfigurationError

SECRETS_FILE_ENV = "BILLBRIDGE_SECRETS_FILE"
REPO_ROOT = Path(__file__).resolve().parents[1]


class SecretsFileProblem(ConfigurationError):
    """The secrets file is unsafe or unreadable."""


def default_secrets_file() -> Path:
    """$BILLBRIDGE_SECRETS_FILE, else $BILLBRIDGE_HOME/secrets/secrets.env."""
    explicit = os.environ.get(SECRETS_FILE_ENV)
    return Path(explicit) if explicit else Path(default_home()) / "secrets" / "secrets.env"


def _check_safe(path: Path) -> None:
    resolved = path.resolve()
    if resolved.is_relative_to(REPO_ROOT) and not resolved.is_relative_to(REPO_ROOT / ".billbridge"):
        raise SecretsFileProblem(
            f"{path}: a secrets file inside the repository could be committed; move it out"
        )
    info = resolved.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsFileProblem(
            f"{path}: readable by other accounts (mode {oct(stat.S_IMODE(info.st_mode))}); run chmod 600 {path}"
        )
    if info.st_uid != os.getuid():
        raise SecretsFileProblem(f"{path}: owned by another account (uid {info.st_uid})")


def load_secrets_file(path: Path | None = None) -> list[str]:
    """Put the secrets file's values into the environment where unset; the names it set."""
    path = path or default_secrets_file()
    if not path.exists():
        return []
    _check_safe(path)
    loaded = []
    for name, value in dotenv_values(path).items():
        if value is not None and not os.environ.get(name):
            os.environ[name] = value
            loaded.append(name)
    return loaded


def secure_process() -> None:
    """First thing in every billbridge process: owner-only files, and the secrets file loaded."""
    private_by_default()
    load_secrets_file()
