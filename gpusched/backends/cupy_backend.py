"""The CuPy backend: the plan's 2-D table and reduction kernels (gpusched/cuda_source.py),
compiled by NVRTC through ``cupy.RawModule``, one template instantiation at a time (only the
kernel a call needs is compiled; CuPy caches it on disk).

Parameters and steps go to the device once per call (steps not at all when they are a
range); the only host synchronisation reads the 8-byte "first bad config" word, after which
the result stays on the device. The device code is the text ``gpusched check-kernels``
compiles with nvcc and runs as host C++.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import codegen
from ..cuda_source import (ALL_HOST, REDUCE_OPS, kernel_template, launch_args, reduce_launch,
                           step_range, table_launch, translation_unit, vector_steps)
from ..kernel_cache import kernels_dir
from ..reductions import Accumulator
from . import Backend, cuda_driver_present
from ..engine.factorized import precompute
from ..engine.evaluate import explain

_kernels: dict = {}
_lock = threading.Lock()
NO_BAD = 2 ** 64 - 1                   # no config with a non-finite value


def nvrtc_options():
    return (f"-I{kernels_dir()}", "--std=c++17")


def compiled(key, source, template: str):
    """The kernel ``template`` (an NVRTC name expression) of the text ``source()``, compiled
    once per process under ``key`` (which must name everything the text depends on)."""
    import cupy
    with _lock:
        k = _kernels.get(key)
        if k is None:
            module = cupy.RawModule(code=source(), options=nvrtc_options(),
                                    name_expressions=[template])
            k = _kernels[key] = module.get_function(template)
    return k


def _kernel(plan, layout, precision: str, template: str, pre=None):
    """The compiled instantiation ``template`` of the plan's kernels under ``precision``
    (``template`` names the function, whose name holds the factorized nodes' key)."""
    # (the host launchers in the text are for g++: NVRTC defines __CUDACC__)
    return compiled((plan.signature, precision, template),
                    lambda: translation_unit(plan, layout, precision, host=ALL_HOST, pre=pre),
                    template)


def sms() -> int:
    """The current device's multiprocessors."""
    import cupy
    return int(cupy.cuda.Device().attributes["MultiProcessorCount"])


def launch_head(bound, steps, cupy):
    """``C, S, steps, t0, dt``: the steps stay on the host when they are a range."""
    rng = step_range(steps)
    dev_steps = cupy.zeros(1, dtype=np.int64) if rng else cupy.asarray(steps)
    t0, dt = rng or (0, 0)
    return rng is not None, [np.int64(bound.n), np.int64(steps.size), dev_steps, np.int64(t0),
                             np.int64(dt)]


def _device_args(plan, layout, bound, steps, precision, cupy, pre):
    return [cupy.asarray(v) if kind == "array" else np.int64(v)
            for kind, v in launch_args(plan, layout, bound, steps, precision, pre)]


class CupyBackend(Backend):
    name = "cupy"
    device = "gpu"
    precisions = ("exact", "fast")

    def predict_loss(self, plan, bound, steps, law, ends, order, dtype, const, *,
                     work_limit, table_bytes, bar=None):
        """One CUDA thread per config runs the law over its steps (laws/cuda.py)."""
        from ..laws.predict import fused_cupy
        return fused_cupy(plan, bound, steps, law, ends, order, dtype, const, work_limit, bar)

    def availability(self):
        from importlib.util import find_spec
        if find_spec("cupy") is None:
            return False, "cupy is not installed (pip install 'gpusched[cuda13]')"
        if not cuda_driver_present():
            return False, "no NVIDIA driver found (no /dev/nvidiactl, no libcuda)"
        try:
            import cupy
        except ImportError as err:
            return False, f"cupy does not import: {err}"
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                return False, "no CUDA device found"
            cupy.zeros(1)                  # a device that really answers
        except Exception as err:  # noqa: BLE001 - any driver failure means unusable
            return False, f"no usable CUDA device ({type(err).__name__}: {err})"
        return True, ""

    def free_memory(self):
        import cupy
        pool = cupy.get_default_memory_pool()
        # blocks CuPy's pool holds but does not use are free for this call
        return int(cupy.cuda.Device().mem_info[0]) + int(pool.free_bytes())

    def table(self, plan, bound, steps, dtype, *, work_limit, precision="exact"):
        out, bad = self._launch_table(plan, bound, steps, dtype, work_limit, precision)
        self._raise_if_bad(plan, bound, steps, bad, dtype)
        return out

    def _launch_table(self, plan, bound, steps, dtype, work_limit, precision):
        """Launch the table kernel on the current stream: (device table, bad-config word),
        not waited for."""
        import cupy
        layout = codegen.Layout.of(plan, bound.dtypes)
        pre = precompute(plan, bound, steps, work_limit)
        ranged, head = launch_head(bound, steps, cupy)
        kernel = _kernel(plan, layout, precision,
                         kernel_template(plan, precision, "table", dtype, ranged, pre=pre), pre)
        out = cupy.empty((bound.n, steps.size), dtype=dtype)
        bad = cupy.full(1, NO_BAD, dtype=cupy.uint64)
        launch = table_launch(bound.n, steps.size, sms(), vector_steps(dtype))
        kernel(launch.grid, (launch.block,),
               (*head, *_device_args(plan, layout, bound, steps, precision, cupy, pre), out,
                bad))
        return out, bad

    def host_chunks(self, plan, bound, steps, dtype, rows, *, work_limit, precision="exact"):
        """The table ``rows`` configs at a time, as host arrays, for tables larger than
        device memory (``out=`` a file or a host array): while the host takes chunk k, chunk
        k+1 is computed and copied into pinned memory on the other of two streams. Yields
        ``(c0, c1, host rows)``; a chunk's host rows are valid until the next-but-one."""
        import cupy
        import cupyx
        streams = [cupy.cuda.Stream(non_blocking=True) for _ in range(2)]
        pinned = [cupyx.empty_pinned((min(rows, bound.n), steps.size), dtype=dtype)
                  for _ in range(2)]
        pending = None
        for k, c0 in enumerate(range(0, bound.n, rows)):
            c1, slot = min(bound.n, c0 + rows), k % 2
            # the whole grid in one chunk keeps its axes (factorized evaluation)
            part = bound if (c0, c1) == (0, bound.n) else bound.rows(c0, c1)
            with streams[slot]:
                dev, bad = self._launch_table(plan, part, steps, dtype, work_limit, precision)
                dev.get(out=pinned[slot][:c1 - c0], stream=streams[slot], blocking=False)
                flag = bad.get(stream=streams[slot], blocking=False)
                done = streams[slot].record()
            if pending is not None:
                yield self._arrived(plan, steps, dtype, pinned, *pending)
            pending = (c0, c1, slot, part, flag, done)
        if pending is not None:
            yield self._arrived(plan, steps, dtype, pinned, *pending)

    def _arrived(self, plan, steps, dtype, pinned, c0, c1, slot, part, flag, done):
        done.synchronize()
        if int(flag[0]) != NO_BAD:
            explain(plan, part, steps, int(flag[0]), -1, dtype)
        return c0, c1, pinned[slot][:c1 - c0]

    @staticmethod
    def _raise_if_bad(plan, bound, steps, bad, dtype):
        first = int(bad.get()[0])           # 8 bytes back; waits for the kernel
        if first != NO_BAD:
            explain(plan, bound, steps, first, -1, dtype)

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None,
               precision="exact"):
        import cupy
        if op == "last":
            return self.table(plan, bound, steps[-1:], dtype, work_limit=work_limit,
                              precision=precision)[:, 0]
        if op not in ("mean", *REDUCE_OPS):   # argmin/argmax/counts: chunked tables
            return self._chunked(plan, bound, steps, op, dtype, work_limit, threshold,
                                 precision)
        layout = codegen.Layout.of(plan, bound.dtypes)
        fold = "sum" if op == "mean" else op
        pre = precompute(plan, bound, steps, work_limit)
        ranged, head = launch_head(bound, steps, cupy)
        kernel = _kernel(plan, layout, precision,
                         kernel_template(plan, precision, "reduce", dtype, ranged, fold, pre),
                         pre)
        launch = reduce_launch(bound.n, steps.size, sms())
        partial = cupy.empty((bound.n, launch.grid[0]), dtype=cupy.float64)
        bad = cupy.full(1, NO_BAD, dtype=cupy.uint64)
        kernel(launch.grid, (launch.block,),
               (*head, *_device_args(plan, layout, bound, steps, precision, cupy, pre), partial,
                bad))
        self._raise_if_bad(plan, bound, steps, bad, dtype)
        acc = getattr(partial, fold)(axis=1)
        if op == "mean":
            acc = acc / steps.size
        return acc.astype(dtype)

    def _chunked(self, plan, bound, steps, op, dtype, work_limit, threshold, precision):
        import cupy
        acc = Accumulator(cupy, bound.n, op, threshold)
        rows = max(1, work_limit // (8 * steps.size))
        for c0 in range(0, bound.n, rows):
            c1 = min(bound.n, c0 + rows)
            tab = self.table(plan, bound.rows(c0, c1), steps, dtype, work_limit=work_limit,
                             precision=precision)
            acc.add(c0, c1, tab, steps)
        return acc.result(steps.size, dtype)
