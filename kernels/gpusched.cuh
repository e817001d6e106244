// gpusched: helpers that generated kernels include (CUDA C++, also compiled as host C++).
//
// Each reproduces NumPy's / Python's semantics, so every backend gives the NumPy backend's
// numbers: integer and float floor division and modulo follow Python (the sign of the
// divisor), minimum/maximum propagate NaN, and the counter-based generator is Philox4x32-10
// (Salmon et al., SC'11), identical to gpusched/rng.py bit for bit.
#pragma once

#ifdef __CUDACC__
#define GS_FN __device__ __forceinline__
#define GS_MEMBER __device__ __forceinline__
#define GS_GLOBAL __global__
#define GS_SHARED __shared__
#define GS_COLD __device__ __noinline__
#else
// Host C++: a kernel is a plain function called once per (block, thread) by a launcher that
// sets these, one thread after the other (the host harness of `gpusched check-kernels`).
#include <cmath>
#include <cstdint>
#define GS_FN static inline
#define GS_MEMBER inline
#define GS_GLOBAL static
#define GS_SHARED static
#define GS_COLD static
using std::isnan;
using std::isfinite;
using std::fmod;
using std::copysign;
using std::floor;
using std::signbit;
struct gs_dim3 { unsigned x, y, z; };
static gs_dim3 blockIdx, threadIdx, blockDim, gridDim;
#endif

#ifndef NAN
#define NAN __builtin_nan("")
#endif
#ifndef HUGE_VAL
#define HUGE_VAL __builtin_huge_val()
#endif
#ifndef HUGE_VALF
#define HUGE_VALF __builtin_huge_valf()
#endif

typedef unsigned long long gs_u64;

// ---- integer arithmetic with Python semantics; b == 0 sets `bad` (the NumPy backend raises)
GS_FN long long gs_floordiv_i64(long long a, long long b, bool& bad) {
    if (b == 0) { bad = true; return 0; }
    long long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

GS_FN long long gs_mod_i64(long long a, long long b, bool& bad) {
    if (b == 0) { bad = true; return 0; }
    long long m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}

// ---- float floor division and modulo as CPython's float_divmod (double: exact precision;
// float: the same steps in float32 for precision="fast")
template <typename F>
GS_FN F gs_mod_fp(F a, F b) {
    F m = fmod(a, b);
    if (m != F(0)) {
        if ((b < F(0)) != (m < F(0))) m += b;
    } else {
        m = copysign(F(0), b);
    }
    return m;
}

template <typename F>
GS_FN F gs_floordiv_fp(F a, F b) {
    F m = fmod(a, b);
    F d = (a - m) / b;
    if (m != F(0) && ((b < F(0)) != (m < F(0)))) d -= F(1);
    if (d != F(0)) {
        F q = floor(d);
        if (d - q > F(0.5)) q += F(1);
        return q;
    }
    return copysign(F(0), a / b);
}

// ---- NaN-propagating minimum/maximum (np.minimum / np.maximum)
GS_FN double gs_min(double a, double b) { return (a != a) ? a : (b != b) ? b : (a <= b ? a : b); }
GS_FN double gs_max(double a, double b) { return (a != a) ? a : (b != b) ? b : (a >= b ? a : b); }
GS_FN long long gs_min(long long a, long long b) { return a <= b ? a : b; }
GS_FN long long gs_max(long long a, long long b) { return a >= b ? a : b; }
GS_FN float gs_min(float a, float b) { return (a != a) ? a : (b != b) ? b : (a <= b ? a : b); }
GS_FN float gs_max(float a, float b) { return (a != a) ? a : (b != b) ? b : (a >= b ? a : b); }
GS_FN double gs_abs(double a) { return fabs(a); }
GS_FN float gs_abs(float a) { return fabsf(a); }
GS_FN long long gs_abs(long long a) { return a < 0 ? -a : a; }
GS_FN long long gs_clamp_i64(long long x, long long lo, long long hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// ---- list parameters: one config's row of `n` valid entries
template <typename T, typename X>
GS_FN long long gs_count_lt(const T* row, long long n, X x) {
    long long k = 0;
    for (long long i = 0; i < n; ++i) k += (row[i] < x) ? 1 : 0;
    return k;
}

template <typename T, typename X>
GS_FN long long gs_count_le(const T* row, long long n, X x) {
    long long k = 0;
    for (long long i = 0; i < n; ++i) k += (row[i] <= x) ? 1 : 0;
    return k;
}

template <typename T, typename X>
GS_FN long long gs_count_cumsum_le(const T* row, long long n, X x) {
    long long k = 0;
    T s = 0;
    for (long long i = 0; i < n; ++i) {
        s += row[i];
        k += (s <= x) ? 1 : 0;
    }
    return k;
}

template <typename T>
GS_FN T gs_take(const T* row, long long n, long long i) {
    if (i > n - 1) i = n - 1;
    if (i < 0) i = 0;
    return row[i];
}

template <typename T>
GS_FN double gs_prod_first(const T* row, long long n, long long k) {
    double p = 1.0;
    for (long long i = 0; i < k && i < n; ++i) p *= (double)row[i];
    return p;
}

GS_FN float gs_prod_first(const float* row, long long n, long long k) {   // fast precision
    float p = 1.0f;
    for (long long i = 0; i < k && i < n; ++i) p *= row[i];
    return p;
}

template <typename T>
GS_FN T gs_sum_first(const T* row, long long n, long long k) {
    T s = 0;
    for (long long i = 0; i < k && i < n; ++i) s += row[i];
    return s;
}

// ---- values a thread remembers over the steps it walks (codegen.c_sections, remember=True)
//
// A count of list entries e with e <= x (LE) or e < x has the same value for every x that
// still counts the largest counted entry `lo` and still does not count the smallest uncounted
// one `hi` (the counted entries are always the smallest ones; a NaN entry is never counted,
// so it never matters). Without a counted (uncounted) entry, lo (hi) is the lowest (highest)
// value of T. A thread recounts only when its x leaves that span (a milestone passed); a
// span that is not known yet (lo = hi = the highest value) holds for no x.
template <typename T>
struct gs_span { long long k; T lo, hi; };

// the highest and lowest values of a type, chosen by an argument of that type
GS_FN long long gs_highest(long long) { return 9223372036854775807LL; }
GS_FN double gs_highest(double) { return HUGE_VAL; }
GS_FN float gs_highest(float) { return HUGE_VALF; }
GS_FN long long gs_lowest(long long) { return -9223372036854775807LL - 1; }
GS_FN double gs_lowest(double) { return -HUGE_VAL; }
GS_FN float gs_lowest(float) { return -HUGE_VALF; }

// not known yet: holds for no x
template <typename T>
GS_FN gs_span<T> gs_span_none() { return gs_span<T>{0, gs_highest(T(0)), gs_highest(T(0))}; }

template <bool LE, typename T, typename X>
GS_FN bool gs_counted(T e, X x) { return LE ? (e <= x) : (e < x); }

template <bool LE, typename T, typename X>
GS_FN bool gs_span_holds(const gs_span<T>& s, X x) {
    return gs_counted<LE>(s.lo, x) && !gs_counted<LE>(s.hi, x);
}

// A recomputation runs out of line (GS_COLD: a called function, not inlined), so the step
// loop holds only the checks. The GPU cost model compiles with GS_MODEL_MARK_COLD, which
// starts each such function with a performance-monitor trigger (PMTRIG in the machine code)
// to find them, and counts them at the fraction of steps that recompute.
// A table kernel whose value depends on the step only through list counts computes a 16-byte
// vector's value once when every count holds over the vector, and each step of it otherwise;
// the model's build brackets that otherwise-path with triggers 6 and 5, and counts it at the
// fraction of warp iterations where some lane takes it.
#if defined(GS_MODEL_MARK_COLD) && defined(__CUDACC__)
#define GS_COLD_MARK asm volatile("pmevent 7;")
#define GS_STEPWISE_BEGIN asm volatile("pmevent 6;")
#define GS_STEPWISE_END asm volatile("pmevent 5;")
#else
#define GS_COLD_MARK ((void)0)
#define GS_STEPWISE_BEGIN ((void)0)
#define GS_STEPWISE_END ((void)0)
#endif

// whether the span holds at every x of [a, b] (a <= b; a count is monotone in x)
template <bool LE, typename T, typename X>
GS_FN bool gs_span_covers(const gs_span<T>& s, X a, X b) {
    return gs_counted<LE>(s.lo, a) && !gs_counted<LE>(s.hi, b);
}

template <bool LE, typename T, typename X>
GS_FN void gs_span_add(gs_span<T>& s, T e, X x) {
    const bool c = gs_counted<LE>(e, x);
    s.k += c ? 1 : 0;
    s.lo = (c && e > s.lo) ? e : s.lo;
    s.hi = (!c && e < s.hi) ? e : s.hi;
}

// before the first entry: nothing counted, nothing uncounted
template <typename T>
GS_FN gs_span<T> gs_span_start() { return gs_span<T>{0, gs_lowest(T(0)), gs_highest(T(0))}; }

// gs_count_lt / gs_count_le (LE) with the span of x
template <bool LE, typename T, typename X>
GS_COLD gs_span<T> gs_span_count(const T* row, long long n, X x) {
    GS_COLD_MARK;
    gs_span<T> s = gs_span_start<T>();
    for (long long i = 0; i < n; ++i) gs_span_add<LE>(s, row[i], x);
    return s;
}

// gs_span_count over a row sorted ascending (cuda_source.launch_args sorts the rows of lists
// that only counts read): the entries counted are the first k, so the span is the pair of
// entries around the count, and the loop only counts
template <bool LE, typename T, typename X>
GS_COLD gs_span<T> gs_span_count_sorted(const T* row, long long n, X x) {
    GS_COLD_MARK;
    long long k = 0;
    for (long long i = 0; i < n; ++i) k += gs_counted<LE>(row[i], x) ? 1 : 0;
    return gs_span<T>{k, k > 0 ? row[k - 1] : gs_lowest(T(0)), k < n ? row[k] : gs_highest(T(0))};
}

// gs_count_cumsum_le with the span of x (the running sums added as gs_count_cumsum_le does)
template <typename T, typename X>
GS_COLD gs_span<T> gs_span_cumsum(const T* row, long long n, X x) {
    GS_COLD_MARK;
    gs_span<T> s = gs_span_start<T>();
    T sum = 0;
    for (long long i = 0; i < n; ++i) {
        sum += row[i];
        gs_span_add<true>(s, sum, x);
    }
    return s;
}

// a remembered operation's value, recomputed out of line: f is a lambda holding its inputs
template <typename F>
GS_COLD auto gs_cold_eval(F f) {
    GS_COLD_MARK;
    return f();
}

// whether a remembered input equals the new one (floats: -0.0 and 0.0 apart, NaN never)
GS_FN bool gs_same(long long a, long long b) { return a == b; }
GS_FN bool gs_same(bool a, bool b) { return a == b; }
GS_FN bool gs_same(double a, double b) { return a == b && signbit(a) == signbit(b); }
GS_FN bool gs_same(float a, float b) { return a == b && signbit(a) == signbit(b); }


// ---- Philox4x32-10: counter (c0..c3), key (k0, k1); returns the first two words
GS_FN void gs_philox_w01(gs_u64 seed, gs_u64 counter, unsigned stream, gs_u64& w0, gs_u64& w1) {
    const gs_u64 M = 0xFFFFFFFFull;
    gs_u64 c0 = counter & M, c1 = counter >> 32, c2 = stream, c3 = 0;
    gs_u64 k0 = seed & M, k1 = seed >> 32;
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 = (k0 + 0x9E3779B9ull) & M;
            k1 = (k1 + 0xBB67AE85ull) & M;
        }
        gs_u64 p0 = 0xD2511F53ull * c0;
        gs_u64 p1 = 0xCD9E8D57ull * c2;
        gs_u64 n0 = (p1 >> 32) ^ c1 ^ k0, n2 = (p0 >> 32) ^ c3 ^ k1;
        c1 = p1 & M;
        c3 = p0 & M;
        c0 = n0;
        c2 = n2;
    }
    w0 = c0;
    w1 = c1;
}

GS_FN double gs_random_uniform(long long seed, long long counter, unsigned stream) {
    gs_u64 w0, w1;
    gs_philox_w01((gs_u64)seed, (gs_u64)counter, stream, w0, w1);
    return (double)(((w0 << 32) | w1) >> 11) * (1.0 / 9007199254740992.0);
}

GS_FN long long gs_random_below(long long n, long long seed, long long counter, unsigned stream,
                                bool& bad) {
    if (n < 1 || n >= 4294967296LL) { bad = true; return 0; }
    gs_u64 w0, w1;
    gs_philox_w01((gs_u64)seed, (gs_u64)counter, stream, w0, w1);
    return (long long)((w0 * (gs_u64)n) >> 32);
}

// ---- the 2-D kernels' pieces (gpusched/cuda_source.py)

// Whether a config's values were all finite, told to the host once per warp: the index of
// the first config with a non-finite value (the host then explains it on the NumPy backend).
GS_FN void gs_flag_config(bool ok, long long c, gs_u64* bad) {
#ifdef __CUDACC__
    if (__any_sync(0xffffffffu, !ok) && (threadIdx.x & 31u) == 0u)
        atomicMin(bad, (gs_u64)c);
#else
    if (!ok && (gs_u64)c < *bad) *bad = (gs_u64)c;
#endif
}

// Store one 16-byte vector of consecutive values (four floats or two doubles) at `at`.
template <typename OUT>
GS_FN void gs_store_wide(OUT* at, const OUT* v) {
#ifdef __CUDACC__
    // one 16-byte store in PTX (the generic address converted there): written as a float4
    // assignment, the compiler splits it into four stores when it cannot prove the
    // alignment from the index arithmetic (__builtin_assume_aligned does not help)
    if constexpr (sizeof(OUT) == 4) {
        asm volatile("{ .reg .u64 g; cvta.to.global.u64 g, %0; "
                     "st.global.v4.f32 [g], {%1, %2, %3, %4}; }"
                     :: "l"(at), "f"(v[0]), "f"(v[1]), "f"(v[2]), "f"(v[3]) : "memory");
    } else {
        asm volatile("{ .reg .u64 g; cvta.to.global.u64 g, %0; "
                     "st.global.v2.f64 [g], {%1, %2}; }"
                     :: "l"(at), "d"(v[0]), "d"(v[1]) : "memory");
    }
#else
    for (int k = 0; k < (int)(16 / sizeof(OUT)); ++k) at[k] = v[k];
#endif
}

// Accumulators of the fused reductions (OP 0 sum, 1 min, 2 max) over values of type F: a
// double sum (exact), a compensated float sum (fast: no FP64 instruction per step).
template <int OP, typename F> struct gs_acc;
template <> struct gs_acc<0, double> {
    double s = 0.0;
    GS_MEMBER void add(double v) { s += v; }
    GS_MEMBER double get() const { return s; }
};
template <> struct gs_acc<0, float> {
    float s = 0.0f, lost = 0.0f;                      // Kahan summation
    GS_MEMBER void add(float v) { float y = v - lost, u = s + y; lost = (u - s) - y; s = u; }
    GS_MEMBER double get() const { return (double)s - (double)lost; }
};
template <typename F> struct gs_acc<1, F> {
    F m = F(HUGE_VAL);
    GS_MEMBER void add(F v) { m = gs_min(m, v); }
    GS_MEMBER double get() const { return (double)m; }
};
template <typename F> struct gs_acc<2, F> {
    F m = -F(HUGE_VAL);
    GS_MEMBER void add(F v) { m = gs_max(m, v); }
    GS_MEMBER double get() const { return (double)m; }
};

template <int OP>
GS_FN double gs_fold(double a, double b) {
    return OP == 0 ? a + b : OP == 1 ? gs_min(a, b) : gs_max(a, b);
}

// One block's partial results folded in a fixed tree order (blockDim.x a power of two, at
// most 1024); true for the thread that holds the block's result in `r`. The host harness
// runs a block's threads one after the other: the last one folds.
template <int OP>
GS_FN bool gs_block_fold(double v, double* sh, double& r) {
    const unsigned tid = threadIdx.x, n = blockDim.x;
    sh[tid] = v;
#ifdef __CUDACC__
    __syncthreads();
    for (unsigned s = n / 2; s > 0; s >>= 1) {
        if (tid < s) sh[tid] = gs_fold<OP>(sh[tid], sh[tid + s]);
        __syncthreads();
    }
    r = sh[0];
    __syncthreads();                                  // sh is reused by the next config
    return tid == 0;
#else
    if (tid != n - 1) return false;
    for (unsigned s = n / 2; s > 0; s >>= 1)
        for (unsigned i = 0; i < s; ++i) sh[i] = gs_fold<OP>(sh[i], sh[i + s]);
    r = sh[0];
    return true;
#endif
}
