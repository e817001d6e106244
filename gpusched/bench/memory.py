"""Peak memory of bounded-memory work, each case in a fresh process (resource.ru_maxrss).

    python -m gpusched.bench.memory [--backend numba] [--out-dir /tmp]

Cases (issue 5's acceptance): a reduce over 1e5 configs x 1e4 steps, and a 4 GiB float32
table streamed to disk with ``out=``. Each case runs twice, with a cold then a warm kernel
cache (peak RSS counts compilation when the cache is cold). Prints peak RSS, time and
throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CASE = r"""
import json, resource, sys, time, numpy as np, gpusched as gs
kind, backend, path = sys.argv[1], sys.argv[2], sys.argv[3]
s = gs.warmup(gs.cosine(init_value=0.1, decay_steps=10000, end_value=0.0)).rename(init_value="peak")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if kind == "reduce":        # 1e5 configs x 1e4 steps, never materialized
    g = gs.grid(peak=np.geomspace(1e-4, 1e-1, 1000), warmup_steps=[100, 200, 500, 1000, 2000],
                end_value=np.linspace(0, 1e-3, 20))
    steps = 10_000
    gs.reduce(s, gs.grid(peak=[0.1, 0.2], warmup_steps=[10, 20], end_value=[0.0, 1e-5]),
              steps=8, backend=backend)            # compile first: time steady state
    t0 = time.perf_counter()
    r = gs.reduce(s, g, steps=steps, op="mean", backend=backend)
else:                       # a 4 GiB float32 table streamed to disk
    g = gs.grid(peak=np.geomspace(1e-4, 1e-1, 1024), warmup_steps=[100, 200, 500, 1000],
                end_value=np.linspace(0, 1e-3, 26))
    steps = 10_000          # 106,496 configs x 10,000 steps x 4 bytes = 3.97 GiB
    gs.evaluate(s, gs.grid(peak=[0.1, 0.2], warmup_steps=[10, 20], end_value=[0.0, 1e-5]),
                steps=8, backend=backend)
    t0 = time.perf_counter()
    r = gs.evaluate(s, g, steps=steps, backend=backend, out=path, progress=False)
    assert r.shape == (len(g), steps)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"case": kind, "backend": backend, "configs": len(g), "steps": steps,
                  "seconds": dt, "pairs_per_s": len(g) * steps / dt,
                  "peak_rss_mib": peak / 1024, "rss_before_work_mib": base / 1024,
                  "bytes_written": (len(g) * steps * 4) if kind == "stream" else 0}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="auto")
    p.add_argument("--out-dir", default=tempfile.gettempdir())
    p.add_argument("--cases", default="reduce,stream")
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, GPUSCHED_CACHE_DIR=cache)
        for kind in args.cases.split(","):
            for label in ("cold kernel cache", "warm kernel cache"):
                path = os.path.join(args.out_dir, "gpusched-bench-table.npy")
                proc = subprocess.run([sys.executable, "-c", CASE, kind, args.backend, path],
                                      capture_output=True, text=True, env=env)
                if os.path.exists(path):
                    os.remove(path)
                if proc.returncode:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append({**r, "cache": label})
                print(f"{r['case']:7s} {r['backend']:6s} {r['configs']:>7,} configs x "
                      f"{r['steps']:,} steps: {r['seconds']:7.2f} s, "
                      f"{r['pairs_per_s'] / 1e6:8.1f} M pairs/s, peak RSS "
                      f"{r['peak_rss_mib']:6.1f} MiB ({label}; {r['rss_before_work_mib']:.1f} "
                      f"at start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
