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
  gpusched eval --steps 10000 --dtype float64 --out table.npy
  gpusched eval --out tables.npz     one table per schedule plus its grid columns
"""


def _fmt_rate(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f} {unit}"
    return f"{x:.0f} "


def cmd_eval(args) -> int:
    import gpusched as gs
    from .backends import resolve_backend
    from .examples import seed_sweep

    backend = resolve_backend(args.backend)
    sweep = seed_sweep()
    tables, rows = [], []
    total_pairs, t_total = 0, 0.0
    t0 = time.perf_counter()
    for label, sched, grid in sweep:      # first calls: code generation and compilation
        gs.evaluate(sched, grid, steps=2, backend=backend.name, dtype=args.dtype)
    t_warm = time.perf_counter() - t0
    for label, sched, grid in sweep:
        t0 = time.perf_counter()
        table = gs.evaluate(sched, grid, steps=args.steps, backend=backend.name,
                            dtype=args.dtype)
        dt = time.perf_counter() - t0
        t_total += dt
        total_pairs += table.size
        tables.append((label, table, grid))
        rows.append((label, table.shape[0], float(table.min()), float(table.max()),
                     float(table[:, 0].mean()), float(table[:, -1].mean()), dt))
    n_configs = sum(t.shape[0] for _, t, _ in tables)
    print(f"gpusched {gs.__version__}: built-in sweep of the seed schedules")
    print(f"backend  {backend.name} ({backend.device})   dtype {args.dtype}")
    print(f"shape    {n_configs} configs x {args.steps} steps = {total_pairs:,} values")
    print(f"time     {t_total:.3f} s   throughput {_fmt_rate(total_pairs / t_total)}values/s"
          f"   (first calls, compiling: {t_warm:.2f} s)")
    print()
    print(f"{'schedule':40s} {'configs':>7s} {'min':>10s} {'max':>10s} {'mean@0':>10s} "
          f"{'mean@last':>10s} {'time s':>7s}")
    for label, n, lo, hi, first, last, dt in rows:
        print(f"{label:40s} {n:7d} {lo:10.4g} {hi:10.4g} {first:10.4g} {last:10.4g} {dt:7.3f}")
    if args.out:
        _save(args.out, tables)
    return 0


def _save(path: str, tables) -> None:
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
        np.savez(path, **arrays)
        print(f"\nsaved {len(tables)} tables and their grid columns to {path}")
        return
    stacked = np.concatenate([t for _, t, _ in tables], axis=0)
    np.save(path, stacked)
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
        print(f"  {name:12s} {'available' + (' (' + why + ')' if why else '') if ok else 'unavailable: ' + why}")
    _print_devices()
    return 0


def _print_devices():
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    except Exception:  # noqa: BLE001 - no CuPy or no driver: nothing more to show
        return
    print(f"CUDA runtime {rt // 1000}.{rt % 1000 // 10}, driver API {drv // 1000}.{drv % 1000 // 10}")
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


def cmd_bench(args) -> int:
    try:
        from bench.__main__ import main as bench_main
    except ImportError:
        raise RuntimeError("the benchmarks live in bench/ of a source checkout; run "
                           "`gpusched bench` (or `python -m bench`) from the repository root") \
            from None
    return bench_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpusched", description="Evaluate training-hyperparameter schedules for a whole "
        "sweep at once.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    e = sub.add_parser("eval", help="evaluate the built-in example sweep",
                       epilog=EPILOG_EVAL, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--steps", type=int, default=None, help="steps per schedule (default 3000)")
    e.add_argument("--backend", default="auto", help="numpy, or auto (default)")
    e.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    e.add_argument("--out", help="save the table: FILE.npy (stacked) or FILE.npz (per schedule)")
    e.set_defaults(func=cmd_eval)
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
    b = sub.add_parser("bench", help="run the benchmarks (python -m bench; from a checkout)",
                       epilog="examples:\n  gpusched bench --quick\n  gpusched bench "
                       "--workloads W1,W2 --peers numpy,jax",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of python -m bench")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    from .examples import DEFAULT_STEPS

    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        args = argparse.Namespace(func=cmd_bench, rest=argv[1:])   # options go to the bench
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "steps", 0) is None:
        args.steps = DEFAULT_STEPS
    if getattr(args, "out", None) and not args.out.endswith((".npy", ".npz")):
        parser.error(f"--out {args.out}: use a .npy or .npz file name")
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"gpusched: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
