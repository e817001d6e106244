"""Cold compile time of the Numba CPU kernels, per catalog entry.

    python -m bench.compile [--entries N] [--out DIR]

Each entry of ``gpusched.examples.check_catalog()`` is evaluated (a table and a reduction,
400 steps) with ``backend="numba"`` in one fresh process whose kernel cache is an empty
temporary folder, so every entry pays its code generation and Numba compile. Prints the time
per entry, the median, the max and the total; ``--out`` also writes ``compile.json`` there.
Speed is measured here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, sys, time, warnings
import gpusched as gs
from gpusched.examples import check_catalog
warnings.simplefilter("ignore")
gs.evaluate(gs.schedule(lambda t, a: a * t), gs.grid(a=[1.0]), steps=2, backend="numba")
rows = []
for label, s, g in check_catalog()[:int(sys.argv[1])]:
    t0 = time.perf_counter()
    gs.evaluate(s, g, steps=400, backend="numba")
    gs.reduce(s, g, steps=400, op="mean", backend="numba")
    rows.append((label, time.perf_counter() - t0))
print(json.dumps(rows))
"""


def measure(entries: int) -> list:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, GPUSCHED_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _CHILD, str(entries)], env=env,
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1000, help="first N catalog entries")
    ap.add_argument("--out", help="folder for compile.json")
    args = ap.parse_args(argv)
    rows = measure(args.entries)
    times = sorted(t for _, t in rows)
    for label, t in rows:
        print(f"{label:45s} {t:7.2f} s")
    median = times[len(times) // 2]
    print(f"{len(rows)} entries: median {median:.2f} s, max {times[-1]:.2f} s, "
          f"total {sum(times):.1f} s (cold kernel cache, table + reduce, one process)")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "compile.json"), "w") as f:
            json.dump({"rows": rows, "median": median, "max": times[-1]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
