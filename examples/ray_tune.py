"""Ray Tune: a schedule spec as a categorical hyperparameter.

Each trial gets one spec string from the search space, builds the schedule with
``gs.spec.loads`` and evaluates its whole learning-rate curve in one call; a real trainable
would feed ``lr[t]`` to its optimizer (or ``TableLR``). Run: ``python examples/ray_tune.py
[STORAGE_DIR]`` (needs ``pip install 'gpusched[ray]'``).
"""

import sys
import tempfile

import gpusched as gs
from ray import tune

STEPS = 200
SPECS = [
    "torch.OneCycleLR(max_lr=0.1, total_steps=200)",
    "with_values(torch.CosineAnnealingLR(T_max=200), base_lr=0.1)",
    "with_values(transformers.get_wsd_schedule(20, 60, num_training_steps=200), base_lr=0.1)",
]


def trainable(config):
    sched = gs.spec.loads(config["schedule"])
    lr = gs.evaluate(sched, steps=STEPS, dtype="float64", backend="numpy")
    # a stand-in for training: report the schedule's mean and final learning rate
    tune.report({"area": float(lr.mean()), "final_lr": float(lr[-1])})


def main(storage: str):
    tuner = tune.Tuner(
        trainable, param_space={"schedule": tune.grid_search(SPECS)},
        tune_config=tune.TuneConfig(metric="area", mode="max"),
        run_config=tune.RunConfig(storage_path=storage, verbose=0))
    results = tuner.fit()
    best = results.get_best_result()
    print(f"{len(results)} trials; largest mean lr: {best.config['schedule']} "
          f"({best.metrics['area']:.5f})")
    return results


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
