"""The outbox's storage and sending: its DuckDB tables, the claim, the request log, and the sender."""
