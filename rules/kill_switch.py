"""The posting kill switch: configuration per entity, or the environment for all or some entities."""

from __future__ import annotations

import os

from rules.settings import EntityConfig

KILL_SWITCH_ENV = "BILLBRIDGE_POSTING_DISABLED"


def posting_disabled_reason(entity: EntityConfig, environ: dict[str, str] | None = None) -> str | None:
    """Why posting is off for this entity, or None when it is on.

    `BILLBRIDGE_POSTING_DISABLED=all` stops every entity; `=us,uk` stops those; the entity's
    `posting.enabled: false` stops it from configuration. Drafts keep building either way.
    """
    value = (environ if environ is not None else os.environ).get(KILL_SWITCH_ENV, "").strip().lower()
    named = {part.strip() for part in value.split(",") if part.strip()}
    if "all" in named:
        return f"skipped: kill switch {KILL_SWITCH_ENV}=all"
    if entity.id in named:
        return f"skipped: kill switch {KILL_SWITCH_ENV} names {entity.id}"
    if not entity.posting.enabled:
        return f"skipped: kill switch posting.enabled is false for entity {entity.id} in the configuration"
    return None
