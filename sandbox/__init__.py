"""Local stand-ins for the PM (Harvest v2) and accounting (Xero) APIs, and the seeded demo company.

Real HTTP on loopback, honouring the vendored contracts in `contracts/`, with fault
injection. Used by `make demo`, the tests and the benchmarks; never by production code.
"""
