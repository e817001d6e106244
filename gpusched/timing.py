"""Where a call's time went: which backend ran it, and compiling apart from computing.

``gs.last_call()`` is the record of this thread's latest ``gs.evaluate`` / ``gs.reduce``;
``verbose=True`` on either prints it to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["CallTiming", "last_call"]


@dataclass(frozen=True)
class CallTiming:
    """One call: ``backend`` that ran it (and ``why`` it was chosen), ``pairs`` (config,
    step) pairs, ``compile_s`` spent generating and compiling kernels or loading them from the
    cache, and ``total_s`` wall time of the whole call (validation, compile, compute)."""

    backend: str
    pairs: int
    compile_s: float
    total_s: float
    why: str = ""

    @property
    def compute_s(self) -> float:
        """``total_s`` less the compile."""
        return max(self.total_s - self.compile_s, 0.0)

    def summary(self) -> str:
        why = f" ({self.why})" if self.why else ""
        return (f"gpusched: {self.pairs:,} values on {self.backend}{why}: "
                f"{self.total_s:.3f} s, of which compiling {self.compile_s:.3f} s")


_state = threading.local()


def last_call() -> CallTiming | None:
    """The timing of this thread's latest ``gs.evaluate`` or ``gs.reduce`` (None before the
    first)."""
    return getattr(_state, "last", None)


@contextlib.contextmanager
def compiling():
    """Count the time spent inside as compiling, for the call in progress in this thread."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if getattr(_state, "compile_s", None) is not None:
            _state.compile_s += time.perf_counter() - t0


@contextlib.contextmanager
def call(pairs: int, verbose: bool = False):
    """Time one public call; the body sets ``info["backend"]`` (and ``info["why"]``)."""
    outer = getattr(_state, "compile_s", None)
    _state.compile_s = 0.0
    info = {"backend": "?", "why": ""}
    t0 = time.perf_counter()
    try:
        yield info
    finally:
        record = CallTiming(info["backend"], pairs, _state.compile_s,
                            time.perf_counter() - t0, info["why"])
        # a call inside a call (a chain's members) adds its compile to the outer one's
        _state.compile_s = None if outer is None else outer + record.compile_s
        _state.last = record
    if verbose:
        print(record.summary(), file=sys.stderr)
