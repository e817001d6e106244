"""Drop-in twins of other libraries' schedules, with their names and parameter names.

``gs.compat.torch``, ``transformers``, ``timm``, ``optax``, ``keras``, ``deepspeed``,
``mmengine``, ``fairseq`` and the seed originals ``d2l``, ``yolox``, ``warmboot``,
``multiscale``; each twin's docstring states its step mapping and what it does past the end.
``docs/schedules.md`` lists them all. Submodules load on first use.
"""

import importlib

from ..registry import SECTIONS

_SUBMODULES = tuple(s.module.rsplit(".", 1)[1] for s in SECTIONS
                    if s.module.startswith(f"{__name__}."))
__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
