"""The loss laws' walks over a buffer of rates: compiled once per installation.

The generated law kernel (:mod:`gpusched.laws.kernel`) fills buffers with a schedule's rates
and hands them to these functions; none of them depends on the schedule, so Numba compiles
them once (``cache=True``), not once per schedule. The arithmetic, and the order of every sum,
is :mod:`gpusched.laws.model`'s:

.. math::
    L_{MP}(s) = L_0 + A S_1(s)^{-\\alpha} + B \\sum_{k=1}^{s} (\\eta_k - \\eta_{k-1})
        \\bigl(1 - (1 + C \\eta_k^{-\\gamma} S_k(s))^{-\\beta}\\bigr),\\quad
    S_k(s) = \\sum_{\\tau=k}^{s} \\eta_\\tau

summed from ``k = s`` down (the suffix area grows by one rate per step), and
``L_{AN}(s) = L_0 + A S_1^{-\\alpha} - C S_2``, ``S_2 = \\sum m_k``,
``m_k = \\lambda m_{k-1} + \\eta_{k-1} - \\eta_k``, forwards.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .fastpow import power_terms

_jit = njit(cache=True, error_model="numpy", nogil=True)

# Numba's on-disk cache of these functions tracks only this file, yet holds fastpow's code
# compiled into them: a changed fastpow.py must change this file too, or an old fastpow
# would keep running. This is fastpow.py's sha256 (tests/test_laws.py checks it).
FASTPOW_SHA256 = "2e9191ee889593531d74998fa2e62873e2ecb6a4d80f948f6c553be406b47b45"


@_jit
def gather(rate: np.ndarray, first: int, lo: int, hi: int, suf: float, rk: np.ndarray,
           ak: np.ndarray, gk: np.ndarray, kk: np.ndarray, n: int) -> tuple:
    """Steps ``hi - 1`` down to ``lo`` (``rate[k - first]``): the suffix area grows by each
    rate; the steps where the rate changes (and the area is positive) are appended at ``n``:
    rate, area, gap, step. Returns (n, area, the largest rate, or 0)."""
    top = 0.0
    if hi <= lo:
        return n, suf, top
    # a slice indexed from 0 (the loop's indices are not wrapped: ~1.6x faster), step lo's
    # predecessor read last
    row = rate[lo - first:hi - first]
    for i in range(hi - lo - 1, 0, -1):
        x = float(row[i])
        suf += x
        if x > top:                     # free beside the sum's latency
            top = x
        gap = x - row[i - 1]
        if gap != 0.0 and suf > 0.0:
            n = _append(x, suf, gap, lo + i, rk, ak, gk, kk, n)
    x = float(row[0])
    suf += x
    if x > top:
        top = x
    if lo > 0:
        gap = x - rate[lo - 1 - first]
        if gap != 0.0 and suf > 0.0:
            n = _append(x, suf, gap, lo, rk, ak, gk, kk, n)
    return n, suf, top


@njit(inline="always", error_model="numpy", nogil=True)
def _append(x: float, suf: float, gap: float, k: int, rk: np.ndarray, ak: np.ndarray,
            gk: np.ndarray, kk: np.ndarray, n: int) -> int:
    at = np.uint64(n)       # an unsigned index is not wrapped
    rk[at] = x
    ak[at] = suf
    gk[at] = gap
    kk[at] = k
    return n + 1


@_jit
def weights(rk: np.ndarray, ak: np.ndarray, uk: np.ndarray, i0: int, n: int,
            gamma: float) -> None:
    """``uk[i] = rk[i] ** -gamma * ak[i]`` for gathered steps ``i0 <= i < n`` (fastpow's,
    one it does not cover redone with ``**``)."""
    power_terms(rk, ak, uk, i0, n, 0.0, 1.0, -gamma, 0.0, 1.0)
    for i in range(i0, n):
        if uk[i] != uk[i]:
            uk[i] = rk[i] ** -gamma * ak[i]


@_jit
def shape_walk(rate: np.ndarray, ends: np.ndarray, rk: np.ndarray, ak: np.ndarray,
               gg: np.ndarray, kk: np.ndarray, gbeg: np.ndarray, gend: np.ndarray,
               gsum: np.ndarray) -> tuple:
    """A shared shape's row (``rate[0..]``): per prediction step ``q`` its area ``gsum[q]``
    and, at ``gbeg[q]..gend[q]``, the rate ``rk``, suffix area ``ak``, gap ``gg`` and step
    ``kk`` of each step where it changes (laws/sharing.py). Returns (the number of entries,
    the largest rate); the caller computes their weights (:func:`weights`, into the shape's
    ``gu``)."""
    m = np.int64(0)         # not the literal 0: gather would compile for it too
    most = 0.0
    for q in range(ends.shape[0]):
        gbeg[q] = m
        m, gsum[q], top = gather(rate, np.int64(0), np.int64(0), ends[q] + 1, 0.0, rk, ak, gg,
                                 kk, m)
        most = max(most, top)
        gend[q] = m
    return m, most


@_jit
def scaled_sum(gu: np.ndarray, gg: np.ndarray, tk: np.ndarray, b0: int, b1: int, cs: float,
               beta: float, ld: float, running: np.ndarray) -> float:
    """``ld`` plus the multi-power terms ``gap (1 - (1 + cs u) ** -beta)`` of entries
    ``b0..b1``, in order: a config's own (``cs = C``), or a config ``s * shape`` of a shared
    shape (``cs = C s ** (1 - gamma)``; the caller multiplies the sum by ``s``).
    ``running[i]``: the sum after entry ``i`` (``tk`` itself where nobody reads it)."""
    if cs > 0.0 and b1 > b0:
        power_terms(gu, gg, tk, b0, b1, 1.0, cs, -beta, 1.0, -1.0)
        terms, sums = tk[b0:b1], running[b0:b1]        # indexed from 0: no wraparound
        for i in range(terms.shape[0]):
            term = terms[i]
            if term != term:
                term = _term(gg[b0 + i], gu[b0 + i], cs, beta)
            ld += term
            sums[i] = ld
    return ld


@njit(inline="always", error_model="numpy", nogil=True)
def _term(gap: float, u: float, cs: float, beta: float) -> float:
    """One multi-power term ``gap (1 - (1 + cs u) ** -beta)`` with ``**`` (where the fast
    paths left NaN)."""
    return gap * (1.0 - (1.0 + cs * u) ** -beta)


# the binomial series of a shared shape's terms: where x = 1 / (c u) <= SERIES_X, the terms
# x**0 .. x**11 leave out less than 2 |binom(-beta, 12)| x**12 <= 2 C(15, 3) 64**-12 < 1e-18
# relative for 0 < beta <= SERIES_BETA (the published fits: beta ~ 0.6)
SERIES_X = 1.0 / 64.0
SERIES_TERMS = 12
SERIES_BETA = 4.0


@_jit
def series_tables(gu: np.ndarray, ser: np.ndarray, i0: int, m: int, beta: float) -> None:
    """A shared shape's tables for :func:`shared_sum`: ``ser[0] = 1 / u`` and
    ``ser[1] = u ** -beta`` of entries ``i0..m`` (those before are the previous shape's),
    ``ser[2][j]`` the largest ``1 / u`` of entries ``j..m`` (NaN where one is NaN)."""
    inv, powu = ser[0], ser[1]
    us, invs = gu[i0:m], inv[i0:m]
    for i in range(us.shape[0]):
        invs[i] = 1.0 / us[i]
    power_terms(gu, inv, powu, i0, m, 0.0, 1.0, 1.0 - beta, 0.0, 1.0)   # u**-b = u**(1-b) / u
    for i in range(i0, m):
        if powu[i] != powu[i]:
            powu[i] = gu[i] ** -beta
    top = ser[2]
    most = 0.0
    for j in range(m - 1, -1, -1):
        x = float(inv[j])
        if most == most and not x <= most:      # a larger x, or a NaN (which then stays)
            most = x
        top[j] = most


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def _series_terms(ser: np.ndarray, gg: np.ndarray, tk: np.ndarray, j0: int, j1: int,
                  ic: float, cb: float, coef: np.ndarray) -> None:
    """``tk[i] = gap (1 - c**-beta u**-beta (1 + x) ** -beta)``, ``x = 1 / (c u)``, the last
    factor by its binomial series (coefficients ``coef``), for entries ``j0..j1``."""
    inv, powu, gaps, out = ser[0, j0:j1], ser[1, j0:j1], gg[j0:j1], tk[j0:j1]
    for i in range(out.shape[0]):
        x = ic * inv[i]
        p = coef[SERIES_TERMS - 1]
        for n in range(SERIES_TERMS - 2, -1, -1):
            p = p * x + coef[n]
        out[i] = gaps[i] * (1.0 - cb * powu[i] * p)


@_jit
def shared_sum(gu: np.ndarray, gg: np.ndarray, tk: np.ndarray, b0: int, b1: int, cs: float,
               beta: float, resume: bool, running: np.ndarray, ser: np.ndarray,
               sbeta: float) -> float:
    """The multi-power sum of a config of a shared shape over entries ``b0..b1``
    (:func:`scaled_sum`'s terms), its ``ser`` tables (:func:`series_tables`) made for
    ``beta = sbeta``: ``(1 + c u) ** -beta = (c u) ** -beta (1 + x) ** -beta`` with
    ``x = 1 / (c u)``, the last factor as its binomial series on the entries from the first
    after which every ``x <= SERIES_X`` (no power per term there), :mod:`fastpow`'s before
    it. Summed in four lanes (:func:`_lanes`); ``resume``: the lanes start from the running
    sums ``running`` holds before ``b0`` (the previous shape's config, kernel.py's tails).
    """
    if not (cs > 0.0 and b1 > b0):
        return 0.0
    j = b1                      # entries j.. by the series, those before by fastpow
    if beta == sbeta and 0.0 < beta <= SERIES_BETA:
        ic = 1.0 / cs
        top = ser[2]
        lo, hi = b0, b1
        while lo < hi:          # the first j with every x of entries j.. small enough
            mid = (lo + hi) // 2
            if ic * top[mid] <= SERIES_X:
                hi = mid
            else:
                lo = mid + 1
        j = lo
        if j < b1:
            coef = np.empty(SERIES_TERMS)
            coef[0] = 1.0
            for n in range(1, SERIES_TERMS):
                coef[n] = coef[n - 1] * (-beta - (n - 1)) / n
            _series_terms(ser, gg, tk, j, b1, ic, cs ** -beta, coef)
    if j > b0:
        power_terms(gu, gg, tk, b0, j, 1.0, cs, -beta, 1.0, -1.0)
    return _lanes(gu, gg, tk, b0, b1, cs, beta, resume, running)


@_jit
def _lanes(gu: np.ndarray, gg: np.ndarray, tk: np.ndarray, b0: int, b1: int, cs: float,
           beta: float, resume: bool, running: np.ndarray) -> float:
    """The terms ``tk[b0..b1]`` (NaN ones redone with ``**``) summed in four lanes: entry
    ``i`` in lane ``i % 4``, each lane in order, ``running[i]`` its lane's sum after it, the
    total ``(l0 + l1) + (l2 + l3)``. Four chains of additions instead of one (a chain waits
    for each addition: ~3x faster); a sum resumed at ``b0`` from ``running`` equals the
    whole one, as lanes go by the entry's index."""
    terms = tk[b0:b1]
    for i in range(terms.shape[0]):
        if terms[i] != terms[i]:
            terms[i] = _term(gg[b0 + i], gu[b0 + i], cs, beta)
    lane = np.zeros(4)
    if resume:
        for i in range(max(b0 - 4, 0), b0):
            lane[i & 3] = running[i]
    i = b0
    while i < b1 and (i & 3) != 0:
        lane[i & 3] += tk[i]
        running[i] = lane[i & 3]
        i += 1
    n4 = (b1 - i) // 4
    a0, a1, a2, a3 = lane[0], lane[1], lane[2], lane[3]
    ts, rs = tk[i:i + 4 * n4], running[i:i + 4 * n4]        # from 0: no wraparound
    for q in range(n4):
        o = 4 * q
        a0 += ts[o]
        rs[o] = a0
        a1 += ts[o + 1]
        rs[o + 1] = a1
        a2 += ts[o + 2]
        rs[o + 2] = a2
        a3 += ts[o + 3]
        rs[o + 3] = a3
    lane[0], lane[1], lane[2], lane[3] = a0, a1, a2, a3
    for k in range(i + 4 * n4, b1):
        lane[k & 3] += tk[k]
        running[k] = lane[k & 3]
    return (lane[0] + lane[1]) + (lane[2] + lane[3])


@_jit
def tail_match(rate: np.ndarray, previous: np.ndarray, kk: np.ndarray, m: int,
               top: int) -> int:
    """How many of a shape's first ``m`` entries (gathered from step ``top`` down, at steps
    ``kk``) are the previous shape's: the rows agree from step ``kx + 1`` on, so every entry
    of step ``k >= kx + 2`` (its rate, the rate before, its suffix area) is the same, and the
    same entries come first in both, in the same order."""
    kx = top
    while kx >= 0 and rate[kx] == previous[kx]:
        kx -= 1
    i = 0
    while i < m and kk[i] >= kx + 2:
        i += 1
    return i


@_jit
def annealing_walk(rate: np.ndarray, lo: int, hi: int, lam: float, ends: np.ndarray,
                   state: np.ndarray, s1_at: np.ndarray, s2_at: np.ndarray) -> None:
    """Steps ``lo..hi`` (``rate[j - lo]``) forwards; ``state`` = (S1, m, S2, previous rate,
    next prediction index) carried between blocks; S1 and S2 recorded at each prediction
    step (ascending)."""
    s1, m, s2, prv = state[0], state[1], state[2], state[3]
    q = int(state[4])
    for jj in range(lo, hi):
        x = rate[jj - lo]
        if jj > 0:
            m = lam * m + (prv - x)
            s2 += m
        s1 += x
        prv = x
        while q < ends.shape[0] and ends[q] == jj:
            s1_at[q] = s1
            s2_at[q] = s2
            q += 1
    state[0], state[1], state[2], state[3], state[4] = s1, m, s2, prv, q


@_jit
def tail_lead(rate: np.ndarray, previous: np.ndarray, kk: np.ndarray, m: int, top: int,
              same: bool, tscale: np.ndarray, kept: int) -> int:
    """A shape's start (kernel.py's tails): its entries shared with the previous shape
    (:func:`tail_match`, when ``same``: a previous shape with the same gamma); its row
    becomes the previous one; running sums at positions ``kept..`` (the previous shape had
    no config there) are forgotten."""
    i0 = tail_match(rate, previous, kk, m, top) if same else 0
    for k in range(top + 1):
        previous[k] = rate[k]
    for j in range(kept, tscale.shape[0]):
        tscale[j] = np.nan
    return i0


@_jit
def tail_sum(gu: np.ndarray, gg: np.ndarray, tk: np.ndarray, i0: int, m: int, s: float,
             cs: float, C: float, beta: float, j: int, tsum: np.ndarray, tscale: np.ndarray,
             tC: np.ndarray, tbeta: np.ndarray, ser: np.ndarray, sbeta: float) -> float:
    """A config's multi-power sum over a shape's ``m`` entries, at position ``j`` in it: the
    first ``i0`` entries are the previous shape's, so when the config at ``j`` there had the
    same scale ``s``, C and beta its running sums before ``i0`` are this one's; the running
    sums and those three are kept for the next shape (C = 0 sums nothing: not kept); the
    lanes of :func:`shared_sum` resume from its running sums before ``i0``."""
    row = tsum[j]
    # one call with a variable: literal True and False would each compile shared_sum again
    resume = i0 > 0 and tscale[j] == s and tC[j] == C and tbeta[j] == beta
    ld = shared_sum(gu, gg, tk, i0 if resume else np.int64(0), m, cs, beta, resume, row, ser,
                    sbeta)
    tscale[j] = s if C > 0.0 else np.nan
    tC[j] = C
    tbeta[j] = beta
    return ld
