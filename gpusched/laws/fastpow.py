"""``x ** y`` in plain arithmetic, so that a Numba loop of them vectorizes (no libm call).

Numba compiles ``x ** y`` to a call of libm's ``pow``: one value at a time, ~30 ns on this
project's CI machines, and the multi-power law needs two per step where the rate changes.
LLVM's loop vectorizer turns a loop of :func:`pow_positive` into SIMD code (4 doubles per
AVX2 instruction) because it is only arithmetic, bit casts and selects.

.. math::
    x^y = e^{y \\log x},\\qquad
    \\log x = k \\ln 2 + \\log m\\ \\ (x = 2^k m,\\ \\sqrt{1/2} \\le m < \\sqrt 2),\\qquad
    e^a = 2^n e^r\\ \\ (n = \\operatorname{round}(a / \\ln 2),\\ |r| \\le \\ln 2 / 2)

with fdlibm's ``__ieee754_log`` and ``__ieee754_exp`` kernels for ``log m`` and ``e^r``
(Remez polynomials, each within 1 ulp). The result is within about ``|y log x| * 2**-52``
relative of the correctly rounded power (the rounding of ``y * log x``): 1e-15 for the laws'
arguments, 6e-14 at worst where ``|y log x|`` nears 708. Outside normal positive finite
``x`` and ``|y log x| < 708`` it returns NaN, and callers use ``**`` for those.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["pow_positive", "log_positive", "exp_moderate", "power_terms"]


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64, as an int64 (an LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _double(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 ``i``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


# fdlibm (e_log.c, e_exp.c): ln 2 split so that k * LN2_HI is exact for |k| < 2**11
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
LG1, LG2, LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
LG4, LG5, LG6 = 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01
P1, P2, P3 = 1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05
P4, P5 = -1.65339022054652515390e-06, 4.13813679705723846039e-08
ROUND = 6755399441055744.0          # 1.5 * 2**52: adding it rounds to an integer in the bits
SMALLEST_NORMAL = 2.2250738585072014e-308
LARGEST = 1.7976931348623157e308
SQRT2 = 1.4142135623730951
TWO52 = 4503599627370496.0
TWO52_BITS = 0x4330000000000000
EXP_LIMIT = 708.0                   # e**a stays normal for |a| < 708

_jit = njit(inline="always", error_model="numpy", nogil=True)


@_jit
def log_positive(x: float) -> float:
    """``log x`` for a positive normal ``x`` (fdlibm's kernel: ``log(1 + f) = f - f**2/2 +
    s (f**2/2 + R(s**2))``, ``s = f / (2 + f)``); meaningless elsewhere."""
    i = _bits(x)
    m = _double((i & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)     # x = 2**e * m, 1 <= m < 2
    big = m > SQRT2
    # the exponent as a float through the bits of 2**52 + e (AVX2 has no int64 -> double)
    k = (_double(TWO52_BITS | (i >> 52)) - (TWO52 + 1023.0)) + (1.0 if big else 0.0)
    f = (m * 0.5 if big else m) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7))) + w * (LG2 + w * (LG4 + w * LG6))
    hfsq = 0.5 * f * f
    return k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)


@_jit
def exp_moderate(a: float) -> float:
    """``e ** a`` for ``|a| < 708`` (fdlibm's kernel: ``e**r = 1 + 2r / (2 - c)``,
    ``c = r - r**2 P(r**2)``); meaningless elsewhere."""
    t = a * INV_LN2 + ROUND
    n = t - ROUND                                   # round(a / ln 2), as a float
    hi = a - n * LN2_HI
    lo = n * LN2_LO
    r = hi - lo
    z = r * r
    c = r - z * (P1 + z * (P2 + z * (P3 + z * (P4 + z * P5))))
    er = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    return er * _double(((_bits(t) - _bits(ROUND)) + 1023) << 52)     # * 2**n


@_jit
def pow_positive(x: float, y: float) -> float:
    """``x ** y`` for a positive normal finite ``x`` with ``|y log x| < 708``; NaN for any
    other argument (the caller computes those with ``**``)."""
    a = y * log_positive(x)
    inside = (x >= SMALLEST_NORMAL) & (x <= LARGEST) & (a > -EXP_LIMIT) & (a < EXP_LIMIT)
    value = exp_moderate(a)
    return value if inside else np.nan


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def power_terms(x: np.ndarray, m: np.ndarray, out: np.ndarray, i0: int, i1: int, a0: float,
                a1: float, p: float, k0: float, k1: float) -> None:
    """``out[i] = m[i] * (k0 + k1 * (a0 + a1 * x[i]) ** p)`` for ``i0 <= i < i1``, NaN where
    :func:`pow_positive` does not apply (the caller redoes those). One vectorized loop for
    both of the multi-power law's powers (one loop: each is linked into every law kernel):
    ``eta ** -gamma * S`` (``a0 = k0 = 0``, ``a1 = k1 = 1``, ``p = -gamma``) and
    ``gap * (1 - (1 + c u) ** -beta)`` (``a0 = k0 = 1``, ``a1 = c``, ``p = -beta``,
    ``k1 = -1``); the zeros and ones are exact, so each is rounded as written out."""
    # on slices, indexed from 0: a signed index of the whole arrays makes Numba wrap negative
    # ones, and LLVM's vector loop then runs ~2x slower, and falls back to scalar code
    # (~8x slower) when ``out`` starts within 64 bytes after ``m`` (as consecutive
    # allocations do)
    xs, ms, outs = x[i0:i1], m[i0:i1], out[i0:i1]
    for i in range(outs.shape[0]):
        outs[i] = ms[i] * (k0 + k1 * pow_positive(a0 + a1 * xs[i], p))
