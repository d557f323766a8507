"""Reconciliation: bank lines matched to receivables, settlement differences, the match log shape."""
