"""Group consolidation: entity ledger exports (Parquet) and the monthly group close (docs/decisions/0011)."""
