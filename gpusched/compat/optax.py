"""Twins of optax's schedule functions (``optax.schedules``).

Step mapping: the value at step ``t`` is ``schedule(t)``, which is what optax's
``scale_by_schedule``/``inject_hyperparams`` use for the ``t``-th update (the count starts at
0). optax computes in float32 (and casts the step to float32, so steps past 2**24 repeat
values); the twins compute in float64 and, in ``dtype="float32"``, round once, so they agree
with optax to float32 rounding and keep adjacent large steps distinct. Every argument is a
sweepable parameter, ``peak_value`` and ``warmup_steps`` included (optax can vmap over arrays
of values, not over step counts).
"""

from __future__ import annotations

from typing import Annotated, Iterable, Sequence

import numpy as np

from .. import curves
from .. import expr as E
from .. import metric
from ..blocks import join as _join
from ..params import REQUIRED, Check, Float, Int, Param, Sweep
from ..schedule import Schedule
from ._common import (apart, float_param as _f, int_param as _i, param_exprs as _p,
                      schedule_of, series)
from ..registry import factory, twin

# optax checks these where it builds its schedules
Fraction = Annotated[float, Sweep(ge=0, le=1)]
Positive = Annotated[float, Sweep(gt=0)]

__all__ = ["constant_schedule", "polynomial_schedule", "linear_schedule",
           "piecewise_constant_schedule", "exponential_decay", "cosine_decay_schedule",
           "piecewise_interpolate_schedule", "linear_onecycle_schedule",
           "cosine_onecycle_schedule", "warmup_constant_schedule",
           "warmup_cosine_decay_schedule", "warmup_exponential_decay_schedule",
           "sgdr_schedule", "join_schedules", "reduce_on_plateau"]


@twin
def constant_schedule(value: Float = REQUIRED) -> E.Expr:
    """``f(t) = value``."""
    return E.const(value) + 0.0


def _polynomial(t, init, end, power, T, B):
    """optax's polynomial: constant ``init`` when ``T <= 0``; a negative ``B`` counts as 0."""
    B = E.maximum(B, 0)
    safe_T = E.maximum(T, 1)
    c = E.clip(t - B, 0, safe_T)
    v = (init - end) * (1 - c / safe_T) ** power + end
    return E.where(T <= 0, init + 0.0, v)


@twin
def polynomial_schedule(init_value: Float = REQUIRED, end_value: Float = REQUIRED,
                        power: Float = REQUIRED, transition_steps: Int = REQUIRED,
                        transition_begin: Int = 0) -> E.Expr:
    """``c = clip(t - B, 0, T)``; ``f = (init - end) (1 - c / T) ** power + end``. ``T <= 0``
    gives the constant ``init_value``; ``B < 0`` counts as 0 (as in optax)."""
    return _polynomial(E.step(), init_value, end_value, power, transition_steps,
                       transition_begin)


@twin
def linear_schedule(init_value: Float = REQUIRED, end_value: Float = REQUIRED,
                    transition_steps: Int = REQUIRED, transition_begin: Int = 0) -> E.Expr:
    """The polynomial schedule with ``power = 1``: from ``init`` at ``B`` to ``end`` at
    ``B + T``, held outside."""
    return _polynomial(E.step(), init_value, end_value, 1.0, transition_steps,
                       transition_begin)


def _split(boundaries_and_scales):
    if boundaries_and_scales is None:
        return None, None
    items = sorted((int(b), float(s)) for b, s in dict(boundaries_and_scales).items())
    return [b for b, _ in items], [s for _, s in items]


_BOUNDS = Param("boundaries", kind="list", sorted_required=True,
                doc="boundaries_and_scales' keys, sorted")
_SCALES = Param("scales", kind="list", ge=0, doc="boundaries_and_scales' values in key order")
_SAME_LENGTH = Check(("boundaries", "scales"),
                     lambda boundaries, scales: boundaries[1] == scales[1],
                     "boundaries and scales need the same length")


@factory
def piecewise_constant_schedule(init_value: float | None = None,
                                boundaries_and_scales: dict[int, float] | None = None) -> Schedule:
    """``f(t) = init_value * prod_{b <= t} scale_b``: each scale applies from ``t == b``.

    ``boundaries_and_scales`` (a dict, as in optax) becomes the list parameters
    ``boundaries`` (sorted) and ``scales``; sweep them as per-config lists.
    """
    bounds, scales = _split(boundaries_and_scales)
    init = E.param("init_value")
    expr = init * E.prod_first(E.param("scales"), E.count_le(E.param("boundaries"), E.step()))
    return schedule_of("piecewise_constant_schedule", expr, [_f("init_value"), _BOUNDS, _SCALES],
                       dict(init_value=init_value, boundaries=bounds, scales=scales),
                       piecewise_constant_schedule.__doc__, [_SAME_LENGTH])


def _exponential(t, init, T, rate, B, staircase, end=None):
    """optax's exponential decay: constant ``init`` when ``T <= 0`` or ``rate == 0``."""
    B = E.maximum(B, 0)
    v = curves.exponential(t, init, rate, E.maximum(T, 1), B, staircase=staircase,
                           end_value=end)
    return E.where((T <= 0) | (rate == 0), init + 0.0, v)


@factory
def exponential_decay(init_value: float | None = None, transition_steps: int | None = None,
                      decay_rate: float | None = None, transition_begin: int = 0,
                      staircase: bool = False, end_value: float | None = None) -> Schedule:
    """``d = t - B``; ``f = init`` for ``d <= 0``, else ``init * rate ** (d / T)`` (``floor(d /
    T)`` with ``staircase``), clipped at ``end_value`` (from below when ``rate < 1``). ``T <= 0``
    or ``rate == 0`` gives the constant ``init_value``."""
    t = E.step()
    init, T, rate, B = _p("init_value", "transition_steps", "decay_rate", "transition_begin")
    params = [_f("init_value"), _i("transition_steps"), _f("decay_rate", ge=0),
              _i("transition_begin", 0)]
    end = None
    if end_value is not None:
        end = E.param("end_value")
        params.append(_f("end_value"))
    expr = _exponential(t, init, T, rate, B, bool(staircase), end)
    return schedule_of("exponential_decay", expr, params, dict(
              init_value=init_value, transition_steps=transition_steps, decay_rate=decay_rate,
              transition_begin=transition_begin, end_value=end_value), exponential_decay.__doc__)


def _cosine_decay(t, init, D, alpha, exponent):
    c = E.minimum(E.to_float(t), E.to_float(D))
    # optax's own operation order, for bit-for-bit parity (not curves.cosine_interp)
    return init * ((1 - alpha) * (0.5 * (1 + E.cos(E.pi * c / D))) ** exponent + alpha)


@twin
def cosine_decay_schedule(init_value: Float = REQUIRED,
                          decay_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
                          alpha: Float = 0.0, exponent: Float = 1.0) -> E.Expr:
    """``c = min(t, D)``; ``f = init ((1 - alpha) ((1 + cos(pi c / D)) / 2) ** exponent +
    alpha)``: held at ``alpha * init`` after ``D``."""
    return _cosine_decay(E.step(), init_value, decay_steps, alpha, exponent)


INTERPOLATE = ("linear", "cosine")


def _interpolate(kind, start, end, pct):
    """optax's ``_linear_interpolate`` / ``_cosine_interpolate``, chosen per config."""
    return E.where(kind == 0, curves.annealing_linear(start, end, pct),
                   curves.annealing_cos(start, end, pct))


@factory
def piecewise_interpolate_schedule(
        interpolate_type: str | None = None, init_value: float | None = None,
        boundaries_and_scales: dict[int, float] | None = None) -> Schedule:
    """Knots ``(0, init)`` and ``(b_k, init * prod_{j <= k} s_j)``; between knots ``k`` and
    ``k + 1``, ``p = (t - b_k) / max(b_{k+1} - b_k, 1)`` and the value is linear
    ``(z - a) p + a`` or cosine ``z + (a - z) / 2 (cos(pi p) + 1)``; from the last knot on its
    value; **0 for t < 0** (as in optax). ``boundaries_and_scales`` becomes the list
    parameters ``boundaries`` and ``scales``.
    """
    t = E.step()
    bounds, scales = _split(boundaries_and_scales)
    kind, init = _p("interpolate_type", "init_value")
    B, S = E.param("boundaries"), E.param("scales")
    k = E.count_le(B, t)
    left = E.where(k == 0, 0, E.take(B, k - 1))
    right = E.take(B, k)
    a = init * E.prod_first(S, k)
    z = init * E.prod_first(S, k + 1)
    pct = (t - left) / E.maximum(right - left, 1)
    inside = _interpolate(kind, a, z, pct)
    expr = E.where(t < 0, 0.0, E.where(k >= E.length(B), a, inside))
    return schedule_of("piecewise_interpolate_schedule", expr,
                       [Param("interpolate_type", kind="choice", choices=INTERPOLATE),
                        _f("init_value"), _BOUNDS, _SCALES],
                       dict(interpolate_type=interpolate_type, init_value=init_value,
                            boundaries=bounds, scales=scales),
                       piecewise_interpolate_schedule.__doc__, [_SAME_LENGTH])


def _knots(t, kind, init, knots):
    """piecewise_interpolate over a fixed number of knots ``[(boundary, scale), ...]`` given
    in ascending order, where equal boundaries collide as dict keys do in optax: the later
    scale replaces the earlier one at that boundary."""
    bounds = [b for b, _ in knots]
    scales = [s for _, s in knots]
    for k in range(len(knots) - 2, -1, -1):      # a later equal key overwrites this one
        same = bounds[k] == bounds[k + 1]
        scales[k], scales[k + 1] = E.where(same, scales[k + 1], scales[k]), \
            E.where(same, 1.0, scales[k + 1])
    values = [init]
    for s in scales:
        values.append(values[-1] * s)
    edges = [E.const(0)] + bounds
    out = E.where(t >= edges[-1], values[-1], 0.0)
    for j in range(len(knots)):
        lo, hi = edges[j], edges[j + 1]
        pct = (t - lo) / E.maximum(hi - lo, 1)
        out = E.where((lo <= t) & (t < hi), _interpolate(kind, values[j], values[j + 1], pct),
                      out)
    return out


@twin(checks=[Check(("pct_start", "pct_final"),
                    lambda pct_start, pct_final: pct_start <= pct_final,
                    "pct_start must be <= pct_final")])
def linear_onecycle_schedule(transition_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
                             peak_value: Float = REQUIRED, pct_start: Fraction = 0.3,
                             pct_final: Fraction = 0.85, div_factor: Positive = 25.0,
                             final_div_factor: Positive = 1e4) -> E.Expr:
    """Linear one-cycle, three phases: ``peak / div`` at 0, ``peak`` at ``int(pct_start T)``,
    ``peak / div`` at ``int(pct_final T)``, ``peak / (div * final_div)`` at ``T`` and after
    (piecewise_interpolate_schedule over those knots, including optax's ``int()`` truncation
    and its dict-key collisions for tiny ``T``)."""
    T, div = transition_steps, div_factor
    knots = [(E.to_int(pct_start * T), div), (E.to_int(pct_final * T), 1.0 / div),
             (T, 1.0 / final_div_factor)]
    return _knots(E.step(), E.const(0), peak_value / div, knots)


@twin
def cosine_onecycle_schedule(transition_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
                             peak_value: Float = REQUIRED, pct_start: Fraction = 0.3,
                             div_factor: Positive = 25.0,
                             final_div_factor: Positive = 1e4) -> E.Expr:
    """Cosine one-cycle: ``peak / div`` at 0, ``peak`` at ``int(pct_start T)``, ``peak /
    (div * final_div)`` at ``T`` and after, cosine-interpolated between."""
    T, div = transition_steps, div_factor
    knots = [(E.to_int(pct_start * T), div), (T, 1.0 / (div * final_div_factor))]
    return _knots(E.step(), E.const(1), peak_value / div, knots)


@twin
def warmup_constant_schedule(init_value: Float = REQUIRED, peak_value: Float = REQUIRED,
                             warmup_steps: Int = REQUIRED) -> E.Expr:
    """Linear from ``init`` to ``peak`` over ``warmup_steps``, then ``peak``."""
    return _polynomial(E.step(), init_value, peak_value, 1.0, warmup_steps, 0)


def _warmup_cosine(t, init, peak, W, D, end, exponent):
    alpha = E.where(peak == 0.0, 0.0, end / E.where(peak == 0.0, 1.0, peak))
    return curves.join(t, [lambda s: _polynomial(s, init, peak, 1.0, W, 0),
                           lambda s: _cosine_decay(s, peak, D - W, alpha, exponent)], [W])


def _warmup_cosine_params(suffix=""):
    return [_f("init_value" + suffix), _f("peak_value" + suffix),
            _i("warmup_steps" + suffix, ge=0), _i("decay_steps" + suffix),
            _f("end_value" + suffix, 0.0), _f("exponent" + suffix, 1.0)]


def _warmup_cosine_check(suffix=""):
    w, d = "warmup_steps" + suffix, "decay_steps" + suffix
    return Check((w, d), lambda **c: c[d] > c[w],
                 f"{d} must be > {w} (optax's decay_steps includes the warmup)")


@factory
def warmup_cosine_decay_schedule(init_value: float | None = None, peak_value: float | None = None,
                                 warmup_steps: int | None = None, decay_steps: int | None = None,
                                 end_value: float = 0.0, exponent: float = 1.0) -> Schedule:
    """Linear warmup from ``init`` to ``peak`` over ``W = warmup_steps``, then
    cosine_decay_schedule(peak, D - W, alpha=end / peak, exponent) on ``t - W``: ``D =
    decay_steps`` **includes** the warmup (keras' excludes it); ``end_value`` from ``D`` on."""
    t = E.step()
    expr = _warmup_cosine(t, *_p("init_value", "peak_value", "warmup_steps", "decay_steps",
                                 "end_value", "exponent"))
    return schedule_of("warmup_cosine_decay_schedule", expr, _warmup_cosine_params(),
                       dict(init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps,
                            decay_steps=decay_steps, end_value=end_value, exponent=exponent),
                       warmup_cosine_decay_schedule.__doc__, [_warmup_cosine_check()])


@factory
def warmup_exponential_decay_schedule(init_value: float | None = None,
                                      peak_value: float | None = None,
                                      warmup_steps: int | None = None,
                                      transition_steps: int | None = None,
                                      decay_rate: float | None = None, transition_begin: int = 0,
                                      staircase: bool = False,
                                      end_value: float | None = None) -> Schedule:
    """Linear warmup from ``init`` to ``peak`` over ``W``, then exponential_decay(peak, T,
    rate, B, staircase, end_value) on ``t - W`` (``B`` counts from the warmup's end)."""
    t = E.step()
    init, peak, W, T, rate, B = _p("init_value", "peak_value", "warmup_steps",
                                   "transition_steps", "decay_rate", "transition_begin")
    params = [_f("init_value"), _f("peak_value"), _i("warmup_steps", ge=0),
              _i("transition_steps"), _f("decay_rate", ge=0), _i("transition_begin", 0)]
    end = None
    if end_value is not None:
        end = E.param("end_value")
        params.append(_f("end_value"))
    expr = curves.join(t, [lambda s: _polynomial(s, init, peak, 1.0, W, 0),
                           lambda s: _exponential(s, peak, T, rate, B, bool(staircase), end)],
                       [W])
    return schedule_of("warmup_exponential_decay_schedule", expr, params, dict(
              init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps,
              transition_steps=transition_steps, decay_rate=decay_rate,
              transition_begin=transition_begin, end_value=end_value),
              warmup_exponential_decay_schedule.__doc__)


@factory
def sgdr_schedule(cosine_kwargs: Iterable[dict]) -> Schedule:
    """Cycles of warmup_cosine_decay_schedule: cycle ``k`` runs its own kwargs from the sum
    of the earlier cycles' ``decay_steps`` on, on its local step; the last holds its
    ``end_value``. Cycle ``k``'s parameters are named ``<name>_<k>`` (``peak_value_0``, ...),
    so every cycle can be swept."""
    cycles = [dict(kw) for kw in cosine_kwargs]
    if not cycles:
        raise ValueError("sgdr_schedule needs at least one cycle's kwargs")
    t = E.step()
    pieces, bounds, params, values, checks = [], [], [], {}, []
    start = E.const(0)
    names = ("init_value", "peak_value", "warmup_steps", "decay_steps", "end_value",
             "exponent")
    for k, kw in enumerate(cycles):
        unknown = set(kw) - set(names)
        if unknown:
            raise ValueError(f"sgdr_schedule cycle {k}: unknown argument {sorted(unknown)[0]!r}")
        sfx = f"_{k}"
        ps = [E.param(n + sfx) for n in names]
        pieces.append(lambda s, ps=ps: _warmup_cosine(s, *ps))
        if k:
            bounds.append(start)
        start = start + E.param("decay_steps" + sfx)
        params += _warmup_cosine_params(sfx)
        checks.append(_warmup_cosine_check(sfx))
        values.update({n + sfx: v for n, v in kw.items()})
    expr = curves.join(t, pieces, bounds)
    return schedule_of("sgdr_schedule", expr, params, values, sgdr_schedule.__doc__, checks)


@factory
def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence) -> Schedule:
    """``schedules[0](t)``, then ``schedules[k](t - b_k)`` from each boundary ``b_k`` on (each
    later schedule sees the steps since its boundary): ``gs.join``. optax's schedules are
    separate functions: a parameter name two of them share is renamed ``<name>_<k>`` in the
    ``k``-th (0-based), unless both fix the same value."""
    s = _join(apart(schedules), boundaries)
    return Schedule(s.expr, s.param_specs.values(), name="join_schedules", values=s.values,
                    checks=s.checks, doc=join_schedules.__doc__)



def _optax_plateau_table(top, metrics, init_value, factor, patience, rtol, atol, cooldown,
                         accumulation_size, min_scale):
    """optax.contrib.reduce_on_plateau's scale in float32, as its ``update(value=...)``
    leaves it: index ``t`` is after the metrics ``0..t`` (the update that passes a value is
    scaled by the scale that value produced)."""
    rows, series, c = metric.columns(metrics, init_value=init_value, factor=factor,
                               patience=patience, rtol=rtol, atol=atol, cooldown=cooldown,
                               accumulation_size=accumulation_size, min_scale=min_scale)
    f32 = np.float32
    out = np.empty((rows, top + 1))
    best = np.full(rows, np.inf, dtype=f32)
    plateau = np.zeros(rows, dtype=np.int64)
    scale = np.ones(rows, dtype=f32)
    cool = np.zeros(rows, dtype=np.int64)
    count = np.zeros(rows, dtype=np.int64)
    avg = np.zeros(rows, dtype=f32)
    fac, mins = c["factor"].astype(f32), c["min_scale"].astype(f32)
    one_minus_rtol, atol_ = (1 - c["rtol"]).astype(f32), c["atol"].astype(f32)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(top + 1):
            new_count = count + 1
            avg = ((count.astype(f32) * avg + series[:, t].astype(f32)) /
                   new_count.astype(f32)).astype(f32)
            count = new_count
            due = count == c["accumulation_size"]
            improved = avg < one_minus_rtol * best - atol_
            best = np.where(due & improved, avg, best)
            cur = np.where(improved, 0, plateau + 1)
            in_cool = cool > 0
            hit = cur == c["patience"]
            new_plateau = np.where(in_cool, 0, np.where(hit, 0, cur))
            new_scale = np.where(in_cool, scale,
                                 np.maximum(np.where(hit, scale * fac, scale), mins)).astype(f32)
            new_cool = np.where(in_cool, cool - 1, np.where(hit, c["cooldown"], 0))
            plateau = np.where(due, new_plateau, plateau)
            scale = np.where(due, new_scale, scale)
            cool = np.where(due, new_cool, cool)
            avg = np.where(due, f32(0), avg)
            count = np.where(due, 0, count)
            out[:, t] = c["init_value"].astype(f32) * scale
    return out


OPTAX_PLATEAU = E.HostScan(_optax_plateau_table, "optax_reduce_on_plateau",
                           list_args=("metrics",), needs="metrics", needs_extra=1)


@factory
def reduce_on_plateau(metrics: Sequence[float] | None = None, factor: float = 0.1,
                      patience: int = 10, rtol: float = 1e-4, atol: float = 0.0, cooldown: int = 0,
                      accumulation_size: int = 1, min_scale: float = 0.0, *,
                      init_value: float = 1.0) -> Schedule:
    """``optax.contrib.reduce_on_plateau`` as a schedule: ``init_value`` times the scale it
    applies to the ``t``-th update, given the ``value`` passed at each update (``metrics``).
    In float32, as optax: the mean of each ``accumulation_size`` values is ``a``; then::

        improved = a < (1 - rtol) * best - atol          (best starts at +inf)
        improved: best = a, plateau = 0                   else plateau += 1
        in cooldown: cooldown -= 1, plateau = 0
        else if plateau == patience: scale = max(scale * factor, min_scale), cooldown starts,
                                     plateau = 0

    The update that passes ``metrics[t]`` is scaled after it is counted, so step ``t`` needs
    ``t + 1`` metrics.
    """
    names = ["metrics", "init_value", "factor", "patience", "rtol", "atol", "cooldown",
             "accumulation_size", "min_scale"]
    expr = E.host_scan(OPTAX_PLATEAU, E.step(), names)
    params = [metric.METRICS, _f("init_value", 1.0), _f("factor", 0.1, gt=0, lt=1),
              _i("patience", 10, ge=0), _f("rtol", 1e-4, ge=0, le=1), _f("atol", 0.0, ge=0),
              _i("cooldown", 0, ge=0), _i("accumulation_size", 1, gt=0),
              _f("min_scale", 0.0, ge=0)]
    checks = [Check(("rtol", "atol"), lambda rtol, atol: (rtol > 0) | (atol > 0),
                    "at least one of rtol or atol must be positive")]
    values = dict(metrics=series(metrics),
                  init_value=init_value, factor=factor, patience=patience, rtol=rtol,
                  atol=atol, cooldown=cooldown, accumulation_size=accumulation_size,
                  min_scale=min_scale)
    return schedule_of("reduce_on_plateau", expr, params, values, reduce_on_plateau.__doc__, checks)

