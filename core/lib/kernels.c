/*
 * Dense linear algebra and reductions used by the host and the trainer.
 *
 * Determinism: every output element is computed by one thread, in an order
 * fixed by the problem shape alone, and every reduction sums fixed-size
 * chunks in chunk order.  So results are bit-identical at any thread count.
 *
 * The float GEMM is compiled twice (AVX2+FMA and baseline x86-64) and the
 * loader picks one at run time, so one binary runs on any x86-64.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
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

enum { MC = 64, NC = 256, KC = 256 };

/*
 * C[i0:i1, j0:j1] += alpha * op(A) op(B) over p in [0, k), where op(B) has
 * been packed row-major into bp (k x n, row stride n).  op(A)(i, p) is
 * a[i*sai + p*sap].  Rows are processed four at a time so each loaded row
 * of B feeds four accumulations.
 */
#define DEFINE_TILE(T, NAME, ATTR)                                                          \
    ATTR static void NAME(size_t i0, size_t i1, size_t j0, size_t j1, size_t k, T alpha,     \
                          const T *a, size_t sai, size_t sap, const T *bp, size_t n, T *c,   \
                          size_t ldc)                                                        \
    {                                                                                        \
        for (size_t p0 = 0; p0 < k; p0 += KC) {                                              \
            size_t p1 = p0 + KC < k ? p0 + KC : k;                                           \
            size_t i = i0;                                                                   \
            for (; i + 4 <= i1; i += 4) {                                                    \
                T *c0 = c + i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;         \
                for (size_t p = p0; p < p1; p++) {                                           \
                    T a0 = alpha * a[i * sai + p * sap];                                     \
                    T a1 = alpha * a[(i + 1) * sai + p * sap];                               \
                    T a2 = alpha * a[(i + 2) * sai + p * sap];                               \
                    T a3 = alpha * a[(i + 3) * sai + p * sap];                               \
                    const T *b = bp + p * n;                                                 \
                    for (size_t j = j0; j < j1; j++) {                                       \
                        T bj = b[j];                                                         \
                        c0[j] += a0 * bj;                                                    \
                        c1[j] += a1 * bj;                                                    \
                        c2[j] += a2 * bj;                                                    \
                        c3[j] += a3 * bj;                                                    \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
            for (; i < i1; i++) {                                                            \
                T *c0 = c + i * ldc;                                                         \
                for (size_t p = p0; p < p1; p++) {                                           \
                    T a0 = alpha * a[i * sai + p * sap];                                     \
                    const T *b = bp + p * n;                                                 \
                    for (size_t j = j0; j < j1; j++)                                         \
                        c0[j] += a0 * b[j];                                                  \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_TILE(float, tile_f32, GS_MULTIVERSION)
DEFINE_TILE(double, tile_f64, )

#define DEFINE_GEMM(T, NAME, TILE)                                                           \
    static void NAME(int ta, int tb, size_t m, size_t n, size_t k, T alpha, const T *a,      \
                     size_t lda, const T *b, size_t ldb, T beta, T *c, size_t ldc)           \
    {                                                                                        \
        for (size_t i = 0; i < m; i++) {                                                     \
            T *row = c + i * ldc;                                                            \
            if (beta == 0)                                                                   \
                memset(row, 0, n * sizeof(T));                                              \
            else if (beta != 1)                                                              \
                for (size_t j = 0; j < n; j++)                                               \
                    row[j] *= beta;                                                          \
        }                                                                                    \
        if (k == 0 || alpha == 0)                                                            \
            return;                                                                          \
        /* op(B) packed as k x n so the inner loop runs along contiguous rows. */            \
        const T *bp = b;                                                                     \
        T *packed = NULL;                                                                    \
        if (tb || ldb != n) {                                                                \
            packed = gs_xmalloc(k * n * sizeof(T));                                          \
            for (size_t p = 0; p < k; p++)                                                   \
                for (size_t j = 0; j < n; j++)                                               \
                    packed[p * n + j] = tb ? b[j * ldb + p] : b[p * ldb + j];                \
            bp = packed;                                                                     \
        }                                                                                    \
        size_t sai = ta ? 1 : lda, sap = ta ? lda : 1;                                       \
        size_t mb = (m + MC - 1) / MC, nb = (n + NC - 1) / NC;                               \
        long tiles = (long)(mb * nb);                                                        \
        int par = (double)m * (double)n * (double)k > 262144.0 && n_threads > 1;             \
        _Pragma("omp parallel for schedule(static) num_threads(n_threads) if(par)")          \
        for (long t = 0; t < tiles; t++) {                                                   \
            size_t ib = (size_t)t / nb, jb = (size_t)t % nb;                                 \
            size_t i0 = ib * MC, j0 = jb * NC;                                               \
            size_t i1 = i0 + MC < m ? i0 + MC : m, j1 = j0 + NC < n ? j0 + NC : n;           \
            TILE(i0, i1, j0, j1, k, alpha, a, sai, sap, bp, n, c, ldc);                      \
        }                                                                                    \
        free(packed);                                                                        \
    }

DEFINE_GEMM(float, gemm_f32, tile_f32)
DEFINE_GEMM(double, gemm_f64, tile_f64)

void gs_gemm(gs_dtype dt, int ta, int tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
             size_t ldc)
{
    if (dt == GS_F32)
        gemm_f32(ta, tb, m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
    else
        gemm_f64(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y)
{
    if (dt == GS_F32) {
        const float *bb = b;
        float *yy = y;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                yy[i * cols + j] += bb[j];
    } else {
        const double *bb = b;
        double *yy = y;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                yy[i * cols + j] += bb[j];
    }
}

void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s)
{
    if (dt == GS_F32) {
        const float *yy = y;
        float *ss = s;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                ss[j] += yy[i * cols + j];
    } else {
        const double *yy = y;
        double *ss = s;
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                ss[j] += yy[i * cols + j];
    }
}

void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y)
{
    if (dt == GS_F32) {
        const float *xx = x;
        float *yy = y;
        float a = (float)alpha;
        for (size_t i = 0; i < n; i++)
            yy[i] += a * xx[i];
    } else {
        const double *xx = x;
        double *yy = y;
        for (size_t i = 0; i < n; i++)
            yy[i] += alpha * xx[i];
    }
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

/* Reductions: partial sums over chunks of REDUCE_CHUNK elements, added in
   chunk order, so the result does not depend on the thread count. */
enum { REDUCE_CHUNK = 4096 };

#define DEFINE_REDUCE(NAME, EXPR, INIT, COMBINE)                                             \
    double NAME(gs_dtype dt, size_t n, const void *x)                                        \
    {                                                                                        \
        double acc = INIT;                                                                   \
        for (size_t b = 0; b < n; b += REDUCE_CHUNK) {                                       \
            size_t e = b + REDUCE_CHUNK < n ? b + REDUCE_CHUNK : n;                          \
            double part = INIT;                                                              \
            if (dt == GS_F32) {                                                              \
                const float *v = x;                                                          \
                for (size_t i = b; i < e; i++) {                                             \
                    double xi = v[i];                                                        \
                    part = COMBINE(part, EXPR);                                              \
                }                                                                            \
            } else {                                                                         \
                const double *v = x;                                                         \
                for (size_t i = b; i < e; i++) {                                             \
                    double xi = v[i];                                                        \
                    part = COMBINE(part, EXPR);                                              \
                }                                                                            \
            }                                                                                \
            acc = COMBINE(acc, part);                                                        \
        }                                                                                    \
        return acc;                                                                          \
    }

#define ADD(a, b) ((a) + (b))
#define MAXOF(a, b) ((b) > (a) ? (b) : (a))
DEFINE_REDUCE(gs_sumsq, xi *xi, 0.0, ADD)
DEFINE_REDUCE(gs_sum, xi, 0.0, ADD)
DEFINE_REDUCE(gs_maxabs, fabs(xi), 0.0, MAXOF)

int gs_all_finite(gs_dtype dt, size_t n, const void *x)
{
    if (dt == GS_F32) {
        const float *v = x;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(v[i]))
                return 0;
    } else {
        const double *v = x;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(v[i]))
                return 0;
    }
    return 1;
}
