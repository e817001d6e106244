"""The catalog: the generated reference page is current, and every twin takes every one of
its parameters from a grid (integer ones included), each config independent of the others."""

import json
from pathlib import Path

import numpy as np
import pytest

import gpusched as gs
from gpusched.catalog import entries, markdown

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests" / "reference" / "values.json").read_text())["cases"]


def test_reference_page_is_generated_from_the_docstrings():
    assert (ROOT / "docs" / "schedules.md").read_text() == markdown(), \
        "docs/schedules.md is stale: run `python -m gpusched.catalog > docs/schedules.md`"


def test_catalog_lists_every_twin():
    listed = {(m, n) for m, _, _, items in entries() for n, _, _ in items}
    for lib in ("torch", "transformers", "timm", "optax", "keras", "deepspeed", "mmengine"):
        mod = getattr(gs.compat, lib)
        for name in mod.__all__:
            if name not in ("get_scheduler", "SCHEDULER_TYPES"):
                assert (f"gpusched.compat.{lib}", name) in listed


def _nudged(p, v, direction):
    """Another valid-looking value of parameter ``p`` near ``v``."""
    if p.kind == "choice":
        return p.choices[(p.choices.index(v) + 1) % len(p.choices)]
    if p.kind == "list":
        if not v:
            return None
        return [v[0] + direction if isinstance(v[0], int) else v[0] * (0.9 if direction > 0
                                                                       else 1.1)] + list(v[1:])
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if p.kind == "int" or isinstance(v, int) and p.kind != "float":
        return v + direction
    return v * (0.9 if direction > 0 else 1.1) if v else 0.05


def _cases():
    for c in REF:
        kw = dict(c["kwargs"])
        if c["base_lr"] is not None:
            kw["base_lr"] = c["base_lr"]
        if "noise_range_t" in kw:
            continue
        yield pytest.param(c["library"], c["name"], kw, id=f"{c['library']}.{c['name']}")
    yield pytest.param("torch", "OneCycleLR", dict(max_lr=.1, total_steps=100), id="torch.OC")
    yield pytest.param("torch", "CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2,
                                                                    base_lr=.1), id="torch.CAWR")
    yield pytest.param("torch", "CyclicLR", dict(base_lr=.01, max_lr=.1, step_size_up=7),
                       id="torch.CLR")
    yield pytest.param("transformers", "get_wsd_schedule",
                       dict(num_warmup_steps=5, num_decay_steps=20, num_stable_steps=30,
                            base_lr=.1), id="hf.wsd")
    yield pytest.param("optax", "warmup_cosine_decay_schedule",
                       dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=100),
                       id="optax.wcd")


@pytest.mark.parametrize("lib,name,kw", list(_cases()))
def test_every_parameter_sweeps_through_a_grid(lib, name, kw):
    make = getattr(getattr(gs.compat, lib), name)
    sched = make(**kw)
    steps = 140      # the reference metric series is 140 long
    base = gs.evaluate(sched, steps=steps, dtype="float64", backend="numpy")
    swept = 0
    for pname, p in sched.param_specs.items():
        if pname not in sched.values:
            continue
        v = sched.values[pname]
        for direction in (1, -1):
            other = _nudged(p, v, direction)
            if other is None:
                break
            try:
                alone = gs.evaluate(sched.with_values(**{pname: other}), steps=steps,
                                    dtype="float64", backend="numpy")
            except ValueError:
                continue            # outside the parameter's domain: try the other way
            grid = gs.trials(**{pname: [v, other]})
            table = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numba")
            np.testing.assert_allclose(table[0], base, rtol=1e-13, atol=1e-300)
            np.testing.assert_allclose(table[1], alone, rtol=1e-13, atol=1e-300)
            swept += 1
            break
    assert swept >= max(1, len(sched.values) - 2), (swept, sorted(sched.values))
