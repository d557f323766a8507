"""Dagster wiring: partitions, jobs, schedules, sensors, the Definitions and the CLI."""

import warnings

import dagster as dg

# We use backfill policies and multi-partition mappings knowingly (see docs/decisions);
# their "beta" notices would otherwise print on every load of the code location.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
