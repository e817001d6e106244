"""gpusched: evaluate training-hyperparameter schedules for a whole sweep at once.

>>> import numpy as np, gpusched as gs
>>> s = gs.compat.torch.CosineAnnealingLR(T_max=1000, eta_min=0.0)
>>> g = gs.grid(base_lr=np.geomspace(1e-4, 1e-1, 64), T_max=[500, 1000])
>>> gs.evaluate(s, g, steps=1000).shape
(128, 1000)
"""

from .api import evaluate, reduce
from .expr import (ceil, clip, count_cumsum_le, count_le, count_lt, cumprod, e, floor, length,
                   logical_and, logical_not, logical_or, maximum, minimum, pi, prod_first,
                   random_below, random_uniform, sum_first, take, to_float, to_int, where,
                   TracerBoolError, TracerConversionError)
from .expr import FUNCTIONS as _FUNCTIONS
from .grid import Grid, grid, trials
from .interop import to_jax, to_numpy, to_torch
from .timing import CallTiming, last_call
from .labels import to_pandas, to_xarray
from . import api, backends, expr
from .params import Check, Param
from .schedule import Schedule, schedule
from . import blocks
from .blocks import *  # noqa: F403  (the core vocabulary: gs.cosine, gs.join ...)
from . import compat, metric
from . import laws
from .laws import predict_loss

globals().update(_FUNCTIONS)      # gs.cos, gs.exp, gs.atan, gs.sign ... (gpusched/ops.py)

__version__ = "0.1.0"


def __getattr__(name):
    import importlib
    if name == "dask":      # gs.dask.evaluate / gs.dask.reduce; Dask is an optional extra
        return importlib.import_module("gpusched.dask")
    if name == "to_jax_fn":   # JAX is an optional extra
        return importlib.import_module("gpusched.integrations.jax").to_jax_fn
    if name == "to_torch_scheduler":   # torch is an optional extra
        return importlib.import_module("gpusched.integrations.torch").to_torch_scheduler
    if name == "plot":      # matplotlib is an optional extra, imported when a plot is drawn
        return importlib.import_module("gpusched.plotting").plot
    if name in ("spec", "integrations", "outputs", "catalog"):
        return importlib.import_module(f"gpusched.{name}")
    raise AttributeError(f"module 'gpusched' has no attribute {name!r}")

__all__ = [
    "evaluate", "reduce", "predict_loss", "laws", "last_call", "CallTiming", "to_pandas",
    "to_xarray", "schedule",
    "Schedule", "grid", "trials", "Grid", "Param", "Check",
    "compat", "metric",
    "plot", "spec",       # noqa: F405  (lazy: module __getattr__ above)
    *_FUNCTIONS, "floor", "ceil", "where",
    "minimum", "maximum", "clip", "to_float", "to_int", "logical_and", "logical_or",
    "logical_not", "count_lt", "count_le", "count_cumsum_le", "take", "length", "prod_first",
    "sum_first", "cumprod", "random_uniform", "random_below", "pi", "e", "to_numpy", "to_torch",
    "to_jax", "TracerBoolError", "TracerConversionError", "__version__", "api", "backends", "expr",
]
__all__ += blocks.__all__
