"""Cost allocation: pools, drivers, largest-remainder slices, Capex, profitability and the diff."""
