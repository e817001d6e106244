"""Parity of the optax twins with optax itself (optax computes in float32: agreement to float32
rounding), over random draws of every parameter swept through one grid."""

import numpy as np
import pytest

import gpusched as gs

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy
OX = gs.compat.optax

N = 300
STEPS = np.arange(N)


def optax_values(fn, **kw):
    sched = fn(**kw)
    return np.asarray(jax.vmap(lambda c: jnp.asarray(sched(c), jnp.float32))(
        jnp.asarray(STEPS, jnp.int32)), dtype=np.float64)


def assert_f32_parity(ours, theirs):
    """A few float32 ulps of the largest value (optax rounds every operation to float32)."""
    scale = max(np.abs(theirs).max(), 1e-30)
    np.testing.assert_allclose(ours, theirs, rtol=8 * 2 ** -24, atol=8 * 2 ** -24 * scale)


def _bs(r):
    k = int(r.integers(1, 5))
    bounds = sorted(set(int(x) for x in r.integers(0, N, size=k)))
    return dict(zip(bounds, (float(x) for x in r.uniform(0.1, 2, size=len(bounds)))))


DRAWS = {
    "constant_schedule": lambda r: dict(value=float(r.uniform(-1, 1))),
    "polynomial_schedule": lambda r: dict(init_value=float(r.uniform(0, 1)),
                                          end_value=float(r.uniform(0, .1)),
                                          power=float(r.uniform(.5, 3)),
                                          transition_steps=int(r.integers(-2, 250)),
                                          transition_begin=int(r.integers(-5, 60))),
    "linear_schedule": lambda r: dict(init_value=float(r.uniform(0, 1)),
                                      end_value=float(r.uniform(0, 1)),
                                      transition_steps=int(r.integers(1, 250)),
                                      transition_begin=int(r.integers(0, 60))),
    "piecewise_constant_schedule": lambda r: dict(init_value=float(r.uniform(.1, 1)),
                                                  boundaries_and_scales=_bs(r)),
    "exponential_decay": lambda r: dict(init_value=float(r.uniform(.1, 1)),
                                        transition_steps=int(r.integers(1, 100)),
                                        decay_rate=float(r.choice([.5, .9, .99, 1.5])),
                                        transition_begin=int(r.integers(0, 50)),
                                        end_value=float(r.uniform(.05, .2))),
    "cosine_decay_schedule": lambda r: dict(init_value=float(r.uniform(.1, 1)),
                                            decay_steps=int(r.integers(1, 250)),
                                            alpha=float(r.uniform(0, .3)),
                                            exponent=float(r.uniform(.5, 2))),
    "piecewise_interpolate_schedule": lambda r: dict(
        interpolate_type=str(r.choice(["linear", "cosine"])), init_value=float(r.uniform(.1, 1)),
        boundaries_and_scales=_bs(r)),
    "linear_onecycle_schedule": lambda r: dict(transition_steps=int(r.integers(1, 250)),
                                               peak_value=float(r.uniform(.1, 1)),
                                               pct_start=float(r.uniform(0, .4)),
                                               pct_final=float(r.uniform(.5, 1)),
                                               div_factor=float(r.uniform(5, 30)),
                                               final_div_factor=float(r.uniform(10, 1e4))),
    "cosine_onecycle_schedule": lambda r: dict(transition_steps=int(r.integers(1, 250)),
                                               peak_value=float(r.uniform(.1, 1)),
                                               pct_start=float(r.uniform(0, .6)),
                                               div_factor=float(r.uniform(5, 30)),
                                               final_div_factor=float(r.uniform(10, 1e4))),
    "warmup_constant_schedule": lambda r: dict(init_value=float(r.uniform(0, .1)),
                                               peak_value=float(r.uniform(.1, 1)),
                                               warmup_steps=int(r.integers(1, 100))),
    "warmup_cosine_decay_schedule": lambda r: dict(init_value=float(r.uniform(0, .1)),
                                                   peak_value=float(r.uniform(.1, 1)),
                                                   warmup_steps=int(r.integers(0, 60)),
                                                   decay_steps=int(r.integers(61, 260)),
                                                   end_value=float(r.uniform(0, .05)),
                                                   exponent=float(r.uniform(.5, 2))),
    "warmup_exponential_decay_schedule": lambda r: dict(
        init_value=float(r.uniform(0, .1)), peak_value=float(r.uniform(.1, 1)),
        warmup_steps=int(r.integers(1, 60)), transition_steps=int(r.integers(1, 80)),
        decay_rate=float(r.uniform(.3, .99)), transition_begin=int(r.integers(0, 30)),
        end_value=float(r.uniform(0, .05))),
}
FIXED = {"exponential_decay": {"end_value": 0.1}, "warmup_exponential_decay_schedule":
         {"end_value": 0.01}}


def _columns(name, cfg):
    cfg = dict(cfg)
    if "boundaries_and_scales" in cfg:
        bs = cfg.pop("boundaries_and_scales")
        cfg["boundaries"] = sorted(bs)
        cfg["scales"] = [bs[b] for b in sorted(bs)]
    return cfg


@pytest.mark.parametrize("name", DRAWS)
def test_schedule_matches_optax_over_random_draws(name, backend):
    rng = np.random.default_rng(sum(map(ord, name)))
    configs = [DRAWS[name](rng) for _ in range(6)]
    twin = getattr(OX, name)(**FIXED.get(name, {}))
    ours = gs.evaluate(twin, gs.trials([_columns(name, c) for c in configs]), steps=N,
                       dtype="float64", backend=backend)
    for i, cfg in enumerate(configs):
        assert_f32_parity(ours[i], optax_values(getattr(optax, name), **cfg))


def test_staircase_and_negative_steps():
    kw = dict(init_value=1.0, transition_steps=7, decay_rate=.5, staircase=True)
    ours = gs.evaluate(OX.exponential_decay(**kw), steps=N, dtype="float64")
    assert_f32_parity(ours, optax_values(optax.exponential_decay, **kw))
    s = OX.piecewise_interpolate_schedule("linear", 1.0, {5: 2.0})
    assert gs.evaluate(s, steps=[0, 5, 9], dtype="float64").tolist() == [1.0, 2.0, 2.0]


def test_onecycle_tiny_horizons_collide_like_optax():
    for T in (1, 2, 3, 5):
        for name in ("linear_onecycle_schedule", "cosine_onecycle_schedule"):
            ours = gs.evaluate(getattr(OX, name)(T, 1.0), steps=N, dtype="float64")
            assert_f32_parity(ours, optax_values(getattr(optax, name), transition_steps=T,
                                                 peak_value=1.0))


def test_sgdr_and_join():
    cycles = [dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=80),
              dict(init_value=0.1, peak_value=.5, warmup_steps=5, decay_steps=60,
                   end_value=.01),
              dict(init_value=0.0, peak_value=.3, warmup_steps=0, decay_steps=100,
                   exponent=2.0)]
    ours = gs.evaluate(OX.sgdr_schedule(cycles), steps=N, dtype="float64")
    assert_f32_parity(ours, optax_values(optax.sgdr_schedule, cosine_kwargs=cycles))
    swept = gs.evaluate(OX.sgdr_schedule(cycles), gs.grid(decay_steps_0=[40, 80]), steps=N,
                        dtype="float64")
    np.testing.assert_array_equal(swept[1], ours)
    alt = [dict(cycles[0], decay_steps=40)] + cycles[1:]
    assert_f32_parity(swept[0], optax_values(optax.sgdr_schedule, cosine_kwargs=alt))
    j = OX.join_schedules([OX.linear_schedule(0.0, 1.0, 20),
                           OX.cosine_decay_schedule(1.0, 100).rename(init_value="peak")],
                          [20])
    theirs = optax.join_schedules([optax.linear_schedule(0.0, 1.0, 20),
                                   optax.cosine_decay_schedule(1.0, 100)], [20])
    assert_f32_parity(gs.evaluate(j, steps=N, dtype="float64"),
                      optax_values(lambda: theirs))


def test_float32_mode_is_the_rounding_of_float64_where_optax_drifts():
    """optax casts the step to float32: past 2**24 it sees rounded steps; we do not."""
    D = 2 ** 26
    steps = 2 ** 25 + 3 + np.arange(64)
    ours = gs.evaluate(OX.cosine_decay_schedule(1.0, D), steps=steps, dtype="float32")
    exact = np.array([0.5 * (1 + np.cos(np.pi * float(t) / D)) for t in steps])
    np.testing.assert_array_equal(ours, exact.astype(np.float32))
    theirs = np.asarray(jax.vmap(optax.cosine_decay_schedule(1.0, D))(
        jnp.asarray(steps, jnp.int32)))
    assert (theirs != exact.astype(np.float32)).any()


def test_contrib_reduce_on_plateau_matches_optax():
    from optax import contrib
    rng = np.random.default_rng(3)
    n = 200
    for kw in [dict(patience=3, factor=0.5), dict(patience=2, cooldown=3, rtol=0.0, atol=0.01,
                                                  min_scale=0.05),
               dict(patience=1, accumulation_size=4, factor=0.7)]:
        loss = np.cumsum(rng.normal(-0.005, 0.05, n)) + 2
        tx = contrib.reduce_on_plateau(**kw)
        params = {"w": jnp.zeros(1)}

        def step(state, v):
            upd, state = tx.update({"w": jnp.ones(1)}, state, params, value=v)
            return state, upd["w"][0]
        _, scales = jax.lax.scan(step, tx.init(params), jnp.asarray(loss, jnp.float32))
        scales = np.asarray(scales, dtype=np.float64)
        ours = gs.evaluate(OX.reduce_on_plateau(metrics=loss, **kw), steps=n, dtype="float64")
        np.testing.assert_allclose(ours, scales, rtol=4 * 2 ** -24)
        assert min(scales) < 1.0
    with pytest.raises(ValueError, match="needs 201"):
        gs.evaluate(OX.reduce_on_plateau(metrics=loss), steps=n + 1)


def test_join_schedules_takes_optaxs_own_call_with_colliding_parameters():
    """Issue 14.3b: pieces that share parameter names (init_value, transition_steps) with
    other values are separate in optax; the twin renames them ``<name>_<k>``."""
    ours = OX.join_schedules([OX.linear_schedule(0, .5, 5), OX.cosine_decay_schedule(.5, 10, .1),
                              OX.exponential_decay(.05, 3, .5)], [5, 12])
    theirs = optax.join_schedules([optax.linear_schedule(0, .5, 5),
                                   optax.cosine_decay_schedule(.5, 10, .1),
                                   optax.exponential_decay(.05, 3, .5)], [5, 12])
    assert {"init_value_1", "init_value_2", "transition_steps_2"} <= set(ours.params)
    assert_f32_parity(gs.evaluate(ours, steps=N, dtype="float64"), optax_values(lambda: theirs))
    swept = gs.evaluate(ours, gs.grid(init_value_2=[.05, .2]), steps=N, dtype="float64")
    np.testing.assert_array_equal(swept[0], gs.evaluate(ours, steps=N, dtype="float64"))
    assert swept[1, 20] == pytest.approx(4 * swept[0, 20], rel=1e-12)
