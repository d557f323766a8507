"""Normalized layer: typed, priced time and expense lines per entity-day, and the quarantine."""
