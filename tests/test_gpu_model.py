"""The GPU cost model's counter, checked on a hand-written kernel whose hot loop holds a known
number of instructions of each class (inline PTX, which ptxas keeps one for one), and run on
a real workload kernel."""

import pytest

from gpusched.bench import gpu_model as M

needs_tools = pytest.mark.skipif(not (M.tool("nvcc") and M.tool("cuobjdump")
                                      and M.tool("nvdisasm")),
                                 reason="needs nvcc, cuobjdump and nvdisasm")

KNOWN = r"""
extern "C" __global__ void known_table(double* out, long long S, double a, double b)
{
    double x = a;
    float y = (float)b;
#pragma unroll 1
    for (long long j = threadIdx.x; j < S; j += blockDim.x) {
        asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
        asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
        asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
        asm volatile("mul.rn.f32 %0, %0, %0;" : "+f"(y));
        asm volatile("mul.rn.f32 %0, %0, %0;" : "+f"(y));
        asm volatile("ex2.approx.ftz.f32 %0, %0;" : "+f"(y));
        out[j] = x + (double)y;
    }
}
"""


@needs_tools
def test_counts_of_a_kernel_with_known_instructions(tmp_path):
    c = M.compile_and_count(KNOWN, "90", "table", elements_per_iteration=1, workdir=tmp_path)
    per = c.per_element
    assert per["fp64"] == 4          # 3 fma + the add of x and y
    assert per["fp32"] == 2          # the two multiplies
    assert per["mufu"] == 1          # ex2
    assert per["conversion"] == 1    # (double)y
    assert per["STG.64"] == 1        # one 8-byte store per element
    assert c.spills == 0 and c.registers > 0
    # halving the elements per iteration doubles every count per element
    c2 = M.compile_and_count(KNOWN, "90", "table", elements_per_iteration=2, workdir=tmp_path)
    assert c2.per_element["fp64"] == 2


CALLS = r"""
__device__ __noinline__ double three_fma(double x, double a, double b)
{
    asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
    asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
    asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
    return x;
}

__device__ __noinline__ double marked_fma(double x, double a, double b)
{
    asm volatile("pmevent 7;");            // what GS_MODEL_MARK_COLD puts in a recomputation
    asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
    asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
    return x;
}

extern "C" __global__ void calls_table(double* out, long long S, double a, double b)
{
    double x = a, y = b;
#pragma unroll 1
    for (long long j = threadIdx.x; j < S; j += blockDim.x) {
        x = three_fma(x, a, b);                 // every element: counted where it is called
        if (x > 1e300) y = marked_fma(y, a, b); // an out-of-line recomputation
        out[j] = x;
        out[j + S] = y;
    }
}
"""


@needs_tools
@pytest.mark.parametrize("arch", ["90", "89"])
def test_called_subroutines_count_where_they_are_called(tmp_path, arch):
    """A subroutine every element calls (like double pow's core) counts in full at its call;
    an out-of-line recomputation (marked) counts at the refresh fraction."""
    every = M.compile_and_count(CALLS, arch, "table", 1, workdir=tmp_path, refresh=1.0)
    never = M.compile_and_count(CALLS, arch, "table", 1, workdir=tmp_path, refresh=0.0)
    half = M.compile_and_count(CALLS, arch, "table", 1, workdir=tmp_path, refresh=0.5)
    # three_fma's body and the comparison x > 1e300 (a DSETP)
    assert never.per_element["fp64"] == 4
    assert every.per_element["fp64"] == 6                     # and marked_fma's two
    assert half.per_element["fp64"] == pytest.approx(5)
    assert never.per_element["STG.64"] == 2


STEPWISE = r"""
extern "C" __global__ void stepwise_table(double* out, long long S, double a, double b)
{
    double x = a;
#pragma unroll 1
    for (long long j = threadIdx.x; j < S; j += blockDim.x) {
        if (x < 1e300) {
            asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
        } else {
            asm volatile("pmevent 6;");         // GS_STEPWISE_BEGIN
            asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(b));
            asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(b), "d"(a));
            asm volatile("fma.rn.f64 %0, %0, %1, %2;" : "+d"(x) : "d"(a), "d"(a));
            asm volatile("pmevent 5;");         // GS_STEPWISE_END
        }
        out[j] = x;
    }
}
"""


@needs_tools
@pytest.mark.parametrize("arch", ["90"])
def test_the_stepwise_path_counts_at_its_fraction(tmp_path, arch):
    """The code between triggers 6 and 5 (a vector computed step by step) counts at the
    stepwise fraction, the rest in full: the loop's comparison (a DSETP) and one FMA, plus
    three FMAs at 0 / 0.5 / 1."""
    got = [M.compile_and_count(STEPWISE, arch, "table", 1, workdir=tmp_path, stepwise=f)
           for f in (0.0, 0.5, 1.0)]
    assert [c.per_element["fp64"] for c in got] == pytest.approx([2, 3.5, 5])
    assert got[1].stepwise_fraction == 0.5


def test_refresh_fraction_counts_a_warp_once_per_position():
    """One warp of 32 threads, 4 consecutive steps each, 128 steps, milestone 50: every lane
    counts at its first step (one warp event), lane 12 again at its third (steps 48..51: the
    count changes at 50): 2 events x 32 lanes / 128 steps."""
    import numpy as np

    import gpusched as gs
    from gpusched.api import prepare
    from gpusched.cuda_source import Launch
    s = gs.compat.torch.MultiStepLR()
    _, _, _, _, bound, plan = prepare(s, gs.grid(base_lr=[0.1], milestones=[[50]],
                                                  gamma=[0.5]), 128, "float32")
    got = M.refresh_fraction(plan, bound, 128, "table", Launch((1, 1), 32), 4)
    assert got == pytest.approx(2 * 32 / 128)
    cos = gs.compat.torch.CosineAnnealingLR()
    _, _, _, _, bound, plan = prepare(cos, gs.grid(base_lr=[0.1], T_max=[100]), 128,
                                       "float32")
    assert M.refresh_fraction(plan, bound, 128, "table", Launch((1, 1), 32), 4) == 0.0
    assert np.isfinite(got)
    # per vector, 384 steps (three iterations of the warp, lane L at 4L, 128 + 4L, 256 + 4L):
    # the first (every lane's first vector), the second (lanes 0..11 crossed step 50 since
    # their previous vector), not the third: 2 iterations x 32 lanes x 4 steps / 384
    _, _, _, _, bound, plan = prepare(s, gs.grid(base_lr=[0.1], milestones=[[50]],
                                                  gamma=[0.5]), 384, "float32")
    assert M.refresh_fraction(plan, bound, 384, "table", Launch((1, 1), 32), 4,
                              per_vector=True) == pytest.approx(2 * 32 * 4 / 384)


@needs_tools
def test_projection_is_bounded_by_the_slowest_resource():
    counts = M.KernelCounts({"fp64": 10.0, "fp32": 1.0, "STG.32": 1.0}, 32, 0, 1, 12)
    h100, l4 = (next(g for g in M.GPUS if g.name == n) for n in ("H100 SXM", "L4"))
    bound, eps, frac = M.project(counts, l4, 4.0)
    # L4: FP64 at 2 per SM per clock -> 58 * 2.04e9 * 2 / 10 per second
    assert bound == "fp64" and eps == pytest.approx(58 * 2.04e9 * 2 / 10)
    bound, eps, frac = M.project(counts, h100, 4.0)
    assert bound == "memory" and frac == pytest.approx(1.0)


@needs_tools
def test_model_of_a_workload_writes_every_field(tmp_path):
    recs = M.model(workloads_filter={"W4"}, precisions=("fast",), archs=("89",),
                   backends=("cupy",), out=lambda *a: None)
    assert [r.gpu for r in recs] == ["L4", "RTX 4090"]
    r = recs[0]
    assert r.fp64_per_element == 0             # fast: no FP64 in the hot loop
    assert r.spills == 0 and r.instructions_per_element > 5
    assert r.bound in ("issue", "fp32", "mufu", "int", "conversion", "lsu", "memory")
    assert "| W4 | cupy | fast | L4 |" in M.markdown(recs)


@needs_tools
@pytest.mark.skipif(not M.numba_cuda_available(), reason="Numba finds no NVVM/NVRTC")
def test_numba_cuda_kernels_are_modelled_per_element():
    """LLVM unrolls Numba's step loop: the elements of one iteration are read off the code
    (the float32 stores), so a per-element count does not depend on the unroll factor."""
    recs = M.model(workloads_filter={"W4"}, precisions=("exact",), archs=("90",),
                   backends=("numba-cuda",), out=lambda *a: None)
    assert {r.backend for r in recs} == {"numba-cuda"} and len(recs) == 2
    r = recs[0]
    assert 10 < r.instructions_per_element < 1000 and r.spills == 0


@needs_tools
def test_w5_projection_counts_the_fused_law_kernels_step_loop():
    """The loss-law kernel (gpusched/laws/cuda.py) compiles for every modelled architecture
    without spills; its counted loop is the multi-power step loop with two FP64 pows, each
    calling pow's core subroutine (counted where called: over 100 FP64 instructions each)."""
    from gpusched.bench.laws import project_gpu
    rows = project_gpu(quick=True)
    assert {r["gpu"] for r in rows} == {g.name for g in M.GPUS}
    for r in rows:
        assert r["spills"] == 0 and r["fp64_per_term"] >= 200, r
        assert r["calls_per_term"] >= 2 and r["projected_terms_per_s"] > 1e8
    h100 = next(r for r in rows if r["gpu"] == "H100 SXM")
    l4 = next(r for r in rows if r["gpu"] == "L4")
    assert h100["projected_terms_per_s"] > 10 * l4["projected_terms_per_s"]   # FP64 rate
