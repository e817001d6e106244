"""Twin of the YOLOX-style ``get_lr_scheduler`` used by many detection repositories."""

from __future__ import annotations

from .. import expr as E
from ..params import Check, Param
from ..schedule import Schedule
from ..registry import factory

__all__ = ["get_lr_scheduler"]

DECAY_TYPES = ("cos", "step")


def _cos_branch(t, lr, min_lr, N, warmup_ratio, warmup_lr_ratio, no_aug_ratio):
    Wt = E.minimum(E.maximum(warmup_ratio * N, 1), 3)
    start = E.maximum(warmup_lr_ratio * lr, 1e-6)
    no_aug = E.minimum(E.maximum(no_aug_ratio * N, 1), 15)
    ramp = (lr - start) * (t / Wt) ** 2 + start
    span = N - Wt - no_aug
    # the original's own operation order, for bit-for-bit parity (not curves.cosine_interp)
    decay = min_lr + 0.5 * (lr - min_lr) * (1.0 + E.cos(E.pi * (t - Wt) / span))
    return E.where(t <= Wt, ramp, E.where(t >= N - no_aug, min_lr, decay))


def _step_branch(t, lr, min_lr, N, step_num):
    rate = (min_lr / lr) ** (1 / E.maximum(step_num - 1, 1))
    return lr * rate ** (t // (N / step_num))


@factory
def get_lr_scheduler(lr_decay_type: str | None = None, lr: float | None = None,
                     min_lr: float | None = None, total_iters: float | None = None,
                     warmup_iters_ratio: float = 0.1, warmup_lr_ratio: float = 0.1,
                     no_aug_iter_ratio: float = 0.3, step_num: int = 10) -> Schedule:
    """``lr_decay_type="cos"``: quadratic warmup, cosine, flat tail. With ``N = total_iters``,
    ``Wt = min(max(warmup_iters_ratio N, 1), 3)`` (may be fractional),
    ``ws = max(warmup_lr_ratio lr, 1e-6)``, ``NA = min(max(no_aug_iter_ratio N, 1), 15)``::

        f(t) = (lr - ws) (t / Wt)^2 + ws                                    t <= Wt
             = min_lr                                                       t >= N - NA
             = min_lr + (lr - min_lr) (1 + cos(pi (t - Wt) / (N - Wt - NA))) / 2   otherwise

    ``lr_decay_type="step"``: ``lr * r ** (t // (N / step_num))`` with
    ``r = (min_lr / lr) ** (1 / (step_num - 1))`` (a float floor division; no clamp, so it
    keeps decaying past ``N``).

    Step mapping: ``t`` is the ``iters`` argument of the returned function (the epoch).
    The warmup peak is reached exactly at ``t == Wt``. ``lr_decay_type`` is a choice
    parameter, sweepable like any other; unlike the original (where any value but "cos"
    means step decay) a value other than "cos" or "step" is refused.
    """
    t = E.step()
    p = {n: E.param(n) for n in ("lr_decay_type", "lr", "min_lr", "total_iters",
                                 "warmup_iters_ratio", "warmup_lr_ratio", "no_aug_iter_ratio",
                                 "step_num")}
    cos_v = _cos_branch(t, p["lr"], p["min_lr"], p["total_iters"], p["warmup_iters_ratio"],
                        p["warmup_lr_ratio"], p["no_aug_iter_ratio"])
    step_v = _step_branch(t, p["lr"], p["min_lr"], p["total_iters"], p["step_num"])
    expr = E.where(p["lr_decay_type"] == 0, cos_v, step_v)
    params = [Param("lr_decay_type", kind="choice", choices=DECAY_TYPES),
              Param("lr", kind="float", gt=0), Param("min_lr", kind="float", ge=0),
              Param("total_iters", gt=0), Param("warmup_iters_ratio", kind="float", ge=0),
              Param("warmup_lr_ratio", kind="float", ge=0),
              Param("no_aug_iter_ratio", kind="float", ge=0), Param("step_num", kind="int")]
    is_step = DECAY_TYPES.index("step")
    checks = [
        Check(("lr_decay_type", "step_num"), lambda lr_decay_type, step_num:
              (lr_decay_type != is_step) | (step_num >= 2),
              "step decay needs step_num >= 2 (the rate divides by step_num - 1)"),
        Check(("lr_decay_type", "total_iters", "step_num"),
              lambda lr_decay_type, total_iters, step_num:
              (lr_decay_type != is_step) | (total_iters >= step_num),
              "step decay needs total_iters / step_num >= 1 (the original raises 'step_size "
              "must above 1')"),
    ]
    values = {k: v for k, v in dict(
        lr_decay_type=lr_decay_type, lr=lr, min_lr=min_lr, total_iters=total_iters,
        warmup_iters_ratio=warmup_iters_ratio, warmup_lr_ratio=warmup_lr_ratio,
        no_aug_iter_ratio=no_aug_iter_ratio, step_num=step_num).items() if v is not None}
    return Schedule(expr, params, name="get_lr_scheduler", values=values, checks=checks,
                    doc=get_lr_scheduler.__doc__)

