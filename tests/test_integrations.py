"""Integrations: torch TableLR and ensemble tables, a jittable optax callable, Optuna batches."""

import numpy as np
import pytest

import gpusched as gs

torch = pytest.importorskip("torch")


def test_table_lr_replays_the_row_and_holds_the_last_value():
    from gpusched.integrations.torch import TableLR
    vals = gs.evaluate(gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=50), steps=50,
                       dtype="float64")
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = TableLR(opt, vals)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(52):
        opt.step()
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen[:50] == vals.tolist() and seen[-1] == vals[-1]


def test_table_lr_one_row_per_param_group_and_bad_shapes():
    from gpusched.integrations.torch import TableLR
    table = gs.evaluate(gs.compat.torch.CosineAnnealingLR(T_max=20),
                        gs.grid(base_lr=[0.1, 0.01]), steps=20, dtype="float64")
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=1.0)
    sched = TableLR(opt, torch.as_tensor(table))
    for _ in range(5):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == table[:, 5].tolist()
    with pytest.raises(ValueError, match=r"expected shape \(T,\) or \(2, T\)"):
        TableLR(torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=1.0), table[:1])
    with pytest.raises(ValueError, match="non-finite value at group 0, step 3"):
        TableLR(torch.optim.SGD([a], lr=1.0), [0.1, 0.1, 0.1, float("nan")])


def test_table_lr_checkpoint_loads_with_torch_load_defaults(tmp_path):
    """A NumPy array in the state made default ``torch.load`` (weights_only) refuse it."""
    from gpusched.integrations.torch import TableLR
    vals = gs.evaluate(gs.compat.torch.StepLR(step_size=4, base_lr=.1), steps=30,
                       dtype="float64")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = TableLR(opt, vals)
    for _ in range(9):
        opt.step()
        sched.step()
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt")             # weights_only=True by default
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    other = TableLR(opt2, np.zeros(30))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.table[0], vals)
    opt2.step()
    other.step()
    assert opt2.param_groups[0]["lr"] == vals[10]


def test_ensemble_table_is_a_zero_copy_tensor_on_the_cpu():
    from gpusched.integrations.torch import ensemble_table
    g = gs.grid(base_lr=[0.1, 0.03, 0.01], T_max=[100])
    lr = ensemble_table(gs.compat.torch.CosineAnnealingLR(), g, steps=100, backend="numpy")
    assert isinstance(lr, torch.Tensor) and lr.shape == (3, 100) and lr.dtype == torch.float32
    assert lr[1, 0].item() == pytest.approx(0.03)


def test_vmap_style_ensemble_trains_with_one_lr_per_member_per_step():
    """M linear regressions trained together; member m follows its own schedule."""
    from gpusched.integrations.torch import ensemble_table
    torch.manual_seed(0)
    M, T, d = 4, 200, 3
    lr = ensemble_table(gs.compat.torch.OneCycleLR(total_steps=T),
                        gs.grid(max_lr=[0.5, 0.1, 0.02, 0.0]), steps=T, backend="numpy")
    x = torch.randn(64, d)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    w = torch.zeros(M, d)

    def loss(w_m):
        return ((x @ w_m - y) ** 2).mean()
    grad = torch.func.vmap(torch.func.grad(loss))
    for t in range(T):
        w = w - lr[:, t, None] * grad(w)
    final = torch.func.vmap(loss)(w)
    assert float(final[0]) < 1e-3
    assert torch.equal(w[-1], torch.zeros(d))                 # lr 0 never moves
    assert final[0] < final[2] < final[3]


def test_optax_callable_is_jittable_and_matches_the_table_and_optax():
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from gpusched.integrations.jax import optax_schedule, ensemble_table
    s = gs.compat.optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100)
    fn = optax_schedule(s, steps=100)
    want = gs.evaluate(s, steps=120)
    got = jax.jit(jax.vmap(fn))(jax.numpy.arange(120))
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-7)  # past 100 too
    native = jax.vmap(optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100))(
        jax.numpy.arange(120))
    np.testing.assert_allclose(np.asarray(got), np.asarray(native), rtol=2e-6, atol=1e-7)
    opt = optax.sgd(learning_rate=fn)
    params = {"w": jax.numpy.ones(3)}
    state = opt.init(params)
    updates, state = opt.update({"w": jax.numpy.ones(3)}, state, params)
    assert float(updates["w"][0]) == -float(want[0])
    fn2 = optax_schedule(gs.compat.torch.CosineAnnealingLR(T_max=50), {"base_lr": 0.1}, 50)
    assert float(fn2(25)) == pytest.approx(0.05, rel=1e-6)
    table = ensemble_table(gs.compat.torch.CosineAnnealingLR(T_max=50),
                           gs.grid(base_lr=[0.1, 0.2]), 50, backend="numpy")
    assert table.shape == (2, 50)


def test_optuna_batch_ask_and_tell_screens_schedules_in_one_call():
    optuna = pytest.importorskip("optuna")
    from gpusched.integrations.optuna import ask_batch, tell_batch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(0))
    sched = gs.compat.torch.CosineAnnealingLR(eta_min=0.0)
    for _ in range(3):
        trials, grid = ask_batch(study, 16, lambda trial: {
            "base_lr": trial.suggest_float("base_lr", 1e-4, 1e-1, log=True),
            "T_max": trial.suggest_int("T_max", 100, 2000)})
        area = gs.reduce(sched, grid, steps=2000, op="mean")
        tell_batch(study, trials, np.abs(area - 0.01))     # screen: total lr area near 0.01
    assert len(study.trials) == 48
    assert study.best_value < 2e-3
    best = study.best_params
    got = gs.reduce(sched.with_values(**best), steps=2000, op="mean")
    assert abs(float(got) - 0.01) == pytest.approx(study.best_value, rel=1e-5)
    with pytest.raises(ValueError, match="3 values for 16 trials"):
        tell_batch(study, trials, [1.0, 2.0, 3.0])


def test_optuna_multi_objective_study_with_a_schedule_chosen_per_trial():
    """Trials choose their schedule (one gs.reduce call per chosen schedule, values back in
    trial order) and a two-objective study gets both values per trial."""
    optuna = pytest.importorskip("optuna")
    from gpusched.integrations.optuna import ask_batch, tell_batch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["minimize", "maximize"],
                                sampler=optuna.samplers.RandomSampler(1))
    schedules = {"cos": gs.compat.torch.CosineAnnealingLR(T_max=100),
                 "step": gs.compat.torch.StepLR(step_size=30),
                 "const": gs.compat.torch.ConstantLR(base_lr=0.05, factor=0.5,
                                                     total_iters=10)}

    def suggest(trial):
        name = trial.suggest_categorical("schedule", list(schedules))
        cfg = {"schedule": name}
        if name != "const":                      # a schedule with nothing sampled
            cfg["base_lr"] = trial.suggest_float("base_lr", 1e-3, 1e-1, log=True)
        return cfg

    trials, batch = ask_batch(study, 24, suggest, schedules=schedules)
    assert sorted(p[0] for p in batch.parts) == ["const", "cos", "step"]
    mean, peak = batch.reduce(200, op="mean"), batch.reduce(200, op="max")
    table = batch.evaluate(200, dtype="float64")
    for i, trial in enumerate(trials):          # each trial's own schedule and parameters
        p = dict(trial.params)
        one = schedules[p.pop("schedule")].with_values(**p)
        want = gs.evaluate(one, steps=200, dtype="float64", backend="numpy")
        np.testing.assert_allclose(table[i], want, rtol=1e-12)
        assert mean[i] == pytest.approx(float(np.float32(want).astype(np.float64).mean()),
                                        rel=1e-6)
    tell_batch(study, trials, [mean, peak])
    assert all(len(t.values) == 2 for t in study.trials)
    assert study.trials[3].values == pytest.approx([mean[3], peak[3]])
    trials, batch = ask_batch(study, 4, suggest, schedules=schedules)
    with pytest.raises(ValueError, match="with 2 objectives"):
        tell_batch(study, trials, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"trial 0: schedule = 'linear'"):
        ask_batch(study, 2, lambda t: {"schedule": "linear", "base_lr": 0.1},
                  schedules=schedules)


def test_ray_tune_example_runs(tmp_path):
    """examples/ray_tune.py: spec strings as a Ray Tune grid (in a subprocess: Ray starts
    its own workers)."""
    import subprocess
    import sys
    from pathlib import Path
    pytest.importorskip("ray.tune")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "examples" / "ray_tune.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 trials; largest mean lr: " in proc.stdout
    want = max(gs.evaluate(gs.spec.loads(s), steps=200, dtype="float64").mean()
               for s in ["torch.OneCycleLR(max_lr=0.1, total_steps=200)",
                         "with_values(torch.CosineAnnealingLR(T_max=200), base_lr=0.1)",
                         "with_values(transformers.get_wsd_schedule(20, 60, "
                         "num_training_steps=200), base_lr=0.1)"])
    assert f"({want:.5f})" in proc.stdout
