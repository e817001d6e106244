"""Compiling an expression graph for given parameter dtypes: the form every backend consumes.

A :class:`Plan` lists the nodes in dependency order with their value kind (int64, float64 or
bool), sorts them by what they depend on (nothing, the step only, per-config parameters only,
or both) so a backend computes each sub-expression over the fewest axes, and records when each
value is last used so temporaries can be freed. Plans are cached by graph and dtypes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from . import expr as E

__all__ = ["Plan", "compile_plan"]


@dataclass
class Plan:
    root: E.Expr
    nodes: list                         # dependency order, cumprod bodies excluded
    dtypes: dict                        # id(node) -> "int" | "float" | "bool"
    scalar_params: tuple                # parameter names used as numbers
    list_params: tuple                  # parameter names used as lists
    tables: tuple                       # host-table leaves (this plan and sub-plans)
    subplans: dict = field(default_factory=dict)   # id(cumprod node) -> Plan of its body
    signature: str = ""
    host_only: frozenset = frozenset()  # parameters read only by host scans (not kernels)

    @property
    def root_dtype(self) -> str:
        return self.dtypes[id(self.root)]

    def axes(self, node: E.Expr, per_config: frozenset) -> tuple[bool, bool]:
        """(varies with config, varies with step) for ``node``."""
        d = node.deps
        return bool(d & per_config), "step" in d


_cache: "OrderedDict[tuple, Plan]" = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


_params: "OrderedDict[int, tuple]" = OrderedDict()     # id(root) -> (root, parameter names)


def _param_names(root: E.Expr) -> list:
    hit = _params.get(id(root))
    if hit is not None and hit[0] is root:
        return hit[1]
    names = sorted(n.value for n in E.all_nodes(root) if n.op == "param")
    with _cache_lock:
        _params[id(root)] = (root, names)      # holding root keeps its id from being reused
        while len(_params) > _CACHE_SIZE:
            _params.popitem(last=False)
    return names


def compile_plan(root: E.Expr, dtypes: dict) -> Plan:
    """The plan of ``root`` for parameter dtypes ``dtypes`` (name -> "int" | "float")."""
    names = _param_names(root)
    key = (root, tuple((n, dtypes.get(n)) for n in names))
    with _cache_lock:
        plan = _cache.get(key)
        if plan is not None:
            _cache.move_to_end(key)
            return plan
    plan = _build(root, dtypes)
    plan.signature = E.signature(root) + "-" + "".join(k[1][0] if k[1] else "_" for k in key[1])
    with _cache_lock:
        _cache[key] = plan
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return plan


def dtype_of(node: E.Expr, dtypes: dict, param_dtypes: dict) -> str:
    op = node.op
    if op == "step":
        return "int"
    if op == "const":
        v = node.value
        return "bool" if isinstance(v, bool) else "int" if isinstance(v, int) else "float"
    if op == "param":
        k = param_dtypes.get(node.value)
        if k is None:
            raise ValueError(f"parameter {node.value!r} has no value")
        return k
    if op in ("table", "cumprod", "scan"):
        return "float"
    arg_dtypes = [dtypes[id(a)] for a in node.args]
    _, rule = E.OPS[op]
    if op in ("and", "or", "not") and any(k != "bool" for k in arg_dtypes):
        raise TypeError(f"`&`, `|`, `~` and gs.logical_* combine comparisons, not numbers "
                        f"(in {E.to_text(node)})")
    if op == "where" and arg_dtypes[0] != "bool":
        raise TypeError(f"gs.where needs a comparison as its condition (in {E.to_text(node)})")
    if op in ("random_uniform", "random_below") and any(k == "float" for k in arg_dtypes):
        raise TypeError(f"{op} takes integer seeds, counters and bounds (in {E.to_text(node)})")
    if op in ("count_lt", "count_le", "count_cumsum_le", "take", "prod_first", "sum_first") \
            and arg_dtypes[1] == "bool":
        raise TypeError(f"{op} needs a number, not a comparison (in {E.to_text(node)})")
    if op == "take" and arg_dtypes[1] != "int":
        raise TypeError(f"gs.take needs an integer index (use gs.to_int) in {E.to_text(node)}")
    if rule == "num":
        return "int" if all(k in ("int", "bool") for k in arg_dtypes) else "float"
    if rule == "branch":
        return "int" if all(k in ("int", "bool") for k in arg_dtypes[1:]) else "float"
    if rule == "same":
        return "int" if arg_dtypes[0] == "bool" else arg_dtypes[0]
    if rule == "list":
        return dtypes[id(node.args[0])]
    return rule


def _build(root: E.Expr, param_dtypes: dict) -> Plan:
    nodes = E.topological(root)
    dtypes: dict = {}
    subplans: dict = {}
    tables: list = []
    for n in nodes:
        if n.op == "cumprod":
            sub = _build(n.args[0], param_dtypes)
            if sub.root_dtype == "bool":
                raise TypeError("gs.cumprod needs a numeric factor, not a comparison")
            subplans[id(n)] = sub
            tables.extend(sub.tables)
        if n.op == "table":
            tables.append(n)
        dtypes[id(n)] = dtype_of(n, dtypes, param_dtypes)
    if dtypes[id(root)] == "bool":
        raise TypeError("a schedule must return a number, not a comparison; use "
                        "gs.where(cond, a, b)")
    lists: set = set()
    scalars: set = set()
    host_only: set = set()
    for n in nodes:
        for k, a in enumerate(n.args):
            if a.op == "param" and n.op != "cumprod":
                (lists if is_list_use(n, k) else scalars).add(a.value)
                if n.op == "scan" and k > 0:
                    host_only.add(a.value)
    for n in nodes:   # a parameter a kernel also reads is not host-only
        if n.op != "scan":
            host_only.difference_update(a.value for a in n.args if a.op == "param")
    for sub in subplans.values():
        lists.update(sub.list_params)
        scalars.update(sub.scalar_params)
    if root.op == "param":
        scalars.add(root.value)
        host_only.discard(root.value)
    for sub in subplans.values():
        host_only.difference_update(sub.scalar_params + sub.list_params)
    return Plan(root, nodes, dtypes, tuple(sorted(scalars)), tuple(sorted(lists)),
                tuple(dict.fromkeys(tables)), subplans, host_only=frozenset(host_only))


def is_list_use(node: E.Expr, k: int) -> bool:
    """Whether operand ``k`` of ``node`` is read as a per-config list."""
    if node.op == "scan":
        return k > 0 and node.value.arg_names[k - 1] in node.value.list_args
    return node.op in E.LIST_OPS and k == 0
