"""The registry: factories recorded as data where they are defined, found by reading the
catalog's modules (no registration by import side effect), and schedules that remember their
call as a Call (printed by specs, compared by equality, rebuilt by pickling)."""

import ast
import importlib
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

import gpusched as gs
from gpusched import registry, spec
from gpusched.schedule import Call

PACKAGE = Path(gs.__file__).resolve().parent


def lr_lambda(step):            # module level: stdlib pickle writes it by reference
    return 0.95 ** step


def test_every_public_schedule_function_of_a_catalog_module_is_a_factory():
    names = registry.factories()
    for section in registry.SECTIONS:
        if section.title is None:       # spec.py: expr among parsers (loads returns one)
            continue
        mod = importlib.import_module(section.module)
        for attr in mod.__all__:
            fn = getattr(mod, attr)
            if registry.is_factory(fn):
                assert names[section.prefix + attr] is fn
                continue
            ret = getattr(fn, "__annotations__", {}).get("return")
            assert ret not in ("Schedule", gs.Schedule), f"{section.module}.{attr} not recorded"
    assert {"cosine", "torch.OneCycleLR", "metric.greedy", "expr",
            "mmengine.CosineAnnealingMomentum", "transformers.get_scheduler"} <= set(names)
    assert "multiscale.global_step" not in names          # a helper, not a schedule


def test_the_catalog_lists_what_the_registry_finds():
    listed = {(s.prefix + n) for s in registry.SECTIONS if s.title for n in registry.listed(s)}
    assert listed == set(registry.factories()) - {"expr", "transformers.get_scheduler"}
    page = (PACKAGE.parent / "docs" / "schedules.md").read_text()
    for name in listed:
        assert f"### `{name.split('.')[-1]}(" in page, name


def test_nothing_is_registered_by_an_import_side_effect():
    """No module calls a function at its top level to record factories: recording is the
    decorator at each definition."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                called = ast.unparse(node.value.func)
                assert "record" not in called and "register" not in called, (path, called)


def test_schedule_imports_neither_api_nor_spec():
    tree = ast.parse((PACKAGE / "schedule.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
            if node.module is None:
                found |= {a.name for a in node.names}
    assert not {"api", "spec"} & {n.split(".")[-1] for n in found}, found


def test_a_factory_outside_the_catalog_modules_is_refused():
    def OutOfTree():
        return gs.constant(1.0)
    with pytest.raises(ValueError, match="not in gpusched.registry.SECTIONS"):
        registry.factory(OutOfTree)


def test_the_call_is_data():
    s = gs.compat.torch.StepLR(30, gamma=0.5)
    assert s.built == s.built and isinstance(s.built, Call)
    assert (s.built.name, s.built.args, dict(s.built.kwargs)) == ("torch.StepLR", (30,),
                                                                  {"gamma": 0.5})
    assert s.built.target == ("gpusched.compat.torch", "StepLR")
    both = 0.5 * s + gs.constant(0.1)
    assert both.built.name == "+" and both.built.args[0].built.name == "*"
    assert spec.dumps(both) == "((0.5 * torch.StepLR(30, gamma=0.5)) + constant(0.1))"


def test_equality_tells_apart_what_a_spec_prints_apart():
    def step(**kw):
        return gs.compat.torch.StepLR(step_size=30, **kw)
    assert step(gamma=1) != step(gamma=1.0)              # "1" and "1.0"
    assert step(gamma=-0.0) != step(gamma=0.0)
    assert step(gamma=np.float64(0.5)) == step(gamma=0.5)
    assert hash(step(gamma=np.float64(0.5))) == hash(step(gamma=0.5))
    m = gs.compat.torch.MultiStepLR(milestones=np.array([3, 5]))
    assert m == gs.compat.torch.MultiStepLR(milestones=[3, 5])
    assert step(gamma=0.5).identity() is not None
    lam = gs.compat.torch.LambdaLR(lambda t: 0.9 ** t, base_lr=0.1)
    assert lam.identity() is None and lam == lam and lam != gs.compat.torch.LambdaLR(
        lambda t: 0.9 ** t, base_lr=0.1)
    assert (step(gamma=0.5) * math.inf).identity() is None


def test_a_schedule_holding_a_module_level_function_pickles_by_its_call():
    s = gs.compat.torch.LambdaLR(lr_lambda, base_lr=0.1).with_values(base_lr=0.2)
    back = pickle.loads(pickle.dumps(s))
    assert back.built.args == (lr_lambda,) and back.spec_values == {"base_lr": 0.2}
    np.testing.assert_array_equal(back(np.arange(50)), 0.2 * 0.95 ** np.arange(50))
    with pytest.raises(spec.SpecError, match="has no spec"):
        spec.dumps(s)                  # a spec holds no Python function


def test_rebuilding_only_calls_gpusched_factories():
    from gpusched.schedule import _rebuild
    with pytest.raises(ValueError, match="from module 'os'"):
        _rebuild(Call("x", ("echo",), {}, ("os", "system")), {})


def test_a_declared_twin_takes_its_parameters_from_its_signature():
    from gpusched.params import REQUIRED, Param
    s = gs.compat.torch.MultiStepLR([30, 10], base_lr=0.1)
    assert s.param_specs == {
        "milestones": Param("milestones", kind="list", sort=True, ge=0),
        "gamma": Param("gamma", 0.1, kind="float"),
        "base_lr": Param("base_lr", kind="float", doc="the optimizer's initial learning rate")}
    assert s.values == {"gamma": 0.1, "milestones": [30, 10], "base_lr": 0.1}
    assert s.name == "MultiStepLR" and s.doc.startswith("``base_lr * gamma ** #{m in")
    assert gs.compat.torch.CosineAnnealingLR().param_specs["T_max"].kind == "any"
    assert gs.compat.torch.StepLR().required == ("step_size", "base_lr")
    d = gs.compat.d2l.CosineScheduler(max_update=10)
    with pytest.raises(ValueError, match="warmup_steps must be < max_update"):
        gs.evaluate(d, gs.grid(warmup_steps=[3, 10]), steps=5)
    assert spec.dumps(gs.compat.d2l.SquareRootScheduler(lr=0.3)) == \
        "d2l.SquareRootScheduler(lr=0.3)"
    assert REQUIRED is not None


def test_a_swept_argument_of_another_type_is_refused():
    from typing import Annotated
    from gpusched.params import Sweep

    def odd(x: Annotated[dict, Sweep()] = None):
        return x
    odd.__module__ = "gpusched.compat.d2l"
    with pytest.raises(TypeError, match="argument 'x': a swept argument is a float, int"):
        registry.twin(odd)
