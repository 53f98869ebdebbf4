"""Benchmark scripts: bench/README.md says how to run them, docs/performance.md what they found."""
