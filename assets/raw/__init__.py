"""Raw layer: PM payloads exactly as the API sent them, with extraction metadata."""
