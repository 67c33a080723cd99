/*
 * Element-wise kernels and reductions used by the host and the trainer
 * (matrix products are in gemm.c).
 *
 * Determinism: every output element is computed by one thread, in an order
 * fixed by the problem shape alone, and every reduction sums fixed-size
 * chunks in chunk order, each chunk in fixed lanes combined in a fixed
 * tree.  So results are bit-identical at any thread count.
 *
 * Loops are compiled twice (AVX2+FMA and baseline x86-64) and the loader
 * picks one at run time, so one binary runs on any x86-64.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include "internal.h"

static int n_threads = 1;

void gs_set_threads(int n) { n_threads = n > 0 ? n : 1; }
int gs_get_threads(void) { return n_threads; }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define GS_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GS_MULTIVERSION
#endif

/*
 * Flush-to-zero and denormals-are-zero: results below FLT_MIN become 0
 * and such inputs read as 0.  The MXCSR register is per thread, so the
 * setting is applied on every thread of the team, the caller included;
 * threads started later inherit it from the caller.
 */
void gs_set_flush_denormals(int on)
{
#if defined(__SSE__)
    const unsigned bits = 0x8040; /* FTZ (bit 15) | DAZ (bit 6) */
#pragma omp parallel num_threads(n_threads)
    _mm_setcsr(on ? _mm_getcsr() | bits : _mm_getcsr() & ~bits);
#else
    (void)on;
#endif
}

GS_MULTIVERSION
static void add_row_f32(size_t rows, size_t cols, const float *restrict b, float *restrict y)
{
    for (size_t i = 0; i < rows; i++) {
        float *yi = y + i * cols;
#pragma omp simd
        for (size_t j = 0; j < cols; j++)
            yi[j] += b[j];
    }
}

void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y)
{
    if (dt == GS_F32) {
        add_row_f32(rows, cols, b, y);
        return;
    }
    const double *bb = b;
    double *yy = y;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            yy[i * cols + j] += bb[j];
}

/* Each s[j] adds rows in order 0, 1, ...; vectors run across j. */
GS_MULTIVERSION
static void sum_rows_f32(size_t rows, size_t cols, const float *restrict y, float *restrict s)
{
    for (size_t i = 0; i < rows; i++) {
        const float *yi = y + i * cols;
#pragma omp simd
        for (size_t j = 0; j < cols; j++)
            s[j] += yi[j];
    }
}

void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s)
{
    if (dt == GS_F32) {
        sum_rows_f32(rows, cols, y, s);
        return;
    }
    const double *yy = y;
    double *ss = s;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            ss[j] += yy[i * cols + j];
}

GS_MULTIVERSION
static void axpy_f32(size_t n, float a, const float *restrict x, float *restrict y)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y)
{
    if (dt == GS_F32) {
        axpy_f32(n, (float)alpha, x, y);
        return;
    }
    const double *xx = x;
    double *yy = y;
    for (size_t i = 0; i < n; i++)
        yy[i] += alpha * xx[i];
}

void gs_parallel_for(size_t n, size_t grain, void (*fn)(void *, size_t, size_t), void *arg)
{
    if (grain == 0)
        grain = 1;
    long chunks = (long)((n + grain - 1) / grain);
    int par = chunks > 1 && n_threads > 1;
#pragma omp parallel for schedule(static) num_threads(n_threads) if (par)
    for (long c = 0; c < chunks; c++) {
        size_t b = (size_t)c * grain;
        size_t e = b + grain < n ? b + grain : n;
        fn(arg, b, e);
    }
}

/*
 * Reductions, in double: chunks of REDUCE_CHUNK elements, added in chunk
 * order.  Within a chunk, element i goes to lane i % 16 (four vectors of
 * four doubles: independent accumulators, so the loop is not bound by the
 * latency of one addition), and the lanes are combined by a fixed pairwise
 * tree.  Long arrays have their chunks summed by several threads.
 */
enum { REDUCE_CHUNK = 4096, LANES = 16, REDUCE_PARALLEL_MIN = 1 << 18 };

typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

static double combine_lanes(double *acc, int max)
{
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = max ? (acc[l + w] > acc[l] ? acc[l + w] : acc[l]) : acc[l] + acc[l + w];
    return acc[0];
}

/* Four elements at p as doubles (a macro: a function returning a vector
   would have an ABI that depends on the clone). */
#define LOAD4_F32(p) (__extension__({ v4f x_; memcpy(&x_, (p), sizeof x_); __builtin_convertvector(x_, v4d); }))
#define LOAD4_F64(p) (__extension__({ v4d x_; memcpy(&x_, (p), sizeof x_); x_; }))

/* Sum of x or of x^2 over one chunk. */
#define DEFINE_SUM_CHUNK(NAME, T, LOAD, SQUARE)                                              \
    GS_MULTIVERSION                                                                          \
    static double NAME(const T *restrict v, size_t n)                                        \
    {                                                                                        \
        v4d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                          \
        size_t i = 0;                                                                        \
        for (; i + LANES <= n; i += LANES) {                                                 \
            v4d x0 = LOAD(v + i), x1 = LOAD(v + i + 4), x2 = LOAD(v + i + 8),                \
                x3 = LOAD(v + i + 12);                                                       \
            a0 += SQUARE ? x0 * x0 : x0;                                                     \
            a1 += SQUARE ? x1 * x1 : x1;                                                     \
            a2 += SQUARE ? x2 * x2 : x2;                                                     \
            a3 += SQUARE ? x3 * x3 : x3;                                                     \
        }                                                                                    \
        double acc[LANES];                                                                   \
        memcpy(acc, &a0, sizeof a0);                                                         \
        memcpy(acc + 4, &a1, sizeof a1);                                                     \
        memcpy(acc + 8, &a2, sizeof a2);                                                     \
        memcpy(acc + 12, &a3, sizeof a3);                                                    \
        for (int l = 0; i < n; i++, l++)                                                     \
            acc[l] += SQUARE ? (double)v[i] * (double)v[i] : (double)v[i];                   \
        return combine_lanes(acc, 0);                                                        \
    }

DEFINE_SUM_CHUNK(sumsq_f32, float, LOAD4_F32, 1)
DEFINE_SUM_CHUNK(sumsq_f64, double, LOAD4_F64, 1)
DEFINE_SUM_CHUNK(sum_f32, float, LOAD4_F32, 0)
DEFINE_SUM_CHUNK(sum_f64, double, LOAD4_F64, 0)

/* Largest |x| over one chunk (no hot caller: plain loop). */
#define DEFINE_MAX_CHUNK(NAME, T)                                                            \
    static double NAME(const T *restrict v, size_t n)                                        \
    {                                                                                        \
        double acc[LANES] = {0};                                                             \
        for (size_t i = 0; i < n; i++) {                                                     \
            double a = fabs((double)v[i]);                                                   \
            acc[i % LANES] = a > acc[i % LANES] ? a : acc[i % LANES];                        \
        }                                                                                    \
        return combine_lanes(acc, 1);                                                        \
    }

DEFINE_MAX_CHUNK(maxabs_f32, float)
DEFINE_MAX_CHUNK(maxabs_f64, double)

static double reduce(gs_dtype dt, size_t n, const void *x, double (*f32)(const float *, size_t),
                     double (*f64)(const double *, size_t), int max)
{
    size_t es = dt == GS_F32 ? sizeof(float) : sizeof(double);
    long chunks = (long)((n + REDUCE_CHUNK - 1) / REDUCE_CHUNK);
    double stack[64], *part = chunks <= 64 ? stack : gs_xmalloc((size_t)chunks * sizeof(double));
    int par = n >= REDUCE_PARALLEL_MIN && n_threads > 1;
#pragma omp parallel for schedule(static) num_threads(n_threads) if (par)
    for (long c = 0; c < chunks; c++) {
        size_t b = (size_t)c * REDUCE_CHUNK, len = n - b < REDUCE_CHUNK ? n - b : REDUCE_CHUNK;
        const void *p = (const char *)x + b * es;
        part[c] = dt == GS_F32 ? f32(p, len) : f64(p, len);
    }
    double acc = 0.0;
    for (long c = 0; c < chunks; c++)
        acc = max ? (part[c] > acc ? part[c] : acc) : acc + part[c];
    if (part != stack)
        free(part);
    return acc;
}

double gs_sumsq(gs_dtype dt, size_t n, const void *x)
{
    return reduce(dt, n, x, sumsq_f32, sumsq_f64, 0);
}

double gs_sum(gs_dtype dt, size_t n, const void *x) { return reduce(dt, n, x, sum_f32, sum_f64, 0); }

/* NaN is not ordered: a NaN element leaves the maximum as it was, like
   the scalar loop this replaces; gs_all_finite reports NaN. */
double gs_maxabs(gs_dtype dt, size_t n, const void *x)
{
    return reduce(dt, n, x, maxabs_f32, maxabs_f64, 1);
}

/* x * 0 is 0 for finite x and NaN for inf and NaN; the sum of those is
   NaN exactly when one is, in any order. */
GS_MULTIVERSION
static int all_finite_f32(size_t n, const float *v)
{
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (size_t i = 0; i < n; i++)
        acc += v[i] * 0.0f;
    return acc == 0.0f;
}

int gs_all_finite(gs_dtype dt, size_t n, const void *x)
{
    if (dt == GS_F32)
        return all_finite_f32(n, x);
    const double *v = x;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}
