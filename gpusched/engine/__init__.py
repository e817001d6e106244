"""The evaluation engine every backend shares (docs/architecture.md): the plan interpreter
(``interpreter``: NumPy broadcasting, chunks under a memory budget), host-tabulated
sequences (``host_tables``: running products, host scans), a cartesian grid in axis form
(``axes``), factorized tables for compiled kernels (``factorized``), and host tables and
reductions with error explanation (``evaluate``). Backends are thin: the NumPy backend is
``evaluate``; the compiled ones generate kernels and call ``evaluate.explain`` on a flag."""

from .interpreter import ScheduleError

__all__ = ["ScheduleError"]
