"""Output files that are whole or absent: written under a unique temporary name in the target
folder, then atomically renamed over the target.

Every writer (``gs.evaluate(out="x.npy")``, the CLI's ``--out`` in every format) goes through
:func:`replacing`: concurrent writers of one target each have their own temporary file (the
last complete one wins, never a mix), a failure or a SIGINT/SIGTERM removes the temporary
file and leaves any previous file untouched, and :func:`reserve` allocates a file's space
before writing so a full disk is a clear error up front instead of a SIGBUS mid-write.
"""

from __future__ import annotations

from typing import Iterator

import contextlib
import errno
import os
import signal
import tempfile
import threading

__all__ = ["check_target", "replacing", "reserve"]

_live: set = set()              # temporary files being written by this process
_live_lock = threading.Lock()
_handler_installed = False


def check_target(path: str | os.PathLike, what: str = "out") -> str:
    """``path`` as a string, after checking that a file can be written there (before any
    work): its folder exists and is writable, and it is not a folder itself."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{what} = {path!r}: is a folder; give a file name")
    if not os.path.isdir(folder):
        raise ValueError(f"{what} = {path!r}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what} = {path!r}: the folder {folder} is not writable")
    return path


def _on_sigterm(signum, frame):
    """Remove this process's temporary files, then die of SIGTERM as the default would."""
    with _live_lock:
        for tmp in list(_live):
            with contextlib.suppress(OSError):
                os.remove(tmp)
        _live.clear()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm_cleanup() -> None:
    """Only from the main thread, and only over the default disposition (a program's own
    SIGTERM handler is left alone: it decides how to exit, and ``replacing`` cleans up
    whatever exception it raises)."""
    global _handler_installed
    if _handler_installed or threading.current_thread() is not threading.main_thread():
        return
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
            _handler_installed = True


@contextlib.contextmanager
def replacing(path: str | os.PathLike, what: str = "out") -> Iterator[str]:
    """Yield a fresh temporary path beside ``path`` (same suffix); when the block completes,
    it atomically replaces ``path``; on any exception (KeyboardInterrupt included) it is
    removed."""
    path = check_target(path, what)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = os.path.splitext(base)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=f".partial{suffix}")
    os.close(fd)
    _install_sigterm_cleanup()
    with _live_lock:
        _live.add(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with _live_lock:
            _live.discard(tmp)
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def reserve(path: str, size: int, what: str = "out") -> None:
    """Allocate ``size`` bytes of ``path`` on disk now (``posix_fallocate``): a disk too
    small is a ValueError before any writing, not a SIGBUS in a memory map later."""
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except AttributeError:      # no posix_fallocate (macOS): the free-space check stands
            return
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise ValueError(f"{what}: the table needs {size / 2 ** 30:.3g} GiB and does "
                                 f"not fit on the disk of {os.path.dirname(path) or '.'} "
                                 f"({os.strerror(err.errno)})") from None
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    finally:
        os.close(fd)
