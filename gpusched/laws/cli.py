"""``gpusched predict-loss`` and ``gpusched fit-law``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .model import LAWS, Law

EPILOG_PREDICT = """examples:
  gpusched predict-loss "transformers.get_wsd_schedule(num_training_steps=24000, base_lr=3e-4)" \\
      --grid num_decay_steps=2000,4000,8000 --grid decay_type=linear,1-sqrt --steps 24000 \\
      --law multipower --law-param L0=2.65 --law-param A=0.60 --law-param alpha=0.45 \\
      --law-param B=438 --law-param C=2.13 --law-param beta=0.60 --law-param gamma=0.66
  gpusched predict-loss sweep.toml --law law.json --at 12000,24000 --out predicted.csv
"""
EPILOG_FIT = """examples:
  gpusched fit-law runs/*.csv --law multipower --train cosine.csv,constant.csv --out law.json
  gpusched fit-law cosine_24000.csv --rates cosine_24000='expr("...")' --law annealing
A CSV holds step,lr,loss; when its steps are not every step from 0, --rates NAME=SPEC gives
the schedule (a gpusched spec) whose rate at the file's steps must equal its lr column.
"""


def _number_or_column(text: str):
    try:
        return float(text)
    except ValueError:
        return text.strip()             # a grid column's name


def law_from_args(name: str, params) -> Law:
    """``--law multipower|annealing`` with ``--law-param NAME=VALUE`` (a number, or a grid
    column's name), or ``--law FILE.json`` (written by ``fit-law --out``)."""
    if name.endswith(".json"):
        data = json.loads(Path(name).read_text())
        law, constants = data.get("law"), data.get("constants")
        if law not in LAWS or not isinstance(constants, dict):
            raise ValueError(f"--law {name}: expected {{\"law\": \"multipower\"|\"annealing\", "
                             f"\"constants\": {{...}}}}")
    else:
        if name not in LAWS:
            raise ValueError(f"--law {name!r}: use one of {', '.join(LAWS)} or a .json file")
        law, constants = name, {}
    for item in params or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--law-param {item!r}: write NAME=VALUE")
        constants[key.strip()] = _number_or_column(value)
    cls = LAWS[law]
    import dataclasses
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in constants if k not in fields]
    if unknown:
        raise ValueError(f"--law-param {unknown[0]}: {law} has constants {', '.join(fields)}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in constants
               and f.default is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{law} needs --law-param for {', '.join(missing)}")
    return cls(**constants)


def cmd_predict_loss(args) -> int:
    import gpusched as gs
    from ..cli import read_problem
    from ..outputs import check_output, save
    if args.out:
        check_output(args.out)
    law = law_from_args(args.law, args.law_param)
    args.dtype = args.dtype or "float64"
    sched, g, steps, dtype, backend = read_problem(args)
    at = [int(x) for x in args.at.split(",")] if args.at else None
    pred = np.asarray(gs.predict_loss(sched, g, steps=steps, law=law, at=at, backend=backend,
                                      dtype=dtype, progress=args.progress))
    pred = pred.reshape(-1, len(at) if at else 1)
    last = pred[:, -1]
    order = np.argsort(last, kind="stable")
    print(f"{sched.name}: {type(law).__name__} loss after {steps} steps"
          + (f" (at {', '.join(map(str, at))})" if at else "") + f", {pred.shape[0]} configs; "
          f"the best {min(args.top, pred.shape[0])}:")
    _print_best(g, pred, at, order[: args.top])
    if args.out:
        print("wrote " + (save(args.out, g, table=pred) if at else
                          save(args.out, g, reduced=last, op="predicted_loss")))
    return 0


def _print_best(g, pred, at, rows):
    from ..grid import trials
    from ..outputs import parameter_columns
    cols = parameter_columns(g)
    picked = trials(**{k: [v[i] for i in rows] for k, v in cols.items()}) if cols else None
    names = [f"loss@{s}" for s in at] if at else ["loss"]
    stats = {n: pred[rows, k] for k, n in enumerate(names)}
    from ..cli import print_rows
    print_rows(picked, stats, limit=len(rows))
    if picked is not None:
        print(f"(config numbers above count the best first; rows of the grid: "
              f"{', '.join(str(int(r)) for r in rows[:10])}{' ...' if len(rows) > 10 else ''})")


def cmd_fit_law(args) -> int:
    import gpusched as gs
    from .. import spec
    from ..files import replacing
    curves = {}
    for path in args.csv:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"{path}: no such file")
        got = gs.laws.read_curves_file(p)
        curves[p.stem] = got
    rates = {}
    for item in args.rates or ():
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--rates {item!r}: write NAME=SPEC")
        rates[Path(name.strip()).stem] = text
    runs = {}
    for name, c in curves.items():
        if name in rates:
            lrs = gs.evaluate(spec.loads(rates[name]), steps=int(c.steps.max()) + 1,
                              dtype="float64", backend="numpy")
        elif np.array_equal(c.steps, np.arange(c.steps.size)):
            lrs = c.lr
        else:
            raise ValueError(f"{name}: its steps are not every step from 0; give the schedule "
                             f"with --rates {name}=SPEC")
        runs[name] = c.run(lrs)
    train = [Path(t.strip()).stem for t in args.train.split(",")] if args.train else None
    law = gs.laws.fit(LAWS[args.law], runs, train=train, method=args.method)
    print(f"{args.law} fitted on {', '.join(train or runs)}:")
    for k, v in law.constants().items():
        print(f"  {k:6s} = {v:.10g}")
    scores = gs.laws.metrics(law, runs)
    print(f"\n{'curve':28s} {'set':5s} {'R2':>8s} {'MAE':>9s} {'RMSE':>9s} {'PredE':>9s} "
          f"{'WorstE':>9s}")
    for name in runs:
        m = scores[name]
        role = "train" if train is None or name in train else "test"
        print(f"{name:28s} {role:5s} {m['R2']:8.5f} {m['MAE']:9.5f} {m['RMSE']:9.5f} "
              f"{m['PredE']:9.5f} {m['WorstE']:9.5f}")
    if args.out:
        with replacing(args.out) as tmp:
            Path(tmp).write_text(json.dumps({"law": args.law, "constants": law.constants()},
                                            indent=2) + "\n")
        print(f"\nwrote {args.out} (use it as --law {args.out} in predict-loss)")
    return 0


def add_commands(sub, problem) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("predict-loss", help="the loss a fitted law predicts for each config "
                       "(no table)", epilog=EPILOG_PREDICT, formatter_class=raw)
    problem(p)
    p.add_argument("--law", required=True, help="multipower, annealing, or a law .json file "
                   "written by fit-law --out")
    p.add_argument("--law-param", action="append", metavar="NAME=VALUE",
                   help="a law constant: a number, or a grid column's name to sweep it")
    p.add_argument("--at", help="predict after these steps, e.g. 1000,5000 (default: the "
                   "last)")
    p.add_argument("--top", type=int, default=10, help="how many of the best configs to print")
    p.add_argument("--progress", action="store_true", default=None, help="a progress bar")
    p.add_argument("--out", help="write every config's prediction: .npy, .npz, .csv, .parquet")
    p.set_defaults(func=cmd_predict_loss)
    f = sub.add_parser("fit-law", help="fit a loss law's constants to step,lr,loss curves "
                       "(needs SciPy)", epilog=EPILOG_FIT, formatter_class=raw)
    f.add_argument("csv", nargs="+", help="step,lr,loss CSV files")
    f.add_argument("--law", default="multipower", choices=tuple(LAWS))
    f.add_argument("--train", help="the files to fit on, comma-separated (default: all); "
                   "the others are scored as held out")
    f.add_argument("--rates", action="append", metavar="NAME=SPEC",
                   help="the schedule of a file whose steps are sampled")
    f.add_argument("--method", default="adam", choices=("adam", "lbfgs"))
    f.add_argument("--out", help="write the fitted law as .json")
    f.set_defaults(func=cmd_fit_law)
