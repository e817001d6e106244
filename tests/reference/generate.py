"""Regenerate ``values.json`` by running every case of ``cases.py`` in the real library.

Run in a throwaway environment holding torch, timm (its scheduler package only: timm's
top-level import needs torchvision, so this loads ``timm.scheduler`` alone), keras (numpy
backend), deepspeed (``runtime/lr_schedules.py`` alone: it needs ``deepspeed.utils.logger``,
given a stand-in) and mmengine(-lite)::

    KERAS_BACKEND=numpy python tests/reference/generate.py \\
        --timm <dir holding timm/> --deepspeed <deepspeed source dir>

or, for one library's cases (the others are kept from the existing file)::

    python tests/reference/generate.py --only mmengine

Versions used for the committed file: see its "versions" entry.
"""

import argparse
import importlib.util
import json
import logging
import os
import sys
import types
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cases import CASES  # noqa: E402


def load_timm(root):
    pkg = types.ModuleType("timm")
    pkg.__path__ = [str(Path(root) / "timm")]
    sys.modules["timm"] = pkg
    import timm.scheduler
    return timm.scheduler


def load_deepspeed(root):
    ds = types.ModuleType("deepspeed")
    ds.__path__ = []
    utils = types.ModuleType("deepspeed.utils")
    utils.logger = logging.getLogger("deepspeed")
    sys.modules.update({"deepspeed": ds, "deepspeed.utils": utils})
    path = Path(root) / "deepspeed" / "runtime" / "lr_schedules.py"
    spec = importlib.util.spec_from_file_location("ds_lr_schedules", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    version = (Path(root) / "version.txt")
    return mod, version.read_text().strip() if version.exists() else "unknown"


def optimizer(torch, lr):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([p], lr=lr, momentum=0.9)


def run_timm(mod, torch, name, kw, lr, n):
    opt = optimizer(torch, lr)
    kw = dict(kw)
    metrics = kw.pop("metrics", None)
    sched = getattr(mod, name)(opt, **kw)
    if metrics is not None:     # timm's train loop: step(epoch + 1, metric) after each epoch
        out = [opt.param_groups[0]["lr"]]
        for e in range(1, n):
            sched.step(e, metrics[e - 1])
            out.append(opt.param_groups[0]["lr"])
        return out
    out = []
    for t in range(n):
        sched.step(t)
        out.append(opt.param_groups[0]["lr"])
    return out


def run_keras(keras, name, kw, n):
    kw = dict(kw)
    if "metrics" in kw:         # the callback: on_epoch_end(epoch, logs) after each epoch
        metrics, lr = kw.pop("metrics"), kw.pop("initial_learning_rate")
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        cb = getattr(keras.callbacks, name)(**kw)
        cb.set_model(model)
        cb.on_train_begin()

        def current():
            return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        out = [current()]
        for e in range(n - 1):
            cb.on_epoch_end(e, logs={cb.monitor: metrics[e]})
            out.append(current())
        return out
    sched = getattr(keras.optimizers.schedules, name)(**kw)
    return [float(sched(t)) for t in range(n)]


def mmengine_value(torch, kw, lr):
    """(optimizer, the param_group key it schedules, the scheduler's keyword arguments):
    *Momentum schedule the momentum, *ParamScheduler ``param_name``, the rest the lr."""
    kw = dict(kw)
    if "base_momentum" in kw:
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        return torch.optim.SGD([p], lr=0.1, momentum=kw.pop("base_momentum")), "momentum", kw
    if "base_value" in kw:
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        start = kw.pop("base_value")
        settings = {"lr": 0.1, "momentum": 0.9}
        settings[kw["param_name"]] = start
        return torch.optim.SGD([p], **settings), kw["param_name"], kw
    return optimizer(torch, lr), "lr", kw


def run_mmengine_plateau(torch, mm, name, kw, lr, n):
    """The runner's order: step() after each training epoch, then step(metrics) after its
    validation."""
    opt, key, kw = mmengine_value(torch, kw, lr)
    metrics = kw.pop("metrics")
    sched = getattr(mm, name)(opt, **kw)
    out = [opt.param_groups[0][key]]
    for e in range(n - 1):
        opt.step()
        sched.step()
        sched.step(metrics={"loss": metrics[e]})
        out.append(opt.param_groups[0][key])
    return out


def run_stepped(torch, make, lr, n, opt=None, key="lr"):
    opt = opt or optimizer(torch, 0.1 if lr is None else lr)
    sched = make(opt)
    out = [opt.param_groups[0][key]]
    for _ in range(n - 1):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0][key])
    return out


def run_mmengine(torch, mm, name, kw, lr, n):
    if name.startswith("ReduceOnPlateau"):
        return run_mmengine_plateau(torch, mm, name, kw, lr, n)
    opt, key, kw = mmengine_value(torch, kw, lr)
    return run_stepped(torch, lambda o: getattr(mm, name)(o, **kw), lr, n, opt, key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timm", help="a directory holding the timm package")
    ap.add_argument("--deepspeed", help="deepspeed's source directory")
    ap.add_argument("--only", help="regenerate this library's cases alone (e.g. mmengine), "
                                   "keeping the others from the existing file")
    ap.add_argument("--out", default=str(HERE / "values.json"))
    args = ap.parse_args()
    if not args.only and not (args.timm and args.deepspeed):
        ap.error("--timm and --deepspeed are needed unless --only names a library")
    warnings.simplefilter("ignore")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    import torch
    old = json.loads(Path(args.out).read_text()) if args.only else None
    versions = dict(old["versions"]) if old else {}
    wanted = {args.only} if args.only else {"timm", "keras", "deepspeed", "mmengine"}
    if "keras" in wanted:
        import keras
        versions.update(keras=keras.__version__, keras_backend=keras.backend.backend())
    if "mmengine" in wanted:
        import mmengine
        import mmengine.optim.scheduler as mm
        versions["mmengine"] = mmengine.__version__
    if "timm" in wanted:
        timm = load_timm(args.timm)
        versions["timm"] = (Path(args.timm) / "timm" / "version.py").read_text().split("'")[1]
    if "deepspeed" in wanted:
        ds, versions["deepspeed"] = load_deepspeed(args.deepspeed)
    versions["torch"] = torch.__version__
    kept = {(c["library"], c["name"], json.dumps(c["kwargs"], sort_keys=True)): c
            for c in (old["cases"] if old else [])}
    results = []
    for lib, name, kw, lr, n in CASES:
        if lib not in wanted:
            results.append(kept[(lib, name, json.dumps(kw, sort_keys=True))])
            continue
        if lib == "timm":
            vals = run_timm(timm, torch, name, kw, lr, n)
        elif lib == "keras":
            vals = run_keras(keras, name, kw, n)
        elif lib == "deepspeed":
            vals = run_stepped(torch, lambda o: getattr(ds, name)(o, **kw), lr, n)
        else:
            vals = run_mmengine(torch, mm, name, kw, lr, n)
        results.append({"library": lib, "name": name, "kwargs": kw, "base_lr": lr,
                        "values": vals})
    Path(args.out).write_text(json.dumps({"versions": versions, "cases": results}, indent=1)
                              + "\n")
    print(f"wrote {len(results)} cases to {args.out}: {versions}")


if __name__ == "__main__":
    main()
