"""The CPU kernels' thread pool: serial ``@njit(nogil=True)`` kernels over ranges of configs.

Numba's ``parallel=True`` loops start an OpenMP (or TBB) thread pool inside the process; after
that, a ``fork`` (multiprocessing's default start method on Linux, which sweep tools use for
their workers) can hang in the child. Our own small pool of Python threads runs GIL-free
kernels instead: it is fork-safe (a forked child starts a fresh pool on first use) and the
kernels compile without Numba's parallel-loop passes.
"""

from __future__ import annotations

from typing import Callable

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["thread_count", "run_ranges"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def thread_count() -> int:
    """Threads for CPU kernels: ``GPUSCHED_NUM_THREADS`` if set, else the usable cores."""
    env = os.environ.get("GPUSCHED_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"GPUSCHED_NUM_THREADS = {env!r}: must be a positive integer") \
                from None
        if n < 1:
            raise ValueError(f"GPUSCHED_NUM_THREADS = {env!r}: must be a positive integer")
        return n
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:      # macOS, Windows
        return os.cpu_count() or 1


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="gpusched")
            _pool_size = n
        return _pool


def _after_fork_in_child():
    """A pool inherited through fork has no threads in the child (and its lock may have
    been held by one): the child starts its own on first use."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_ranges(kernel: Callable[[int, int], object], n: int, work_per_config: int = 1) -> None:
    """Call ``kernel(c0, c1)`` over ``0..n`` split into ranges, on the pool; the calling thread
    waits and re-raises the first error. Small jobs run in the calling thread."""
    threads = thread_count()
    if threads == 1 or n == 1 or n * work_per_config < 50_000:
        kernel(0, n)
        return
    # many ranges per thread: a sorted grid's cost often grows along it (a W5 grid's last
    # ranges cost 4x its first), and the last range left runs alone
    parts = min(n, 16 * threads)
    bounds = [n * k // parts for k in range(parts + 1)]
    futures = [_executor(threads).submit(kernel, bounds[k], bounds[k + 1])
               for k in range(parts) if bounds[k] < bounds[k + 1]]
    for f in futures:
        f.result()
