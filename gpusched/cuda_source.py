"""CUDA C translation units for a plan: the element function plus a table wrapper.

The same text compiles with nvcc (a grid-stride ``__global__`` kernel, for every architecture in
:data:`CUDA_ARCHS`) and with g++ as host C++ (a plain loop behind ``extern "C"``, called
through ctypes), so the generated math is checked numerically on machines without a GPU.
"""

from __future__ import annotations

from . import codegen
from .keys import digest

# The one architecture list: nvcc 13.0 targets sm_75 .. sm_121 (Turing to Blackwell). The
# Dockerfile's CUDA_ARCHS must equal it.
CUDA_ARCHS = ("75", "80", "86", "89", "90", "100", "103", "120", "121")


def function_name(plan) -> str:
    """The kernel's C name: the full hash of the plan's signature (graph and parameter kinds)."""
    return "gpusched_" + digest(plan.signature)


_WRAPPER_PARAMS = {   # arrays, with a per-config flag m_ (else one shared row)
    "scalar": lambda e: [f"const {e.ctype}* p_{e.key}", f"long long m_{e.key}"],
    "list": lambda e: [f"const {e.ctype}* l_{e.key}", f"const long long* n_{e.key}",
                       f"long long k_{e.key}", f"long long m_{e.key}"],
    "table": lambda e: [f"const double* tab{e.key}"],
    "cumprod": lambda e: [f"const double* cp{e.key}", f"long long w{e.key}",
                          f"long long mc{e.key}"],
}
_CALL_ARGS = {       # the element function's arguments for config c at step position j
    "scalar": lambda e: [f"p_{e.key}[m_{e.key} ? c : 0]"],
    "list": lambda e: [f"l_{e.key} + (m_{e.key} ? c : 0) * k_{e.key}",
                       f"n_{e.key}[m_{e.key} ? c : 0]"],
    "table": lambda e: [f"tab{e.key}[j]"],
    "cumprod": lambda e: [f"cp{e.key} + (mc{e.key} ? c : 0) * w{e.key}", f"w{e.key}"],
}


def wrapper_params(layout) -> list[str]:
    """Arguments of the table wrapper."""
    return ["long long C", "long long S", "const long long* steps",
            *layout.format(_WRAPPER_PARAMS), "double* out"]


def call_args(layout) -> list[str]:
    return ["steps[j]", *layout.format(_CALL_ARGS)]


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
