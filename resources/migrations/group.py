"""The migrations of the group's file, in order (see resources/migrations/entity.py)."""

from __future__ import annotations

from resources.migrations import Chain, Migration
from resources.warehouse_tables import GROUP_DDL

GROUP_MIGRATIONS = Chain("group", (Migration(1, "the 0.1.0 layout", sql=GROUP_DDL),))
