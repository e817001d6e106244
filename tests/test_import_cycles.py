"""No import cycle inside gpusched/: the module-level imports (those that run when a module is
imported, including under top-level ``if``/``try``) form a graph without cycles. Imports inside
functions are deferred on purpose and are not edges."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gpusched"


def _modules() -> dict:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _targets(mods, module, node) -> set:
    package = module if mods[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in mods}
    base = node.module or ""
    if node.level:
        anchor = package
        for _ in range(node.level - 1):
            anchor = anchor.rsplit(".", 1)[0]
        base = f"{anchor}.{node.module}" if node.module else anchor
    found = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in mods:
            found.add(f"{base}.{alias.name}")
        elif base in mods:
            found.add(base)
    return found


def import_graph() -> dict:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        edges = set()
        for top in ast.parse(path.read_text()).body:
            nodes = ast.walk(top) if isinstance(top, (ast.If, ast.Try)) else [top]
            for node in nodes:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    edges |= _targets(mods, name, node)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict) -> list:
    state, path = {}, []

    def visit(v):
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                got = visit(w)
                if got:
                    return got
        state[v] = 2
        path.pop()
        return None
    for v in sorted(graph):
        if v not in state:
            got = visit(v)
            if got:
                return got
    return []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "gpusched.binding" in graph["gpusched.api"]
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_modules_private_names():
    """``from .x import _name`` couples two modules through what one of them meant to keep to
    itself: shared pieces are public. Private modules of a package (``from . import
    _chain`` in ``compat/``) are for that package's own modules."""
    mods = _modules()
    found = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module not in ("__future__", None):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{name}: from {node.module} import {alias.name}")
    assert len(mods) > 40 and not found, "\n".join(found)
