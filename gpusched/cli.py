"""The ``gpusched`` command line."""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from .grid import RaggedColumn

EPILOG_EVAL = """examples:
  gpusched eval                      evaluate the built-in sweep of the seed schedules
  gpusched eval "torch.OneCycleLR(max_lr=0.1, total_steps=1000)" --grid pct_start=0.1,0.3
  gpusched eval sweep.toml --out table.npz     a spec file: schedule, grid, steps
  gpusched eval "cosine(init_value=0.1, decay_steps=900)" --steps 1000 --out curves.csv
  gpusched eval 'expr("lr * 0.97 ** (t // 10)")' --grid lr=0.1,0.3 --steps 200
"""
EPILOG_REDUCE = """examples:
  gpusched reduce "torch.CosineAnnealingLR(T_max=1000)" --grid base_lr=0.01,0.1 --op mean
  gpusched reduce sweep.toml --op count_above --threshold 0.05 --out summary.csv
"""
EPILOG_PLOT = """examples:
  gpusched plot "torch.OneCycleLR(max_lr=0.1, total_steps=1000)" --grid pct_start=0.1,0.3,0.5
  gpusched plot sweep.toml --log --out curves.svg
"""
EPILOG_LIST = """examples:
  gpusched list                      every schedule: core blocks, metric rules, twins
  gpusched list torch                the torch twins with their parameters and defaults
  gpusched list --names              one spec name a line
"""
GRID_HELP = ("a grid axis NAME=V1,V2,... (repeat for a cartesian product); lists as "
             "[30,60],[50]; bare words are strings")


def _fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f} {unit}"
    return f"{x:.0f} "


def read_problem(args: argparse.Namespace) -> tuple:
    """(schedule, grid, steps, dtype, backend) from a spec (string or file) and flags."""
    from pathlib import Path
    from . import spec
    from .grid import grid as make_grid
    options: dict = {}
    if args.spec.endswith((".toml", ".json")):
        if not Path(args.spec).is_file():
            raise ValueError(f"spec file {args.spec} not found" +
                             (" (it is a folder)" if Path(args.spec).is_dir() else ""))
        sched, g, options = spec.load_file(args.spec)
    else:
        sched, g = spec.loads(args.spec), None
    axes = {}
    for item in args.grid or ():
        name, sep, values = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--grid {item!r}: write NAME=V1,V2,...")
        axes[name.strip()] = spec.parse_values(values)
    if axes:
        if g is not None and g.axes is None:
            raise ValueError("--grid extends a [grid] of the spec file, not [[trials]]")
        g = make_grid(**{**(g.axes if g is not None and g.axes is not None else {}), **axes})
    steps = args.steps if args.steps is not None else options.get("steps", 1000)
    dtype = args.dtype or options.get("dtype", "float32")
    backend = args.backend or options.get("backend", "auto")
    return sched, g, steps, dtype, backend


def cmd_eval(args) -> int:
    if args.spec is not None:
        return _eval_spec(args)
    import gpusched as gs
    from .examples import seed_sweep
    args.backend = args.backend or "auto"
    args.dtype = args.dtype or "float32"
    if args.steps is None:
        from .examples import DEFAULT_STEPS
        args.steps = DEFAULT_STEPS
    if args.out:
        from .outputs import check_output
        if not args.out.endswith((".npy", ".npz")):
            raise ValueError(f"--out {args.out}: the built-in sweep writes .npy or .npz")
        check_output(args.out)

    sweep = seed_sweep()
    tables, rows = [], []
    for label, sched, grid in sweep:
        table = gs.evaluate(sched, grid, steps=args.steps, backend=args.backend,
                            dtype=args.dtype)
        rec = gs.last_call()
        assert rec is not None          # the call just made
        tables.append((label, table, grid))
        rows.append((label, table.shape[0], float(table.min()), float(table.max()),
                     float(table[:, 0].mean()), float(table[:, -1].mean()), rec))
    total = sum(r[-1].total_s for r in rows)
    compile_s = sum(r[-1].compile_s for r in rows)
    values = sum(t.size for _, t, _ in tables)
    used = sorted({r[-1].backend for r in rows})
    print(f"gpusched {gs.__version__}: built-in sweep of the seed schedules")
    print(f"backend  {', '.join(used)} (--backend {args.backend})   dtype {args.dtype}")
    print(f"shape    {sum(r[1] for r in rows)} configs x {args.steps} steps = {values:,} values")
    print(f"time     {total:.3f} s in all: compiling {compile_s:.3f} s, computing "
          f"{total - compile_s:.3f} s ({_fmt_rate(values / max(total - compile_s, 1e-9))}"
          f"values/s)")
    print()
    print(f"{'schedule':40s} {'configs':>7s} {'min':>10s} {'max':>10s} {'mean@0':>10s} "
          f"{'mean@last':>10s} {'backend':>7s} {'time s':>7s} {'compile':>7s}")
    for label, n, lo, hi, first, last, rec in rows:
        print(f"{label:40s} {n:7d} {lo:10.4g} {hi:10.4g} {first:10.4g} {last:10.4g} "
              f"{rec.backend:>7s} {rec.total_s:7.3f} {rec.compile_s:7.3f}")
    print()
    print("min/max: over every config and step; mean@0, mean@last: the mean over configs at the "
          "first and last step;\ntime s: the whole evaluate call, of which compile: generating "
          "and compiling (or loading) kernels.")
    if args.out:
        _save(args.out, tables)
    else:
        print("Save the tables with --out sweep.npz (or .npy); evaluate your own schedule with "
              "gpusched eval SPEC.toml.")
    return 0


def _eval_spec(args) -> int:
    import gpusched as gs
    from .outputs import check_output, save
    if args.out:
        check_output(args.out)
    sched, g, steps, dtype, backend = read_problem(args)
    t0 = time.perf_counter()
    streamed = bool(args.out) and args.out.endswith(".npy")   # never whole in memory
    table = gs.to_numpy(gs.evaluate(sched, g, steps=steps, dtype=dtype, backend=backend,
                                    out=args.out if streamed else None))
    dt = time.perf_counter() - t0
    table = np.atleast_2d(table)
    print(f"{sched.name}: {table.shape[0]} configs x {table.shape[1]} steps, {dtype}, "
          f"{dt:.3f} s")
    print_rows(g, {"first": table[:, 0], "last": table[:, -1], "min": table.min(axis=1),
                    "max": table.max(axis=1), "mean": table.mean(axis=1)})
    if streamed:
        print(f"wrote {args.out}: array {table.shape} {table.dtype}")
    elif args.out:
        print("wrote " + save(args.out, g, table=table))
    return 0


def print_rows(g, stats, limit=20):
    from .outputs import parameter_columns, short_text
    cols = parameter_columns(g)
    n = len(next(iter(stats.values())))
    head = ["config", *cols, *stats]
    print("  ".join(f"{h:>10s}" for h in head))
    for i in range(min(n, limit)):
        cells = [f"{i:>10d}"] + [f"{short_text(cols[c][i]):>10s}" for c in cols] + \
                [f"{float(stats[s][i]):>10.4g}" for s in stats]
        print("  ".join(cells))
    if n > limit:
        print(f"... {n - limit} more configs (--out FILE.csv writes them all)")


def cmd_reduce(args) -> int:
    import gpusched as gs
    from .outputs import check_output, save
    if args.out:
        check_output(args.out)
    sched, g, steps, dtype, backend = read_problem(args)
    kw = {"threshold": args.threshold} if args.threshold is not None else {}
    red = gs.to_numpy(gs.reduce(sched, g, steps=steps, op=args.op, dtype=dtype,
                                backend=backend, **kw))
    red = np.atleast_1d(red)
    print(f"{sched.name}: {args.op} over {steps if np.ndim(steps) == 0 else len(steps)} steps, "
          f"{red.shape[0]} configs")
    print_rows(g, {args.op: red})
    if args.out:
        print("wrote " + save(args.out, g, reduced=red, op=args.op))
    return 0


def cmd_plot(args) -> int:
    from .plotting import plot
    sched, g, steps, dtype, backend = read_problem(args)
    out = args.out or "schedule.png"
    plot(sched, g, steps, log=args.log, out=out, dtype="float64", backend=backend,
         title=args.title)
    print(f"wrote {out}")
    return 0


def cmd_list(args) -> int:
    from .catalog import entries
    shown = 0
    for modname, title, _, items in entries():
        short = modname.removeprefix("gpusched.compat.").removeprefix("gpusched.")
        prefix = "" if modname == "gpusched" else short + "."
        if args.library and args.library not in (short, modname):
            continue
        if not args.names:
            print(f"== {title} ==")
        for name, sig, doc in items:
            shown += 1
            if args.names:
                print(prefix + name)
            else:
                first = doc.strip().split("\n\n")[0].replace("\n", " ")
                print(f"  {prefix}{name}({sig})")
                print(f"      {first[:160]}{'...' if len(first) > 160 else ''}")
        if not args.names:
            print()
    if not shown:
        raise ValueError(f"no library {args.library!r}; try torch, transformers, timm, optax, "
                         f"keras, deepspeed, mmengine, fairseq, metric or gpusched")
    return 0


def _save(path: str, tables) -> None:
    from .files import replacing
    if path.endswith(".npz"):
        arrays = {}
        for label, table, grid in tables:
            key = label.replace(".", "_")
            arrays[key] = table
            for name, col in grid.columns.items():
                if isinstance(col, RaggedColumn):
                    arrays[f"{key}__{name}"] = col.values       # padded; lengths beside
                    arrays[f"{key}__{name}__lengths"] = col.lengths
                else:
                    arrays[f"{key}__{name}"] = col.astype(str) if col.dtype == object else col
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        print(f"\nsaved {len(tables)} tables and their grid columns to {path}")
        return
    stacked = np.concatenate([t for _, t, _ in tables], axis=0)
    with replacing(path) as tmp, open(tmp, "wb") as f:
        np.save(f, stacked)
    print(f"\nsaved the stacked table {stacked.shape} to {path}; rows:")
    start = 0
    for label, table, _ in tables:
        print(f"  {start:5d}..{start + table.shape[0] - 1:5d}  {label}")
        start += table.shape[0]


def cmd_info(args) -> int:
    import shutil
    import subprocess
    from importlib import metadata

    import gpusched as gs
    from .backends import available_backends
    from .cuda_source import CUDA_ARCHS

    print(f"gpusched {gs.__version__}")
    print(f"python   {platform.python_version()} ({platform.machine()})")
    for dist in ("numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "torch", "jax"):
        try:
            print(f"{dist:12s} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    nvcc = shutil.which("nvcc")
    if nvcc:
        ver = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
        print(f"nvcc         {nvcc} ({ver.strip().splitlines()[-1] if ver.strip() else '?'})")
    print(f"CUDA archs   {' '.join('sm_' + a for a in CUDA_ARCHS)} (kernel gate)")
    print("backends:")
    for name, (ok, why) in available_backends().items():
        state = ('available' + (' (' + why + ')' if why else '')) if ok else \
            'unavailable: ' + why
        print(f"  {name:12s} {state}")
    _print_devices()
    return 0


def _print_devices():
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    except Exception:  # noqa: BLE001 - no CuPy or no driver: nothing more to show
        return
    print(f"CUDA runtime {rt // 1000}.{rt % 1000 // 10}, "
          f"driver API {drv // 1000}.{drv % 1000 // 10}")
    for i in range(n):
        p = cupy.cuda.runtime.getDeviceProperties(i)
        name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
        print(f"  device {i}: {name}, sm_{p['major']}{p['minor']}, "
              f"{p['totalGlobalMem'] / 2 ** 30:.1f} GiB")


def cmd_check_kernels(args) -> int:
    from .cuda_source import CUDA_ARCHS
    from .kernel_check import run

    archs = tuple(a.removeprefix("sm_") for a in args.arch.replace(",", " ").split()) \
        if args.arch else CUDA_ARCHS
    unknown = [a for a in archs if a not in CUDA_ARCHS]
    if unknown:
        raise ValueError(f"--arch {','.join(unknown)}: not in the supported list "
                         f"{','.join(CUDA_ARCHS)}")
    return run(archs=archs, host=not args.skip_host, device=not args.skip_nvcc, keep=args.keep)


def cmd_cache(args) -> int:
    from . import __version__
    from .cache_admin import DEFAULT_MAX_BYTES, clear, info, max_bytes
    from .kernel_cache import cache_root
    root = cache_root()
    if args.action == "clear":
        files, size = clear(root)
        print(f"removed {files} files ({size / 2 ** 20:.1f} MiB) from {root}")
        return 0
    folders = info(root)
    print(f"kernel cache {root} (GPUSCHED_CACHE_DIR to move it)")
    print(f"size bound   {max_bytes() / 2 ** 20:.0f} MiB (GPUSCHED_CACHE_MAX_BYTES, default "
          f"{DEFAULT_MAX_BYTES / 2 ** 20:.0f} MiB)")
    if not folders:
        print("empty")
    for v in folders:
        mark = "  (this version)" if v.path.name == f"v{__version__}" else ""
        print(f"  {v.path.name:14s} {v.files:6d} files {v.bytes / 2 ** 20:9.1f} MiB{mark}")
    return 0


def cmd_bench(args) -> int:
    from .bench.__main__ import main as bench_main
    return bench_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpusched", description="Evaluate training-hyperparameter schedules for a whole "
        "sweep at once.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    def problem(parser, spec_optional=False):
        parser.add_argument("spec", nargs="?" if spec_optional else None,
                            help="a schedule spec, e.g. \"torch.StepLR(step_size=30)\", or a "
                            ".toml/.json spec file" + (" (none: the built-in sweep)"
                                                        if spec_optional else ""))
        parser.add_argument("--grid", action="append", metavar="NAME=V1,V2", help=GRID_HELP)
        parser.add_argument("--steps", type=int, default=None,
                            help="number of steps (default: the spec file's, else 1000)")
        parser.add_argument("--backend", default=None,
                            help="auto (default), numpy, numba, cupy, numba-cuda")
        parser.add_argument("--dtype", default=None, choices=("float32", "float64"))

    e = sub.add_parser("eval", help="evaluate a schedule over a grid (or the built-in sweep)",
                       epilog=EPILOG_EVAL, formatter_class=raw)
    problem(e, spec_optional=True)
    e.add_argument("--out", help="write the table: .npy, .npz (with parameter columns), .csv "
                   "(parameters + summary) or .parquet")
    e.set_defaults(func=cmd_eval)
    r = sub.add_parser("reduce", help="reduce each config's values over the steps (no table)",
                       epilog=EPILOG_REDUCE, formatter_class=raw)
    problem(r)
    r.add_argument("--op", default="mean", help="sum, mean, min, max, argmin, argmax, last, "
                   "count_above, count_below (default mean)")
    r.add_argument("--threshold", type=float, help="for count_above / count_below")
    r.add_argument("--out", help="write the values: .npy, .npz, .csv or .parquet")
    r.set_defaults(func=cmd_reduce)
    from .laws.cli import add_commands
    add_commands(sub, problem)
    pl = sub.add_parser("plot", help="plot a schedule's curves over a grid (needs matplotlib)",
                        epilog=EPILOG_PLOT, formatter_class=raw)
    problem(pl)
    pl.add_argument("--out", help="image file: .png (default schedule.png), .svg or .pdf")
    pl.add_argument("--log", action="store_true", help="logarithmic y axis")
    pl.add_argument("--title", help="the plot's title")
    pl.set_defaults(func=cmd_plot)
    ls = sub.add_parser("list", help="the catalog: every schedule with its parameters",
                        epilog=EPILOG_LIST, formatter_class=raw)
    ls.add_argument("library", nargs="?", help="only this library (torch, optax, ...)")
    ls.add_argument("--names", action="store_true", help="names only, one a line")
    ls.set_defaults(func=cmd_list)
    i = sub.add_parser("info", help="versions and backends")
    i.set_defaults(func=cmd_info)
    k = sub.add_parser(
        "check-kernels", help="compile every generated CUDA kernel (nvcc, every architecture) "
        "and check its numbers as host C++", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  gpusched check-kernels\n  gpusched check-kernels --arch 90,120 "
        "--keep /tmp/kernels")
    k.add_argument("--arch", help="a subset of the supported architectures, comma- or "
                   "space-separated (default: all)")
    k.add_argument("--skip-nvcc", action="store_true", help="only the host C++ check")
    k.add_argument("--skip-host", action="store_true", help="only the nvcc compile gate")
    k.add_argument("--keep", metavar="DIR", help="keep the generated sources and binaries here")
    k.set_defaults(func=cmd_check_kernels)
    c = sub.add_parser("cache", help="the kernel cache: what it holds (info) or empty it "
                       "(clear)", epilog="examples:\n  gpusched cache info\n  gpusched cache "
                       "clear", formatter_class=raw)
    c.add_argument("action", choices=("info", "clear"), nargs="?", default="info")
    c.set_defaults(func=cmd_cache)
    b = sub.add_parser("bench", help="run the benchmarks; results go to --out DIR (default: "
                       "a temporary folder)",
                       epilog="examples:\n  gpusched bench --quick\n  gpusched bench "
                       "--workloads W1,W2 --peers numpy,jax",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of gpusched bench")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        args = argparse.Namespace(func=cmd_bench, rest=argv[1:])   # options go to the bench
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        sys.stdout.flush()          # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:     # `gpusched list --names | head -1`: the reader left, fine
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        print(f"gpusched: error: {err}", file=sys.stderr)
        hint = _HINTS.get(args.func.__name__)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return 2


_HINTS = {
    "cmd_eval": "`gpusched list` shows every schedule and its parameters; "
                "`gpusched eval --help` has examples",
    "cmd_reduce": "`gpusched reduce --help` has examples",
    "cmd_plot": "`gpusched plot --help` has examples",
    "cmd_predict_loss": "`gpusched predict-loss --help` has examples",
    "cmd_fit_law": "`gpusched fit-law --help` has examples",
}


if __name__ == "__main__":
    sys.exit(main())
