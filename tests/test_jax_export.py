"""gs.to_jax_fn: the expression graph as jax.numpy code, exact at every step and past any
table (issue 17: optax_schedule clamped at its table's end)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gpusched as gs

jax = pytest.importorskip("jax")
jnp = jax.numpy

_CHILD = r"""
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
import jax, gpusched as gs
from catalog_cases import build, cases
assert jax.config.jax_enable_x64
worst, done, refused, boundaries = 0.0, 0, [], []


def float_log(s):     # cycles found through a logarithm (timm, fairseq, keras restarts)
    ops = {n.op for n in gs.expr.all_nodes(s.expr)}
    return "log" in ops and "floor" in ops


steps = np.arange(0, 1500)
for cid, lib, name, kw in cases(with_metrics=False):
    s = build(lib, name, kw)
    try:
        fn = gs.to_jax_fn(s)
    except ValueError as err:
        refused.append(cid)
        continue
    got = np.asarray(jax.vmap(fn)(steps))
    want = gs.evaluate(s, steps=steps, dtype="float64", backend="numpy")
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
    off = np.flatnonzero(rel > 1e-12)
    if off.size:     # a float-log cycle boundary: XLA's log is not the C library's
        assert float_log(s) and off.size <= 3, (cid, off[:10].tolist())
        boundaries.append(cid)
        rel[off] = 0
    worst, done = max(worst, float(rel.max())), done + 1
print(json.dumps({"done": done, "worst": worst, "refused": refused, "boundaries": boundaries}))
"""


def test_every_closed_form_twin_in_float64_jax_equals_the_float64_table():
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run([sys.executable, "-c", _CHILD, here], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "JAX_ENABLE_X64": "1",
                                                       "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["done"] >= 70, out
    # only schedules with running products, host scans or random draws are refused
    assert all(any(k in c for k in ("Multiplicative", "Plateau", "Chained", "Sequential",
                                    "noise")) for c in out["refused"]), out["refused"]


def test_float32_export_under_jit_and_vmap_past_the_end():
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=1000, three_phase=True)
    fn = jax.jit(gs.to_jax_fn(s))
    steps = np.arange(0, 1000, 7)
    np.testing.assert_allclose(np.asarray(jax.vmap(fn)(steps)),
                               gs.evaluate(s, steps=steps, backend="numpy"), rtol=2e-5,
                               atol=1e-8)
    cos = gs.compat.torch.CosineAnnealingLR(T_max=1000)
    opt_fn = gs.integrations.jax.optax_schedule(cos, {"base_lr": 0.1}, steps=1000)
    want = gs.evaluate(cos, gs.trials(base_lr=[0.1]), steps=np.array([10150]),
                       dtype="float64")[0, 0]
    assert float(opt_fn(10150)) == pytest.approx(want, rel=1e-5)   # was the table's end


def test_vmap_and_grad_over_parameters():
    s = gs.compat.torch.CosineAnnealingLR(T_max=100, eta_min=0.0)
    fn = gs.to_jax_fn(s, base_lr=0.1)
    lrs = jnp.asarray([0.1, 0.2, 0.4])
    got = jax.vmap(lambda lr: fn(25, base_lr=lr))(lrs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(lrs) * 0.5 * (1 + np.cos(np.pi / 4)),
                               rtol=1e-6)
    d = jax.grad(lambda lr: fn(25, base_lr=lr))(0.3)
    assert float(d) == pytest.approx(0.5 * (1 + np.cos(np.pi / 4)), rel=1e-6)
    with pytest.raises(TypeError, match="'gamma' is not a scalar parameter"):
        fn(3, gamma=0.5)
    with pytest.raises(ValueError, match="no closed form in JAX"):
        gs.to_jax_fn(gs.compat.torch.MultiplicativeLR(lambda epoch, g: g), base_lr=0.1, g=0.9)
    with pytest.raises(ValueError, match="T_max"):
        gs.to_jax_fn(gs.compat.torch.CosineAnnealingLR(), base_lr=0.1, T_max=-3)
