"""The Numba CUDA backend: the same generated scalar code as the Numba CPU backend, launched as
a ``@cuda.jit`` kernel (steps along x, configs along a grid-stride y loop).

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
from .inputs import flat_inputs
from ..reductions import CODES
from .numba_backend import check_errors, finish, module_source

THREADS = 256
NO_STEP = np.iinfo(np.int64).max     # errstep's start: the kernels take the min of bad steps


def _simulated() -> bool:
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", False))


class NumbaCudaBackend(Backend):
    name = "numba-cuda"
    device = "gpu"

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

    def _module(self, plan, bound):
        layout = codegen.Layout.of(plan, bound.kinds)
        sig = plan.signature
        name = "cuda_" + digest("cuda", sig, _simulated())
        return layout, load_module(name, lambda: module_source(plan, layout, sig, "cuda"),
                                   "numba")

    def _inputs(self, plan, layout, bound, steps):
        from numba import cuda
        return [cuda.to_device(np.ascontiguousarray(a))
                for a in flat_inputs(plan, layout, bound, steps)]

    def table(self, plan, bound, steps, dtype, *, work_limit):
        from numba import cuda
        layout, mod = self._module(plan, bound)
        n, S = bound.n, steps.size
        out = cuda.device_array((n, S), dtype=dtype)
        err = cuda.to_device(np.zeros(n, dtype=np.int64))
        errstep = cuda.to_device(np.full(n, NO_STEP, dtype=np.int64))
        threads = min(THREADS, 32 * -(-S // 32))
        blocks = (min(-(-S // threads), 1024), min(n, 65535))
        mod.gs_table[blocks, threads](cuda.to_device(steps), out, err, errstep,
                                      *self._inputs(plan, layout, bound, steps))
        check_errors(plan, bound, steps, err.copy_to_host(), errstep.copy_to_host(), dtype)
        return _as_cupy(out)

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None):
        from numba import cuda
        if op == "last":
            return self.table(plan, bound, steps[-1:], dtype, work_limit=work_limit)[:, 0]
        layout, mod = self._module(plan, bound)
        n = bound.n
        acc = cuda.device_array(n, dtype=np.float64)
        arg = cuda.to_device(np.zeros(n, dtype=np.int64))
        err = cuda.to_device(np.zeros(n, dtype=np.int64))
        errstep = cuda.to_device(np.full(n, NO_STEP, dtype=np.int64))
        threads = min(THREADS, 32 * -(-n // 32))
        blocks = min(-(-n // threads), 65535)
        mod.gs_reduce[blocks, threads](cuda.to_device(steps), acc, arg, CODES[op],
                                       np.dtype(dtype) == np.float32, float(threshold or 0.0),
                                       err, errstep, *self._inputs(plan, layout, bound, steps))
        check_errors(plan, bound, steps, err.copy_to_host(), errstep.copy_to_host(), dtype)
        return _as_cupy(finish(acc.copy_to_host(), arg.copy_to_host(), op, steps.size,
                                    dtype))


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
