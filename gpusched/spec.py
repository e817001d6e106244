"""Schedule specs: a schedule as a one-line string, and back.

A spec names a schedule factory and its arguments, as Python call syntax::

    torch.OneCycleLR(max_lr=0.1, total_steps=10000)
    cosine(init_value=0.1, decay_steps=900, end_value=1e-4)
    torch.SequentialLR([torch.LinearLR(start_factor=0.1, total_iters=50),
                        torch.CosineAnnealingLR(T_max=950)], milestones=[50])
    expr("base_lr * 0.5 * (1 + cos(pi * t / T))", base_lr=0.1)

so it fits in a single categorical value of a W&B, Hydra or Ray config. Factories are the core
blocks (``cosine``, ``join`` ...), ``metric.*`` and the twins ``<library>.<Name>``;
``expr("...")`` is a custom schedule whose formula is an expression of ``t`` and parameter names.

``with_values(spec, name=value, ...)`` and ``rename(spec, old='new', ...)`` adjust a schedule
as the methods of the same names do.

Nothing is ``eval``-ed: the text is parsed with :mod:`ast` and only a whitelist is accepted
(calls of catalog factories; numbers, strings, booleans, None, lists, tuples and dicts of them
as arguments; in ``expr`` formulas, arithmetic, comparisons, ``a if c else b`` and the
functions listed in :data:`FUNCTIONS`). Attribute access other than ``library.Name``, other
calls, dunder names, lambdas, subscripts and oversized input raise :class:`SpecError` (a
ValueError) that says what is not allowed.

``dumps(schedule)`` gives a spec back for a schedule built from a spec or by a catalog factory
called in Python (each call is recorded), including values given later with ``with_values``;
``loads(dumps(s))`` evaluates the same as ``s``.
"""

from __future__ import annotations

import ast
import re
import math
import numbers
import os
from typing import Any, Callable
import sys

from . import expr as E
from . import registry
from .params import Param, validate_name
from .grid import Grid
from .schedule import ARITHMETIC, Call, Schedule

__all__ = ["loads", "dumps", "SpecError", "FUNCTIONS", "MAX_LENGTH", "factories", "expr"]

MAX_LENGTH = 4000        # characters in one spec
MAX_NODES = 2000         # syntax-tree nodes
MAX_DEPTH = 40

# functions an ``expr`` formula may call (gs.cos, gs.atan ...: gpusched/ops.py)
FUNCTIONS: dict[str, Callable[..., Any]] = {
    **E.FUNCTIONS, "floor": E.floor, "ceil": E.ceil, "abs": abs,
    "minimum": E.minimum, "maximum": E.maximum, "min": E.minimum, "max": E.maximum,
    "clip": E.clip, "where": E.where, "float": E.to_float, "int": E.to_int,
}
CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}
_BINOPS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__",
           ast.FloorDiv: "__floordiv__", ast.Mod: "__mod__", ast.Pow: "__pow__"}
_CMPOPS = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__",
           ast.Eq: "__eq__", ast.NotEq: "__ne__"}


class SpecError(ValueError):
    """A spec that is not allowed or does not parse."""


def factories() -> dict:
    """Every name a spec may call: ``"cosine"``, ``"torch.OneCycleLR"`` ... (the factories
    :mod:`gpusched.registry` finds)."""
    return registry.factories()


# ---------------------------------------------------------------------------------------------
# printing how a schedule was built (its Call, recorded by gpusched.registry)
# ---------------------------------------------------------------------------------------------

def _built_text(call: Call) -> str:
    if call.name in ARITHMETIC:
        a, b = (_value_text(x) for x in call.args)
        return f"({a} {call.name} {b})"
    if call.name == "rename":
        return f"rename({dumps(call.args[0])}, " + ", ".join(
            f"{o}={n!r}" for o, n in call.kwargs.items()) + ")"
    return _call_text(call.name, call.args, call.kwargs)


def _call_text(name, args, kwargs) -> str:
    parts = [_value_text(a) for a in args]
    parts += [f"{k}={_value_text(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _value_text(v) -> str:
    if isinstance(v, Schedule):
        return dumps(v)
    if v is None or isinstance(v, (bool, str)):
        return repr(v)
    if isinstance(v, numbers.Integral):
        return repr(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if not math.isfinite(f):
            raise SpecError(f"{f} cannot be written in a spec")
        return repr(f)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_value_text(k)}: {_value_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
        seq = v.tolist() if hasattr(v, "tolist") else list(v)
        return "[" + ", ".join(_value_text(x) for x in seq) + "]"
    raise SpecError(f"{type(v).__name__} values cannot be written in a spec")


def dumps(schedule: Schedule) -> str:
    """The spec of ``schedule``: how it was built, then any values given since."""
    call = getattr(schedule, "built", None)
    if call is None:
        raise SpecError(f"schedule {schedule.name!r} was not built from a spec or a catalog "
                        f"factory, so it has no spec")
    try:
        base = _built_text(call)
    except SpecError as err:
        raise SpecError(f"schedule {schedule.name!r} has no spec: {err}") from None
    extra = getattr(schedule, "spec_values", None) or {}
    text = base if not extra else f"with_values({base}, " + ", ".join(
        f"{k}={_value_text(v)}" for k, v in extra.items()) + ")"
    if len(text) > MAX_LENGTH:
        raise SpecError(f"the spec of {schedule.name!r} would be {len(text)} characters, more "
                        f"than a spec may hold ({MAX_LENGTH}); long values (a metric series) "
                        f"belong in a grid column, not in the spec")
    return text


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------

def loads(text: str) -> Schedule:
    """The schedule a spec describes (see the module docstring)."""
    if not isinstance(text, str):
        raise SpecError(f"a spec is a string, got {type(text).__name__}")
    tree = _parse(text, "spec")
    sched = _Reader(factories()).value(tree.body, 0)
    if not isinstance(sched, Schedule):
        raise SpecError("a spec must describe a schedule, e.g. 'torch.StepLR(step_size=30)'")
    return sched


def _parse(text: str, what: str):
    """``text`` as an expression syntax tree, within the size limits."""
    if len(text) > MAX_LENGTH:
        raise SpecError(f"{what} of {len(text)} characters: at most {MAX_LENGTH} are accepted")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise SpecError(f"{what} does not parse: {err.msg} (column {err.offset})") from None
    _check_size(tree)
    return tree


def _check_size(tree):
    n = 0
    for node in ast.walk(tree):
        n += 1
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise SpecError(f"name {node.id!r}: dunder names are not allowed")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise SpecError(f"attribute {node.attr!r}: private attributes are not allowed")
    if n > MAX_NODES:
        raise SpecError(f"spec has {n} syntax nodes: at most {MAX_NODES} are accepted")


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


_SCHEDULE_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class _Reader:
    def __init__(self, table):
        self.table = table

    def value(self, node, depth):
        if depth > MAX_DEPTH:
            raise SpecError(f"spec nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (bool, int, float, str)) or node.value is None:
                return node.value
            raise SpecError(f"constant {node.value!r} is not allowed")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
                and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) \
                and not isinstance(node.operand.value, bool):
            v = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(x, depth + 1) for x in node.elts]
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise SpecError("'**' in a dict is not allowed")
            return {self.value(k, depth + 1): self.value(v, depth + 1)
                    for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.BinOp) and type(node.op) in _SCHEDULE_ARITHMETIC:
            left, right = self.value(node.left, depth + 1), self.value(node.right, depth + 1)
            if not (isinstance(left, Schedule) or isinstance(right, Schedule)) or \
                    any(not isinstance(x, (Schedule, int, float)) or isinstance(x, bool)
                        for x in (left, right)):
                raise SpecError("arithmetic in a spec combines schedules and numbers, e.g. "
                                "'0.5 * torch.StepLR(step_size=30)'")
            return ARITHMETIC[_SCHEDULE_ARITHMETIC[type(node.op)]](left, right)
        raise SpecError(f"{type(node).__name__} is not allowed in a spec (only calls of catalog "
                        f"schedules with literal arguments)")

    def call(self, node, depth):
        name = _dotted(node.func)
        if any(isinstance(a, ast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            raise SpecError("'*' and '**' arguments are not allowed")
        names = [k.arg for k in node.keywords]
        repeated = sorted({k for k in names if names.count(k) > 1})
        if repeated:
            raise SpecError(f"keyword argument {repeated[0]!r} repeated in "
                            f"{name or 'a call'}(...)")
        if name == "expr" and (len(node.args) != 1 or not isinstance(node.args[0], ast.Constant)
                               or not isinstance(node.args[0].value, str)):
            raise SpecError('expr takes the formula as one string: expr("base_lr * t", ...)')
        if name == "rename":
            if len(node.args) != 1:
                raise SpecError("rename(spec, old='new', ...) takes one schedule")
            base = self._schedule_arg(node, depth, "rename(spec, old='new', ...)")
            kw = {k.arg: self.value(k.value, depth + 1) for k in node.keywords}
            if not all(isinstance(v, str) for v in kw.values()):
                raise SpecError("rename(spec, old='new', ...) takes new names as strings")
            return base.rename(**kw)
        if name == "with_values":
            if len(node.args) != 1:
                raise SpecError("with_values(spec, name=value, ...) takes one schedule")
            base = self._schedule_arg(node, depth, "with_values(spec, name=value, ...)")
            kw = {k.arg: self.value(k.value, depth + 1) for k in node.keywords}
            return base.with_values(**kw)
        if name is None or name not in self.table:
            shown = name if name is not None else ast.dump(node.func)[:60]
            raise SpecError(f"{shown!r} is not a schedule in the catalog (see `gpusched list`)")
        args = [self.value(a, depth + 1) for a in node.args]
        kwargs = {k.arg: self.value(k.value, depth + 1) for k in node.keywords}
        try:
            return self.table[name](*args, **kwargs)
        except TypeError as err:
            raise SpecError(f"{name}: {err}") from None

    def _schedule_arg(self, node, depth, usage: str):
        base = self.value(node.args[0], depth + 1)
        if not isinstance(base, Schedule):
            raise SpecError(f"{usage} takes a schedule first, not {base!r}")
        return base


@registry.factory
def expr(formula: str, **values: Any) -> Schedule:
    """A custom schedule: ``formula`` an expression of ``t`` and parameter names (arithmetic,
    comparisons, ``a if c else b`` and the functions of :data:`FUNCTIONS`), the parameters
    taking ``values`` unless a grid gives them: ``expr("base_lr * 0.98 ** t", base_lr=0.1)``."""
    if not isinstance(formula, str):
        raise SpecError(f"expr takes the formula as a string, got {type(formula).__name__}")
    tree = _parse(formula, "formula")
    names: list = []
    result = _Formula(names).build(tree.body, 0)
    return Schedule(E.const(result), [Param(n) for n in names], name="expr", values=values)


class _Formula:
    """An ``expr`` formula to an expression graph: ``t``, parameter names, numbers,
    arithmetic, comparisons, ``and``/``or``/``not``, ``a if c else b`` and FUNCTIONS."""

    def __init__(self, names):
        self.names = names

    def build(self, node, depth):
        if depth > MAX_DEPTH:
            raise SpecError(f"formula nests deeper than {MAX_DEPTH} levels")
        b = lambda x: self.build(x, depth + 1)   # noqa: E731
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise SpecError(f"constant {node.value!r} is not allowed in a formula")
            return E.const(node.value)
        if isinstance(node, ast.Name):
            if node.id == "t":
                return E.step()
            if node.id in CONSTANTS:
                return E.const(CONSTANTS[node.id])
            if node.id in FUNCTIONS:
                raise SpecError(f"{node.id!r} is a function; call it")
            try:
                validate_name(node.id)
            except ValueError as err:
                raise SpecError(str(err)) from None
            if node.id not in self.names:
                self.names.append(node.id)
            return E.param(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return getattr(E.const(b(node.left)), _BINOPS[type(node.op)])(b(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -b(node.operand)
            if isinstance(node.op, ast.UAdd):
                return b(node.operand)
            if isinstance(node.op, ast.Not):
                return E.logical_not(b(node.operand))
        if isinstance(node, ast.BoolOp):
            fn = E.logical_and if isinstance(node.op, ast.And) else E.logical_or
            out = b(node.values[0])
            for v in node.values[1:]:
                out = fn(out, b(v))
            return out
        if isinstance(node, ast.Compare):
            out, left = None, b(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                if type(op) not in _CMPOPS:
                    raise SpecError(f"comparison {type(op).__name__} is not allowed")
                right = b(right_node)
                c = getattr(E.const(left), _CMPOPS[type(op)])(right)
                out = c if out is None else E.logical_and(out, c)
                left = right
            return out
        if isinstance(node, ast.IfExp):
            return E.where(b(node.test), b(node.body), b(node.orelse))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                shown = _dotted(node.func) or type(node.func).__name__
                raise SpecError(f"call of {shown!r} is not allowed; formulas may call "
                                f"{', '.join(sorted(FUNCTIONS))}")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise SpecError(f"{node.func.id}() takes positional arguments only")
            try:
                return FUNCTIONS[node.func.id](*(b(a) for a in node.args))
            except TypeError as err:
                raise SpecError(f"{node.func.id}(): {err}") from None
        raise SpecError(f"{type(node).__name__} is not allowed in a formula")


def parse_values(text: str) -> list:
    """The values of a command-line grid axis: ``0.1,0.3`` -> [0.1, 0.3]; ``min,max`` ->
    ['min', 'max']; ``[30,60],[50]`` -> [[30, 60], [50]] (literals only, through ast)."""
    if len(text) > MAX_LENGTH:
        raise SpecError(f"grid values of {len(text)} characters: at most {MAX_LENGTH}")
    try:
        tree = ast.parse(f"[{text}]", mode="eval")
    except SyntaxError:
        raise SpecError(f"grid values {text!r} do not parse; write e.g. 0.1,0.3 or "
                        f"[30,60],[50]") from None
    _check_size(tree)

    def lit(node):
        if isinstance(node, ast.Name):          # a bare word is a string (a choice)
            return node.id
        if isinstance(node, (ast.List, ast.Tuple)):
            return [lit(x) for x in node.elts]
        return _Reader({}).value(node, 0)

    def word_or_lit(node):
        # a bare word with dashes (a choice such as 1-sqrt) reads as arithmetic: keep its text
        if isinstance(node, ast.BinOp):
            word = ast.get_source_segment(f"[{text}]", node)
            if word and re.fullmatch(r"[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)+", word) \
                    and re.search(r"[A-Za-z_]", word):
                return word
        return lit(node)
    assert isinstance(tree.body, ast.List)
    return [word_or_lit(x) for x in tree.body.elts]


def load_file(path: str | os.PathLike) -> tuple[Schedule, Grid | None, dict]:
    """A schedule with its grid from a TOML or JSON file::

        schedule = "torch.OneCycleLR(max_lr=0.1, total_steps=10000)"
        steps = 10000                 # optional; also dtype, backend
        [grid]                        # a cartesian product ...
        pct_start = [0.1, 0.3]
        # ... or [[trials]] tables (TOML) / "trials": [{...}, ...] (JSON): explicit configs

    Returns (schedule, grid or None, options dict).
    """
    import json
    from pathlib import Path
    from .grid import grid as make_grid, trials as make_trials
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"spec file {path} not found")
    if p.stat().st_size > 10 * 2 ** 20:      # checked before reading it
        raise SpecError(f"{path}: spec files are limited to 10 MiB")
    with open(p, "rb") as f:
        raw = f.read(10 * 2 ** 20 + 1)
    if len(raw) > 10 * 2 ** 20:
        raise SpecError(f"{path}: spec files are limited to 10 MiB")
    if p.suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:                       # Python 3.10: the same parser, as a package
            import tomli as tomllib
        try:
            data = tomllib.loads(raw.decode())
        except tomllib.TOMLDecodeError as err:
            raise SpecError(f"{path}: {err}") from None
    elif p.suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as err:
            raise SpecError(f"{path}: {err}") from None
    else:
        raise SpecError(f"{path}: a spec file is .toml or .json")
    if not isinstance(data, dict) or not isinstance(data.get("schedule"), str):
        raise SpecError(f"{path}: needs a 'schedule' entry holding a spec string")
    unknown = set(data) - {"schedule", "grid", "trials", "steps", "dtype", "backend"}
    if unknown:
        raise SpecError(f"{path}: unknown entr{'y' if len(unknown) == 1 else 'ies'} "
                        f"{', '.join(sorted(unknown))}")
    if "grid" in data and "trials" in data:
        raise SpecError(f"{path}: give a grid or trials, not both")
    sched = loads(data["schedule"])
    g = None
    if "grid" in data:
        g = make_grid(**data["grid"])
    elif "trials" in data:
        g = make_trials(list(data["trials"]))
    options = {k: data[k] for k in ("steps", "dtype", "backend") if k in data}
    return sched, g, options
