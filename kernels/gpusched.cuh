// gpusched: helpers that generated kernels include (CUDA C++, also compiled as host C++).
//
// Each reproduces NumPy's / Python's semantics, so every backend gives the NumPy backend's
// numbers: integer and float floor division and modulo follow Python (the sign of the
// divisor), minimum/maximum propagate NaN, and the counter-based generator is Philox4x32-10
// (Salmon et al., SC'11), identical to gpusched/rng.py bit for bit.
#pragma once

#ifdef __CUDACC__
#define GS_FN __device__ __forceinline__
#else
#include <cmath>
#include <cstdint>
#define GS_FN static inline
using std::isnan;
#endif

#ifndef NAN
#define NAN __builtin_nan("")
#endif
#ifndef HUGE_VAL
#define HUGE_VAL __builtin_huge_val()
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

// ---- float floor division and modulo as CPython's float_divmod
GS_FN double gs_mod_f64(double a, double b) {
    double m = fmod(a, b);
    if (m != 0.0) {
        if ((b < 0.0) != (m < 0.0)) m += b;
    } else {
        m = copysign(0.0, b);
    }
    return m;
}

GS_FN double gs_floordiv_f64(double a, double b) {
    double m = fmod(a, b);
    double d = (a - m) / b;
    if (m != 0.0 && ((b < 0.0) != (m < 0.0))) d -= 1.0;
    if (d != 0.0) {
        double q = floor(d);
        if (d - q > 0.5) q += 1.0;
        return q;
    }
    return copysign(0.0, a / b);
}

// ---- NaN-propagating minimum/maximum (np.minimum / np.maximum)
GS_FN double gs_min(double a, double b) { return (a != a) ? a : (b != b) ? b : (a <= b ? a : b); }
GS_FN double gs_max(double a, double b) { return (a != a) ? a : (b != b) ? b : (a >= b ? a : b); }
GS_FN long long gs_min(long long a, long long b) { return a <= b ? a : b; }
GS_FN long long gs_max(long long a, long long b) { return a >= b ? a : b; }
GS_FN double gs_abs(double a) { return fabs(a); }
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

template <typename T>
GS_FN T gs_sum_first(const T* row, long long n, long long k) {
    T s = 0;
    for (long long i = 0; i < k && i < n; ++i) s += row[i];
    return s;
}

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
