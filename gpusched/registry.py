"""The catalog's factories, and how each schedule was built, as data.

Every public factory (``cosine``, ``torch.OneCycleLR`` ...) is decorated with
:func:`factory` where it is defined. A schedule it returns carries the call as a
:class:`~gpusched.schedule.Call` (the factory's spec name, where it lives, the arguments): specs
print it (``gpusched.spec.dumps``), pickling rebuilds from it, equality compares it. Nothing is
registered by importing a module: :func:`factories` reads the modules named in
:data:`SECTIONS` when asked, and the names it finds are the one list that specs, the CLI's
``gpusched list`` and ``docs/schedules.md`` share.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Tuple, overload

from . import expr as E
from .params import Check, Sweep
from .schedule import Call, Schedule

__all__ = ["Section", "SECTIONS", "factory", "twin", "factories", "is_factory"]


@dataclass(frozen=True)
class Section:
    """A module of factories: its spec prefix and, when it is listed in the catalog, the title
    of its section (``shown`` is the module name the catalog prints)."""

    module: str
    prefix: str
    title: str | None = None
    shown: str | None = None


# the twins' libraries: (module name under gpusched.compat, which is also the spec prefix,
# catalog title)
_LIBRARIES = (
    ("torch", "torch.optim.lr_scheduler"), ("transformers", "Hugging Face transformers"),
    ("timm", "timm.scheduler"), ("optax", "optax.schedules"),
    ("keras", "keras.optimizers.schedules"), ("deepspeed", "DeepSpeed lr_schedules"),
    ("mmengine", "MMEngine parameter schedulers"), ("fairseq", "fairseq lr_scheduler"),
    ("d2l", "d2l (seed)"), ("yolox", "YOLOX-style get_lr_scheduler (seed)"),
    ("warmboot", "CosineAnnealingWarmbootingLR (seed)"),
    ("multiscale", "Multiscale training sizes (seed)"),
)
SECTIONS: Tuple[Section, ...] = (
    Section("gpusched.blocks", "",
            "Core vocabulary (exact, documented; the twins are built from it)", "gpusched"),
    Section("gpusched.metric", "metric.", "Metric-driven schedules (scans over a metric series)"),
    *(Section(f"gpusched.compat.{name}", f"{name}.", title) for name, title in _LIBRARIES),
    Section("gpusched.spec", ""),            # expr("formula", ...): a custom schedule
)
_PREFIX = {s.module: s.prefix for s in SECTIONS}


def factory(fn: Callable | None = None, *, listed: bool = True) -> Callable:
    """Decorate a public factory: the schedules it returns remember the call (``listed=False``:
    callable from specs, left out of the catalog's pages, as ``transformers.get_scheduler``).

    The spec name is the module's prefix (:data:`SECTIONS`) and the function's name.
    """
    def decorate(f: Callable) -> Callable:
        if f.__module__ not in _PREFIX:
            raise ValueError(f"factory {f.__name__}: module {f.__module__} is not in "
                             f"gpusched.registry.SECTIONS")
        name = _PREFIX[f.__module__] + f.__name__
        target = (f.__module__, f.__name__)

        @functools.wraps(f)
        def recording(*args, **kwargs):
            sched = f(*args, **kwargs)
            if isinstance(sched, Schedule):
                sched.built = Call(name, args, dict(kwargs), target)
                sched.spec_values = {}
            return sched
        recording.__gpusched_factory__ = name       # type: ignore[attr-defined]
        recording.__gpusched_listed__ = listed      # type: ignore[attr-defined]
        return recording
    return decorate(fn) if fn is not None else decorate


# A declared factory takes what its body takes, and None for any swept argument (not fixed:
# from the grid), so type checkers see it as taking anything and returning a Schedule.
@overload
def twin(fn: Callable[..., Any], *, checks: Iterable[Check] = (),
         listed: bool = True) -> Callable[..., Schedule]: ...


@overload
def twin(fn: None = None, *, checks: Iterable[Check] = (),
         listed: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Schedule]]: ...


def twin(fn: Callable | None = None, *, checks: Iterable[Check] = (),
         listed: bool = True) -> Any:
    """Declare a factory in one function: its signature is the parameter list.

    An argument annotated ``Annotated[T, Sweep(...)]`` is a sweepable parameter (kind from
    ``T``, domain from ``Sweep``, default from the signature; ``REQUIRED`` or None: from the
    call or the grid); the function receives it traced (``E.param(name)``) and returns the
    schedule's expression (annotated ``-> E.Expr``: the factory itself returns the Schedule,
    with the same parameters). Other arguments (``output="lr"``, a Python function) reach it as
    given. The schedule is named after the function, documented by its docstring, checked by
    ``checks``, and records its call (:func:`factory`)::

        @twin
        def StepLR(step_size: Annotated[int, Sweep(gt=0)] = REQUIRED,
                   gamma: Annotated[float, Sweep()] = 0.1, *,
                   base_lr: Annotated[float, Sweep()] = REQUIRED) -> E.Expr:
            \"\"\"``base_lr * gamma ** (t // step_size)``.\"\"\"
            return base_lr * gamma ** (E.step() // step_size)
    """
    def declare(f: Callable) -> Callable:
        hints = typing.get_type_hints(f, include_extras=True)
        signature = inspect.signature(f)
        params = []
        for arg in signature.parameters.values():
            marks = [m for m in getattr(hints.get(arg.name), "__metadata__", ())
                     if isinstance(m, Sweep)]
            if marks:
                default = None if arg.default is inspect.Parameter.empty else arg.default
                params.append(marks[0].param(arg.name, hints[arg.name].__origin__, default))
        swept = {p.name for p in params}
        lists = {p.name for p in params if p.kind == "list"}
        rules = tuple(checks)

        @functools.wraps(f)
        def build(*args, **kwargs) -> Schedule:
            given = signature.bind(*args, **kwargs).arguments
            inputs = {name: E.param(name) if name in swept else given.get(name, arg.default)
                      for name, arg in signature.parameters.items()}
            values = {n: (list(v) if n in lists else v)
                      for n, v in given.items() if n in swept and v is not None}
            return Schedule(E.const(f(**inputs)), params, name=f.__name__, values=values,
                            checks=rules, doc=f.__doc__)
        # what help() and the catalog show: the factory returns a Schedule
        build.__signature__ = signature.replace(      # type: ignore[attr-defined]
            return_annotation="Schedule")
        return factory(build, listed=listed)
    return declare(fn) if fn is not None else declare


def is_factory(obj: object) -> bool:
    return callable(obj) and hasattr(obj, "__gpusched_factory__")


@functools.lru_cache(maxsize=None)
def _table() -> Dict[str, Callable]:
    out: Dict[str, Callable] = {}
    for section in SECTIONS:
        mod = importlib.import_module(section.module)
        for attr in getattr(mod, "__all__", ()):
            fn = getattr(mod, attr)
            if is_factory(fn):
                out[fn.__gpusched_factory__] = fn
    return out


def factories() -> Dict[str, Callable]:
    """Every name a spec may call (``"cosine"``, ``"torch.OneCycleLR"``, ``"expr"`` ...) and
    its factory, from the modules of :data:`SECTIONS`."""
    return dict(_table())


def listed(section: Section) -> list[str]:
    """The names of the factories ``section`` lists in the catalog, in ``__all__`` order."""
    mod = importlib.import_module(section.module)
    return [n for n in mod.__all__
            if is_factory(getattr(mod, n)) and getattr(mod, n).__gpusched_listed__]
