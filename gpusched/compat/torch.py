"""Twins of ``torch.optim.lr_scheduler`` schedulers.

Step mapping: the value at step ``t`` is ``optimizer.param_groups[0]["lr"]`` after ``t`` calls
to ``scheduler.step()`` (the lr used by the ``t``-th optimizer update, 0-based). The
optimizer's lr becomes the ``base_lr`` parameter. torch computes its "chainable" schedulers
(StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, CosineAnnealingLR,
MultiplicativeLR) recursively from the current lr; the twins use the closed form, which agrees
to ~1e-15 relative (float64) while the recursion's rounding accumulates.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Sequence

from .. import curves
from .. import expr as E
from .. import metric
from ..blocks import merge_params
from ..keys import digest
from . import _chain
from ..params import REQUIRED, Check, Param, Sweep
from ..schedule import Schedule
from ._common import (BASE_LR, BaseLR, apart, schedule_of, user_function,
                      float_param as _f, int_param as _i, param_exprs as _p, drop_unused)
from ..registry import factory, twin

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]

# schedulers that multiply the current lr by a ratio at each step (ChainedScheduler composes
# them by product); the others set the lr outright
CHAINABLE = frozenset({"StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                       "PolynomialLR", "CosineAnnealingLR", "MultiplicativeLR"})


def _values(**given):
    return {k: v for k, v in given.items() if v is not None}


@factory
def LambdaLR(lr_lambda: Callable, *, base_lr: float | None = None, **params: Any) -> Schedule:
    """``base_lr * lr_lambda(t)``.

    ``lr_lambda`` is traced (``lambda step: step % 40 / 100.``), so it runs on every backend;
    extra arguments after the step become sweepable parameters. A lambda of the step alone
    that uses Python control flow (``lambda step: max(0, 1 - step / 100)``) is called once per
    distinct step on the host instead, and the table is broadcast. Defined for every step.
    """
    lam, extra = user_function(lr_lambda, E.step(), "lr_lambda")
    expr = E.param("base_lr") * lam
    return Schedule(expr, [BASE_LR, *extra], name="LambdaLR",
                    values=_values(base_lr=base_lr, **params), doc=LambdaLR.__doc__)


@factory
def MultiplicativeLR(lr_lambda: Callable, *, base_lr: float | None = None,
                     **params: Any) -> Schedule:
    """``base_lr * prod_{s=1..t} lr_lambda(s)`` (torch multiplies the current lr by
    ``lr_lambda(t)`` at each ``step()``, and never applies ``lr_lambda(0)``).

    ``lr_lambda`` is traced when it can be, else tabulated on the host as for LambdaLR.
    Defined for every step; the running product is kept in float64.
    """
    holder = {}

    def factor(s):
        lam, extra = user_function(lr_lambda, s, "lr_lambda")
        holder["extra"] = extra
        return lam

    expr = E.param("base_lr") * E.cumprod(factor)
    return Schedule(expr, [BASE_LR, *holder.get("extra", [])], name="MultiplicativeLR",
                    values=_values(base_lr=base_lr, **params), doc=MultiplicativeLR.__doc__)


@twin
def StepLR(step_size: Annotated[int, Sweep(gt=0)] = REQUIRED,
           gamma: Annotated[float, Sweep()] = 0.1, *, base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * gamma ** (t // step_size)`` (integer floor division)."""
    return base_lr * gamma ** (E.step() // step_size)


@twin
def MultiStepLR(milestones: Annotated[Sequence[int], Sweep(sort=True, ge=0)] = REQUIRED,
                gamma: Annotated[float, Sweep()] = 0.1, *,
                base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * gamma ** #{m in milestones : m <= t}``: decays at ``t == m``. A milestone
    given twice decays twice (torch counts them); the list is sorted, as torch sorts it."""
    return base_lr * gamma ** E.count_le(milestones, E.step())


@twin
def ConstantLR(factor: Annotated[float, Sweep(gt=0, le=1)] = 1.0 / 3,
               total_iters: Annotated[int, Sweep(ge=0)] = 5, *,
               base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * factor`` for ``t < total_iters``, ``base_lr`` after.

    As in torch, ``total_iters = 0`` keeps ``base_lr * factor`` for ever (the factor is
    applied at step 0 and only undone at ``t == total_iters``). torch accepts ``factor = 0``
    but then divides by it at ``total_iters`` (ZeroDivisionError); the twin requires
    ``0 < factor <= 1``.
    """
    return E.where((E.step() < total_iters) | (total_iters == 0), base_lr * factor, base_lr)


@twin
def LinearLR(start_factor: Annotated[float, Sweep(gt=0, le=1)] = 1.0 / 3,
             end_factor: Annotated[float, Sweep(ge=0, le=1)] = 1.0,
             total_iters: Annotated[int, Sweep(gt=0)] = 5, *,
             base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * (start_factor + (end_factor - start_factor) * min(t, T) / T)``,
    ``T = total_iters``; held at ``end_factor`` after ``T``."""
    T = total_iters
    return base_lr * (start_factor + (end_factor - start_factor) * E.minimum(E.step(), T) / T)


@twin
def ExponentialLR(gamma: Annotated[float, Sweep(ge=0)] = REQUIRED, *,
                  base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * gamma ** t``."""
    return base_lr * gamma ** E.step()


@twin
def PolynomialLR(total_iters: Annotated[int, Sweep(gt=0)] = 5,
                 power: Annotated[float, Sweep(ge=0)] = 1.0, *,
                 base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``base_lr * (1 - min(t, T) / T) ** power``, ``T = total_iters``: 0 from ``T`` on."""
    T = total_iters
    return base_lr * (1.0 - E.minimum(E.step(), T) / T) ** power


@twin
def CosineAnnealingLR(T_max: Annotated[float, Sweep(gt=0, kind="any")] = REQUIRED,
                      eta_min: Annotated[float, Sweep()] = 0.0, *,
                      base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``.

    Past ``T_max`` it is periodic with period ``2 * T_max`` (it climbs back to ``base_lr`` at
    ``2 * T_max``), as torch's scheduler does; there is no clamp.
    """
    return curves.cosine_interp(base_lr, eta_min, E.step() / T_max)


@twin
def CosineAnnealingWarmRestarts(T_0: Annotated[int, Sweep(gt=0)] = REQUIRED,
                                T_mult: Annotated[int, Sweep(ge=1)] = 1,
                                eta_min: Annotated[float, Sweep()] = 0.0, *,
                                base_lr: BaseLR = REQUIRED) -> E.Expr:
    """SGDR: cosine cycles of ``T_i = T_0 * T_mult ** i`` steps, each restarting at ``base_lr``::

        f(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    with ``T_cur = t - S_i`` and cycle ``i`` the last with ``S_i = T_0 (T_mult^i - 1) /
    (T_mult - 1) <= t`` (``i * T_0`` when ``T_mult == 1``). The cycle is found exactly, as
    torch's ``step()`` does with integers (its deprecated ``step(epoch)`` path uses a float log
    that is wrong at some restarts; see the timm twins for that quirk).
    """
    t = E.step()
    i, start, length = curves.geometric_cycle(t, T_0, T_mult)
    return curves.cosine_interp(base_lr, eta_min, (t - start) / length)


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@factory
def CyclicLR(base_lr: float | None = None, max_lr: float | None = None, step_size_up: int = 2000,
             step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
             scale_fn: Callable | None = None, scale_mode: str = "cycle",
             cycle_momentum: bool = True, base_momentum: float = 0.8, max_momentum: float = 0.9, *,
             output: str = "lr") -> Schedule:
    """Cyclical learning rate (Smith 2017). With ``up = step_size_up``, ``down =
    step_size_down`` (``= up`` if None), ``r = up / (up + down)``::

        c = floor(1 + t / (up + down));   x = 1 + t / (up + down) - c
        s = x / r                if x <= r   else (x - 1) / (r - 1)
        f(t) = base_lr + (max_lr - base_lr) * s * g

    ``g = 1`` (triangular), ``1 / 2 ** (c - 1)`` (triangular2, halved each cycle) or
    ``gamma ** t`` (exp_range); a ``scale_fn`` (traced) replaces it, called with ``c``
    (``scale_mode="cycle"``) or ``t`` (``"iterations"``).
    ``output="momentum"`` gives the momentum torch cycles inversely:
    ``max_momentum - (max_momentum - base_momentum) * s * g``.
    ``base_lr`` here is CyclicLR's own argument (torch overwrites the optimizer's lr with it).
    """
    t = E.step()
    up, down_arg = E.param("step_size_up"), E.param("step_size_down")
    down = E.where(down_arg < 0, up, down_arg)
    total = E.to_float(up + down)
    ratio = E.to_float(up) / total
    cycle = E.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    s = E.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    if scale_fn is not None:
        at = E.to_int(cycle) if scale_mode == "cycle" else t
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode={scale_mode!r}: must be 'cycle' or 'iterations'")
        g, extra = user_function(scale_fn, at, "scale_fn")
        if extra:
            raise TypeError("scale_fn takes one argument (the cycle or the step)")
    else:
        mode_ = E.param("mode")
        g = E.where(mode_ == 0, 1.0,
                    E.where(mode_ == 1, 0.5 ** (cycle - 1), E.param("gamma") ** t))
    if output == "lr":
        lo, hi = E.param("base_lr"), E.param("max_lr")
        expr = lo + (hi - lo) * s * g
    elif output == "momentum":
        lo, hi = E.param("base_momentum"), E.param("max_momentum")
        expr = hi - (hi - lo) * s * g
    else:
        raise ValueError(f"output={output!r}: must be 'lr' or 'momentum'")
    params = [_f("max_lr"), _i("step_size_up", 2000, gt=0), _i("step_size_down", -1),
              Param("mode", "triangular", kind="choice", choices=CYCLIC_MODES),
              _f("gamma", 1.0, gt=0), _f("base_momentum", 0.8), _f("max_momentum", 0.9)]
    checks = [Check(("step_size_down",), lambda step_size_down:
                    (step_size_down > 0) | (step_size_down == -1),
                    "step_size_down must be > 0 (or None for step_size_up)")]
    doc = CyclicLR.__doc__
    sched = schedule_of("CyclicLR", expr, [BASE_LR, *params], dict(
        base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up,
        step_size_down=-1 if step_size_down is None else step_size_down, mode=mode,
        gamma=gamma, base_momentum=base_momentum, max_momentum=max_momentum), doc, checks)
    return drop_unused(sched)


ANNEAL = ("cos", "linear")


def _anneal(strategy, start, end, pct):
    """torch's ``_annealing_cos`` (``end + (start - end) / 2 * (cos(pi pct) + 1)``) or
    ``_annealing_linear`` (``(end - start) * pct + start``), chosen per config."""
    return E.where(strategy == 0, curves.annealing_cos(start, end, pct),
                   curves.annealing_linear(start, end, pct))


@factory
def OneCycleLR(max_lr: float | None = None, total_steps: int | None = None,
               epochs: int | None = None, steps_per_epoch: int | None = None,
               pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
               base_momentum: float = 0.85, max_momentum: float = 0.95, div_factor: float = 25.0,
               final_div_factor: float = 1e4, three_phase: bool = False, *,
               output: str = "lr") -> Schedule:
    """The 1cycle policy. ``initial = max_lr / div_factor``, ``min = initial /
    final_div_factor``, ``N = total_steps`` (or ``epochs * steps_per_epoch``), phase ends
    (floats) ``e1 = pct_start N - 1`` and ``e2 = N - 1`` (three phases: ``e2 = 2 pct_start N -
    2``, ``e3 = N - 1``). In the first phase with ``t <= e_k`` (or the last)::

        p = (t - e_{k-1}) / (e_k - e_{k-1})      (e_0 = 0)
        f(t) = anneal(start_k, end_k, p)         cos: end + (start - end) / 2 (cos(pi p) + 1)
                                                 linear: (end - start) p + start

    Phases go initial -> max -> min (two) or initial -> max -> initial -> min (three).
    ``output="momentum"``: max_momentum -> base_momentum -> max_momentum (-> max_momentum).
    torch raises past ``N``; at ``t == N`` it extrapolates the last phase, as the twin does
    for every ``t > e_last``. ``pct_start * N == 1`` divides by zero in torch (refused here);
    ``pct_start * N < 1`` skips the warmup, as in torch.
    """
    t = E.step()
    if epochs is not None or steps_per_epoch is not None:
        if total_steps is not None:
            raise ValueError("give total_steps, or epochs and steps_per_epoch, not both")
        N = E.param("epochs") * E.param("steps_per_epoch")
        length_params = [_i("epochs", gt=0), _i("steps_per_epoch", gt=0)]
    else:
        N = E.param("total_steps")
        length_params = [_i("total_steps", gt=0)]
    pct, strategy = _p("pct_start", "anneal_strategy")
    three = E.param("three_phase") == 1
    e1 = E.to_float(pct * N) - 1
    e2 = E.where(three, E.to_float(2 * pct * N) - 2, E.to_float(N - 1))
    e3 = E.to_float(N - 1)
    if output == "lr":
        hi = E.param("max_lr")
        init = hi / E.param("div_factor")
        lo = init / E.param("final_div_factor")
        ends = [(init, hi), (hi, E.where(three, init, lo)), (init, lo)]
    elif output == "momentum":
        lo_m, hi_m = _p("base_momentum", "max_momentum")
        ends = [(hi_m, lo_m), (lo_m, hi_m), (hi_m, hi_m)]
    else:
        raise ValueError(f"output={output!r}: must be 'lr' or 'momentum'")
    def span(a, b):     # a phase's length; 1 where it is unused (no 0 / 0 in a dead branch)
        return E.where(b == a, 1.0, b - a)

    def pick(first, second, third):      # the phase of step t: one anneal, not three
        return E.where(t <= e1, first, E.where(three & (t > e2), third, second))
    start = pick(ends[0][0], ends[1][0], ends[2][0])
    end = pick(ends[0][1], ends[1][1], ends[2][1])
    pct = pick(t / span(0.0, e1),                     # (t - 0.0) / (e1 - 0.0)
               (t - e1) / span(e1, e2), (t - e2) / span(e2, e3))
    expr = _anneal(strategy, start, end, pct)
    params = [_f("max_lr", ge=0), *length_params, _f("pct_start", 0.3, ge=0, le=1),
              Param("anneal_strategy", "cos", kind="choice", choices=ANNEAL),
              _f("base_momentum", 0.85), _f("max_momentum", 0.95),
              _f("div_factor", 25.0, gt=0), _f("final_div_factor", 1e4, gt=0),
              Param("three_phase", False, kind="choice", choices=(False, True))]
    n_names = [p.name for p in length_params]

    def phase_ok(pct_start, three_phase, **n):
        steps = 1
        for v in n.values():
            steps = steps * v
        e1_ = pct_start * steps - 1
        ok = e1_ != 0
        two_ok = (three_phase == 0) | ((2 * pct_start * steps - 2 != e1_) &
                                       (steps - 1 != 2 * pct_start * steps - 2))
        return ok & two_ok

    checks = [Check(("pct_start", "three_phase", *n_names), phase_ok,
                    "pct_start * total_steps must not make two phase ends equal (torch "
                    "divides by zero there)")]
    values = dict(max_lr=max_lr, total_steps=total_steps, epochs=epochs,
                  steps_per_epoch=steps_per_epoch, pct_start=pct_start,
                  anneal_strategy=anneal_strategy, base_momentum=base_momentum,
                  max_momentum=max_momentum, div_factor=div_factor,
                  final_div_factor=final_div_factor, three_phase=bool(three_phase))
    sched = Schedule(expr, params, name="OneCycleLR", values=_values(**values), checks=checks,
                     doc=OneCycleLR.__doc__)
    return drop_unused(sched)


def _local(s: Schedule, at):
    return E.substitute(s.expr, {E.step(): at})


def _apart(schedulers: Sequence[Schedule], renames: list | None = None) -> list[Schedule]:
    """torch schedulers are separate objects (:func:`._common.apart`): shared names are
    renamed ``<name>_<k>``. ``base_lr`` (the optimizer's lr) stays shared, except a
    CyclicLR's after the first scheduler: that ``base_lr`` is the CyclicLR's own lower bound
    (``base_lr_<k>``), not the optimizer's lr. (A CyclicLR first in line sets the
    optimizer's lr to its base_lr, so there the two are one parameter.)"""
    return apart(schedulers, shared={"base_lr"},
                 own=lambda k, s, name: k > 0 and s.name == "CyclicLR", renames=renames)


def _initial_lrs(schedulers: Sequence[Schedule], renames: list) -> tuple[list, E.Expr]:
    """The optimizer group's ``initial_lr`` as torch has it when each scheduler is
    constructed (``I_k``, the lr that scheduler starts from: its ``base_lrs``), and after
    all of them. The first scheduler sets it to the group's lr (the optimizer's lr,
    ``base_lr``; a CyclicLR first sets that lr to its own base_lr before); every OneCycleLR
    overwrites it with ``max_lr / div_factor``."""
    init = E.param("base_lr")
    out = []
    for s, clash in zip(schedulers, renames):
        if s.name == "OneCycleLR":
            init = E.param(clash.get("max_lr", "max_lr")) / \
                E.param(clash.get("div_factor", "div_factor"))
        out.append(init)
    return out, init


def _from(s: Schedule, init: E.Expr, parts: Sequence[Schedule]) -> Schedule:
    """``s`` with the optimizer's lr it starts from set to ``init`` (an expression of the
    parameters of ``parts``)."""
    if init is E.param("base_lr") or "base_lr" not in s.param_specs:
        return s
    specs, values = dict(s.param_specs), dict(s.values)
    for name in {n.value for n in E.all_nodes(init) if n.op == "param"} - set(specs):
        owner = next(p for p in parts if name in p.param_specs)
        specs[name] = owner.param_specs[name]
        if name in owner.values:
            values[name] = owner.values[name]
    return Schedule(E.substitute(s.expr, {E.param("base_lr"): init}), specs.values(),
                    name=s.name, values=values, checks=s.checks, doc=s.doc)


def _refuse_unreproduced(schedulers: Sequence[Schedule], what: str) -> None:
    if sum(s.name == "OneCycleLR" for s in schedulers) > 1:
        raise ValueError(f"{what} with two OneCycleLR: torch's OneCycleLR reads the optimizer "
                         f"group's initial_lr, max_lr and min_lr at every step, and the last "
                         f"one constructed overwrites the others'; not reproduced here")


@factory
def SequentialLR(schedulers: Sequence[Schedule], milestones: Sequence) -> Schedule:
    """``schedulers[k]`` runs from ``milestones[k-1]`` on, on its local step ``t - m``
    (``gs.join``). torch restarts each scheduler at its closed form at local step 0 and then
    steps it, which for these closed-form twins is the same. Milestones may be parameter
    names, to sweep. A parameter name two schedulers share is renamed ``<name>_<k>`` in the
    ``k``-th.

    The lr each scheduler starts from is torch's: the optimizer group's ``initial_lr`` when
    it was constructed (the optimizer's lr ``base_lr``; ``max_lr / div_factor`` after a
    OneCycleLR, which overwrites it), and for the first scheduler, if it computes from the
    current lr (StepLR, LinearLR, ...), the ``initial_lr`` after all were constructed, which
    SequentialLR resets the lr to. A CyclicLR after the first keeps its own ``base_lr``
    (``base_lr_<k>``). Refused: MultiplicativeLR after the first (torch continues it from the
    previous scheduler's last lr) and two OneCycleLR.
    """
    from ..blocks import join
    _refuse_unreproduced(schedulers, "SequentialLR")
    for k, s in enumerate(schedulers):
        if k and getattr(s, "name", None) == "MultiplicativeLR":
            raise ValueError(f"SequentialLR: MultiplicativeLR at position {k} has no closed "
                             f"form, so torch continues it from the previous scheduler's last "
                             f"lr; not reproduced here (put it first, or use LambdaLR)")
    renames: list = []
    parts = _apart(schedulers, renames)
    inits, final = _initial_lrs(parts, renames)
    inits[0] = final if parts[0].name in CHAINABLE else inits[0]
    s = join([_from(p, i, parts) for p, i in zip(parts, inits)], milestones)
    return drop_unused(Schedule(s.expr, s.param_specs.values(), name="SequentialLR",
                                values=s.values, checks=s.checks, doc=SequentialLR.__doc__))


@factory
def ChainedScheduler(schedulers: Sequence[Schedule], optimizer: Any = None) -> Schedule:
    """Every scheduler steps in order at each step. Chainable schedulers multiply the lr by
    their ratio ``r_k(t) = f_k(t) / f_k(t - 1)`` (``r_k(0) = f_k(0) / base_lr``); the others
    (LambdaLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts ...) set it outright,
    erasing what came before. So::

        f(t) = base_lr * prod_k f_k(t) / base_lr                  all chainable
        f(t) = f_j(t) * prod_{k > j} r_k(t)                       j the last that sets it

    CosineAnnealingLR is not a ratio: torch steps it as ``lr <- r(t) (lr - eta_min) +
    eta_min``, and at ``t = T_max + 1`` (mod ``2 T_max``) adds an increment instead. A chain
    holding one is computed as torch computes it, step by step on the host (vectorized over
    configs, :mod:`gpusched.compat._chain`), and read by the kernels from that table.

    Each scheduler starts from torch's group ``initial_lr`` at its construction (the
    optimizer's lr ``base_lr``, or ``max_lr / div_factor`` after a OneCycleLR); a CyclicLR
    after the first keeps its own ``base_lr`` (``base_lr_<k>``) except at ``t = 0``, where
    torch's constructor steps it before taking its own base. Two OneCycleLR are refused.
    A parameter name two schedulers share is renamed ``<name>_<k>`` in the ``k``-th.
    """
    if not schedulers:
        raise ValueError("ChainedScheduler needs at least one scheduler")
    _refuse_unreproduced(schedulers, "ChainedScheduler")
    renames: list = []
    schedulers = _apart(schedulers, renames)
    inits, _ = _initial_lrs(schedulers, renames)
    schedulers = [_from(s, i, schedulers) for s, i in zip(schedulers, inits)]
    for k, (s, init) in enumerate(zip(schedulers, inits)):
        if k and s.name == "CyclicLR" and "base_lr" not in s.param_specs:
            # torch's CyclicLR takes its own base_lrs only after its constructor's first
            # step: that step (t = 0) starts from the group's initial_lr
            schedulers[k] = _from(Schedule(E.where(E.step() == 0, E.param("base_lr"), s.expr),
                                           [*s.param_specs.values(), BASE_LR], name=s.name,
                                           values=s.values, checks=s.checks, doc=s.doc),
                                  init, schedulers)
    specs, values = merge_params(schedulers)
    checks = [c for s in schedulers for c in s.checks]
    if any(s.name == "CosineAnnealingLR" for s in schedulers):
        expr = _stepped_chain(schedulers, renames, specs, inits)
        return drop_unused(Schedule(expr, specs.values(), name="ChainedScheduler",
                                    values=values, checks=checks, doc=ChainedScheduler.__doc__))
    t, b = E.step(), E.param("base_lr")
    value, absolute = b, False
    for s, init in zip(schedulers, inits):
        now = s.expr
        if s.name not in CHAINABLE:
            value, absolute = now, True
        elif not absolute:          # the ratios telescope over the steps
            value = value * (now / init)
        else:                       # one step's ratio on top of an lr set outright
            before = _local(s, t - 1)
            value = value * E.where(t == 0, now / init,
                                    now / E.where(before == 0, 1.0, before))
    return drop_unused(Schedule(value, specs.values(), name="ChainedScheduler", values=values,
                                checks=checks, doc=ChainedScheduler.__doc__))


def _stepped_chain(schedulers, renames, specs, inits) -> E.Expr:
    """The chain as a host scan over steps (see :mod:`gpusched.compat._chain`)."""
    members = []
    for s, clash, init in zip(schedulers, renames, inits):
        if s.name == "CosineAnnealingLR":
            eta, period = clash.get("eta_min", "eta_min"), clash.get("T_max", "T_max")
            members.append(_chain.Member("affine", s.expr,
                                         _chain.affine_shape(s.expr, init, eta), eta,
                                         period, init))
        else:
            members.append(_chain.Member("ratio" if s.name in CHAINABLE else "set", s.expr,
                                         init=init))
    lists = sorted({n for s in schedulers for n in s.list_params})
    key = ",".join(f"{m.kind}:{E.signature(m.expr)}:{E.signature(m.init)}" for m in members)
    rule = E.HostScan(_chain.ChainRule(members),
                      "torch_chain_" + digest(key),
                      list_args=lists)
    return E.host_scan(rule, E.step(), list(specs))


@factory
def ReduceLROnPlateau(metrics: Sequence[float] | None = None, mode: str = "min",
                      factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                      threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                      eps: float = 1e-8, *, base_lr: float | None = None) -> Schedule:
    return metric.reduce_on_plateau(metrics, mode, factor, patience, threshold, threshold_mode,
                                    cooldown, min_lr, eps, base_lr=base_lr,
                                    name="ReduceLROnPlateau", doc=ReduceLROnPlateau.__doc__)


ReduceLROnPlateau.__doc__ = (
    "torch's ReduceLROnPlateau given the metric series ``metrics`` (the value passed to\n"
    "    ``step(metric)`` after each step): ``f(t)`` is the lr after ``metrics[:t]``.\n"
    + (metric.reduce_on_plateau.__doc__ or "").split("\n", 1)[1])

