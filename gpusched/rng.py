"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11; Random123).

Every random draw is a pure function of (key, counter), so the same (seed, step, stream)
gives the same bits on every backend and in any evaluation order. The arithmetic is
unsigned 64-bit integer only (32x32->64 products, shifts, xors), exact everywhere.

One round maps the counter block ``(c0, c1, c2, c3)`` with key ``(k0, k1)`` to::

    p0 = 0xD2511F53 * c0          p1 = 0xCD9E8D57 * c2          (64-bit products)
    (hi(p1) ^ c1 ^ k0, lo(p1), hi(p0) ^ c3 ^ k1, lo(p0))

and the key is bumped by the Weyl constants ``(0x9E3779B9, 0xBB67AE85)`` between rounds.
The functions accept NumPy ``uint64`` arrays (holding 32-bit words) or Python ints.
"""

from __future__ import annotations

import numpy as np

MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
PHILOX_M0, PHILOX_M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
PHILOX_W0, PHILOX_W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter ``(c0..c3)`` under key ``(k0, k1)``; returns 4 words.

    Arguments are ``np.uint64`` scalars or arrays holding 32-bit words; the same source runs
    under NumPy, ``numba.njit`` and ``numba.cuda.jit(device=True)``.
    """
    for r in range(10):
        if r > 0:
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((p1 >> SHIFT32) ^ c1 ^ k0, p1 & MASK32,
                          (p0 >> SHIFT32) ^ c3 ^ k1, p0 & MASK32)
    return c0, c1, c2, c3


def _words(seed, counter, stream):
    seed = np.asarray(seed, dtype=np.int64).astype(np.uint64)
    counter = np.asarray(counter, dtype=np.int64).astype(np.uint64)
    seed, counter = np.broadcast_arrays(seed, counter)
    zero = np.zeros(seed.shape, dtype=np.uint64)
    return philox4x32(counter & MASK32, counter >> SHIFT32, zero + np.uint64(stream), zero,
                      seed & MASK32, seed >> SHIFT32)


def uniform(seed, counter, stream=0) -> np.ndarray:
    """Float64 in [0, 1): the top 53 bits of ``(w0 << 32) | w1`` times 2**-53."""
    w0, w1, _, _ = _words(seed, counter, stream)
    bits = ((w0 << np.uint64(32)) | w1) >> np.uint64(11)
    return bits.astype(np.float64) * (1.0 / 9007199254740992.0)


def below(n, seed, counter, stream=0) -> np.ndarray:
    """Int64 in [0, n) for 1 <= n < 2**32: ``(w0 * n) >> 32`` (multiply-shift)."""
    w0, _, _, _ = _words(seed, counter, stream)
    n = np.asarray(n, dtype=np.int64).astype(np.uint64)
    return ((w0 * n) >> np.uint64(32)).astype(np.int64)
