"""Benchmark scripts (not tests): see benchmarks/run.py and docs/performance.md."""
