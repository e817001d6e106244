"""The table of operations: one record per operation of the expression graph.

Everything that knows an operation reads its record here: tracing and constant folding
(``expr``), the NumPy interpreter (``engine/interpreter``), the Python/Numba and CUDA C
code generators (``codegen``), factorized tables (``engine/factorized``), integer range
analysis (``ranges``), the JAX export (``integrations/jax``), the spec formula whitelist
(``spec``) and the public ``gs.<function>`` names. Adding an elementwise function (``atan``,
``sign``) is one :class:`Op` in :data:`FUNCTIONS`; operations with a structure of their own
(list scans, random numbers, running products, host scans) keep their code in those modules
and only their arity and dtype rule here.

Dtype rules (the dtype of the result from the operands' dtypes "int", "float", "bool"):
``num`` int if every operand is int/bool, else float; ``float`` always float; ``bool``;
``same`` the operand's (bool -> int); ``int``; ``branch`` like ``num`` over the 2nd and 3rd
operands (where); ``list`` the list's element dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Op", "OPS", "FUNCTIONS", "BINARY", "function", "EXPENSIVE", "PIECEWISE_KEEPERS",
           "REMEMBERED"]


@dataclass(frozen=True)
class Op:
    """One operation. ``numpy``: its elementwise NumPy function (the interpreter; booleans
    reach arithmetic as 0/1 integers); ``jax``: the ``jax.numpy`` name; ``symbol``: its infix
    symbol in Python and in C (binary operators); ``python`` / ``c``: the expression templates
    of an elementwise function over ``{0}`` (its operand, converted to float first when
    ``to_float``), with ``{F}`` the precision's float type, ``{f}`` its libm suffix and
    ``{T}`` the result type, either one text or one per result dtype; ``fold``: exact constant
    folding (only correctly rounded operations, so folding never changes bits);
    ``expensive``: worth a factorized table and remembering over runs of steps;
    ``piecewise``: piecewise-constant operands give a piecewise-constant result;
    ``bounds`` / ``increasing`` / ``above``: what the range analysis knows of the result (fixed
    bounds; a non-decreasing function, defined above ``above`` (exclusive));
    ``ufuncs``: NumPy ufunc names that trace to it. An elementwise function (in
    :data:`FUNCTIONS`) is ``gs.<name>`` and a spec function of that name."""

    name: str
    arity: int
    dtype_rule: str
    numpy: Callable | None = None
    jax: str | None = None
    symbol: tuple[str, str] | None = None
    python: Any = None
    c: Any = None
    to_float: bool = True
    fold: Callable | None = None
    expensive: bool = False
    piecewise: bool = False
    bounds: tuple[float, float] | None = None
    increasing: Callable | None = None
    above: float | None = None
    ufuncs: tuple[str, ...] = ()
    doc: str = ""

    def template(self, which: str, dtype: str) -> str:
        """The ``python`` or ``c`` template for a result of ``dtype``."""
        t = getattr(self, which)
        return t[dtype] if isinstance(t, dict) else t


def _sign(x):
    """np.sign on one number: -1, 0 or 1 of the operand's dtype (NaN stays NaN; -0.0 gives
    0.0, as NumPy's)."""
    if x > 0:
        return type(x)(1)
    if x < 0:
        return type(x)(-1)
    return type(x)(0) if x == 0 else x


def _math(name: str, doc: str, **kw) -> Op:
    """A float function of one float: libm ``name`` in Python, C (``name`` + ``f`` under
    precision fast), NumPy and JAX."""
    return Op(name, 1, "float", numpy=getattr(np, kw.pop("numpy_name", name)),
              jax=kw.pop("jax_name", name), python=f"math.{name}({{0}})",
              c=f"{name}{{f}}(({{F}})({{0}}))", expensive=True, piecewise=True,
              ufuncs=(kw.pop("ufunc", name),), doc=doc, **kw)


# Elementwise functions of one operand: each one record, nothing else to edit.
FUNCTIONS: tuple[Op, ...] = (
    _math("cos", "Cosine (radians).", bounds=(-1.0, 1.0)),
    _math("sin", "Sine (radians).", bounds=(-1.0, 1.0)),
    _math("exp", "Exponential.", increasing=math.exp),
    _math("log", "Natural logarithm.", increasing=math.log, above=0.0),
    _math("sqrt", "Square root.", increasing=math.sqrt, above=0.0),
    _math("tanh", "Hyperbolic tangent.", bounds=(-1.0, 1.0)),
    _math("log1p", "``log(1 + x)``, accurate near 0.", increasing=math.log1p, above=-1.0),
    _math("expm1", "``exp(x) - 1``, accurate near 0.", increasing=math.expm1),
    _math("atan", "Arctangent (radians), in ``(-pi/2, pi/2)``.", numpy_name="arctan",
          jax_name="arctan", ufunc="arctan", bounds=(-math.pi / 2, math.pi / 2)),
    Op("sign", 1, "same", numpy=np.sign, jax="sign", to_float=False,
       python={"float": "(1.0 if {0} > 0 else (-1.0 if {0} < 0 else (0.0 if {0} == 0 else {0})))",
               "int": "(1 if {0} > 0 else (-1 if {0} < 0 else 0))"},
       c="(({0}) > 0 ? ({T})1 : (({0}) < 0 ? ({T})-1 : (({0}) == 0 ? ({T})0 : ({T})({0}))))",
       fold=_sign, piecewise=True, increasing=_sign, ufuncs=("sign",),
       doc="``-1``, ``0`` or ``1`` by the sign of ``x``, of ``x``'s dtype (``np.sign``: NaN "
           "stays NaN, -0.0 gives 0.0)."),
)


def _binary(name, dtype_rule, numpy, jax, symbol=None, fold=None, piecewise=False,
            expensive=False):
    return Op(name, 2, dtype_rule, numpy=numpy, jax=jax, symbol=symbol, fold=fold,
              piecewise=piecewise, expensive=expensive)


def _py_div(a, b):
    return a / b


BINARY: tuple[Op, ...] = (
    _binary("add", "num", np.add, "add", ("+", "+"), lambda a, b: a + b, True),
    _binary("sub", "num", np.subtract, "subtract", ("-", "-"), lambda a, b: a - b, True),
    _binary("mul", "num", np.multiply, "multiply", ("*", "*"), lambda a, b: a * b, True),
    _binary("truediv", "float", np.true_divide, "true_divide", ("/", None), _py_div, True),
    _binary("lt", "bool", np.less, "less", ("<", "<"), lambda a, b: a < b),
    _binary("le", "bool", np.less_equal, "less_equal", ("<=", "<="), lambda a, b: a <= b),
    _binary("gt", "bool", np.greater, "greater", (">", ">"), lambda a, b: a > b),
    _binary("ge", "bool", np.greater_equal, "greater_equal", (">=", ">="),
            lambda a, b: a >= b),
    _binary("eq", "bool", np.equal, "equal", ("==", "=="), lambda a, b: a == b),
    _binary("ne", "bool", np.not_equal, "not_equal", ("!=", "!="), lambda a, b: a != b),
    _binary("and", "bool", np.logical_and, "logical_and", ("and", "&&"),
            lambda a, b: bool(a) and bool(b), True),
    _binary("or", "bool", np.logical_or, "logical_or", ("or", "||"),
            lambda a, b: bool(a) or bool(b), True),
    _binary("minimum", "num", np.minimum, "minimum", None,
            lambda a, b: b if b < a else a, True),
    _binary("maximum", "num", np.maximum, "maximum", None,
            lambda a, b: b if b > a else a, True),
    _binary("floordiv", "num", None, "floor_divide", None, lambda a, b: a // b),
    _binary("mod", "num", None, "mod", None, lambda a, b: a % b),
    _binary("pow", "float", None, None, None, None, True, expensive=True),
)

# Everything else: arity and dtype rule (their code is their own, see the module docstring).
_OTHERS: tuple[Op, ...] = (
    Op("neg", 1, "same", numpy=np.negative, jax="negative", fold=lambda a: -a, piecewise=True),
    Op("abs", 1, "same", numpy=np.absolute, jax="abs", fold=abs, piecewise=True),
    Op("not", 1, "bool", numpy=np.logical_not, jax="logical_not", fold=lambda a: not a,
       piecewise=True),
    Op("where", 3, "branch", piecewise=True),
    Op("floor", 1, "same"), Op("ceil", 1, "same"),
    Op("float", 1, "float", fold=float, piecewise=True), Op("int", 1, "int", fold=int),
    # list operations: the first operand is a list parameter
    Op("count_lt", 2, "int", expensive=True), Op("count_le", 2, "int", expensive=True),
    Op("count_cumsum_le", 2, "int", expensive=True), Op("take", 2, "list", piecewise=True),
    Op("length", 1, "int"), Op("prod_first", 2, "float", piecewise=True),
    Op("sum_first", 2, "list", piecewise=True),
    # counter-based randomness: (seed, counter) with a constant stream number in `value`
    Op("random_uniform", 2, "float", expensive=True),
    Op("random_below", 3, "int", expensive=True),
    # prod_{s=1..t} body(s); the body is a separate graph of the same step variable
    Op("cumprod", 2, "float", expensive=True),
    # a per-config sequence computed on the host by a HostScan, read at the index operand
    Op("scan", -1, "float"),
)

OPS: dict[str, Op] = {op.name: op for op in (*FUNCTIONS, *BINARY, *_OTHERS)}

# operations worth a table lookup instead of recomputing them per config (host tables too)
EXPENSIVE = frozenset(n for n, op in OPS.items() if op.expensive) | {"table"}
# what passes piecewise-constant inputs through as piecewise-constant outputs
PIECEWISE_KEEPERS = frozenset(n for n, op in OPS.items() if op.piecewise)
# libm calls worth remembering while their inputs do not change (codegen: each remembered
# value costs Numba compile time, so cheap functions like sign are left out)
REMEMBERED = frozenset({"pow"} | {op.name for op in FUNCTIONS if op.expensive})


def function(name: str) -> Op | None:
    """The record of an elementwise function, or None."""
    op = OPS.get(name)
    return op if op is not None and op in FUNCTIONS else None
