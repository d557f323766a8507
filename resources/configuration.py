"""Load and validate the entity configuration and the mapping document from their files.

Only entry points load it (the CLI, the module-level `defs` of `pipelines/definitions.py`); assets
receive the loaded object as the `settings` resource (`Settings`), sensors and schedules are built
from it, so Definitions can be built for any configuration, one made in code included.
Bad configuration must stop at load with the file, the key and what was expected: the models
(`rules/settings.py`) forbid unknown keys, and every error is re-raised as a
`ConfigurationError` that names all of them at once.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import TypeVar

import dagster as dg
import yaml
from pydantic import BaseModel, ValidationError

from resources.fx import published_currencies
from rules.config_types import ConfigurationError
from rules.mapping_document import MappingDocument
from rules.settings import BillbridgeConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "billbridge.yaml"
ModelT = TypeVar("ModelT", bound=BaseModel)

# The configuration as a Dagster resource: `settings: Settings` in an asset or op receives the
# object the Definitions were built from (docs/decisions/0018).
SETTINGS = "settings"
Settings = dg.ResourceParam[BillbridgeConfig]


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read configuration ({exc.strerror})") from exc
    try:
        # libyaml's safe loader when the wheel has it: a 20-entity mapping of 20k clients loads in
        # 10 s instead of 42 s (measured by bench/group_close.py); the same documents either way.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from exc


def _format_errors(path: Path, exc: ValidationError, prefix: str = "") -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        if prefix and not key.startswith("mapping"):
            key = f"{prefix}{key}"
        got = error.get("input")
        got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"  - key {key}: {error['msg']}{got_text}")
    return "\n".join(lines)


def validated_document(path: Path, model: type[ModelT]) -> ModelT:
    """The YAML file at `path` validated as `model`; ConfigurationError naming the file, every bad key
    and what was expected."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping of keys at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(_format_errors(path, exc)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> BillbridgeConfig:
    """Read, validate and hash the configuration at `path` (default: $BILLBRIDGE_CONFIG, then the demo's).

    The mapping document named by the `mapping` key is read relative to the configuration file.
    Raises ConfigurationError naming the file, every bad key and what was expected.
    """
    config_path = Path(path or os.environ.get("BILLBRIDGE_CONFIG") or DEFAULT_CONFIG_PATH).resolve()
    raw = _read_yaml(config_path)
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{config_path}: expected a mapping of keys at the top level")
    hasher = hashlib.sha256(config_path.read_bytes())
    mapping_ref = raw.get("mapping")
    if not isinstance(mapping_ref, str):
        raise ConfigurationError(
            f"{config_path}: key mapping: expected the path of the mapping document (got {mapping_ref!r})"
        )
    mapping_path = (config_path.parent / mapping_ref).resolve()
    mapping_raw = _read_yaml(mapping_path)
    hasher.update(mapping_path.read_bytes())
    try:
        mapping = MappingDocument.model_validate(mapping_raw)
    except ValidationError as exc:
        raise ConfigurationError(_format_errors(mapping_path, exc)) from None
    try:
        config = BillbridgeConfig.model_validate(
            {**raw, "mapping": mapping, "source_path": str(config_path), "content_hash": hasher.hexdigest()}
        )
    except ValidationError as exc:
        raise ConfigurationError(_format_errors(config_path, exc)) from None
    _require_ecb_rates(config_path, config)
    return config


def _require_ecb_rates(path: Path, config: BillbridgeConfig) -> None:
    """Stop at load when a ledger or reporting currency has no ECB reference rate: every record of
    that entity would otherwise be quarantined at run time (`fx_rate_missing`)."""
    newest, published = published_currencies()
    keys = [("reporting_currency", config.reporting_currency)] + [
        (f"entities.{n}.base_currency", e.base_currency) for n, e in enumerate(config.entities)
    ]
    problems = [
        f"  - key {key}: the ECB publishes no reference rate for {code!r} (its file of {newest} has "
        f"{', '.join(sorted(published))})"
        for key, code in keys
        if code not in published
    ]
    if problems:
        raise ConfigurationError(
            "\n".join([f"{path}: invalid configuration ({len(problems)} problem(s)):", *problems])
        )


@cache
def current_config() -> BillbridgeConfig:
    """The configuration file of this process, loaded once: for entry points only (the CLI, `defs`)."""
    return load_config()
