"""Schedule math, written once: pure functions of a (traced) step ``t`` and parameters.

Every core block and the twins' shared shapes are built from these; where a library computes
the same curve in another operation order (a half-cosine written its own way), its twin keeps
that order for bit-for-bit parity and says so at the line. Each works on traced values and plain
numbers alike and documents its formula; ``c`` below is the clipped progress.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

from .expr import (FUNCTIONS, Expr, ListParam, Operand, clip, const, count_cumsum_le, count_le,
                   floor, maximum, minimum, pi, sum_first, take, to_int, where)

cos, exp, log = FUNCTIONS["cos"], FUNCTIONS["exp"], FUNCTIONS["log"]
# a piece of a join: a function of its local step, or a number
Piece = Union[Callable[[Operand], Operand], float]

__all__ = ["geometric_cycle", "float_log_cycle", "cosine_restarts", "tri_stage", "log_fraction",
           "log_warmup", "lr_range_test", "constant", "linear", "cosine", "cosine_interp",
           "exponential", "polynomial", "annealing_cos", "annealing_linear",
           "piecewise_constant", "join", "warmup"]


def constant(t: Operand, value: Operand) -> Expr:
    """``f(t) = value``."""
    return const(value)


def linear(t: Operand, init_value: Operand, end_value: Operand, transition_steps: Operand,
           transition_begin: Operand = 0) -> Expr:
    """``c = clip(t - transition_begin, 0, T)``;  ``f = init + (end - init) * c / T``.

    Holds ``init`` before ``transition_begin`` and ``end`` after ``transition_begin + T``.
    """
    c = clip(t - transition_begin, 0, transition_steps)
    return init_value + (end_value - init_value) * c / transition_steps


def cosine_interp(start: Operand, end: Operand, x: Operand) -> Expr:
    """Half-cosine from ``start`` (x=0) to ``end`` (x=1):
    ``end + (start - end) * (1 + cos(pi * x)) / 2``."""
    return end + (start - end) * (1 + cos(pi * x)) / 2


def annealing_cos(start: Operand, end: Operand, pct: Operand) -> Expr:
    """torch's ``_annealing_cos`` in its own operation order (optax's
    ``_cosine_interpolate`` is the same): ``end + (start - end) / 2 * (cos(pi pct) + 1)``.
    Mathematically :func:`cosine_interp`; kept apart because the rounding differs."""
    return end + (start - end) / 2.0 * (cos(pi * pct) + 1)


def annealing_linear(start: Operand, end: Operand, pct: Operand) -> Expr:
    """torch's ``_annealing_linear`` (optax's ``_linear_interpolate``):
    ``(end - start) * pct + start``."""
    return const((end - start) * pct + start)


def cosine(t: Operand, init_value: Operand, decay_steps: Operand,
           end_value: Operand = 0.0) -> Expr:
    """``c = min(t, D)``;  ``f = end + (init - end) * (1 + cos(pi * c / D)) / 2``.

    Falls from ``init`` at ``t = 0`` to ``end`` at ``t = D`` and holds ``end`` after.
    """
    c = minimum(t, decay_steps)
    return end_value + (init_value - end_value) * (1 + cos(pi * c / decay_steps)) / 2


def exponential(t: Operand, init_value: Operand, decay_rate: Operand, transition_steps: Operand,
                transition_begin: Operand = 0, staircase: bool = False,
                end_value: Operand | None = None) -> Expr:
    """``d = t - B``;  ``p = d / T`` (``floor(d / T)`` with ``staircase``);
    ``f = init * rate ** p`` for ``d > 0``, ``init`` before;  clipped at ``end_value``
    from below when ``rate < 1`` (from above when ``rate > 1``) if given.
    """
    d = t - transition_begin
    p = d / transition_steps
    if staircase:
        p = floor(p)
    v = where(d > 0, init_value * decay_rate ** p, init_value)
    if end_value is not None:
        v = where(decay_rate < 1, maximum(v, end_value), minimum(v, end_value))
    return v


def polynomial(t: Operand, init_value: Operand, end_value: Operand, transition_steps: Operand,
               power: Operand = 1.0, transition_begin: Operand = 0) -> Expr:
    """``c = clip(t - B, 0, T)``;  ``f = (init - end) * (1 - c / T) ** power + end``."""
    c = clip(t - transition_begin, 0, transition_steps)
    return (init_value - end_value) * (1 - c / transition_steps) ** power + end_value


def piecewise_constant(t: Operand, values: ListParam, boundaries: ListParam) -> Expr:
    """``f = values[k]`` with ``k = #{b in boundaries : b <= t}`` (switches at ``t == b``).

    ``values`` and ``boundaries`` are list parameters; ``values`` has one more entry.
    """
    return take(values, count_le(boundaries, t))


def join(t: Operand, pieces: Sequence[Piece], boundaries: Sequence[Operand]) -> Expr:
    """Sequential composition: piece ``k`` runs on ``[b_k, b_{k+1})`` and sees the local step
    ``t - b_k`` (``b_0 = 0``)::

        f(t) = pieces[0](t)              for t < b_1
             = pieces[k](t - b_k)        for b_k <= t < b_{k+1}
    """
    if len(pieces) != len(boundaries) + 1:
        raise ValueError(f"join needs one boundary fewer than pieces, got {len(pieces)} pieces "
                         f"and {len(boundaries)} boundaries")
    out = _call(pieces[0], t)
    for b, piece in zip(boundaries, pieces[1:]):
        out = where(t < b, out, _call(piece, t - b))
    return out


def warmup(t: Operand, piece: Piece, warmup_steps: Operand,
           init_value: Operand = 0.0) -> Expr:
    """Linear warmup prefixed to ``piece``::

        f(t) = init + (piece(0) - init) * t / W     for t < W
             = piece(t - W)                         for t >= W
    """
    peak = _call(piece, const(0))
    ramp = init_value + (peak - init_value) * t / maximum(warmup_steps, 1)
    return where(t < warmup_steps, ramp, _call(piece, t - warmup_steps))


def _call(piece: Piece, t: Operand) -> Expr:
    return const(piece(t)) if callable(piece) else const(piece)


def geometric_cycle(t: Operand, first: Operand, mult: Operand) -> tuple[Expr, Expr, Expr]:
    """The restart cycle holding step ``t`` when cycle ``k`` lasts ``first * mult ** k`` steps
    (``mult`` an integer >= 1): ``(i, start, length)`` with ``start = first (mult^i - 1) /
    (mult - 1)`` (``i * first`` when ``mult == 1``) the last start ``<= t`` and ``length =
    first * mult^i``. Found exactly: a float-log estimate, then an integer correction.
    """
    m1 = maximum(mult - 1, 1)

    def start(i):
        return first * (to_int(mult ** i) - 1) // m1

    est = to_int(maximum(floor(log(t * (mult - 1) / first + 1) / log(maximum(mult, 2))), 0))
    i = est - (start(est) > t) + (start(est + 1) <= t)
    i = where(mult == 1, t // first, i)
    begin = where(mult == 1, i * first, start(i))
    return i, begin, first * to_int(mult ** i)


def float_log_cycle(t: Operand, first: Operand, mult: Operand) -> tuple[Expr, Expr, Expr]:
    """The restart cycle as timm and fairseq compute it, float log included: with ``m =
    mult`` (any float > 0)::

        m == 1:  i = t // first;  t_i = first;  t_cur = t - first * i
        else:    i = floor(log(1 - t / first * (1 - m)) / log(m))
                 t_i = m ** i * first;  t_cur = t - (1 - m ** i) / (1 - m) * first

    Returns ``(i, t_i, t_cur)``. The log lands in the previous cycle at some exact restarts
    (``log(243) / log(3) = 4.999...``); :func:`geometric_cycle` is the exact version.
    """
    m = where(mult == 1, 2.0, mult)
    i_log = floor(log(1 - t / first * (1 - m)) / log(m))
    i_one = t // first
    i = where(mult == 1, i_one, i_log)
    t_i = where(mult == 1, first, m ** i_log * first)
    t_cur = where(mult == 1, t - first * i_one, t - (1 - m ** i_log) / (1 - m) * first)
    return i, t_i, t_cur


def cosine_restarts(t: Operand, init_value: Operand, periods: ListParam, weights: ListParam,
                    end_value: Operand) -> Expr:
    """Cosine cycles over explicit lengths ``periods[k]``, each restarting at ``init *
    weights[k]``: with ``k`` the cycle holding ``t`` (``C_k = periods[0] + ... + periods[k]``,
    the first ``C_k > t``) and ``s = t - C_{k-1}``::

        f(t) = end + (init * weights[k] - end) * (1 + cos(pi s / periods[k])) / 2

    Past the last cycle it holds the last cycle's final value (``s = periods[-1] - 1``).
    ``periods`` and ``weights`` are list parameters of the same length.
    """
    u = minimum(t, sum_first(periods, 1 << 62) - 1)
    k = count_cumsum_le(periods, u)
    start = sum_first(periods, k)
    s = u - start
    peak = init_value * take(weights, k)
    return end_value + (peak - end_value) * (1 + cos(pi * s / take(periods, k))) / 2


def tri_stage(t: Operand, peak: Operand, warmup_steps: Operand, hold_steps: Operand,
              decay_steps: Operand, init_lr_scale: Operand, final_lr_scale: Operand) -> Expr:
    """fairseq's tri-stage: linear warmup from ``peak * init_lr_scale`` over ``W`` steps, hold
    ``peak`` for ``H``, exponential decay ``peak * exp(-k s)`` with ``k = -log(final_lr_scale)
    / D`` for ``s = t - W - H <= D``, then ``peak * final_lr_scale``::

        t < W:          init + (peak - init) / W * t        (init = peak * init_lr_scale)
        s = t - W < H:  peak
        s - H <= D:     peak * exp(-k (s - H))
        after:          peak * final_lr_scale
    """
    init = peak * init_lr_scale
    k = -log(final_lr_scale) / maximum(decay_steps, 1)
    s = t - warmup_steps
    d = s - hold_steps
    return where(t < warmup_steps, init + (peak - init) / maximum(warmup_steps, 1) * t,
                 where(s < hold_steps, peak + 0.0,
                       where(d <= decay_steps, peak * exp(-k * d), peak * final_lr_scale)))


def log_fraction(t: Operand, warmup_steps: Operand) -> Expr:
    """DeepSpeed's log warmup fraction ``log(t + 1) / log(W)`` as ``(1 / log(W)) *
    log(t + 1)``: 0 at ``t = 0``, 1 at ``t = W - 1`` (negative ``t`` counts as 0)."""
    return (1.0 / log(warmup_steps * 1.0)) * log(maximum(t, 0) + 1.0)


def log_warmup(t: Operand, init_value: Operand, peak_value: Operand,
               warmup_steps: Operand) -> Expr:
    """Logarithmic warmup: ``init + (peak - init) log(t + 1) / log(W)`` for ``t < W``, then
    ``peak`` (fast at first, reaching ``peak`` at ``t = W - 1``)."""
    g = where(t < warmup_steps, log_fraction(t, warmup_steps), 1.0)
    return init_value + (peak_value - init_value) * g


def lr_range_test(t: Operand, min_lr: Operand, step_size: Operand, step_rate: Operand,
                  staircase: Operand = 0) -> Expr:
    """LR range test (increasing): ``min_lr (1 + step_rate x)`` with ``x = t / step_size``,
    ``floor``-ed when ``staircase`` is 1."""
    x = (t * 1.0) / step_size
    x = where(staircase == 1, floor(x), x)
    return min_lr * (1 + step_rate * x)
