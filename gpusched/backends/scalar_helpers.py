"""Scalar helpers that generated Numba kernels call (CPU ``njit`` and CUDA device functions).

Plain Python on purpose: the generated modules compile these same functions for their target,
and the CUDA C twins live in ``kernels/gpusched.cuh``. Each reproduces NumPy's semantics
(``np.minimum`` propagates NaN) so every backend gives the NumPy backend's numbers; float
``//`` and ``%`` need no helper, as Numba follows Python's semantics for them.
"""

import functools
import hashlib
import math
import threading
from pathlib import Path

import numpy as np

from ..rng import MASK32, SHIFT32, philox4x32

_EXACT = 4503599627370496.0  # 2**52: every float at least this large is an integer


def vmin(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


def vmax(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


def ffloor(x):
    if -_EXACT < x < _EXACT:
        return float(math.floor(x))
    return x


def fceil(x):
    if -_EXACT < x < _EXACT:
        return float(math.ceil(x))
    return x


def count_lt(values, row, n, x):
    k = 0
    for i in range(n):
        if values[row, i] < x:
            k += 1
    return k


def count_le(values, row, n, x):
    k = 0
    for i in range(n):
        if values[row, i] <= x:
            k += 1
    return k


def count_cumsum_le(values, row, n, x):
    k = 0
    if n <= 0:
        return k
    s = values[row, 0]
    if s <= x:
        k += 1
    for i in range(1, n):
        s += values[row, i]
        if s <= x:
            k += 1
    return k


def take(values, row, n, i):
    if i > n - 1:
        i = n - 1
    if i < 0:
        i = 0
    return values[row, i]


def prod_first(values, row, n, k):
    p = 1.0
    for i in range(min(k, n)):
        p *= values[row, i]
    return p


def sum_first(values, row, n, k):
    m = min(k, n)
    if m <= 0:
        return 0
    s = values[row, 0]
    for i in range(1, m):
        s += values[row, i]
    return s


def philox_w01(seed, counter, stream):
    """The first two Philox4x32-10 words for key ``seed`` and counter ``(counter, stream, 0)``."""
    s = np.uint64(seed)
    k = np.uint64(counter)
    w0, w1, w2, w3 = philox4x32(k & MASK32, k >> SHIFT32, np.uint64(stream), np.uint64(0),
                                s & MASK32, s >> SHIFT32)
    return w0, w1


def random_uniform(seed, counter, stream):
    w0, w1 = philox_w01(seed, counter, stream)
    bits = ((w0 << SHIFT32) | w1) >> np.uint64(11)
    return float(bits) * (1.0 / 9007199254740992.0)


def random_below(n, seed, counter, stream):
    w0, w1 = philox_w01(seed, counter, stream)
    return np.int64((w0 * np.uint64(n)) >> SHIFT32)


# Helpers in dependency order: a helper's globals are rebound to the compiled versions of
# those before it, so the same source compiles for Numba's CPU and CUDA targets.
ORDER = ("philox4x32", "vmin", "vmax", "ffloor", "fceil", "count_lt", "count_le", "count_cumsum_le",
         "take", "prod_first", "sum_first",
         "philox_w01", "random_uniform", "random_below")
_compiled: dict = {}
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 of the code generated kernels call (this module and rng.py). It is written in
    every generated module's text: Numba's on-disk cache tracks only the module's own file,
    so a kernel must not outlive helpers that an upgrade changed."""
    from .. import rng
    h = hashlib.sha256()
    for f in (__file__, rng.__file__):
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def compile_helpers(jit, target: str):
    """The helpers compiled with ``jit`` (``numba.njit`` or ``cuda.jit(device=True)``)."""
    with _lock:
        if target not in _compiled:
            _compiled[target] = _compile(jit)
        return _compiled[target]


def _compile(jit):
    import types

    namespace = dict(globals())
    from .. import rng
    namespace.update({k: getattr(rng, k) for k in dir(rng) if k.isupper()})
    for name in ORDER:
        fn = namespace[name]
        rebound = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__,
                                     fn.__closure__)
        namespace[name] = jit(rebound)
    return types.SimpleNamespace(**{n: namespace[n] for n in ORDER})
