"""Parameter specifications: name, default, kind and domain, checked before any evaluation."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

__all__ = ["REQUIRED", "Param", "Check", "Sweep", "Float", "Int", "validate_name"]


class _Required:
    def __repr__(self):
        return "REQUIRED"


# typed Any so that a declared factory's argument (``step_size: Annotated[int, Sweep()] =
# REQUIRED``) type-checks as the number it stands for
REQUIRED: Any = _Required()

KINDS = ("any", "float", "int", "list", "choice")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")     # fullmatch: "$" would accept a final "\n"


def validate_name(name: str, what: str = "parameter") -> str:
    """A parameter name becomes an identifier in generated code: letters, digits, '_' only."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or keyword.iskeyword(name) \
            or len(name) > 64:
        raise ValueError(f"invalid {what} name {name!r}: use a Python identifier of at most 64 "
                         f"characters that starts with a letter")
    return name


@dataclass(frozen=True)
class Param:
    """One schedule parameter.

    kind: ``"any"`` (an int stays int, a float stays float; user schedules), ``"float"``
    (ints are converted), ``"int"`` (integers only; a float like 2.5 or 2.0 is refused),
    ``"list"`` (a list of numbers per config, ragged across configs) or ``"choice"`` (one of
    ``choices``; strings become their index).
    Domain: ``gt``/``ge``/``lt``/``le`` bounds on the value (on every entry for lists);
    ``sort``: the original sorts the list itself, so the twin sorts it too (else a list must
    already be sorted when ``sorted_required``); ``size``: exact list length.
    """

    name: str
    default: object = REQUIRED
    kind: str = "any"
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple = ()
    sort: bool = False
    sorted_required: bool = False
    size: int | None = None
    doc: str = ""

    def __post_init__(self):
        validate_name(self.name)
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} needs choices")

    def domain_text(self) -> str:
        parts = []
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        for sym, bound in ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le)):
            if bound is not None:
                parts.append(f"{sym} {bound:g}")
        txt = " and ".join(parts)
        if self.kind == "int":
            txt = "an integer" + (f" {txt}" if txt else "")
        elif self.kind == "list":
            txt = "a list of numbers" + (f", each {txt}" if txt else "")
        return txt or "a finite number"


@dataclass(frozen=True)
class Check:
    """A rule over several parameters, vectorized over configs.

    ``ok(**columns)`` gets one NumPy array per name in ``names`` (broadcast over configs) and
    returns a boolean array: False marks a bad config. ``message`` says what must hold.
    """

    names: tuple
    ok: Callable = field(compare=False)
    message: str = ""


class Sweep:
    """Marks a factory argument as a sweepable parameter, with its domain, in the argument's
    type: ``step_size: Annotated[int, Sweep(gt=0)] = REQUIRED``. The annotated type gives the
    kind (``float``, ``int``, ``list``; a ``str`` or ``bool`` with ``choices`` a choice;
    ``kind="any"``: an int stays int, a float stays float); ``domain`` takes :class:`Param`'s
    keywords (``gt``, ``ge``, ``lt``, ``le``, ``choices``, ``sort``, ``sorted_required``,
    ``size``, ``doc``). See :func:`gpusched.registry.twin`."""

    def __init__(self, *, kind: str | None = None, **domain: Any) -> None:
        self.kind, self.domain = kind, domain

    def __repr__(self) -> str:
        shown = ({"kind": self.kind} if self.kind else {}) | self.domain
        return f"Sweep({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def param(self, name: str, annotated: Any, default: Any) -> Param:
        """The Param of argument ``name`` of type ``annotated`` (the type inside Annotated)."""
        from collections.abc import Sequence
        kinds = {float: "float", int: "int", list: "list", Sequence: "list", str: "choice",
                 bool: "choice"}
        origin = getattr(annotated, "__origin__", annotated)
        kind = self.kind or kinds.get(origin)
        if kind is None:
            raise TypeError(f"argument {name!r}: a swept argument is a float, int, list, str or "
                            f"bool, not {annotated!r}")
        domain = dict(self.domain)
        if origin is bool:
            domain.setdefault("choices", (False, True))
        return Param(name, default=REQUIRED if default is None else default, kind=kind,
                     **domain)


# the plainest swept arguments (see Sweep)
Float = Annotated[float, Sweep()]
Int = Annotated[int, Sweep()]
