#!/usr/bin/env bash
# Everything that needs a GPU, in one command for a borrowed GPU machine (no network there:
# it uses the machine's own CuPy, Numba-CUDA, JAX, optax, torch, transformers, timm):
#
#   OUT=/some/folder bash bench/gpu_run.sh [--quick]
#
# writes into $OUT: gpu-tests.txt (the `gpu`-marked tests, then the cross-backend tests),
# info.txt (`gpusched info`),
# check-kernels.txt (host C++ and nvcc gate), bench.txt (progress lines) and the benchmark's
# <machine>.json/.md. Run from the repository root; gpusched is imported from the checkout.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export GPUSCHED_CACHE_DIR=${GPUSCHED_CACHE_DIR:-/tmp/gpusched-cache}

{ nvidia-smi; $PY -c "import cupy, numba, jax; print('cupy', cupy.__version__, 'numba',
numba.__version__, 'jax', jax.__version__, jax.devices())"; } >"$OUT/info.txt" 2>&1
$PY -m gpusched info >>"$OUT/info.txt" 2>&1
$PY -m pytest -q -o addopts= -m gpu -p no:cacheprovider tests/test_gpu.py >"$OUT/gpu-tests.txt" 2>&1
echo "exit $?" >>"$OUT/gpu-tests.txt"
# the cross-backend tests run once per usable backend: here with cupy and numba-cuda too
$PY -m pytest -q -o addopts= -p no:cacheprovider tests/test_backends.py tests/test_evaluate.py \
    tests/test_scale.py tests/test_interop.py >>"$OUT/gpu-tests.txt" 2>&1
echo "exit $?" >>"$OUT/gpu-tests.txt"
$PY -m gpusched check-kernels --arch 90 >"$OUT/check-kernels.txt" 2>&1
echo "exit $?" >>"$OUT/check-kernels.txt"
$PY -m gpusched.bench --out "$OUT" "$@" 2>"$OUT/bench.txt"
echo "exit $?" >>"$OUT/bench.txt"
tail -n 3 "$OUT"/*.txt
