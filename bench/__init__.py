"""Benchmarks (`make bench`). See bench/harness.py."""
