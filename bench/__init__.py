"""Benchmarks (not tests): run with `python -m bench.memory` and friends."""
