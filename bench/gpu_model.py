"""``python -m bench.gpu_model`` from a checkout: the GPU cost model (gpusched/bench/gpu_model.py)
writing bench/results/gpu-model.json and .md."""

import sys

from gpusched.bench.gpu_model import main

if __name__ == "__main__":
    sys.exit(main())
