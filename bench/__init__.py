"""Benchmarks (`make bench`): measured and printed, never asserted."""
