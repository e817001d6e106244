"""Settings read from the environment, checked: a bad value is a ValueError naming the
variable, never a silent default."""

from __future__ import annotations

import os


def env_bytes(name: str, default: int) -> int:
    """``$name`` as a number of bytes >= 0, else ``default``."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} = {text!r}: must be a number of bytes >= 0")
    return value
