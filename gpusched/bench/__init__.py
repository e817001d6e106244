"""Benchmarks (not tests): `gpusched bench` (or `python -m gpusched.bench`), `python -m gpusched.bench.compile`, `python -m gpusched.bench.memory`; results go to the folder given with --out."""
