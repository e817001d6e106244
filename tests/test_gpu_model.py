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
    without spills; its counted loop is the multi-power step loop, two inlined FP64 pows."""
    from gpusched.bench.laws import project_gpu
    rows = project_gpu(quick=True)
    assert {r["gpu"] for r in rows} == {g.name for g in M.GPUS}
    for r in rows:
        assert r["spills"] == 0 and r["fp64_per_term"] >= 30, r
        assert r["projected_terms_per_s"] > 1e9
    h100 = next(r for r in rows if r["gpu"] == "H100 SXM")
    l4 = next(r for r in rows if r["gpu"] == "L4")
    assert h100["projected_terms_per_s"] > 10 * l4["projected_terms_per_s"]   # FP64 rate
