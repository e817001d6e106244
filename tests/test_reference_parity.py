"""Parity of the timm, keras, DeepSpeed and MMEngine twins with values those libraries
produced (``tests/reference/generate.py`` ran each case of ``cases.py`` in the real library;
the versions are recorded in ``values.json``)."""

import json
from pathlib import Path

import numpy as np
import pytest

import gpusched as gs

REF = json.loads((Path(__file__).parent / "reference" / "values.json").read_text())
CASES = REF["cases"]
F32 = {"keras"}


def _twin(case):
    kw = dict(case["kwargs"])
    if case["base_lr"] is not None:
        kw["base_lr"] = case["base_lr"]
    return getattr(getattr(gs.compat, case["library"]), case["name"])(**kw)


def _id(case):
    return f"{case['library']}.{case['name']}-{CASES.index(case)}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_twin_matches_the_library(case, backend):
    if "noise_range_t" in case["kwargs"]:
        pytest.importorskip("torch")
    theirs = np.asarray(case["values"])
    ours = gs.evaluate(_twin(case), steps=theirs.size, dtype="float64", backend=backend)
    if case["library"] in F32:      # the library computes in float32
        scale = np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=8 * 2 ** -24, atol=8 * 2 ** -24 * scale)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * np.abs(theirs).max())


def test_the_timm_restart_quirk_is_in_the_reference():
    """T0 = 1, cycle_mul = 3: timm's float log puts t = 121 in the old cycle (lr_min)."""
    case = next(c for c in CASES if c["kwargs"] == {"t_initial": 1, "cycle_mul": 3.0,
                                                     "cycle_limit": 10})
    assert case["values"][121] == 0.0 and case["values"][40] == 0.1
    ours = gs.evaluate(_twin(case), steps=[40, 121], dtype="float64")
    assert ours.tolist() == [0.1, 0.0]


def test_reference_covers_every_library_and_class():
    got = {(c["library"], c["name"]) for c in CASES}
    for lib, names in {"timm": gs.compat.timm.__all__, "keras": gs.compat.keras.__all__,
                       "deepspeed": gs.compat.deepspeed.__all__,
                       "mmengine": gs.compat.mmengine.__all__}.items():
        assert {(lib, n) for n in names} <= got
