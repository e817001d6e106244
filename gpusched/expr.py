"""The expression graph every schedule is traced into (docs/architecture.md).

A schedule is a Python function of the step ``t`` and named parameters. Calling it once with
symbolic :class:`Expr` values records a small DAG; code generators and the NumPy interpreter
walk that DAG. Nodes are *interned* (hash-consed): building the same operation on the same
children twice returns the same object, so shared sub-expressions are stored once (CSE by
construction) and structural identity is object identity.

Python control flow cannot act on a traced value, so :meth:`Expr.__bool__` raises a
:class:`TracerBoolError` naming the replacements (``gs.where``, ``gs.maximum`` ...).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import threading
import weakref
from typing import Any, Callable, Iterable, Protocol, Sequence, Union

import numpy as np

from . import ops as _ops

__all__ = [
    "Expr", "TracerBoolError", "TracerConversionError", "step", "param", "const", "as_expr",
    "where", "minimum", "maximum", "clip", "floor", "ceil", *(f.name for f in _ops.FUNCTIONS),
    "to_float", "to_int", "logical_and", "logical_or",
    "logical_not", "count_lt", "count_le", "count_cumsum_le", "take", "length", "prod_first",
    "sum_first", "cumprod", "random_uniform", "random_below", "host_table", "HostScan",
    "host_scan", "pi", "e", "substitute", "topological", "signature",
]

# name -> (arity, result-kind rule), from the table of operations (gpusched/ops.py)
OPS = {name: (op.arity, op.dtype_rule) for name, op in _ops.OPS.items()}
LIST_OPS = frozenset({"count_lt", "count_le", "count_cumsum_le", "take", "length", "prod_first",
                      "sum_first"})
LEAVES = frozenset({"step", "param", "const", "table"})
IDENTITY_VALUED = frozenset({"table", "scan"})   # nodes keyed by their value's identity

_BOOL_MESSAGE = (
    "a traced schedule value has no truth value: Python `if`/`else`, `and`, `or`, `not`, "
    "`max()`, `min()` and chained comparisons like `a < t < b` cannot act on it. "
    "Write gs.where(cond, a, b) instead of `a if cond else b`, gs.maximum(a, b) / "
    "gs.minimum(a, b) instead of max()/min(), and gs.logical_and(x, y) or `(x) & (y)` "
    "instead of `and`."
)


class TracerBoolError(TypeError):
    """Python control flow was applied to a traced value."""


class TracerConversionError(TypeError):
    """A traced value was passed where Python needs a concrete number (math.cos, int(), ...)."""


_intern_lock = threading.Lock()
_interned: "weakref.WeakValueDictionary[tuple, Expr]" = weakref.WeakValueDictionary()


def _const_key(value):
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("i", value)
    return ("f", float(value).hex())


class Expr:
    """One node of a traced schedule: an operation on child nodes, or a leaf.

    Leaves: ``step`` (the int64 step ``t``), ``param`` (``value`` = its name), ``const``
    (``value`` = a Python int/float/bool) and ``table`` (``value`` = a :class:`HostTable`,
    a per-step value computed on the host). Build nodes with the module functions and
    Python operators, never with the constructor.
    """

    __slots__ = ("op", "args", "value", "_deps", "__weakref__")
    __array_priority__ = 1000  # numpy scalars defer to our reflected operators
    op: str
    args: tuple
    value: Any
    _deps: frozenset | None

    def __new__(cls, op, args=(), value=None):
        key = (op, tuple(id(a) for a in args),
               _const_key(value) if op == "const" else
               (id(value) if op in IDENTITY_VALUED else value))
        with _intern_lock:
            node = _interned.get(key)
            if node is None:
                node = object.__new__(cls)
                node.op, node.args, node.value = op, tuple(args), value
                node._deps = None
                _interned[key] = node
        return node

    # identity semantics: interning makes structural equality object identity
    __hash__ = object.__hash__

    def __reduce__(self):   # unpickling re-interns (Dask workers, multiprocessing)
        return (Expr, (self.op, self.args, self.value))

    @property
    def deps(self) -> frozenset:
        """Names this node depends on: parameter names and/or ``"step"``."""
        if self._deps is None:
            if self.op == "step":
                d = frozenset({"step"})
            elif self.op == "param":
                d = frozenset({self.value})
            elif self.op == "table":
                d = frozenset({"step"})
            elif self.op == "cumprod":
                d = self.args[0].deps | self.args[1].deps | {"step"}
            elif self.op == "scan":
                d = frozenset().union(*(a.deps for a in self.args)) | {"step"}
            else:
                d = frozenset().union(*(a.deps for a in self.args)) if self.args else frozenset()
            self._deps = d
        return self._deps

    def __repr__(self):
        return f"Expr({to_text(self)})"

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, o): return _binary("add", self, o)
    def __radd__(self, o): return _binary("add", o, self)
    def __sub__(self, o): return _binary("sub", self, o)
    def __rsub__(self, o): return _binary("sub", o, self)
    def __mul__(self, o): return _binary("mul", self, o)
    def __rmul__(self, o): return _binary("mul", o, self)
    def __truediv__(self, o): return _binary("truediv", self, o)
    def __rtruediv__(self, o): return _binary("truediv", o, self)
    def __floordiv__(self, o): return _binary("floordiv", self, o)
    def __rfloordiv__(self, o): return _binary("floordiv", o, self)
    def __mod__(self, o): return _binary("mod", self, o)
    def __rmod__(self, o): return _binary("mod", o, self)
    def __divmod__(self, o): return (self // o, self % o)
    def __rdivmod__(self, o): return (o // self, o % self)

    def __pow__(self, o, modulo=None):
        if modulo is not None:
            raise TypeError("pow() with a modulus is not supported on traced values")
        return _binary("pow", self, o)

    def __rpow__(self, o): return _binary("pow", o, self)
    def __neg__(self): return _unary("neg", self)
    def __pos__(self): return self
    def __abs__(self): return _unary("abs", self)

    # -- comparisons (return expressions) -------------------------------------------------
    def __lt__(self, o): return _binary("lt", self, o)
    def __le__(self, o): return _binary("le", self, o)
    def __gt__(self, o): return _binary("gt", self, o)
    def __ge__(self, o): return _binary("ge", self, o)
    def __eq__(self, o): return _binary("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return _binary("ne", self, o)  # type: ignore[override]
    def __and__(self, o): return _binary("and", self, o)
    def __rand__(self, o): return _binary("and", o, self)
    def __or__(self, o): return _binary("or", self, o)
    def __ror__(self, o): return _binary("or", o, self)
    def __invert__(self): return _unary("not", self)

    # -- what Python control flow would need ----------------------------------------------
    def __bool__(self):
        raise TracerBoolError(_BOOL_MESSAGE)

    def _no_conversion(self, *_):
        raise TracerConversionError(
            "a traced schedule value cannot become a concrete Python number here (math.cos(t), "
            "float(t), int(t), round(t), range(t), list indexing ...). Use gpusched's functions: "
            "gs.cos, gs.exp, gs.log, gs.sqrt, gs.floor, gs.to_int, gs.take(list, i) ...")

    __float__ = __int__ = __index__ = __complex__ = __round__ = __trunc__ = _no_conversion
    __floor__ = __ceil__ = __iter__ = __len__ = _no_conversion

    # -- NumPy interop: np.cos(t), np.maximum(a, t) ... trace like gs.cos ------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = _UFUNCS.get(ufunc.__name__)
        if method != "__call__" or op is None or kwargs:
            raise TypeError(
                f"numpy.{ufunc.__name__} cannot be traced; use the gs.* function of the same "
                f"name (gs.cos, gs.exp, gs.maximum, gs.where ...)")
        return op(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.where and not kwargs and len(args) == 3:
            return where(*args)
        if func is np.clip and not kwargs and len(args) == 3:
            return clip(*args)
        raise TypeError(f"numpy.{func.__name__} cannot be traced; use gs.where, gs.clip, "
                        f"gs.minimum, gs.maximum ...")


class HostTable:
    """A value per step computed by calling a Python function on the host (``table`` leaf).

    Used when a step-only function cannot be traced (it uses Python control flow): the
    function is called once per distinct step and the results are broadcast on every backend.
    """

    __slots__ = ("fn", "name", "__weakref__")

    def __init__(self, fn, name="lambda"):
        self.fn, self.name = fn, name

    def values(self, steps: np.ndarray, memo: dict) -> np.ndarray:
        out = np.empty(steps.shape, dtype=np.float64)
        fn = self.fn
        for k, s in enumerate(steps.tolist()):
            v = memo.get(s)
            if v is None:
                raw = fn(s)
                if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
                    raise TypeError(f"{self.name} returned {raw!r} (a {type(raw).__name__}) at "
                                    f"step {s}; it must return a real number")
                v = float(raw)
                if not math.isfinite(v):
                    raise ValueError(f"{self.name} returned {v} at step {s}; schedule values "
                                     f"must be finite")
                memo[s] = v
            out[k] = v
        return out


# ---------------------------------------------------------------------------------------------
# constructors
# ---------------------------------------------------------------------------------------------

# what the vocabulary takes: a traced value, or a number (a bool in conditions)
Operand = Union[Expr, int, float, bool]
# a list parameter of the schedule (checked when traced); Any: in a factory declared with
# registry.twin it is annotated as the list the user passes (Sequence[int])
ListParam = Any


def step() -> Expr:
    """The step variable ``t`` (int64)."""
    return Expr("step")


def param(name: str) -> Expr:
    """A named parameter (scalar or, when used by a list operation, a per-config list)."""
    return Expr("param", (), name)


def const(value: Operand) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (bool, np.bool_)):
        return Expr("const", (), bool(value))
    if isinstance(value, numbers.Integral):
        v = int(value)
        if not -(2 ** 63) <= v < 2 ** 63:
            raise ValueError(f"integer constant {v} does not fit in int64")
        return Expr("const", (), v)
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            raise ValueError("NaN cannot be a schedule constant")
        return Expr("const", (), f)
    raise TypeError(f"cannot use {value!r} (a {type(value).__name__}) in a schedule expression; "
                    f"expected a number or a traced value")


as_expr = const


def host_table(fn: Callable[[int], float], name: str = "lambda") -> Expr:
    return Expr("table", (), HostTable(fn, name))


class HostScan:
    """A sequence over steps for each config, computed on the host by a loop over steps that
    is vectorized over configs (``scan`` node): the metric-driven schedules (reduce on plateau,
    greedy), whose value at a step depends on every metric before it.

    ``fn(top, **columns)`` returns a float64 array (rows, top + 1): the values at steps
    ``0..top``. Each column is a (rows, 1) array for a scalar parameter, or (values (rows, K),
    lengths (rows, 1)) for a list parameter named in ``list_args``; rows is 1 when every
    input is shared by all configs. Define a HostScan once, at module level: nodes are keyed
    by its identity, and its ``name`` enters kernel signatures.
    """

    __slots__ = ("fn", "name", "list_args", "needs", "needs_extra", "arg_names", "__weakref__")

    def __init__(self, fn: Callable[..., np.ndarray], name: str, list_args: Iterable[str] = (),
                 needs: str | None = None, needs_extra: int = 0) -> None:
        self.fn, self.name, self.list_args = fn, name, frozenset(list_args)
        self.needs = needs   # a list argument that must hold at least ``top + needs_extra``
        self.needs_extra = needs_extra
        # the names ``fn`` knows its inputs by, in the scan node's order (set by the first
        # host_scan): a renamed parameter still reaches ``fn`` under its own name
        self.arg_names: tuple | None = None


def host_scan(rule: HostScan, index: Operand, params: Sequence[str]) -> Expr:
    """The value of ``rule``'s sequence at step ``index`` (clamped to 0..the last step),
    computed from the named parameters ``params``."""
    if not isinstance(rule, HostScan):
        raise TypeError(f"host_scan needs a HostScan, got {rule!r}")
    args = [param(p) if isinstance(p, str) else p for p in params]
    if not all(isinstance(a, Expr) and a.op == "param" for a in args):
        raise TypeError("host_scan reads parameters only")
    names = tuple(a.value for a in args)
    if rule.arg_names is None:
        rule.arg_names = names
    elif rule.arg_names != names:
        raise ValueError(f"host scan {rule.name!r} reads {rule.arg_names}, not {names}")
    return Expr("scan", (const(index), *args), rule)


# ---------------------------------------------------------------------------------------------
# constant folding: only correctly rounded operations, so folding never changes bits
# ---------------------------------------------------------------------------------------------

_FOLD = {name: op.fold for name, op in _ops.OPS.items() if op.fold is not None}


def _fold(op, args):
    fn = _FOLD.get(op)
    if fn is None or not all(a.op == "const" for a in args):
        return None
    vals = [a.value for a in args]
    if op in ("floordiv", "mod", "truediv") and vals[1] == 0:
        return None  # leave it for evaluation, which reports it with the config index
    if op in ("and", "or", "not") and not all(isinstance(v, bool) for v in vals):
        return None
    if op not in ("truediv", "float", "int") and any(isinstance(v, float) for v in vals) \
            and any(isinstance(v, bool) for v in vals):
        return None
    if op == "truediv":
        vals = [float(v) for v in vals]
    try:
        out = fn(*vals)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    rule = OPS[op][1]
    if rule == "float" or (rule == "num" and any(isinstance(v, float) for v in vals)):
        out = float(out)
    elif rule == "bool":
        out = bool(out)
    elif rule in ("num", "same") and isinstance(out, bool):
        out = int(out)
    if isinstance(out, float) and not math.isfinite(out):
        return None
    if isinstance(out, int) and not isinstance(out, bool) and not -(2 ** 63) <= out < 2 ** 63:
        return None
    return const(out)


_BOOL_VALUED = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not"})


def _make(op, args, value=None):
    folded = _fold(op, args)
    if folded is not None:
        return folded
    if op in ("and", "or"):     # x & True = x, x & False = False, x | True = True, ...
        for known, other in (args, args[::-1]):
            if known.op == "const" and isinstance(known.value, bool) and \
                    (other.op in _BOOL_VALUED or other.op == "const"):
                return other if known.value == (op == "and") else known
    return Expr(op, args, value)


def _binary(op: str, a: Operand, b: Operand) -> Expr:
    return _make(op, (const(a), const(b)))


def _unary(op: str, a: Operand) -> Expr:
    return _make(op, (const(a),))


# ---------------------------------------------------------------------------------------------
# the function vocabulary (usable on numbers and traced values alike)
# ---------------------------------------------------------------------------------------------

def where(cond: Operand, a: Operand, b: Operand) -> Expr:
    """``a`` where ``cond`` holds, else ``b`` (both branches are evaluated)."""
    c = const(cond)
    if c.op == "const":
        return const(a) if c.value else const(b)
    return Expr("where", (c, const(a), const(b)))


def minimum(a: Operand, b: Operand) -> Expr:
    """Elementwise minimum (replaces Python's ``min``)."""
    return _binary("minimum", a, b)


def maximum(a: Operand, b: Operand) -> Expr:
    """Elementwise maximum (replaces Python's ``max``)."""
    return _binary("maximum", a, b)


def clip(x: Operand, lo: Operand, hi: Operand) -> Expr:
    """``minimum(maximum(x, lo), hi)``."""
    return minimum(maximum(x, lo), hi)


def floor(x: Operand) -> Expr:
    """Largest integer-valued number <= x (stays float for float input)."""
    return _unary("floor", x)


def ceil(x: Operand) -> Expr:
    """Smallest integer-valued number >= x (stays float for float input)."""
    return _unary("ceil", x)


def _function(op: _ops.Op) -> Callable[[Operand], Expr]:
    """``gs.<op.name>``: the elementwise function ``op`` of a number or traced value."""
    def fn(x: Operand) -> Expr:
        return _unary(op.name, x)
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = op.doc
    return fn


class _Function(Protocol):
    def __call__(self, x: Operand) -> Expr: ...


# gs.cos, gs.exp, gs.atan, gs.sign ...: one per elementwise function of the table
FUNCTIONS = {op.name: _function(op) for op in _ops.FUNCTIONS}
globals().update(FUNCTIONS)


def __getattr__(name: str) -> _Function:
    """Only for names this module does not have (the table's functions are in its globals):
    an AttributeError. Declared so that type checkers see ``E.cos`` and the other functions
    of the table as functions (PEP 562), without a second list of their names."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_float(x: Operand) -> Expr:
    """Convert to float64 (Python ``float()``)."""
    return _unary("float", x)


def to_int(x: Operand) -> Expr:
    """Truncate toward zero to int64 (Python ``int()``)."""
    return _unary("int", x)


def logical_and(a: Operand, b: Operand) -> Expr: return _binary("and", a, b)
def logical_or(a: Operand, b: Operand) -> Expr: return _binary("or", a, b)
def logical_not(a: Operand) -> Expr: return _unary("not", a)


def count_lt(lst: ListParam, x: Operand) -> Expr:
    """Number of entries of the list parameter ``lst`` that are < x."""
    return Expr("count_lt", (_list_arg(lst), const(x)))


def count_le(lst: ListParam, x: Operand) -> Expr:
    """Number of entries of ``lst`` that are <= x (``bisect_right`` of a sorted list)."""
    return Expr("count_le", (_list_arg(lst), const(x)))


def count_cumsum_le(lst: ListParam, x: Operand) -> Expr:
    """Number of running sums ``lst[0] + ... + lst[k-1]`` (``k = 1 .. len(lst)``) that are
    <= x: with cycle lengths ``lst``, the index of the cycle holding step ``x`` (0 before the
    first cycle ends). One loop over the list, however long it is."""
    return Expr("count_cumsum_le", (_list_arg(lst), const(x)))


def take(lst: ListParam, i: Operand) -> Expr:
    """``lst[i]`` with ``i`` clipped to ``[0, len(lst) - 1]``."""
    return Expr("take", (_list_arg(lst), const(i)))


def length(lst: ListParam) -> Expr:
    """Number of entries of the list parameter ``lst`` (per config)."""
    return Expr("length", (_list_arg(lst),))


def prod_first(lst: ListParam, k: Operand) -> Expr:
    """The product of a list parameter's first ``k`` entries (1 for ``k <= 0``; all of them
    for ``k`` past its length), multiplied in order: piecewise-constant scales."""
    return Expr("prod_first", (_list_arg(lst), const(k)))


def sum_first(lst: ListParam, k: Operand) -> Expr:
    """The sum of a list parameter's first ``k`` entries (0 for ``k <= 0``; all of them for
    ``k`` past its length), added in order: the start of cycle ``k`` from cycle lengths."""
    return Expr("sum_first", (_list_arg(lst), const(k)))


def _list_arg(lst):
    if not (isinstance(lst, Expr) and lst.op == "param"):
        raise TypeError("list operations take a parameter of the schedule (a per-config list, "
                        f"like milestones), not {lst!r}")
    return lst


def cumprod(body_fn: Callable[[Expr], Operand]) -> Expr:
    """``prod_{s=1..t} body_fn(s)``, 1 for ``t <= 0`` (a running product over steps).

    ``body_fn`` maps a traced step to a factor; it is traced once.
    """
    body = const(body_fn(step()))
    return Expr("cumprod", (body, step()))


def random_uniform(seed: Operand, counter: Operand, stream: int = 0) -> Expr:
    """A uniform float64 in ``[0, 1)`` from Philox4x32-10 keyed by ``seed`` at ``counter``.

    Key = (seed low 32 bits, seed high 32 bits); counter block = (counter low 32 bits,
    counter high 32 bits, stream, 0); with output words ``w0, w1``:
    ``u = (((w0 << 32) | w1) >> 11) * 2**-53`` (see :mod:`gpusched.rng`).
    The same (seed, counter, stream) gives the same bits on every backend.
    """
    return Expr("random_uniform", (const(seed), const(counter)), _stream(stream))


def random_below(n: Operand, seed: Operand, counter: Operand, stream: int = 0) -> Expr:
    """A uniform integer in ``[0, n)`` (``1 <= n < 2**32``): ``(w0 * n) >> 32``, same generator."""
    return Expr("random_below", (const(n), const(seed), const(counter)), _stream(stream))


def _stream(stream):
    if not isinstance(stream, int) or isinstance(stream, bool) or not 0 <= stream < 2 ** 32:
        raise ValueError(f"stream must be an int in [0, 2**32), got {stream!r}")
    return stream


pi = math.pi
e = math.e

_UFUNCS: dict[str, Callable[..., Expr]] = {
    "add": lambda a, b: _binary("add", a, b), "subtract": lambda a, b: _binary("sub", a, b),
    "multiply": lambda a, b: _binary("mul", a, b),
    "true_divide": lambda a, b: _binary("truediv", a, b),
    "divide": lambda a, b: _binary("truediv", a, b),
    "floor_divide": lambda a, b: _binary("floordiv", a, b),
    "remainder": lambda a, b: _binary("mod", a, b), "power": lambda a, b: _binary("pow", a, b),
    "negative": lambda a: _unary("neg", a), "absolute": lambda a: _unary("abs", a),
    "less": lambda a, b: _binary("lt", a, b), "less_equal": lambda a, b: _binary("le", a, b),
    "greater": lambda a, b: _binary("gt", a, b), "greater_equal": lambda a, b: _binary("ge", a, b),
    "equal": lambda a, b: _binary("eq", a, b), "not_equal": lambda a, b: _binary("ne", a, b),
    "minimum": minimum, "maximum": maximum, "fmin": minimum, "fmax": maximum,
    "floor": floor, "ceil": ceil,
    "logical_and": logical_and, "logical_or": logical_or, "logical_not": logical_not,
    **{u: FUNCTIONS[op.name] for op in _ops.FUNCTIONS for u in op.ufuncs},
}


# ---------------------------------------------------------------------------------------------
# graph utilities
# ---------------------------------------------------------------------------------------------

def topological(root: Expr) -> list[Expr]:
    """Nodes reachable from ``root`` (not entering cumprod bodies), children first."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        # a cumprod's body (its first operand) is a graph of its own step; its index is not
        for a in reversed(node.args[1:] if node.op == "cumprod" else node.args):
            if id(a) not in seen:
                stack.append((a, False))
    return order


def all_nodes(root: Expr) -> list[Expr]:
    """Every node, including those inside cumprod bodies."""
    out, seen, todo = [], set(), [root]
    while todo:
        for node in topological(todo.pop()):
            if id(node) not in seen:
                seen.add(id(node))
                out.append(node)
                if node.op == "cumprod":
                    todo.append(node.args[0])
    return out


def substitute(root: Expr, mapping: dict) -> Expr:
    """Rebuild ``root`` with leaves replaced: ``mapping`` maps leaf nodes to expressions.

    Cumprod bodies keep their own step variable; parameters inside them are substituted.
    """
    memo: dict[tuple[int, bool], Expr] = {}

    def sub(node: Expr, in_body: bool) -> Expr:
        key = (id(node), in_body)
        if key in memo:
            return memo[key]
        if node.op in LEAVES:
            out = node if (in_body and node.op == "step") else mapping.get(node, node)
        elif node.op == "cumprod":
            out = Expr("cumprod", (sub(node.args[0], True), sub(node.args[1], in_body)))
        elif node.op == "scan":   # renames reach its parameters; values are bound later
            reads = [mapping.get(a, a) for a in node.args[1:]]
            reads = [r if r.op == "param" else a for r, a in zip(reads, node.args[1:])]
            out = Expr("scan", (sub(node.args[0], in_body), *reads), node.value)
        else:
            new_args = tuple(sub(a, in_body) for a in node.args)
            if node.op == "where":
                out = where(*new_args)
            else:
                out = _make(node.op, new_args, node.value)
        memo[key] = out
        return out

    # iterative warm-up of the memo keeps recursion shallow on long chains
    for node in topological(root):
        sub(node, False)
    return sub(const(root), False)


def to_text(root: Expr) -> str:
    """A readable infix rendering (for messages and docs)."""
    sym = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
           "pow": "**", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=",
           "and": "&", "or": "|"}
    memo: dict[int, str] = {}
    for n in topological(root):
        if n.op == "step":
            s = "t"
        elif n.op == "param":
            s = n.value
        elif n.op == "const":
            s = repr(n.value)
        elif n.op == "table":
            s = f"{n.value.name}(t)"
        elif n.op in sym:
            s = f"({memo[id(n.args[0])]} {sym[n.op]} {memo[id(n.args[1])]})"
        elif n.op == "neg":
            s = f"(-{memo[id(n.args[0])]})"
        elif n.op == "cumprod":
            s = f"cumprod(s -> {to_text(n.args[0])})[{memo[id(n.args[1])]}]"
        elif n.op == "scan":
            s = f"{n.value.name}[{memo[id(n.args[0])]}]"
        else:
            inner = ", ".join(memo[id(a)] for a in n.args)
            s = f"{n.op}({inner})"
        memo[id(n)] = s
    return memo[id(root)]


def signature(root: Expr) -> str:
    """A structural hash (hex) of the graph, stable across processes; tables count by order."""
    h = hashlib.sha256()
    index: dict[int, int] = {}
    tables = 0
    for n in _canonical_order(root):
        if n.op == "table":
            val = f"table{tables}"
            tables += 1
        elif n.op == "const":
            val = repr(_const_key(n.value))
        elif n.op == "scan":
            val = n.value.name
        else:
            val = repr(n.value)
        args = ",".join(str(index[id(a)]) for a in n.args)
        index[id(n)] = len(index)
        h.update(f"{n.op}|{val}|{args};".encode())
    return h.hexdigest()


def _canonical_order(root: Expr) -> list[Expr]:
    order, seen = [], set()

    def visit_graph(r):
        for n in topological(r):
            if n.op == "cumprod" and id(n.args[0]) not in seen:
                visit_graph(n.args[0])
            if id(n) not in seen:
                seen.add(id(n))
                order.append(n)

    visit_graph(root)
    return order
