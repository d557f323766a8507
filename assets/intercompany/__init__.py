"""Intercompany charges: one entity's people working on another entity's projects (docs/decisions/0010)."""
