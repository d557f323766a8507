"""Reconciliation assets: bank statement lines and receivables in (entity x day), matches (entity x month)."""
