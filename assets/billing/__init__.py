"""Billing layer: invoice drafts per client and month, traceable to the lines they bill."""
