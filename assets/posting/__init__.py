"""Posting layer: the outbox, documents posted exactly once, and what the accounting system booked."""
