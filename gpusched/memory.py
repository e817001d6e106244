"""The memory budget of a call: every allocation it makes is counted against one limit, and
checked before any work.

``gs.evaluate``/``gs.reduce`` set the call's limit (``memory_limit=``, default half the
available memory where the results live) for the duration of the call; host-side tables
(running products, host scans) and the grid's columns are checked against it.
"""

from __future__ import annotations

from typing import Iterator

import contextlib
import contextvars
import time

__all__ = ["default_memory_limit", "call_limit", "limited", "gib", "check"]

_limit: contextvars.ContextVar = contextvars.ContextVar("gpusched_memory_limit", default=None)


_READ_EVERY_S = 0.5       # small calls come in streams: read /proc/meminfo at most this often
_last_read: list = [-1.0, 0]      # (when, limit)


def default_memory_limit() -> int:
    """Half of the memory available now (from /proc/meminfo, read at most twice a second),
    or 4 GiB where unknown."""
    now = time.monotonic()
    if now - _last_read[0] < _READ_EVERY_S:
        return _last_read[1]
    _last_read[1], _last_read[0] = _read_limit(), now
    return _last_read[1]


def _read_limit() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 2 ** 30


def call_limit() -> int:
    """The limit of the call in progress, else the default."""
    limit = _limit.get()
    return default_memory_limit() if limit is None else limit


@contextlib.contextmanager
def limited(limit: int) -> Iterator[None]:
    token = _limit.set(limit)
    try:
        yield
    finally:
        _limit.reset(token)


def gib(n: int) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def check(need: int, what: str, hint: str, limit: int | None = None) -> None:
    """A ValueError before allocating ``need`` bytes for ``what`` beyond the limit."""
    limit = call_limit() if limit is None else limit
    if need > limit:
        raise ValueError(f"{what} would need {gib(need)}, more than the memory limit "
                         f"({gib(limit)}); {hint}")
