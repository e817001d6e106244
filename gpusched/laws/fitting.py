"""Fitting a loss law to observed loss curves, and scoring it (the reference procedure).

The objective is the multi-power law paper's: the sum over every observed point of every
training curve of Huber_delta(log L_obs - log L_pred), delta = 0.001, in float64. It is
minimized with SciPy's L-BFGS-B and exact gradients, from several starting points: first a
cheap stand-in of the law (the loss drop taken as ``B * (max lr - lr)``, as the reference
initializes) from a grid of starts, then the full law from the best of those.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np

from .model import Annealing, Law, MultiPower

HUBER_DELTA = 1e-3


@dataclasses.dataclass
class Run:
    """One training run: the learning rate at every step ``0..T-1`` (``lrs``), and the loss
    observed after some of those steps (``steps``, ``loss``)."""

    lrs: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    name: str = ""


@dataclasses.dataclass
class Curve:
    """A ``step,lr,loss`` file as read: the rate only at the observed steps."""

    name: str
    steps: np.ndarray
    lr: np.ndarray
    loss: np.ndarray

    def run(self, lrs) -> Run:
        """This curve with the schedule's rate at every step, checked against the file's."""
        lrs = np.asarray(lrs, dtype=np.float64)
        if lrs.ndim != 1 or lrs.size <= int(self.steps.max()):
            raise ValueError(f"curve {self.name!r}: lrs needs a rate for every step up to "
                             f"{int(self.steps.max())}, got shape {lrs.shape}")
        off = np.flatnonzero(~np.isclose(lrs[self.steps], self.lr, rtol=1e-6, atol=0))
        if off.size:
            i = int(off[0])
            raise ValueError(f"curve {self.name!r}: the rates given differ from the file's at "
                             f"step {int(self.steps[i])} ({lrs[self.steps[i]]!r} vs "
                             f"{self.lr[i]!r})")
        return Run(lrs, self.steps, self.loss, self.name)


def read_curves(folder) -> dict[str, Curve]:
    """Every ``*.csv`` of ``folder`` with columns ``step,lr,loss`` (the layout of the
    multi-power law's data), by file name without ``.csv``, in name order."""
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise ValueError(f"no .csv files in {os.fspath(folder)!r}")
    return {path.stem: read_curves_file(path) for path in files}


def read_curves_file(path) -> Curve:
    """One ``step,lr,loss`` CSV file."""
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [c.strip() for c in rows[0]] != ["step", "lr", "loss"]:
        raise ValueError(f"{os.fspath(path)!r}: the first line must be 'step,lr,loss'")
    try:
        data = np.array(rows[1:], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{os.fspath(path)!r}: {err}") from None
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] != 3:
        raise ValueError(f"{os.fspath(path)!r}: no rows of three numbers")
    steps = data[:, 0].astype(np.int64)
    if (steps != data[:, 0]).any() or (steps < 0).any() or (np.diff(steps) <= 0).any():
        raise ValueError(f"{os.fspath(path)!r}: steps must be increasing integers >= 0")
    return Curve(path.stem, steps, data[:, 1], data[:, 2])


def run_of(obj, name: str = "") -> Run:
    """A :class:`Run` from a Run, or ``(lrs, steps, loss)`` where ``lrs`` is a 1-D array of
    every step's rate or ``(schedule, values, n_steps)`` (evaluated by gpusched)."""
    if isinstance(obj, Run):
        return obj
    try:
        lrs, steps, loss = obj
    except (TypeError, ValueError):
        raise TypeError(f"run {name!r}: expected (lrs, steps, loss), got "
                        f"{type(obj).__name__}") from None
    if isinstance(lrs, tuple):
        from ..api import evaluate
        from ..grid import trials
        sched, values, n_steps = lrs
        g = trials(**{k: [v] for k, v in dict(values).items()}) if values else None
        lrs = evaluate(sched, g, steps=n_steps, dtype="float64")
        lrs = lrs[0] if g is not None else lrs
    lrs = np.asarray(lrs, dtype=np.float64)
    steps = np.asarray(steps)
    loss = np.asarray(loss, dtype=np.float64)
    if lrs.ndim != 1 or steps.ndim != 1 or steps.shape != loss.shape or steps.size == 0:
        raise ValueError(f"run {name!r}: lrs must be 1-D and steps, loss 1-D of one length")
    if steps.dtype.kind not in "iu" or steps.min() < 0 or steps.max() >= lrs.size:
        raise ValueError(f"run {name!r}: steps must be integers in 0..{lrs.size - 1}")
    if not (np.isfinite(loss).all() and (loss > 0).all()):
        raise ValueError(f"run {name!r}: losses must be finite and > 0")
    return Run(lrs, steps.astype(np.int64), loss, name)


def _runs(runs, train=None) -> list[Run]:
    if isinstance(runs, dict):
        named = {k: run_of(v, k) for k, v in runs.items()}
        if train is not None:
            unknown = [k for k in train if k not in named]
            if unknown:
                raise ValueError(f"train names {unknown[0]!r}, not one of the runs "
                                 f"({', '.join(named)})")
            return [named[k] for k in train]
        return list(named.values())
    items = [run_of(r, str(i)) for i, r in enumerate(runs)]
    items = [r if r.name else dataclasses.replace(r, name=str(i)) for i, r in enumerate(items)]
    return [items[i] for i in train] if train is not None else items


def metrics(law: Law, runs) -> dict:
    """Per run (by name) and ``"mean"`` (of the per-run values): R2 = 1 - SS_res / SS_tot,
    MAE, RMSE, PredE = mean |L - pred| / L and WorstE = max |L - pred| / L, as the
    multi-power law's reference defines them."""
    out = {}
    for r in _runs(runs):
        pred = law.predict(r.lrs, at=r.steps)
        err = np.asarray(r.loss - pred, dtype=np.float64)
        residual = float(np.sum(err * err))
        total = float(np.sum((r.loss - r.loss.mean()) ** 2))
        out[r.name] = {
            "R2": 1 - residual / total,
            "MAE": float(np.mean(np.abs(err))),
            "RMSE": float(np.sqrt(np.mean(err ** 2))),
            "PredE": float(np.mean(np.abs(err) / r.loss)),
            "WorstE": float(np.max(np.abs(err) / r.loss)),
        }
    keys = ("R2", "MAE", "RMSE", "PredE", "WorstE")
    out["mean"] = {k: float(np.mean([m[k] for m in out.values()])) for k in keys}
    return out


def _huber(r):
    a = np.abs(r)
    small = a <= HUBER_DELTA
    value = np.where(small, 0.5 * r * r, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
    slope = np.where(small, r, HUBER_DELTA * np.sign(r))
    return value.sum(), slope


class _MultiPowerTerms:
    """What a run's predictions need, computed once: the area S1 at each observed step and,
    for the steps k where the rate changes, the change, ln(eta_k) and the suffix areas
    ``sum_{tau=k..s} eta_tau`` (zero past s), in blocks of k."""

    def __init__(self, run: Run, width: int = 1024):
        eta = run.lrs[: int(run.steps.max()) + 1]
        area = np.cumsum(eta)
        self.s1 = area[run.steps]
        k: np.ndarray = np.flatnonzero(np.diff(eta)) + 1
        if (eta[k] == 0).any():     # ln(0) below
            raise ValueError(f"run {run.name!r}: the rate drops to 0 before the last step; "
                             f"fit on runs whose rates stay > 0 after step 0")
        gap = eta[k] - eta[k - 1]
        self.blocks = []
        for a in range(0, k.size, width):
            kk = k[a:a + width]
            q0 = int(np.searchsorted(run.steps, kk[0]))      # rows that see this block
            suffix = self.s1[q0:, None] - area[kk - 1][None, :]
            live = kk[None, :] <= run.steps[q0:, None]
            self.blocks.append((q0, gap[a:a + width], np.log(eta[kk]),
                                np.where(live, suffix, 0.0)))

    def predict(self, p, grad: bool):
        L0, A, alpha, B, C, beta, gamma = p
        ld = np.zeros_like(self.s1)
        d = np.zeros((3, self.s1.size))       # d LD / d (C, beta, gamma)
        for q0, gap, log_eta, suffix in self.blocks:
            u = np.exp(-gamma * log_eta)[None, :] * suffix        # eta^-gamma * S
            x = C * u
            t = np.log1p(x)
            q = np.exp(-beta * t)                                  # (1 + x)^-beta
            ld[q0:] += (1.0 - q) @ gap
            if grad:
                w = beta * q / (1.0 + x)                           # dG/dx
                d[0, q0:] += (w * u) @ gap
                d[1, q0:] += (q * t) @ gap
                d[2, q0:] += (w * x) @ (gap * -log_eta)
        powa = self.s1 ** -alpha
        pred = L0 + A * powa + B * ld
        if not grad:
            return pred, None
        jac = np.stack([np.ones_like(pred), powa, -A * powa * np.log(self.s1), ld,
                        B * d[0], B * d[1], B * d[2]])
        return pred, jac


class _AnnealingTerms:
    def __init__(self, run: Run, decay: float):
        eta = run.lrs[: int(run.steps.max()) + 1]
        self.s1 = np.cumsum(eta)[run.steps]
        m, s2, prev = 0.0, np.empty(eta.size), eta[0]
        total = 0.0
        for i, x in enumerate(eta):            # once per run: a plain loop is fine
            if i:
                m = decay * m + (prev - x)
                total += m
            s2[i], prev = total, x
        self.s2 = s2[run.steps]

    def predict(self, p, grad: bool):
        L0, A, alpha, C = p
        powa = self.s1 ** -alpha
        pred = L0 + A * powa - C * self.s2
        if not grad:
            return pred, None
        return pred, np.stack([np.ones_like(pred), powa, -A * powa * np.log(self.s1),
                               -self.s2])


def _objective(terms, losses, scale):
    def f(z):
        p = z * scale
        total, g = 0.0, np.zeros_like(p)
        for t, loss in zip(terms, losses):
            pred, jac = t.predict(p, True)
            if not (pred > 0).all() or not np.isfinite(pred).all():
                return 1e10, np.zeros_like(z)
            value, slope = _huber(np.log(loss) - np.log(pred))
            total += value
            g += jac @ (-slope / pred)
        return total, g * scale
    return f


def _minimize(f, start, bounds, scale):
    from scipy.optimize import minimize
    z0 = np.asarray(start, dtype=np.float64) / scale
    zb = [(lo / s if lo is not None else None, hi / s if hi is not None else None)
          for (lo, hi), s in zip(bounds, scale)]
    res = minimize(f, z0, jac=True, method="L-BFGS-B", bounds=zb,
                   options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-9})
    return res.fun, res.x * scale


def _initial(runs: list[Run]):
    """(L0, A, alpha, B) starts: the reference's stand-in law ``L0 + A S1^-alpha - B (max lr -
    lr)`` fitted from a grid of starts around a log-log regression."""
    low = min(float(r.loss.min()) for r in runs)
    x = np.concatenate([np.log(np.cumsum(r.lrs)[r.steps]) for r in runs])
    y = np.concatenate([np.log(r.loss - low + 0.01) for r in runs])
    slope, intercept = np.polyfit(x, y, 1)
    peak = max(float(r.lrs.max()) for r in runs)
    data = [(np.cumsum(r.lrs)[r.steps], peak - r.lrs[r.steps], r.loss) for r in runs]

    def f(p):
        L0, A, alpha, B = p
        total, g = 0.0, np.zeros(4)
        for s1, drop, loss in data:
            powa = s1 ** -alpha
            pred = L0 + A * powa - B * drop
            if not (pred > 0).all():
                return 1e10, np.zeros(4)
            value, slope_ = _huber(np.log(loss) - np.log(pred))
            total += value
            jac = np.stack([np.ones_like(pred), powa, -A * powa * np.log(s1), -drop])
            g += jac @ (-slope_ / pred)
        return total, g

    best = (np.inf, None)
    scale = np.ones(4)
    for L0 in np.linspace(low - 0.2, low + 0.2, 5):
        for alpha in np.linspace(-slope - 0.1, -slope + 0.1, 3):
            for B in (100.0, 550.0, 1000.0):
                start = (L0, max(np.exp(intercept), 1e-3), max(alpha, 1e-3), B)
                got = _minimize(f, start, [(0, None)] * 4, scale)
                if got[0] < best[0]:
                    best = got
    return best[1]


# the reference's Adam: a learning rate per constant (L0, A, B, C: 5e-2; the exponents 5e-3)
ADAM_LR = np.array([5e-2, 5e-2, 5e-3, 5e-2, 5e-2, 5e-3, 5e-3])
ADAM_STEPS = 200
ADAM_WEIGHT_DECAY = 0.01        # torch.optim.AdamW's default, which the reference keeps


def fit(law, runs, *, train=None, method: str = "adam") -> Law:
    """The law with its constants fitted to ``runs`` (a dict name -> run, or a list; a run is
    a :class:`Run` or ``(lrs, steps, loss)``, see :func:`run_of`), on the runs named (or
    indexed) by ``train`` (default: all). ``law``: ``gs.laws.MultiPower`` or
    ``gs.laws.Annealing``, the class, or an instance whose constants are one more start
    (``Annealing``'s ``decay`` is kept, not fitted). Needs SciPy.

    ``MultiPower``, ``method="adam"`` (default): the reference procedure: the stand-in fit
    for (L0, A, alpha, B), then from it and C = 1, beta = gamma = 0.5, 200 steps of AdamW
    (weight decay 0.01, learning rates 5e-2 / 5e-3), keeping the best constants seen.
    ``method="lbfgs"``: SciPy's L-BFGS-B from the same starts, to convergence. Measured on
    the reference data (docs/loss-laws.md), the reference procedure predicts the held-out
    curves better; L-BFGS-B reaches a lower training objective. ``Annealing``: L-BFGS-B.
    """
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise ImportError("gs.laws.fit needs SciPy: pip install 'gpusched[laws]'") from None
    if method not in ("adam", "lbfgs"):
        raise ValueError(f"method = {method!r}: must be 'adam' or 'lbfgs'")
    cls = law if isinstance(law, type) else type(law)
    given = None if isinstance(law, type) else law
    if cls not in (MultiPower, Annealing):
        raise TypeError(f"fit: law must be gs.laws.MultiPower or gs.laws.Annealing, got "
                        f"{cls.__name__}")
    if given is not None and given.columns():
        raise ValueError("fit: the starting law's constants must be numbers, not grid columns")
    chosen = _runs(runs, train)
    if not chosen:
        raise ValueError("fit needs at least one run")
    L0, A, alpha, B = _initial(chosen)
    losses = [r.loss for r in chosen]
    terms: list
    starts: list
    if cls is MultiPower:
        terms = [_MultiPowerTerms(r) for r in chosen]
        starts = [(L0, A, alpha, B, 1.0, 0.5, 0.5)]
    else:
        decay = given.decay if given is not None else 0.999
        terms = [_AnnealingTerms(r, decay) for r in chosen]
        starts = [(L0, A, alpha, c) for c in (0.1, 1.0, 10.0)]
        method = "lbfgs"
    if given is not None:
        starts.append(tuple(given.constants().values())[:len(starts[0])])
    best: tuple = (np.inf, None)
    for start in starts:
        if method == "adam":
            got = _adam(_objective(terms, losses, np.ones(7)), start, ADAM_LR, ADAM_STEPS,
                        ADAM_WEIGHT_DECAY)
        else:
            scale = np.maximum(np.abs(np.asarray(start, dtype=np.float64)), 1e-3)
            got = _minimize(_objective(terms, losses, scale), start,
                            [(0, None)] * len(start), scale)
        if got[0] < best[0]:
            best = got
    values = list(best[1])
    if cls is Annealing:
        values.append(decay)
    return cls(*values)


def _adam(f, start, lrs, steps=200, weight_decay=0.0):
    """The reference's optimizer: Adam (betas 0.9, 0.999, eps 1e-8) with a learning rate per
    constant, ``steps`` steps; the constants with the lowest objective seen win."""
    p = np.asarray(start, dtype=np.float64).copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    best = (np.inf, p.copy())
    for i in range(1, steps + 1):
        value, g = f(p)
        if value < best[0]:
            best = (value, p.copy())
        if value >= 1e10:
            break
        p *= 1.0 - lrs * weight_decay
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p -= lrs * (m / (1 - 0.9 ** i)) / (np.sqrt(v / (1 - 0.999 ** i)) + 1e-8)
    return best
