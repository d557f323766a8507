"""The schema registry: one source of truth, with a semantic version, for every table shape and every
external payload billbridge reads or writes (docs/decisions/0022)."""
