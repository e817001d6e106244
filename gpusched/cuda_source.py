"""CUDA C translation units for a plan: the element function plus a table wrapper.

The same text compiles with nvcc (a grid-stride ``__global__`` kernel, for every architecture in
:data:`CUDA_ARCHS`) and with g++ as host C++ (a plain loop behind ``extern "C"``, called
through ctypes), so the generated math is checked numerically on machines without a GPU.
"""

from __future__ import annotations

from . import codegen

# The one architecture list: nvcc 13.0 targets sm_75 .. sm_121 (Turing to Blackwell). The
# Dockerfile's CUDA_ARCHS must equal it.
CUDA_ARCHS = ("75", "80", "86", "89", "90", "100", "103", "120", "121")
_C_TYPE = {"int": "long long", "float": "double"}


def function_name(plan) -> str:
    return "gpusched_" + plan.signature.replace("-", "_")[:24]


def wrapper_params(layout) -> list[str]:
    """Arguments of the table wrapper: arrays plus a 'per-config' flag for each."""
    out = ["long long C", "long long S", "const long long* steps"]
    for n in layout.scalars:
        out += [f"const {_C_TYPE[layout.kinds[n]]}* p_{n}", f"long long m_{n}"]
    for n in layout.lists:
        out += [f"const {_C_TYPE[layout.kinds[n]]}* l_{n}", f"const long long* n_{n}",
                f"long long k_{n}", f"long long m_{n}"]
    out += [f"const double* tab{k}" for k in range(len(layout.tables))]
    for k in range(len(layout.cumprods)):
        out += [f"const double* cp{k}", f"long long w{k}", f"long long mc{k}"]
    return out + ["double* out"]


def call_args(layout) -> list[str]:
    """The element function's arguments for config ``c`` at step position ``j``."""
    args = ["steps[j]"]
    args += [f"p_{n}[m_{n} ? c : 0]" for n in layout.scalars]
    for n in layout.lists:
        args += [f"l_{n} + (m_{n} ? c : 0) * k_{n}", f"n_{n}[m_{n} ? c : 0]"]
    args += [f"tab{k}[j]" for k in range(len(layout.tables))]
    args += [f"cp{k} + (mc{k} ? c : 0) * w{k}, w{k}" for k in range(len(layout.cumprods))]
    return args


def translation_unit(plan, layout, include: str = '#include "gpusched.cuh"') -> str:
    fn = function_name(plan)
    params = ",\n    ".join(wrapper_params(layout))
    call = f"{fn}({', '.join(call_args(layout))})"
    return f"""{include}

{codegen.c_function(plan, layout, fn)}
#ifdef __CUDACC__
extern "C" __global__ void {fn}_table(
    {params})
{{
    const long long total = C * S;
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += stride) {{
        const long long c = i / S, j = i % S;
        out[i] = {call};
    }}
}}
#else
extern "C" void {fn}_table(
    {params})
{{
    for (long long i = 0; i < C * S; ++i) {{
        const long long c = i / S, j = i % S;
        out[i] = {call};
    }}
}}
#endif
"""
