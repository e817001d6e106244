"""The Numba CUDA backend: the same generated scalar code as the Numba CPU backend, launched as
``@cuda.jit`` kernels of the CuPy backend's 2-D shape (gpusched/cuda_source.py): configs along
a grid-stride y loop, blocks of steps along x, as few step blocks as fill the device so each
thread computes its config section once for many steps, ``t`` computed when the steps are a
range; reductions split a config's steps over blocks, fold each block in shared memory and
leave one partial per (config, block) that the host folds.

Results stay on the device: a CuPy array when CuPy is installed (zero-copy through
``__cuda_array_interface__``), else Numba's device array; ``gs.to_numpy`` copies either back.
Under ``NUMBA_ENABLE_CUDASIM=1`` the same kernels run in Numba's simulator (tests use it).
"""

from __future__ import annotations

import numpy as np

from .. import codegen
from ..kernel_cache import load_module
from ..keys import digest
from . import Backend, cuda_driver_present
from ..engine.factorized import precompute
from .inputs import flat_inputs
from ..cuda_source import reduce_launch, step_range, table_launch
from ..reductions import CODES
from .numba_backend import CUDA_REDUCE_THREADS, check_errors, finish, module_source

THREADS = 256
# The simulator runs a Python thread per GPU thread and polls them at every barrier: there,
# blocks are small and few (every config still goes through the kernels' grid-stride loops)
SIM_THREADS, SIM_BLOCKS = 2, 2       # threads per block, blocks of steps (one of configs)
NO_STEP = np.iinfo(np.int64).max     # errstep's start: the kernels take the min of bad steps


def _sms() -> int:
    from numba import cuda
    if _simulated():
        return 2
    return int(cuda.get_current_device().MULTIPROCESSOR_COUNT)


def _steps_args(steps):
    """(device steps, t0, dt, ranged, count): a range is computed by the kernel, not
    uploaded."""
    from numba import cuda
    rng = step_range(steps)
    n = np.int64(steps.size)
    if rng is None:
        return cuda.to_device(steps), np.int64(0), np.int64(0), False, n
    return cuda.to_device(steps[:1]), np.int64(rng[0]), np.int64(rng[1]), True, n


def fold_partials(acc, arg, op):
    """Per config, the blocks' partial results folded as the block fold does: sums add,
    extremes keep the earlier step on a tie. Returns (totals, best step positions)."""
    if CODES[op] == 0 or CODES[op] >= 5:
        return acc.sum(axis=1), arg[:, 0]
    sgn = -1.0 if CODES[op] in (2, 4) else 1.0
    key = sgn * acc
    best = key.min(axis=1)
    pos = np.where(key == best[:, None], arg, np.iinfo(np.int64).max).min(axis=1)
    return sgn * best, pos


def _simulated() -> bool:
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", False))


class NumbaCudaBackend(Backend):
    name = "numba-cuda"
    device = "gpu"
    kernel_cache = "numba"

    def availability(self):
        import os
        from importlib.util import find_spec
        if find_spec("numba") is None or find_spec("numba_cuda") is None:
            return False, "numba-cuda is not installed (pip install 'gpusched[numba]')"
        if not os.environ.get("NUMBA_ENABLE_CUDASIM") and not cuda_driver_present():
            return False, "no NVIDIA driver found (no /dev/nvidiactl, no libcuda)"
        try:
            from numba import cuda
        except ImportError as err:
            return False, f"numba-cuda does not import: {err}"
        try:
            if not cuda.is_available():
                return False, "no CUDA driver or device found"
            cuda.device_array(1)           # a device that really answers
        except Exception as err:  # noqa: BLE001 - any driver failure means unusable
            return False, f"CUDA device unusable: {err}"
        return True, "simulator" if _simulated() else ""

    def free_memory(self):
        from numba import cuda
        if _simulated():
            return None
        return int(cuda.current_context().get_memory_info().free)

    def _module(self, plan, bound, pre=None):
        layout = codegen.Layout.of(plan, bound.dtypes)
        sig = plan.signature
        name = "cuda_" + digest("cuda", sig, _simulated(), pre.key if pre else None)
        return layout, load_module(name, lambda: module_source(plan, layout, sig, "cuda", pre),
                                   "numba")

    def _inputs(self, plan, layout, bound, steps, pre=None):
        """Parameters, then the factorized tables (expensive step-dependent nodes over only
        the grid axes they depend on, computed by NumPy on the host) when there are any."""
        from numba import cuda
        return [cuda.to_device(np.ascontiguousarray(a))
                for a in flat_inputs(plan, layout, bound, steps) + (pre.args() if pre else [])]

    def table(self, plan, bound, steps, dtype, *, work_limit):
        from numba import cuda
        pre = precompute(plan, bound, steps, work_limit)
        layout, mod = self._module(plan, bound, pre)
        n, S = bound.n, steps.size
        out = cuda.device_array((n, S), dtype=dtype)
        err = cuda.to_device(np.zeros(n, dtype=np.int64))
        errstep = cuda.to_device(np.full(n, NO_STEP, dtype=np.int64))
        threads = min(SIM_THREADS if _simulated() else THREADS, 32 * -(-S // 32))
        launch = table_launch(1 if _simulated() else n, S, _sms(), 1, threads)
        gx, gy = launch.grid
        blocks = (min(gx, SIM_BLOCKS) if _simulated() else gx, gy)
        dev_steps, *rng = _steps_args(steps)
        mod.gs_table[blocks, threads](dev_steps, out, err, errstep, *rng,
                                      *self._inputs(plan, layout, bound, steps, pre))
        check_errors(plan, bound, steps, err.copy_to_host(), errstep.copy_to_host(), dtype)
        return _as_cupy(out)

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None):
        from numba import cuda
        if op == "last":
            return self.table(plan, bound, steps[-1:], dtype, work_limit=work_limit)[:, 0]
        pre = precompute(plan, bound, steps, work_limit)
        layout, mod = self._module(plan, bound, pre)
        n = bound.n
        launch = reduce_launch(n, steps.size, _sms())
        threads = SIM_THREADS if _simulated() else min(launch.block, CUDA_REDUCE_THREADS)
        gx, gy = launch.grid
        if _simulated():
            gx, gy = min(gx, SIM_BLOCKS), 1
        acc = cuda.device_array((n, gx), dtype=np.float64)
        arg = cuda.device_array((n, gx), dtype=np.int64)
        err = cuda.to_device(np.zeros(n, dtype=np.int64))
        errstep = cuda.to_device(np.full(n, NO_STEP, dtype=np.int64))
        dev_steps, *rng = _steps_args(steps)
        mod.gs_reduce[(gx, gy), threads](
            dev_steps, acc, arg, CODES[op], np.dtype(dtype) == np.float32,
            float(threshold or 0.0), err, errstep, *rng,
            *self._inputs(plan, layout, bound, steps, pre))
        check_errors(plan, bound, steps, err.copy_to_host(), errstep.copy_to_host(), dtype)
        total, best = fold_partials(acc.copy_to_host(), arg.copy_to_host(), op)
        return _as_cupy(finish(total, steps[best], op, steps.size, dtype))


def _as_cupy(arr):
    """A CuPy array of a Numba device array or a host result when CuPy is usable (device
    arrays are shared, not copied); else the array itself (and always under the simulator)."""
    if _simulated():
        return arr
    try:
        import cupy
        return cupy.asarray(arr)
    except Exception:  # noqa: BLE001 - CuPy absent or unusable: keep what we have
        return arr
