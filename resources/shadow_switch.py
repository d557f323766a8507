"""Switch which rule version serves an entity by editing the mapping document (decision 0039).

The edit is one word of the candidate's `serving:` key (rules/shadow_candidates.switched_text);
the new file must load as a valid configuration or the old text is put back. The change then
enters the audit trail as any configuration change does (audit_config.note_configuration_change).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from resources.atomic_files import write_atomically
from resources.configuration import DEFAULT_CONFIG_PATH, current_config, load_config
from rules.billing.shadow import candidate_for
from rules.config_types import ConfigurationError
from rules.settings import BillbridgeConfig
from rules.shadow_candidates import Serving, ShadowCandidate, SwitchRefused, switched_text


@dataclass(frozen=True)
class Switch:
    """What a switch did: the mapping file, its hashes before and after, and the candidate."""

    path: Path
    before: str
    after: str
    candidate: ShadowCandidate

    @property
    def changed(self) -> bool:
        return self.before != self.after


def mapping_path(config_path: Path) -> Path:
    """The mapping document the configuration at `config_path` names."""
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    return (config_path.parent / str(raw["mapping"])).resolve()


def switch_serving(entity: str, serving: Serving) -> Switch:
    """Make `entity`'s candidate (`candidate`) or the document's own rules (`current`) serve it.

    Promoting needs the candidate enabled (so its shadow diff could be read first). Raises
    SwitchRefused or ConfigurationError, leaving the file as it was.
    """
    config_path = Path(os.environ.get("BILLBRIDGE_CONFIG") or DEFAULT_CONFIG_PATH).resolve()
    candidate = _candidate(load_config(config_path), entity)
    if serving == "candidate" and not candidate.enabled:
        raise SwitchRefused(
            f"the candidate {candidate.version!r} of entity {entity!r} is not enabled: enable it and read "
            "its shadow diff before promoting it"
        )
    path = mapping_path(config_path)
    old = path.read_bytes()
    new = switched_text(old.decode("utf-8"), entity, serving).encode("utf-8")
    if new != old:
        write_atomically(path, new)
        try:
            _candidate(load_config(config_path), entity)
        except ConfigurationError:
            write_atomically(path, old)
            raise
        current_config.cache_clear()  # this process now runs with the switched rules
    return Switch(path, _sha(old), _sha(new), candidate)


def _candidate(config: BillbridgeConfig, entity: str) -> ShadowCandidate:
    found = candidate_for(config, entity)
    if found is None:
        raise SwitchRefused(f"entity {entity!r} has no shadow candidate in the mapping document")
    return found


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
