"""The two loss laws: constants, validation, and their math over blocks of learning rates.

Steps are 0-based: ``eta[0]`` is the schedule's value at step 0, and a prediction at step ``s``
uses ``eta[0..s]``. Both laws are written here once, as a pass over consecutive blocks of steps
that carries a few numbers per config from one block to the next, so a schedule of any length
is never held whole (``predict_loss`` feeds it blocks its backend evaluates). The Numba kernel
(:mod:`gpusched.laws.kernel`) is the same arithmetic as a loop; tests hold the two to a
transcription of each paper's formula.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, cast

import numpy as np


def _check_constant(law: str, name: str, value, rule: str):
    if isinstance(value, str):
        return value                      # a grid column, checked when bound
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{law}: {name} = {value!r}: must be a number, or the name of a grid "
                        f"column to sweep it")
    value = float(value)
    if not _RULES[rule][0](value):
        raise ValueError(f"{law}: {name} = {value!r}: must be {_RULES[rule][1]}")
    return value


_RULES = {
    "finite": (math.isfinite, "a finite number"),
    ">=0": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
    "(0,1)": (lambda v: 0 < v < 1, "in (0, 1)"),
}


class Law:
    """What both laws share: named constants (numbers, or names of grid columns)."""

    RULES: ClassVar[dict] = {}
    CODE: ClassVar[int] = -1        # the Numba kernel's law number
    PASSES: ClassVar[int] = 2       # passes over the learning rates

    def __post_init__(self):
        for f in dataclasses.fields(cast(Any, self)):     # each law is a dataclass
            object.__setattr__(self, f.name, _check_constant(
                type(self).__name__, f.name, getattr(self, f.name), self.RULES[f.name]))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cast(Any, self)))

    # each law's math, as passes over consecutive blocks of rates (see MultiPower, Annealing)
    def start(self, const, n: int, ends, xp) -> dict:
        """The state carried over the blocks for ``n`` configs (``xp``: numpy or cupy)."""
        raise NotImplementedError

    def first_pass(self, st: dict, block, s0: int) -> None:
        raise NotImplementedError

    def begin_second_pass(self, st: dict) -> None:
        raise NotImplementedError

    def second_pass(self, st: dict, block, s0: int) -> None:
        raise NotImplementedError

    def finish(self, st: dict, config0: int = 0, describe=None) -> np.ndarray:
        raise NotImplementedError

    def constants(self) -> dict:
        return {k: getattr(self, k) for k in self.names}

    def columns(self) -> dict:
        """constant -> grid column, for the constants given as column names."""
        return {k: v for k, v in self.constants().items() if isinstance(v, str)}

    def bind(self, columns: dict, n: int) -> np.ndarray:
        """The constants for ``n`` configs: float64 ``(len(names), n or 1)``; a constant
        named by a grid column is read from ``columns`` and checked config by config."""
        width = n if self.columns() else 1
        out: np.ndarray = np.empty((len(self.names), width), dtype=np.float64)
        for i, (k, v) in enumerate(self.constants().items()):
            if isinstance(v, str):
                try:
                    col = np.asarray(columns[v], dtype=np.float64)
                except (TypeError, ValueError):
                    raise TypeError(f"{type(self).__name__}: {k} reads grid column {v!r}, "
                                    f"which does not hold numbers") from None
                ok = np.array([_RULES[self.RULES[k]][0](float(x)) for x in col])
                if not ok.all():
                    j = int(np.argmin(ok))
                    raise ValueError(f"{type(self).__name__}: {k} = {float(col[j])!r} (grid column "
                                     f"{v!r}) at config {j}: must be {_RULES[self.RULES[k]][1]}")
                out[i] = col
            else:
                out[i] = v
        return out

    def with_constants(self, values) -> "Law":
        return type(self)(**dict(zip(self.names, map(float, values))))

    def predict(self, lrs, at=None) -> np.ndarray:
        """The law over explicit learning rates: ``lrs`` 1-D (one run) or 2-D (one row per
        run), ``at`` the steps to predict (default: the last); float64, shape
        ``(runs, len(at))`` (``(len(at),)`` for 1-D ``lrs``; a scalar without ``at``)."""
        rates = np.asarray(lrs, dtype=np.float64)
        one = rates.ndim == 1
        rates = np.atleast_2d(rates)
        if rates.ndim != 2 or rates.shape[1] == 0:
            raise ValueError(f"lrs must be a non-empty 1-D or 2-D array, got shape "
                             f"{np.shape(lrs)}")
        ends = check_at(at, rates.shape[1])
        const = self.bind({}, rates.shape[0])
        state = self.start(const, rates.shape[0], ends, np)
        for s0 in range(0, rates.shape[1], BLOCK):
            block = rates[:, s0:s0 + BLOCK]
            check_rates(block, s0)
            self.first_pass(state, block, s0)
        if self.PASSES == 2:
            self.begin_second_pass(state)
            for s0 in range(0, rates.shape[1], BLOCK):
                self.second_pass(state, rates[:, s0:s0 + BLOCK], s0)
        out = self.finish(state)
        if at is None:
            out = out[:, 0]
        return out[0] if one else out


BLOCK = 4096        # steps per block of the array pass


def check_at(at, n_steps: int) -> np.ndarray:
    """The prediction steps as int64, each in ``0..n_steps - 1`` (default: the last step)."""
    if at is None:
        return np.array([n_steps - 1], dtype=np.int64)
    arr = np.asarray(at)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim != 1 or arr.size == 0 or arr.dtype == bool or arr.dtype.kind not in "iu":
        raise ValueError(f"at = {at!r}: must be a non-empty 1-D list of integer steps")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= n_steps))
    if bad.size:
        raise ValueError(f"at[{int(bad[0])}] = {int(arr[bad[0]])}: must be a step in "
                         f"0..{n_steps - 1} (steps = {n_steps})")
    return arr


class LawError(ValueError):
    pass


def check_rates(block, s0: int, config0: int = 0, describe=None) -> None:
    """Both laws need finite learning rates >= 0 (``x ** -alpha`` of a negative area is
    undefined): a ``LawError`` names the first bad config and step."""
    xp = array_module(block)
    bad = ~(block >= 0) | ~xp.isfinite(block)
    if bool(bad.any()):
        i, j = np.unravel_index(int(xp.argmax(bad)), bad.shape)
        where = f"config {config0 + i}" + (f" ({describe(i)})" if describe else "")
        raise LawError(f"the schedule gives {float(block[i, j])!r} at {where}, step {s0 + j}: "
                       f"the loss laws need finite learning rates >= 0")


def array_module(a):
    """NumPy for NumPy arrays, else CuPy's module for ``a`` (imported only then)."""
    if isinstance(a, np.ndarray):
        return np
    import cupy
    return cupy.get_array_module(a)


def _zero_area(area, ends, config0=0, describe=None):
    xp = array_module(area)
    bad = ~(area > 0)
    if bool(bad.any()):
        i, q = np.unravel_index(int(xp.argmax(bad)), bad.shape)
        where = f"config {config0 + i}" + (f" ({describe(i)})" if describe else "")
        raise LawError(f"the learning rates of {where} sum to 0 up to step {int(ends[q])}: "
                       f"the laws' A * S1 ** -alpha is infinite there; predict at later "
                       f"steps (at=...)")


@dataclasses.dataclass(frozen=True)
class MultiPower(Law):
    r"""The multi-power law (Luo et al., ICLR 2025), as its reference code evaluates it:

    .. math::
        L(s) = L_0 + A\,S_1(s)^{-\alpha}
               + B \sum_{k=1}^{s} (\eta_k - \eta_{k-1})
                 \left(1 - \left(1 + C\,\eta_k^{-\gamma} \textstyle\sum_{\tau=k}^{s}
                 \eta_\tau\right)^{-\beta}\right),
        \qquad S_1(s) = \sum_{\tau=0}^{s} \eta_\tau

    (``eta_k - eta_{k-1}`` < 0 while the rate decays: the sum lowers the loss). A step whose
    suffix area is 0 adds nothing (the limit of the term as that area goes to 0).

    Cost per config: the final loss is O(T) (one pass, suffix sums); a loss at N steps is
    O(T + N * K), K the number of steps where the rate changes: the bracket is not additive
    in the suffix area, so each prediction step sums its own terms.
    """

    L0: float | str
    A: float | str
    alpha: float | str
    B: float | str
    C: float | str
    beta: float | str
    gamma: float | str

    RULES: ClassVar[dict] = {"L0": "finite", "A": ">=0", "alpha": ">=0", "B": ">=0",
                             "C": ">=0", "beta": ">=0", "gamma": ">=0"}
    CODE: ClassVar[int] = 0

    # the pass: first the running area at each prediction step, then the terms
    def start(self, const, n, ends, xp):
        return {"const": xp.asarray(const), "ends": ends, "n": n, "xp": xp,
                "area": xp.zeros(n), "prev": None, "at": xp.zeros((n, ends.size))}

    def first_pass(self, st, block, s0):
        xp = st["xp"]
        # the inclusive running sums of this block, as the second pass computes them
        inc = st["area"][:, None] + xp.cumsum(block, axis=1)
        for q, e in enumerate(st["ends"]):
            if s0 <= e < s0 + block.shape[1]:
                st["at"][:, q] = inc[:, e - s0]
        st["area"] = inc[:, -1]

    def begin_second_pass(self, st):
        xp = st["xp"]
        st["total"], st["area"] = st["area"], xp.zeros(st["n"])
        st["ld"] = xp.zeros((st["n"], st["ends"].size))

    def second_pass(self, st, block, s0):
        xp, C, beta, gamma = st["xp"], st["const"][4], st["const"][5], st["const"][6]
        inc = st["area"][:, None] + xp.cumsum(block, axis=1)
        before = xp.concatenate([st["area"][:, None], inc[:, :-1]], axis=1)  # P_{k-1}
        prev = xp.concatenate([(block[:, :1] if st["prev"] is None else st["prev"]),
                               block[:, :-1]], axis=1)
        gap = block - prev                   # 0 at step 0 (no term there)
        k = s0 + xp.arange(block.shape[1])
        with np.errstate(all="ignore"):
            scale = C[:, None] * xp.power(block, -gamma[:, None])   # C * eta_k ** -gamma
            for q, e in enumerate(st["ends"]):
                if e < s0:
                    continue
                suffix = st["at"][:, q:q + 1] - before          # sum_{tau=k..e} eta_tau
                live = (k[None, :] <= e) & (gap != 0) & (suffix > 0) & (C[:, None] > 0)
                g = 1.0 - xp.power(1.0 + scale * suffix, -beta[:, None])
                st["ld"][:, q] += xp.where(live, gap * g, 0.0).sum(axis=1)
        st["area"], st["prev"] = inc[:, -1], block[:, -1:]

    def finish(self, st, config0=0, describe=None):
        L0, A, alpha, B, C, beta, gamma = st["const"]
        _zero_area(st["at"], st["ends"], config0, describe)
        return L0[:, None] + A[:, None] * st["at"] ** -alpha[:, None] + B[:, None] * st["ld"]


@dataclasses.dataclass(frozen=True)
class Annealing(Law):
    r"""The learning-rate annealing law (Tissue et al., arXiv 2408.11029):

    .. math::
        L(s) = L_0 + A\,S_1(s)^{-\alpha} - C\,S_2(s),\quad
        S_1(s) = \sum_{\tau=0}^{s} \eta_\tau,\quad
        S_2(s) = \sum_{k=1}^{s} m_k,\quad
        m_k = \lambda\,m_{k-1} + (\eta_{k-1} - \eta_k),\ m_0 = 0

    with ``lambda = decay``, 0-based steps as for :class:`MultiPower` (the warmup is part of
    the forward area). Both areas are running sums: a loss at N steps costs O(T + N) per
    config, however many N.
    """

    L0: float | str
    A: float | str
    alpha: float | str
    C: float | str
    decay: float | str = 0.999

    RULES: ClassVar[dict] = {"L0": "finite", "A": ">=0", "alpha": ">=0", "C": ">=0",
                             "decay": "(0,1)"}
    CODE: ClassVar[int] = 1
    PASSES: ClassVar[int] = 1

    def start(self, const, n, ends, xp):
        return {"const": xp.asarray(const), "ends": ends, "n": n, "xp": xp,
                "area": xp.zeros(n), "m": xp.zeros(n), "s2": xp.zeros(n), "prev": None,
                "a1": xp.zeros((n, ends.size)), "a2": xp.zeros((n, ends.size))}

    def first_pass(self, st, block, s0):
        xp = st["xp"]
        lam = st["const"][4][:, None]
        prev = xp.concatenate([(block[:, :1] if st["prev"] is None else st["prev"]),
                               block[:, :-1]], axis=1)
        drop = prev - block                  # eta_{k-1} - eta_k (0 at step 0)
        # m over the block: m_{s0+i} = lam^(i+1) m_{s0-1} + sum_{j<=i} lam^(i-j) drop_j, in
        # pieces short enough that lam ** -i stays far from overflow
        width = max(1, min(block.shape[1], int(18.0 / max(1e-300, -math.log(
            float(lam.min()))))))
        m_all, s2_all = [], []
        m, s2 = st["m"], st["s2"]
        for a in range(0, block.shape[1], width):
            d = drop[:, a:a + width]
            i = xp.arange(d.shape[1], dtype=np.float64)
            up = lam ** i                                    # lam^i
            ms = up * (lam * m[:, None] + xp.cumsum(d / up, axis=1))
            s2s = s2[:, None] + xp.cumsum(ms, axis=1)
            m, s2 = ms[:, -1], s2s[:, -1]
            m_all.append(ms)
            s2_all.append(s2s)
        s2_block = xp.concatenate(s2_all, axis=1)
        inc = st["area"][:, None] + xp.cumsum(block, axis=1)
        for q, e in enumerate(st["ends"]):
            if s0 <= e < s0 + block.shape[1]:
                st["a1"][:, q] = inc[:, e - s0]
                st["a2"][:, q] = s2_block[:, e - s0]
        st["area"], st["m"], st["s2"], st["prev"] = inc[:, -1], m, s2, block[:, -1:]

    def finish(self, st, config0=0, describe=None):
        L0, A, alpha, C, _ = st["const"]
        _zero_area(st["a1"], st["ends"], config0, describe)
        return L0[:, None] + A[:, None] * st["a1"] ** -alpha[:, None] - C[:, None] * st["a2"]


LAWS = {"multipower": MultiPower, "annealing": Annealing}
