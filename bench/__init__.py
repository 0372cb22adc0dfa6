"""Benchmarks behind `make bench`; results go to docs/benchmarks.md with the machine noted."""
