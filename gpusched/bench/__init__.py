"""Benchmarks (not tests): `gpusched bench` (or `python -m gpusched.bench`), `python -m
gpusched.bench.compile`, `python -m gpusched.bench.memory`, `python -m bench.gpu_model` (the GPU
cost model), `python -m gpusched.bench.precision`; results go to the folder given with --out."""
