"""Retention, archival and legal holds (docs/decisions/0032): the policy model, which tables hold which
record type, when a period is past retention, and what a legal hold covers. Pure: no I/O."""
