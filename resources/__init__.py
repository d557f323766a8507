"""Everything that touches the outside: configuration files, the PM and accounting APIs, the warehouse, FX data."""
