"""The CuPy backend: generated ``cupy.ElementwiseKernel`` (tables) and ``cupy.ReductionKernel``
(fused per-config reductions), both calling the plan's generated ``__device__`` function.

Parameters enter as ``(configs, 1)`` arrays and steps as a ``(1, steps)`` row, broadcast in one
launch; list parameters and running-product tables are ``raw`` arrays indexed by the config
(``i / n_steps``). Kernels are named ``gpusched_<hash>`` and built once per graph structure,
parameter kinds and output dtype. The device function is the same text that
``gpusched check-kernels`` compiles with nvcc and checks as host C++.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import codegen
from ..cuda_source import function_name
from ..kernel_cache import kernels_dir
from . import Backend, cuda_driver_present
from ..reductions import Accumulator
from .inputs import kernel_inputs
from .numpy_backend import explain

_C_TYPE = {"long long": "int64", "double": "float64"}   # C type -> CuPy parameter type
_kernels: dict = {}
_lock = threading.Lock()


_KERNEL_PARAMS = {   # (CuPy parameters, the element function's arguments) per entry
    "scalar": lambda e: ([f"{_C_TYPE[e.ctype]} p_{e.key}"], [f"p_{e.key}"]),
    "list": lambda e: ([f"raw {_C_TYPE[e.ctype]} l_{e.key}", f"raw int64 n_{e.key}",
                        f"int64 k_{e.key}", f"int64 m_{e.key}"],
                       [f"&l_{e.key}[(m_{e.key} ? gs_c : 0) * k_{e.key}]",
                        f"n_{e.key}[m_{e.key} ? gs_c : 0]"]),
    "table": lambda e: ([f"float64 tab{e.key}"], [f"tab{e.key}"]),
    "cumprod": lambda e: ([f"raw float64 cp{e.key}", f"int64 w{e.key}", f"int64 mc{e.key}"],
                          [f"&cp{e.key}[(mc{e.key} ? gs_c : 0) * w{e.key}]", f"w{e.key}"]),
}


def _signature(plan, layout):
    """(in_params, call expression) of the ElementwiseKernel for this layout."""
    pairs = [_KERNEL_PARAMS[e.role](e) for e in layout.entries()]
    params = ["int64 t", *(x for p, _ in pairs for x in p), "int64 gs_nsteps"]
    args = ["t", *(x for _, a in pairs for x in a)]
    return ", ".join(params), f"{function_name(plan)}({', '.join(args)})"


def _preamble(plan, layout) -> str:
    return '#include "gpusched.cuh"\n' + codegen.c_function(plan, layout, function_name(plan))


def _options():
    return (f"-I{kernels_dir()}", "--std=c++17")


_OUT = {"float": "float32", "double": "float64"}   # C cast -> CuPy parameter type
_NO_BAD = 2 ** 64 - 1                               # no non-finite element


def _elementwise(plan, layout, out_ctype: str):
    import cupy
    key = ("table", plan.signature, out_ctype)
    with _lock:
        k = _kernels.get(key)
        if k is None:
            params, call = _signature(plan, layout)
            # the first non-finite element's flat index, found in the same pass (no second
            # pass over the table to look for it)
            k = cupy.ElementwiseKernel(
                params, f"{_OUT[out_ctype]} out, raw uint64 gs_bad",
                f"const long long gs_c = i / gs_nsteps;\n"
                f"const {out_ctype} gs_v = ({out_ctype})({call});\nout = gs_v;\n"
                f"if (!isfinite(gs_v)) atomicMin(&gs_bad[0], (unsigned long long)i);",
                name=function_name(plan) + "_table", preamble=_preamble(plan, layout),
                options=_options())
            _kernels[key] = k
    return k


_FUSED = ("sum", "mean", "min", "max")
_REDUCE = {"sum": ("a + b", "0"), "min": ("(a != a || b != b) ? a + b : min(a, b)",
                                          "CUDART_INF"),
           "max": ("(a != a || b != b) ? a + b : max(a, b)", "-CUDART_INF")}


def _reduction(plan, layout, op: str, out_ctype: str):
    import cupy
    key = ("reduce", plan.signature, op, out_ctype)
    with _lock:
        k = _kernels.get(key)
        if k is None:
            params, call = _signature(plan, layout)
            reduce_expr, identity = _REDUCE["sum" if op == "mean" else op]
            k = cupy.ReductionKernel(
                params, "float64 acc", f"(double)({out_ctype})({call})", reduce_expr,
                "acc = a", identity, name=function_name(plan) + "_" + op, reduce_type="double",
                preamble="#define CUDART_INF __longlong_as_double(0x7ff0000000000000ULL)\n"
                         + _preamble(plan, layout),
                options=_options())
            _kernels[key] = k
    return k


def _device_args(plan, layout, bound, steps, cupy):
    """Kernel arguments in order: broadcastable columns, raw arrays with their shapes."""
    args = []
    for e, arrays in kernel_inputs(plan, layout, bound, steps):
        if e.role == "scalar":
            args.append(cupy.asarray(arrays[0])[:, None])
        elif e.role == "list":
            vals, lens = arrays
            args += [cupy.asarray(vals), cupy.asarray(lens), vals.shape[1],
                     int(vals.shape[0] > 1)]
        elif e.role == "table":
            args.append(cupy.asarray(arrays[0])[None, :])
        else:
            args += [cupy.asarray(arrays[0]), arrays[0].shape[1], int(arrays[0].shape[0] > 1)]
    return args


class CupyBackend(Backend):
    name = "cupy"
    device = "gpu"

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
        return int(cupy.cuda.Device().mem_info[0])

    def table(self, plan, bound, steps, dtype, *, work_limit):
        import cupy
        layout = codegen.Layout.of(plan, bound.kinds)
        ctype = "float" if np.dtype(dtype) == np.float32 else "double"
        kernel = _elementwise(plan, layout, ctype)
        out = cupy.empty((bound.n, steps.size), dtype=dtype)
        t = cupy.asarray(steps)[None, :]
        bad = cupy.full(1, _NO_BAD, dtype=cupy.uint64)
        kernel(t, *_device_args(plan, layout, bound, steps, cupy), steps.size, out, bad)
        first = int(bad.get()[0])           # 8 bytes back; waits for the kernel
        if first != _NO_BAD:
            c, j = divmod(first, steps.size)
            explain(plan, bound, steps, c, j, dtype)
        return out

    def _check(self, plan, bound, steps, out, dtype):
        import cupy
        bad = ~cupy.isfinite(out)
        if bool(bad.any()):
            flat = int(cupy.argmax(bad.ravel()))
            c, j = divmod(flat, out.shape[1]) if out.ndim == 2 else (flat, -1)
            explain(plan, bound, steps, c, j, dtype)

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None):
        import cupy
        if op == "last":
            return self.table(plan, bound, steps[-1:], dtype, work_limit=work_limit)[:, 0]
        layout = codegen.Layout.of(plan, bound.kinds)
        ctype = "float" if np.dtype(dtype) == np.float32 else "double"
        fused = op in _FUSED and not (layout.lists or layout.cumprods or layout.tables)
        if not fused:         # argmin/argmax/counts, or raw inputs: chunked tables
            return self._chunked(plan, bound, steps, op, dtype, work_limit, threshold)
        kernel = _reduction(plan, layout, op, ctype)
        t = cupy.asarray(steps)[None, :]
        args = _device_args(plan, layout, bound, steps, cupy)
        acc = kernel(t, *[cupy.broadcast_to(a, (bound.n, 1)) if hasattr(a, "ndim") else a
                          for a in args], steps.size, axis=1)
        self._check(plan, bound, steps, acc, dtype)
        if op == "mean":
            acc = acc / steps.size
        return acc.astype(dtype)

    def _chunked(self, plan, bound, steps, op, dtype, work_limit, threshold):
        import cupy
        acc = Accumulator(cupy, bound.n, op, threshold)
        rows = max(1, work_limit // (8 * steps.size))
        for c0 in range(0, bound.n, rows):
            c1 = min(bound.n, c0 + rows)
            tab = self.table(plan, bound.rows(c0, c1), steps, dtype, work_limit=work_limit)
            acc.add(c0, c1, tab, steps)
        return acc.result(steps.size, dtype)
