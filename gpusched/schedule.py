"""Schedules: a traced expression plus its parameters (names, defaults, domains)."""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, cast

from . import expr as E
from .params import REQUIRED, Check, Param, validate_name
from .plan import is_list_use

__all__ = ["Schedule", "schedule", "as_schedule", "trace", "Call"]


@dataclass(frozen=True, eq=False)
class Call:
    """How a schedule was built, as data: a catalog factory's spec name (``"torch.StepLR"``)
    with the arguments it was given and where it lives (module, attribute), or an operation on
    schedules: ``"+"``, ``"-"``, ``"*"``, ``"/"`` (two operands, schedules or numbers) and
    ``"rename"`` (the schedule, then ``old=new`` keywords). ``gpusched.spec.dumps`` prints it,
    pickling rebuilds from it, equality compares it."""

    name: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    target: tuple[str, str] | None = None


# schedules combined by arithmetic: the symbol (also a Call name) and the operation
ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "/": lambda a, b: a / b}


def _same(a, b) -> bool:
    """Two parameter values (numbers, lists, arrays) are the same value."""
    try:
        import numpy as np
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (TypeError, ValueError):
        return a is b


def trace(fn: Callable, names: Iterable[str]) -> E.Expr:
    """Call ``fn(t, *params)`` once with symbolic values and return the recorded expression."""
    out = fn(E.step(), *(E.param(n) for n in names))
    return E.const(out)


def _signature_params(fn: Callable) -> list[Param]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cannot read the parameters of {fn!r}: {err}") from None
    ps = list(sig.parameters.values())
    if not ps or ps[0].kind not in (inspect.Parameter.POSITIONAL_ONLY,
                                   inspect.Parameter.POSITIONAL_OR_KEYWORD):
        raise TypeError("a schedule function takes the step as its first argument, "
                        "e.g. lambda t, base_lr: base_lr * 0.9 ** t")
    out = []
    for p in ps[1:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"a schedule function cannot take *args or **kwargs ({p}); name "
                            f"every parameter")
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        out.append(Param(p.name, default=default))
    return out


class Schedule:
    """A schedule: ``value(t) = expr(t, params)``, evaluated for whole grids by gs.evaluate.

    ``values`` holds the value each parameter takes when a grid does not give it (the
    constructor's arguments or the function's defaults); a grid column of the same name
    overrides it for every config. Inside a traced function, calling a schedule with a traced
    step (``s(t - w, base_lr=peak)``) inlines its expression, so schedules compose.
    """

    def __init__(self, expr: E.Expr, params: Iterable[Param], *, name: str = "schedule",
                 values: Mapping | None = None, checks: Iterable[Check] = (),
                 doc: str | None = ""):
        self.expr = E.const(expr)
        self.param_specs = {p.name: p for p in params}
        self.name = name
        self.checks = tuple(checks)
        self.doc = doc or ""
        self.built: Call | None = None    # how it was built (gpusched.registry)
        self.spec_values: dict = {}       # values given since, by with_values
        self.values: dict[str, Any] = {n: p.default for n, p in self.param_specs.items()
                       if p.default is not REQUIRED}
        for k, v in (values or {}).items():
            self._known(k)
            self.values[k] = v
        used = {n.value for n in E.all_nodes(self.expr) if n.op == "param"}
        unknown = used - set(self.param_specs)
        if unknown:
            raise ValueError(f"schedule {name!r} uses undeclared parameters {sorted(unknown)}")
        self.list_params = _list_roles(self.expr)
        for n in self.list_params:
            if self.param_specs[n].kind not in ("list", "any"):
                raise TypeError(f"parameter {n!r} is used as a list but declared "
                                f"{self.param_specs[n].kind}")

    # -- introspection -------------------------------------------------------------------------
    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.param_specs)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n in self.param_specs if n not in self.values)

    @property
    def text(self) -> str:
        return E.to_text(self.expr)

    def _known(self, name):
        if name not in self.param_specs:
            raise ValueError(f"unknown parameter {name!r} for schedule {self.name!r}; its "
                             f"parameters are {', '.join(self.param_specs) or '(none)'}")

    def __repr__(self):
        vals = ", ".join(f"{n}={self.values[n]!r}" if n in self.values else f"{n}=?"
                         for n in self.param_specs)
        return f"<gpusched {self.name}({vals})>"

    # -- arithmetic: a new schedule whose parameters stay sweepable --------------------------
    def _combine(self, other, sym: str, reverse: bool = False):
        """``self <sym> other`` (``other <sym> self`` when ``reverse``): the expressions
        combined, the parameters of both kept as parameters (a grid still sweeps them); a
        name in both must mean the same parameter with the same value."""
        operand: Any
        if isinstance(other, Schedule):
            o_expr, o_specs, o_vals = other.expr, other.param_specs, other.values
            o_checks, o_name, operand = other.checks, other.name, other
        elif isinstance(other, numbers.Real) and not isinstance(other, bool):
            value: Any = other.item() if hasattr(other, "item") else other
            o_expr, o_specs, o_vals, o_checks = E.const(value), {}, {}, ()
            o_name, operand = repr(value), value
        else:
            return NotImplemented
        for n in sorted(set(self.param_specs) & set(o_specs)):
            mine, theirs = self.values.get(n, REQUIRED), o_vals.get(n, REQUIRED)
            if self.param_specs[n] != o_specs[n] or not _same(mine, theirs):
                shown = ["no value" if v is REQUIRED else repr(v) for v in (mine, theirs)]
                raise ValueError(
                    f"parameter {n!r} is in both schedules ({self.name!r}: {shown[0]}, "
                    f"{o_name!r}: {shown[1]}) as different parameters; rename one first, "
                    f"e.g. .rename({n}='{n}_2')")
        a, b = (o_expr, self.expr) if reverse else (self.expr, o_expr)
        an, bn = (o_name, self.name) if reverse else (self.name, o_name)
        expr = ARITHMETIC[sym](a, b)
        new = Schedule(expr, {**self.param_specs, **o_specs}.values(),
                       name=f"({an} {sym} {bn})", values={**o_vals, **self.values},
                       checks=self.checks + tuple(c for c in o_checks if c not in self.checks))
        if self.built is not None and getattr(operand, "built", True) is not None:
            new.built = Call(sym, (operand, self) if reverse else (self, operand))
        return new

    def _operator(sym: str, reverse: bool = False):  # type: ignore[misc]  # class body only
        def apply(self, other):
            return self._combine(other, sym, reverse=reverse)
        return apply

    __add__, __radd__ = _operator("+"), _operator("+", True)
    __sub__, __rsub__ = _operator("-"), _operator("-", True)
    __mul__, __rmul__ = _operator("*"), _operator("*", True)
    __truediv__, __rtruediv__ = _operator("/"), _operator("/", True)
    del _operator

    def __neg__(self):
        return self._combine(-1, "*", reverse=True)

    # -- a value: equality, hashing and pickling by how it was built ---------------------------
    def identity(self) -> tuple | None:
        """How this schedule was built, as a hashable value (the call of each catalog factory
        with its arguments, then values given since), or None for a schedule not built by
        catalog factories (a traced function) or holding a value a spec cannot write (a
        Python function, a non-finite number). Equal identities, equal specs."""
        try:
            return _identity(self)
        except _NoIdentity:
            return None

    def __eq__(self, other):
        """Schedules built the same way are equal (``s == spec.loads(spec.dumps(s))``); others
        only to themselves."""
        if self is other:
            return True
        if not isinstance(other, Schedule):
            return NotImplemented
        mine = self.identity()
        return mine is not None and mine == other.identity()

    def __hash__(self):
        mine = self.identity()
        return hash(mine) if mine is not None else object.__hash__(self)

    def __reduce_ex__(self, protocol):
        """Pickled as how it was built, rebuilt by calling the same factories (``pickle``,
        ``multiprocessing`` with spawn, ``ProcessPoolExecutor``): a twin's checks hold
        closures that stdlib pickle cannot write. A schedule not built by catalog factories
        pickles field by field (cloudpickle can write its Python functions; stdlib pickle
        refuses them)."""
        if self.built is not None:
            return (_rebuild, (self.built, self.spec_values))
        return super().__reduce_ex__(protocol)

    def __getstate__(self):
        """Fields for pickling, without the generated single-value functions (rebuilt on
        use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_scalars"}

    def select(self, configs: Any) -> Any:
        """Only this schedule's parameters from a sweep's configs, which also hold other keys
        (``batch_size``, ``seed``): a dict gives a dict, a list of dicts a list, a
        ``gs.grid``/``gs.trials`` a grid of the same configs (rows) without the other
        columns. Evaluating with unknown keys stays an error, so a typo is never ignored."""
        from collections.abc import Mapping
        from .grid import Grid
        mine = self.param_specs
        if isinstance(configs, Mapping):
            return {k: v for k, v in configs.items() if k in mine}
        if isinstance(configs, Grid):
            cols = {k: c for k, c in configs.columns.items() if k in mine}
            whole = configs.axes is not None and set(configs.axes) <= set(mine)
            return Grid(cols, len(configs), configs.axes if whole else None)
        if isinstance(configs, (list, tuple)) and all(isinstance(c, Mapping) for c in configs):
            return [self.select(c) for c in configs]
        raise TypeError(f"select takes a dict, a list of dicts or a grid, got "
                        f"{type(configs).__name__}")

    # -- derivation ----------------------------------------------------------------------------
    def with_values(self, **values: Any) -> "Schedule":
        """A copy whose parameters take these values unless a grid gives them."""
        new = Schedule(self.expr, self.param_specs.values(), name=self.name,
                       values={**self.values, **values}, checks=self.checks, doc=self.doc)
        new.built, new.spec_values = self.built, {**self.spec_values, **values}
        return new

    def rename(self, **mapping: str) -> "Schedule":
        """A copy with parameters renamed, ``old=new``: ``gs.linear().rename(init_value="lr0")``.

        Use it to keep two pieces of a join apart, or to match a sweep tool's names.
        """
        for old, new_name in mapping.items():
            self._known(old)
            validate_name(new_name)
        names = [mapping.get(n, n) for n in self.param_specs]
        if len(set(names)) != len(names):
            raise ValueError(f"renaming {mapping} would give two parameters the same name")
        expr = E.substitute(self.expr, {E.param(o): E.param(n) for o, n in mapping.items()})
        specs = [replace(p, name=mapping.get(p.name, p.name)) for p in self.param_specs.values()]
        values = {mapping.get(k, k): v for k, v in self.values.items()}
        checks = [_renamed_check(c, mapping) for c in self.checks]
        new = Schedule(expr, specs, name=self.name, values=values, checks=checks, doc=self.doc)
        if self.built is not None:
            new.built = Call("rename", (self,), dict(mapping))
        return new

    def __call__(self, t: Any, **params: Any) -> Any:
        """Inline into a traced expression (``t`` traced), or evaluate at concrete steps.

        With a traced ``t``, keyword arguments replace parameters by expressions or numbers;
        parameters not given keep their symbolic names (or fixed values) in the result.
        With concrete steps (an int or an array), returns float64 values for one config.
        """
        if isinstance(t, E.Expr):
            for k in params:
                self._known(k)
            mapping = {E.step(): t}
            for name in self.param_specs:
                if name in params:
                    mapping[E.param(name)] = E.const(cast(Any, params[name]))
                elif name in self.values and name not in self.list_params:
                    mapping[E.param(name)] = E.const(self.values[name])
            return E.substitute(self.expr, mapping)
        from .scalar import at_steps
        return at_steps(self, t, params)


def _renamed_check(check: Check, mapping: dict) -> Check:
    inverse = {mapping.get(n, n): n for n in check.names}

    def ok(**cols):
        return check.ok(**{inverse[k]: v for k, v in cols.items()})
    return Check(tuple(inverse), ok, check.message)


def _list_roles(root: E.Expr) -> frozenset:
    as_list: set = set()
    as_scalar: set = set()
    for n in E.all_nodes(root):
        for k, a in enumerate(n.args):
            if a.op == "param":
                (as_list if is_list_use(n, k) else as_scalar).add(a.value)
    both = as_list & as_scalar
    if both:
        raise TypeError(f"parameter(s) {sorted(both)} used both as a list (gs.take, "
                        f"gs.count_le ...) and as a number")
    if root.op == "param" and root.value in as_list:
        raise TypeError(f"a list parameter ({root.value!r}) cannot be the schedule's value")
    return frozenset(as_list)


def schedule(fn: Callable, _name: str | None = None, **fixed: Any) -> Schedule:
    """Trace ``fn(t, **params)`` into a :class:`Schedule`.

    The first argument is the step ``t`` (an int64); every other argument is a parameter,
    bound by name from ``fixed``, the function's defaults, or a grid column. Use ``gs.cos``,
    ``gs.where``, ``gs.maximum`` ... (or NumPy's ufuncs) on traced values; Python ``if``,
    ``max()`` and ``math.cos`` raise a TypeError naming the replacement.

    >>> import gpusched as gs
    >>> s = gs.schedule(lambda t, base_lr, T: base_lr * 0.5 * (1 + gs.cos(gs.pi * t / T)))
    """
    if isinstance(fn, Schedule):
        return fn.with_values(**fixed)
    if not callable(fn):
        raise TypeError(f"gs.schedule takes a function of the step, got {fn!r}")
    params = _signature_params(fn)
    for p in params:
        validate_name(p.name)
    expr = trace(fn, [p.name for p in params])
    name = str(_name or getattr(fn, "__name__", None) or "schedule")
    if name == "<lambda>" or not name.isidentifier():
        name = "lambda"
    return Schedule(expr, params, name=name, values=fixed)


def as_schedule(obj: Schedule | Callable) -> Schedule:
    """``obj`` if it is a Schedule, a function of the step traced by :func:`schedule`, else a
    TypeError."""
    if isinstance(obj, Schedule):
        return obj
    if callable(obj):
        return schedule(obj)
    raise TypeError(f"expected a gpusched schedule (gs.schedule(fn), gs.compat...), got "
                    f"{type(obj).__name__}")


class _NoIdentity(Exception):
    pass


def _identity(v) -> Any:
    """``v`` as a hashable value that tells apart what a spec prints apart (1 and 1.0, a list
    and a number); a value a spec cannot hold raises _NoIdentity."""
    if isinstance(v, Schedule):
        if v.built is None:
            raise _NoIdentity
        return ("schedule", _identity(v.built), _identity(v.spec_values))
    if isinstance(v, Call):
        return (v.name, _identity(list(v.args)), _identity(dict(v.kwargs)))
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, numbers.Integral):
        return ("int", int(v))
    if isinstance(v, numbers.Real):
        if not math.isfinite(v):
            raise _NoIdentity
        return ("float", repr(float(v)))        # -0.0 and 0.0 apart, as in a spec
    if isinstance(v, Mapping):
        return ("dict", tuple((_identity(k), _identity(x)) for k, x in v.items()))
    if hasattr(v, "tolist"):                    # NumPy arrays and scalars
        v = v.tolist()
        if not isinstance(v, list):
            return _identity(v)
    if isinstance(v, (list, tuple)):
        return ("list", tuple(_identity(x) for x in v))
    raise _NoIdentity


def _rebuild(call: Call, values: dict) -> Schedule:
    """Unpickle a schedule (see ``Schedule.__reduce_ex__``): call again what built it."""
    if call.name in ARITHMETIC:
        sched = ARITHMETIC[call.name](*call.args)
    elif call.name == "rename":
        sched = call.args[0].rename(**call.kwargs)
    else:
        if call.target is None:
            raise ValueError(f"cannot rebuild {call.name!r}: it does not say where it lives")
        module, attr = call.target
        if not module.startswith("gpusched."):
            raise ValueError(f"cannot rebuild {call.name!r} from module {module!r}")
        sched = getattr(importlib.import_module(module), attr)(*call.args, **call.kwargs)
    return sched.with_values(**values) if values else sched
