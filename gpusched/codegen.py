"""Code generation: a plan becomes per-element scalar code, in Python (for Numba's CPU and
CUDA targets) or in CUDA C (for CuPy kernels, nvcc and the host C++ check).

Generated text holds only identifiers built here (``v<k>``, ``p_<name>`` with validated
parameter names) and numeric literals; nothing from a user is pasted in. Nodes that do not
depend on the step form the *config section* (computed once per config, outside the step
loop); the rest form the *step section*.
"""

from __future__ import annotations

from typing import Any, Iterator

import math
from dataclasses import dataclass, field

from . import branches
from .ops import OPS, PIECEWISE_KEEPERS, REMEMBERED, function
from .params import validate_name
from .plan import Plan

__all__ = ["Layout", "Entry", "python_sections", "c_sections", "c_literal", "py_literal",
           "PRECISIONS"]

_C_TYPE = {"int": "long long", "float": "double", "bool": "bool"}


@dataclass(frozen=True)
class Entry:
    """One kernel input: a scalar parameter (``p_<key>``), a list parameter (``l_<key>`` values,
    ``n_<key>`` lengths), a host table (``tab<key>``) or a running-product table (``cp<key>``)."""

    role: str    # "scalar" | "list" | "table" | "sequence" (a host sequence: HOST_SEQUENCES)
    #              | "counted" (an operation tabulated by list count: counted_nodes)
    key: str     # the parameter name, or the table's index
    ctype: str   # C element type


@dataclass
class Layout:
    """The inputs a generated kernel takes, in order."""

    scalars: tuple            # parameter names used as numbers
    lists: tuple              # parameter names used as lists
    tables: tuple             # host-table leaves of the top-level graph
    sequences: tuple          # running products and host scans (tabulated on the host)
    dtypes: dict = field(default_factory=dict)  # parameter name -> "int" | "float"
    counted: tuple = ()       # operations read by list count (counted_nodes), tabulated

    def entries(self) -> Iterator[Entry]:
        """The inputs in kernel-argument order."""
        for n in self.scalars:
            yield Entry("scalar", n, _C_TYPE[self.dtypes[n]])
        for n in self.lists:
            yield Entry("list", n, _C_TYPE[self.dtypes[n]])
        for k in range(len(self.tables)):
            yield Entry("table", str(k), "double")
        for k in range(len(self.sequences)):
            yield Entry("sequence", str(k), "double")
        for k in range(len(self.counted)):
            yield Entry("counted", str(k), "double")

    def format(self, forms: dict) -> list[str]:
        """``forms[role](entry)`` gives each entry's pieces of text; all of them, in order."""
        return [x for e in self.entries() for x in forms[e.role](e)]

    @classmethod
    def of(cls, plan: Plan, param_dtypes: dict) -> "Layout":
        for n in (*plan.scalar_params, *plan.list_params):
            validate_name(n)
        return cls(tuple(n for n in plan.scalar_params if n not in plan.host_only),
                   tuple(n for n in plan.list_params if n not in plan.host_only),
                   tuple(n for n in plan.nodes if n.op == "table"),
                   tuple(n for n in plan.nodes if n.op in HOST_SEQUENCES), dict(param_dtypes),
                   counted_nodes(plan))


# nodes tabulated per config over steps on the host and read by index ("sequence" role)
HOST_SEQUENCES = ("cumprod", "scan")


def py_literal(v: bool | int | float) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return repr(v)
    if math.isinf(v):
        return "math.inf" if v > 0 else "(-math.inf)"
    return repr(float(v))


def c_literal(v: bool | int | float) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "(-9223372036854775807LL - 1)" if v == -2 ** 63 else f"{v}LL"
    if math.isinf(v):
        return "HUGE_VAL" if v > 0 else "(-HUGE_VAL)"
    r = repr(float(v))
    return r if ("." in r or "e" in r) else r + ".0"


# infix operators (gpusched/ops.py): Python's and C's symbol
_PY_BIN = {n: op.symbol[0] for n, op in OPS.items() if op.symbol and op.symbol[0]}
_C_BIN = {n: op.symbol[1] for n, op in OPS.items() if op.symbol and op.symbol[1]}


def live_nodes(plan: Plan, stop) -> set:
    """Ids of the nodes the root needs, not looking behind the nodes in ``stop``."""
    live, todo = set(), [plan.root]
    while todo:
        n = todo.pop()
        if id(n) in live:
            continue
        live.add(id(n))
        if id(n) not in stop:   # host sequences: only their index is computed here
            todo.extend(n.args[1:2] if n.op == "cumprod" else
                        n.args[:1] if n.op == "scan" else n.args)
    return live


def _walk(plan: Plan, layout: Layout, literal, param_name, emit, precomputed=None) -> str:
    """Visit the plan's nodes in order: leaves get names, every other node ``v<k>`` is passed
    to ``emit(k, node, v, argument names, tables index, sequences index)``. Nodes in
    ``precomputed`` (id -> read expression) are read, not computed, and what only they need
    is not emitted. Returns the root's name."""
    precomputed = precomputed or {}
    live = live_nodes(plan, precomputed)
    names: dict = {}
    tables = {id(n): k for k, n in enumerate(layout.tables)}
    sequences = {id(n): k for k, n in enumerate(layout.sequences)}
    for k, n in enumerate(plan.nodes):
        if id(n) not in live:
            continue
        if id(n) in precomputed:
            names[id(n)] = f"v{k}"
            emit(k, n, f"v{k}", None, tables, sequences)
        elif (leaf := _leaf_name(n, literal, param_name)) is not None:
            names[id(n)] = leaf
        else:
            names[id(n)] = f"v{k}"
            emit(k, n, f"v{k}", [names.get(id(x)) for x in n.args], tables, sequences)
    return names[id(plan.root)]


def _leaf_name(n, literal, param_name) -> str | None:
    """What generated code writes for a leaf (the step, a literal, a parameter); None for a
    computed node (``v<k>``, k its position in the plan)."""
    if n.op == "step":
        return "t"
    if n.op == "const":
        return literal(n.value)
    if n.op == "param":
        return param_name(n.value)
    return None


def _py_param(name: str) -> str:
    return f"a_{name}"


def python_name(plan: Plan, node) -> str:
    """The expression :func:`python_sections`' code holds ``node``'s value in."""
    leaf = _leaf_name(node, py_literal, _py_param)
    if leaf is not None:
        return leaf
    return f"v{next(k for k, n in enumerate(plan.nodes) if n is node)}"


# step-dependent values that stay constant over runs of consecutive steps
_PIECEWISE_MAKERS = frozenset({"floordiv", "floor", "ceil", "int", "count_lt", "count_le",
                               "count_cumsum_le"})
_COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
_PY_ZERO = {"float": "0.0", "int": "np.int64(0)", "bool": "False"}


def piecewise_nodes(plan: Plan) -> set:
    """Ids of the step-dependent nodes whose value changes only every few steps (``t // k``,
    a milestone count, ``gamma ** (t // k)``): functions of them need recomputing only when
    they change."""
    out = set()
    for n in plan.nodes:
        if "step" not in n.deps or n.op in ("step", "table", *HOST_SEQUENCES):
            continue
        moving = [a for a in n.args if "step" in a.deps]
        if n.op in _COMPARISONS:        # t < W flips once; (t % 7) < 3 flips all the time
            if all(a.op == "step" or id(a) in out for a in moving):
                out.add(id(n))
        elif n.op in _PIECEWISE_MAKERS or (n.op in PIECEWISE_KEEPERS
                                           and all(id(a) in out for a in moving)):
            out.add(id(n))
    return out


def _is_memo(n, piecewise: set) -> bool:
    """Whether a step-dependent node is an expensive operation whose step-dependent inputs
    are all piecewise constant (its value is remembered while they do not change)."""
    return n.op in REMEMBERED and "step" in n.deps and all(
        id(x) in piecewise for x in n.args if "step" in x.deps and x.op != "param")


def counted_nodes(plan: Plan) -> tuple:
    """Expensive float operations whose only step-dependent input is a list count
    (``gamma ** milestone_count``). A count takes at most ``len(list) + 1`` values, so the
    host tabulates each such operation per config over them (``count_table``: the NumPy
    interpreter's values) and kernels read the table by the count instead of computing a
    ``pow`` whenever the count changes (and once per config and thread on a GPU).
    Remembered on the plan: every call's Layout asks."""
    got = plan.__dict__.get("_counted")
    if got is None:
        piecewise = piecewise_nodes(plan)
        got = plan.__dict__["_counted"] = tuple(
            n for n in plan.nodes if _is_memo(n, piecewise) and plan.dtypes[id(n)] == "float"
            and _single_count(n))
    return got


def _single_count(n) -> bool:
    """Whether a node's only step-dependent argument (parameters aside) is a list count."""
    moving = [x for x in n.args if "step" in x.deps and x.op != "param"]
    return len(moving) == 1 and moving[0].op in _SPAN_OPS


def count_argument(n) -> int:
    """The position of a counted node's list count among its arguments."""
    return next(i for i, x in enumerate(n.args) if "step" in x.deps and x.op != "param")


def remembered_triggers(plan: Plan) -> list:
    """The nodes whose change makes a thread recompute a remembered value in
    ``c_sections(remember=True)``: list counts, and the step-dependent inputs of remembered
    operations (for the GPU cost model's refresh fraction)."""
    piecewise = piecewise_nodes(plan)
    out: dict = {}
    for n in plan.nodes:
        if "step" in n.deps and n.op in _SPAN_OPS:
            out[id(n)] = n
        elif _is_memo(n, piecewise):
            out.update((id(x), x) for x in n.args if "step" in x.deps and x.op != "param")
    return list(out.values())


def _remembered(k, n, v, a, line, plan, cfg) -> list:
    """``line`` (computing ``v``) run only when the step-dependent inputs of ``n`` changed
    since the previous step; the remembered values start in ``cfg`` (once per config)."""
    inputs = [(i, x) for i, x in enumerate(n.args) if "step" in x.deps and x.op != "param"]
    cfg += [f"mok{k} = False", f"mv{k} = {_PY_ZERO[plan.dtypes[id(n)]]}"]
    cfg += [f"m{k}_{i} = {_PY_ZERO[plan.dtypes[id(x)]]}" for i, x in inputs]
    same = " and ".join([f"mok{k}"] + [f"m{k}_{i} == {a[i]}" for i, _ in inputs])
    return [f"if {same}:", f"    {v} = mv{k}", "else:", f"    {line}",
            *[f"    m{k}_{i} = {a[i]}" for i, _ in inputs],
            f"    mv{k} = {v}", f"    mok{k} = True"]


# names no generated line may use: what could reach outside the arithmetic (generated code
# holds gpusched's own names, validated parameter names behind a prefix, numeric literals)
_FORBIDDEN_NAMES = frozenset({"eval", "exec", "compile", "open", "input", "breakpoint",
                              "getattr", "setattr", "delattr", "globals", "locals", "vars",
                              "import", "lambda", "class", "global", "nonlocal", "del", "with",
                              "yield", "await", "async", "asm", "system"})


def check_generated_python(lines: list[str]) -> None:
    """Refuse generated Python that holds a string, a dunder or a name that reaches beyond
    arithmetic: the last check before it is compiled (``ScalarFunction``) or written as a
    module (the Numba kernels)."""
    import io
    import tokenize
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline))
    except (tokenize.TokenError, IndentationError) as err:
        raise ValueError(f"generated code does not tokenize: {err}") from None
    for tok in tokens:
        if tok.type == tokenize.STRING or (tok.type == tokenize.NAME and (
                tok.string.startswith("__") or tok.string in _FORBIDDEN_NAMES)):
            raise ValueError(f"generated code holds {tok.string!r}: refused")


def check_generated_c(lines: list[str]) -> None:
    """The same for generated C statements: no string or character literal, preprocessor
    line, backslash, comment, dunder or forbidden name."""
    import re
    text = "\n".join(lines)
    bad = re.search(r"[\"'#\\]|/\*|//", text)
    if bad:
        raise ValueError(f"generated code holds {bad.group(0)!r}: refused")
    for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text):
        if name.startswith("__") or name in _FORBIDDEN_NAMES:
            raise ValueError(f"generated code holds {name!r}: refused")


def python_sections(plan: Plan, layout: Layout, on_error: str, precomputed: Any = None,
                    remember: bool = False) -> tuple[list[str], list[str], str]:
    """(config lines, step lines, root expression) of Python scalar code.

    Reads ``t`` (the step), ``c`` (the config), ``j`` (the step position), ``a_<name>``
    (scalar parameters, loaded by the caller), ``l_<name>``/``n_<name>``/``r_<name>`` (list
    values, lengths, row), ``tab<k>``, ``cp<k>``/``rc<k>``. ``on_error`` is a statement run
    when an integer division by zero or a bad random bound occurs. ``precomputed`` maps node
    ids to the expression that reads their value (see engine/factorized.py).
    ``remember``: for a loop walking a config's steps in order, expensive operations on
    piecewise-constant inputs (``gamma ** milestone_count``) keep their last value while
    those inputs do not change.
    """
    cfg: list[str] = []
    precomputed = precomputed or {}
    piecewise = piecewise_nodes(plan) if remember else set()
    counted = {id(n): q for q, n in enumerate(layout.counted)}
    # the step section, per node (k: its position in the plan), nested by branches.py
    step_order: list = []
    step_lines: dict = {}
    failing: set = set()        # nodes whose code can flag an error
    blocks: dict = {}           # where nodes: (name, condition, value if true, if false)

    def emit(k, n, v, a, tables, sequences):
        if "step" not in n.deps:
            emit_line(k, n, v, a, tables, sequences, cfg)
            return
        step_order.append((k, n))
        out = step_lines[k] = []
        if a is not None and id(n) in counted:
            q = counted[id(n)]
            out.append(f"{v} = ct{q}[rt{q}, {a[count_argument(n)]}]")
        elif a is not None and _is_memo(n, piecewise):
            line: list[str] = []
            emit_line(k, n, v, a, tables, sequences, line)
            out.extend(_remembered(k, n, v, a, line[0], plan, cfg))
        else:
            emit_line(k, n, v, a, tables, sequences, out)

    def emit_line(k, n, v, a, tables, sequences, out):
        op, kind = n.op, plan.dtypes[id(n)]
        arg_dtypes = [plan.dtypes.get(id(x)) for x in n.args]

        def to(conv, i):
            """Operand ``i`` as ``conv`` (float or int); no call where it already is one:
            each conversion is a call for Numba to type, which is most of its compile time."""
            return a[i] if arg_dtypes[i] == conv else f"{conv}({a[i]})"

        if a is None:
            out.append(f"{v} = {precomputed[id(n)]}")
        elif op in _PY_BIN:
            out.append(f"{v} = ({a[0]} {_PY_BIN[op]} {a[1]})")
        elif op in ("floordiv", "mod"):
            if kind == "int":
                sym = "//" if op == "floordiv" else "%"
                d = n.args[1]
                if d.op == "const" and d.value != 0:    # no check (nor branch) to compile
                    out.append(f"{v} = {a[0]} {sym} {a[1]}")
                else:
                    failing.add(k)
                    out += [f"if {a[1]} == 0:", f"    {on_error}", f"    {v} = 0", "else:",
                            f"    {v} = {a[0]} {sym} {a[1]}"]
            else:   # Numba follows Python's float // and % semantics
                sym = "//" if op == "floordiv" else "%"
                out.append(f"{v} = {to('float', 0)} {sym} {to('float', 1)}")
        elif op == "pow":
            out.append(f"{v} = math.pow({to('float', 0)}, {to('float', 1)})")
        elif op in ("minimum", "maximum"):
            conv = "float" if kind == "float" else "int"
            fn = "vmin" if op == "minimum" else "vmax"
            out.append(f"{v} = {fn}({to(conv, 0)}, {to(conv, 1)})")
        elif op == "neg":
            out.append(f"{v} = -({a[0]})" if arg_dtypes[0] != "bool" else f"{v} = -int({a[0]})")
        elif op == "abs":
            out.append(f"{v} = abs({a[0]})" if arg_dtypes[0] != "bool" else f"{v} = int({a[0]})")
        elif op == "not":
            out.append(f"{v} = not {a[0]}")
        elif op == "where":
            conv = {"float": "float", "int": "int"}[kind]
            blocks[k] = (v, a[0], to(conv, 1), to(conv, 2))
            out.append(f"{v} = {to(conv, 1)} if {a[0]} else {to(conv, 2)}")
        elif op in ("floor", "ceil"):
            if kind == "int":
                out.append(f"{v} = int({a[0]})")
            else:
                out.append(f"{v} = {'ffloor' if op == 'floor' else 'fceil'}({a[0]})")
        elif (func := function(op)) is not None:
            x = to("float", 0) if func.to_float else a[0]
            out.append(f"{v} = " + func.template("python", kind).format(x))
        elif op == "float":
            out.append(f"{v} = {to('float', 0)}")
        elif op == "int":
            out.append(f"{v} = {to('int', 0)}")
        elif op in ("count_lt", "count_le", "count_cumsum_le", "take", "prod_first", "sum_first"):
            L = n.args[0].value
            out.append(f"{v} = {op}(l_{L}, r_{L}, n_{L}[r_{L}], {a[1]})")
        elif op == "length":
            L = n.args[0].value
            out.append(f"{v} = n_{L}[r_{L}]")
        elif op == "random_uniform":
            out.append(f"{v} = random_uniform({a[0]}, {a[1]}, {n.value})")
        elif op == "random_below":
            failing.add(k)
            out += [f"if {a[0]} < 1 or {a[0]} >= 4294967296:", f"    {on_error}", f"    {v} = 0",
                    "else:", f"    {v} = random_below({a[0]}, {a[1]}, {a[2]}, {n.value})"]
        elif op == "table":
            out.append(f"{v} = tab{tables[id(n)]}[j]")
        elif op in HOST_SEQUENCES:
            q = sequences[id(n)]
            at = a[1] if op == "cumprod" else a[0]
            out.append(f"{v} = cp{q}[rc{q}, min(max({at}, 0), cp{q}.shape[1] - 1)]")
        else:
            raise NotImplementedError(f"python codegen: {op}")

    root = _walk(plan, layout, py_literal, _py_param, emit, precomputed)
    at = {id(n): k for k, n in step_order}

    def uses(k, n):     # a node read from a table uses nothing here
        return [] if id(n) in precomputed else [
            (pos, at[id(x)]) for pos, x in enumerate(n.args) if id(x) in at]

    stp: list[str] = []
    if step_order:
        reads = {k for k, n in step_order if id(n) in precomputed}
        guard, lazy = branches.guards(step_order, at.get(id(plan.root), -1), uses, failing,
                                      reads)
        stp = branches.nest(step_order, guard, lazy, step_lines, blocks)
    check_generated_python(cfg + stp + [root])
    return cfg, stp, root


# ----------------------------------------------------------------------------------- CUDA C
PRECISIONS = ("exact", "fast")
# per precision: the C type of a float value, and the suffix of its libm functions
_C_FLOAT = {"exact": ("double", ""), "fast": ("float", "f")}


def _c_templates(F: str, f: str) -> dict:
    """Operations whose C form is fixed: {0}, {1}, {2} are the operands, {T} the result type;
    ``F`` is the float type and ``f`` the libm suffix of the precision."""
    return {
        "truediv": f"(({F})({{0}}) / ({F})({{1}}))", "pow": f"pow{f}(({F})({{0}}), ({F})({{1}}))",
        "minimum": "gs_min(({T})({0}), ({T})({1}))", "maximum": "gs_max(({T})({0}), ({T})({1}))",
        "neg": "(-({T})({0}))", "abs": "gs_abs(({T})({0}))", "not": "(!({0}))",
        "where": "(({0}) ? ({T})({1}) : ({T})({2}))", "float": f"(({F})({{0}}))",
        "int": "((long long)({0}))",
    }


def c_float(precision: str) -> str:
    """The C type float values have under ``precision``."""
    return _C_FLOAT[precision][0]


def c_value_literal(v, precision: str) -> str:
    """A literal of the precision's float type (``1.5f`` under ``fast``)."""
    text = c_literal(v)
    if precision == "fast" and isinstance(v, float):
        return "HUGE_VALF" if text == "HUGE_VAL" else "(-HUGE_VALF)" if text == "(-HUGE_VAL)" \
            else text + "f"
    return text


_SPAN_OPS = frozenset({"count_lt", "count_le", "count_cumsum_le"})


# operations for which a list is a multiset: the order of its entries does not matter
_ORDER_FREE = frozenset({"count_lt", "count_le", "length"})


def count_only_lists(plan: Plan) -> frozenset:
    """List parameters that only counts (and ``length``) read: their entries' order does not
    matter, so the CUDA kernels take their rows sorted (``cuda_source.launch_args``) and
    recount by the neighbours of the count (``gs_span_count_sorted``)."""
    users: dict = {}
    for n in plan.nodes:
        for x in n.args:
            if x.op == "param" and x.value in plan.list_params:
                users.setdefault(x.value, set()).add(n.op)
    return frozenset(k for k, ops in users.items() if ops <= _ORDER_FREE)


def _c_span(k, n, v, a, list_ctype, cfg, sorted_rows=False) -> list:
    """A list count kept in ``ms<k>`` (config section) and recounted, out of line, only when
    the argument leaves its span (kernels/gpusched.cuh, gs_span)."""
    L, T = n.args[0].value, list_ctype
    cfg.append(f"gs_span<{T}> ms{k} = gs_span_none<{T}>();")
    le = "false" if n.op == "count_lt" else "true"
    count = "gs_span_count_sorted" if sorted_rows else "gs_span_count"
    recount = (f"gs_span_cumsum(l_{L}, n_{L}, {a[1]})" if n.op == "count_cumsum_le"
               else f"{count}<{le}>(l_{L}, n_{L}, {a[1]})")
    return [f"bool ch{k} = false;",
            f"if (!gs_span_holds<{le}>(ms{k}, {a[1]})) {{ ms{k} = {recount}; ch{k} = true; }}",
            f"const long long {v} = ms{k}.k;"]


def _c_remembered(k, n, v, a, e, plan, ctypes, cfg, recounted=None) -> list:
    """C form of :func:`_remembered`: ``v``'s expression ``e`` recomputed, out of line
    (``gs_cold_eval``), only when the step-dependent inputs of ``n`` changed since the
    thread's previous step; ``recounted``: flags of the list counts that are those inputs
    (compared only at a step that recounted one)."""
    T = ctypes[plan.dtypes[id(n)]]
    inputs = [(i, x) for i, x in enumerate(n.args) if "step" in x.deps and x.op != "param"]
    state = [(f"mv{k}", T), (f"mok{k}", "bool"),
             *[(f"m{k}_{i}", ctypes[plan.dtypes[id(x)]]) for i, x in inputs]]
    cfg += [f"{t} {name} = 0;" for name, t in state]
    same = " && ".join([f"mok{k}"] + [f"gs_same(m{k}_{i}, {a[i]})" for i, _ in inputs])
    keep = " ".join(f"m{k}_{i} = {a[i]};" for i, _ in inputs)
    refresh = (f"if (!({same})) {{ mv{k} = gs_cold_eval([=] {{ return ({T})({e}); }}); "
               f"{keep} mok{k} = true; }}")
    if recounted:
        refresh = f"if ({' || '.join(recounted)}) {{ {refresh} }}"
    return [refresh, f"const {T} {v} = mv{k};"]


@dataclass
class CSections:
    """C statements of one element: ``config`` lines run once per config (they read only
    parameters; errors set ``gs_cbad``), ``step`` lines once per step (they read ``t`` and the
    config values; errors set ``gs_bad``, which starts as ``gs_cbad``); ``root`` is the
    value's expression, of C type ``ctype``."""

    config: list
    step: list
    root: str
    ctype: str
    # with ``remember``, when the value depends on ``t`` only through list counts of ``t``:
    # the step lines for steps where every such count holds (``spans``: (ms<k>, le) of each),
    # which read the remembered counts and values without checking them; else None
    steady: list | None = None
    spans: list = field(default_factory=list)


def c_sections(plan: Plan, layout: Layout, precision: str = "exact",
               precomputed: dict | None = None, remember: bool = False) -> CSections:
    """The plan as C statements split into a config section and a step section. Under
    ``exact`` floats are doubles (the float64 arithmetic of the NumPy backend); under
    ``fast`` they are floats with the float libm functions (no FP64 instruction).
    ``precomputed`` maps node ids to the C expression that reads their value from a
    factorized table (engine/factorized.py); what only they need is not emitted.
    ``remember`` (a thread that walks a config's steps): a list count is recounted only
    when its argument leaves the span where it cannot change (``gs_span``), and an expensive
    operation on piecewise-constant inputs (``gamma ** milestone_count``) keeps its value
    while they do not change; the values are the same, bit for bit."""
    F, f = _C_FLOAT[precision]
    ctypes = {**_C_TYPE, "float": F}
    templates = _c_templates(F, f)
    cfg: list[str] = []
    stp: list[str] = []
    piecewise = piecewise_nodes(plan) if remember else set()
    spans: dict = {}        # id(list count node) -> its k (ms<k>, ch<k>)
    steady: list = []       # the step lines where every count of t holds (CSections.steady)
    span_tests: list = []
    uniform = [remember]    # the value depends on t only through list counts of t
    counted = {id(n): q for q, n in enumerate(layout.counted)}
    sorted_lists = count_only_lists(plan)

    def emit(k, n, v, a, tables, sequences):
        op, step = n.op, "step" in n.deps
        if step and (a is None or op == "table" or op in HOST_SEQUENCES
                     or (op not in _SPAN_OPS and "t" in a)
                     or (op in _SPAN_OPS and a[1] != "t")):
            uniform[0] = False      # read by step index, or t used otherwise
        if a is not None and id(n) in counted:
            read = f"ct{counted[id(n)]}[{a[count_argument(n)]}]"
            count = n.args[count_argument(n)]
            if id(count) in spans:      # read again only when the count was recounted
                cfg.append(f"{F} mv{k} = 0;")
                stp.extend([f"if (ch{spans[id(count)]}) mv{k} = {read};",
                            f"const {F} {v} = mv{k};"])
                steady.append(f"const {F} {v} = mv{k};")
            else:
                stp.append(f"const {F} {v} = {read};")
                steady.append(stp[-1])
            return
        if remember and step and a is not None:
            if op in _SPAN_OPS:
                stp.extend(_c_span(k, n, v, a, ctypes[layout.dtypes[n.args[0].value]], cfg,
                                   n.args[0].value in sorted_lists))
                spans[id(n)] = k
                steady.append(f"const long long {v} = ms{k}.k;")
                span_tests.append((f"ms{k}", "false" if op == "count_lt" else "true"))
                return
            if _is_memo(n, piecewise):
                moving = [x for x in n.args if "step" in x.deps and x.op != "param"]
                # inputs that are all list counts change only when one is recounted
                recounted = [f"ch{spans[id(x)]}" for x in moving] if all(
                    id(x) in spans for x in moving) else None
                lines = _c_remembered(k, n, v, a, expression(n, a, tables, sequences), plan,
                                      ctypes, cfg, recounted)
                stp.extend(lines)
                steady.append(lines[-1])
                return
        T = ctypes[plan.dtypes[id(n)]]
        line = f"const {T} {v} = {expression(n, a, tables, sequences)};"
        (stp if step else cfg).append(line)
        if step:
            steady.append(line)

    def expression(n, a, tables, sequences) -> str:
        """The C expression of node ``n`` from its operands' names ``a``."""
        op, kind = n.op, plan.dtypes[id(n)]
        T = ctypes[kind]
        step = "step" in n.deps
        bad = "gs_bad" if step else "gs_cbad"
        if a is None:
            e = (precomputed or {})[id(n)]
        elif op in _C_BIN:
            e = f"({a[0]} {_C_BIN[op]} {a[1]})"
        elif (func := function(op)) is not None:
            e = func.template("c", kind).format(a[0], F=F, f=f, T=T)
        elif op in templates:
            e = templates[op].format(*a, T=T, op=op)
        elif op in ("floordiv", "mod"):
            if kind == "int":
                e = f"gs_{op}_i64((long long)({a[0]}), (long long)({a[1]}), {bad})"
            else:
                e = f"gs_{op}_fp(({F})({a[0]}), ({F})({a[1]}))"
        elif op in ("floor", "ceil"):
            e = f"({T})({a[0]})" if kind == "int" else f"{op}{f}({a[0]})"
        elif op in ("count_lt", "count_le", "count_cumsum_le"):
            L = n.args[0].value
            e = f"gs_{op}(l_{L}, n_{L}, {a[1]})"
        elif op in ("take", "prod_first", "sum_first"):
            L = n.args[0].value
            e = f"({T})gs_{op}(l_{L}, n_{L}, (long long)({a[1]}))"
        elif op == "length":
            e = f"n_{n.args[0].value}"
        elif op == "random_uniform":
            e = f"({F})gs_random_uniform((long long)({a[0]}), (long long)({a[1]}), {n.value}u)"
        elif op == "random_below":
            e = (f"gs_random_below((long long)({a[0]}), (long long)({a[1]}), "
                 f"(long long)({a[2]}), {n.value}u, {bad})")
        elif op == "table":
            e = f"tab{tables[id(n)]}[j]"
        elif op in HOST_SEQUENCES:
            q = sequences[id(n)]
            at = a[1] if op == "cumprod" else a[0]
            e = f"cp{q}[gs_clamp_i64((long long)({at}), 0LL, w{q} - 1)]"
        else:
            raise NotImplementedError(f"C codegen: {op}")
        return e

    root = _walk(plan, layout, lambda v: c_value_literal(v, precision),
                 lambda name: f"p_{name}", emit, precomputed)
    check_generated_c(cfg + stp + steady + [root])
    if uniform[0] and span_tests:
        return CSections(cfg, stp, root, F, steady, span_tests)
    return CSections(cfg, stp, root, F)
