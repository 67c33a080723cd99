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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include "kernels/kernels.h"
#include "base/util.h"

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

/* Element-wise work on arrays this long is split among the threads in
   chunks of ELEMENTWISE_GRAIN, which changes no result. */
enum { ELEMENTWISE_PARALLEL_MIN = 1 << 17, ELEMENTWISE_GRAIN = 1 << 15 };

static int split_elementwise(size_t n) { return n >= ELEMENTWISE_PARALLEL_MIN && n_threads > 1; }

typedef struct rows_job {
    size_t rows, cols;
    const float *a;
    float *b;
} rows_job;

GS_MULTIVERSION
static void add_row_range(void *arg, size_t r0, size_t r1)
{
    const rows_job *j = arg;
    const float *restrict bias = j->a;
    for (size_t i = r0; i < r1; i++) {
        float *restrict yi = j->b + i * j->cols;
#pragma omp simd
        for (size_t c = 0; c < j->cols; c++)
            yi[c] += bias[c];
    }
}

void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y)
{
    if (dt == GS_F32) {
        rows_job j = {rows, cols, b, y};
        if (split_elementwise(rows * cols))
            gs_parallel_for(rows, (ELEMENTWISE_GRAIN + cols - 1) / cols, add_row_range, &j);
        else
            add_row_range(&j, 0, rows);
        return;
    }
    const double *bb = b;
    double *yy = y;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            yy[i * cols + j] += bb[j];
}

/* Each s[j] adds rows in order 0, 1, ...; vectors (and threads) run
   across j. */
GS_MULTIVERSION
static void sum_rows_range(void *arg, size_t c0, size_t c1)
{
    const rows_job *j = arg;
    float *restrict s = j->b;
    for (size_t i = 0; i < j->rows; i++) {
        const float *restrict yi = j->a + i * j->cols;
#pragma omp simd
        for (size_t c = c0; c < c1; c++)
            s[c] += yi[c];
    }
}

void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s)
{
    if (dt == GS_F32) {
        rows_job j = {rows, cols, y, s};
        if (split_elementwise(rows * cols) && cols >= 128)
            gs_parallel_for(cols, 64, sum_rows_range, &j);
        else
            sum_rows_range(&j, 0, cols);
        return;
    }
    const double *yy = y;
    double *ss = s;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            ss[j] += yy[i * cols + j];
}

typedef struct axpy_job {
    float a;
    const float *x;
    float *y;
} axpy_job;

GS_MULTIVERSION
static void axpy_range(void *arg, size_t b, size_t e)
{
    const axpy_job *j = arg;
    const float *restrict x = j->x;
    float *restrict y = j->y;
    const float a = j->a;
#pragma omp simd
    for (size_t i = b; i < e; i++)
        y[i] += a * x[i];
}

void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y)
{
    if (dt == GS_F32) {
        axpy_job j = {(float)alpha, x, y};
        if (split_elementwise(n))
            gs_parallel_for(n, ELEMENTWISE_GRAIN, axpy_range, &j);
        else
            axpy_range(&j, 0, n);
        return;
    }
    const double *xx = x;
    double *yy = y;
    for (size_t i = 0; i < n; i++)
        yy[i] += alpha * xx[i];
}

static void zero_range(void *arg, size_t b, size_t e)
{
    memset((char *)arg + b, 0, e - b);
}

void gs_zero(size_t bytes, void *x)
{
    if (split_elementwise(bytes / sizeof(float)))
        gs_parallel_for(bytes, (size_t)ELEMENTWISE_GRAIN * sizeof(float), zero_range, x);
    else
        memset(x, 0, bytes);
}

/* Chunks are handed out as threads free up (guided: large pieces first,
   smaller towards the end), so that a thread on a busy or slower core
   takes fewer; which thread runs a chunk changes no result. */
void gs_parallel_for(size_t n, size_t grain, void (*fn)(void *, size_t, size_t), void *arg)
{
    if (grain == 0)
        grain = 1;
    long chunks = (long)((n + grain - 1) / grain);
    int par = chunks > 1 && n_threads > 1;
#pragma omp parallel for schedule(guided) num_threads(n_threads) if (par)
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

/* Runs range(arg, c0, c1) over the REDUCE_CHUNK chunks of n elements: on
   several threads when the array is long, else without entering OpenMP
   (most arrays are small).  The chunks are the same either way. */
static void for_chunks(size_t n, void (*range)(void *, size_t, size_t), void *arg)
{
    size_t chunks = (n + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    if (n >= REDUCE_PARALLEL_MIN && n_threads > 1)
        gs_parallel_for(chunks, 1, range, arg);
    else
        range(arg, 0, chunks);
}

static size_t chunk_len(size_t n, size_t c)
{
    size_t b = c * REDUCE_CHUNK;
    return n - b < REDUCE_CHUNK ? n - b : REDUCE_CHUNK;
}

typedef struct reduce_job {
    gs_dtype dt;
    size_t n;
    const void *x;
    double (*f32)(const float *, size_t);
    double (*f64)(const double *, size_t);
    double *part;
} reduce_job;

static void reduce_range(void *arg, size_t c0, size_t c1)
{
    const reduce_job *j = arg;
    size_t es = j->dt == GS_F32 ? sizeof(float) : sizeof(double);
    for (size_t c = c0; c < c1; c++) {
        const void *p = (const char *)j->x + c * REDUCE_CHUNK * es;
        j->part[c] = j->dt == GS_F32 ? j->f32(p, chunk_len(j->n, c)) : j->f64(p, chunk_len(j->n, c));
    }
}

static double reduce(gs_dtype dt, size_t n, const void *x, double (*f32)(const float *, size_t),
                     double (*f64)(const double *, size_t), int max)
{
    size_t chunks = (n + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    double stack[64], *part = chunks <= 64 ? stack : gs_xmalloc(chunks * sizeof(double));
    reduce_job j = {dt, n, x, f32, f64, part};
    for_chunks(n, reduce_range, &j);
    double acc = 0.0;
    for (size_t c = 0; c < chunks; c++)
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

/* Loops across units, so that they vectorize: alive[u] collects f' != 0
   over the examples. */
GS_MULTIVERSION
static size_t act_mark_f32(const float *restrict d, size_t batch, size_t units, float thr,
                           int32_t *restrict alive)
{
    for (size_t b = 0; b < batch; b++) {
        const float *restrict db = d + b * units;
#pragma omp simd
        for (size_t u = 0; u < units; u++)
            alive[u] |= db[u] != 0.0f;
    }
    size_t n = batch * units, sat = 0;
    if (thr > 0) {
#pragma omp simd reduction(+ : sat)
        for (size_t i = 0; i < n; i++)
            sat += fabsf(d[i]) < thr;
    }
    return sat;
}

size_t gs_act_mark(gs_dtype dt, const void *deriv, size_t batch, size_t units, double thr,
                   int32_t *alive)
{
    if (dt == GS_F32)
        return act_mark_f32(deriv, batch, units, (float)thr, alive);
    const double *d = deriv;
    for (size_t b = 0; b < batch; b++)
        for (size_t u = 0; u < units; u++)
            alive[u] |= d[b * units + u] != 0.0;
    size_t sat = 0;
    for (size_t i = 0; thr > 0 && i < batch * units; i++)
        sat += fabs(d[i]) < thr;
    return sat;
}

/* Sum of (a - b)^2 over one chunk, in sumsq's lanes. */
GS_MULTIVERSION
static double sqdist_chunk(const float *restrict a, const float *restrict b, size_t n)
{
    v4d a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        v4d d0 = LOAD4_F32(a + i) - LOAD4_F32(b + i), d1 = LOAD4_F32(a + i + 4) - LOAD4_F32(b + i + 4),
            d2 = LOAD4_F32(a + i + 8) - LOAD4_F32(b + i + 8),
            d3 = LOAD4_F32(a + i + 12) - LOAD4_F32(b + i + 12);
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    double acc[LANES];
    memcpy(acc, &a0, sizeof a0);
    memcpy(acc + 4, &a1, sizeof a1);
    memcpy(acc + 8, &a2, sizeof a2);
    memcpy(acc + 12, &a3, sizeof a3);
    for (int l = 0; i < n; i++, l++) {
        double d = (double)a[i] - (double)b[i];
        acc[l] += d * d;
    }
    return combine_lanes(acc, 0);
}

typedef struct sqdist_job {
    const float *a, *b;
    size_t n;
    double *part;
} sqdist_job;

static void sqdist_range(void *arg, size_t c0, size_t c1)
{
    const sqdist_job *j = arg;
    for (size_t c = c0; c < c1; c++)
        j->part[c] = sqdist_chunk(j->a + c * REDUCE_CHUNK, j->b + c * REDUCE_CHUNK,
                                  chunk_len(j->n, c));
}

double gs_sqdist_f32(size_t n, const float *a, const float *b)
{
    size_t chunks = (n + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    double stack[64], *part = chunks <= 64 ? stack : gs_xmalloc(chunks * sizeof(double));
    sqdist_job j = {a, b, n, part};
    for_chunks(n, sqdist_range, &j);
    double acc = 0.0;
    for (size_t c = 0; c < chunks; c++)
        acc += part[c];
    if (part != stack)
        free(part);
    return acc;
}

/*
 * Gradient statistics for the monitor's detailed steps.
 *
 * gs_grad_norms: sum of g^2 (gs_sumsq's lanes and chunks, so the bits
 * match), sum of w^2 and the largest |g|.
 *
 * gs_grad_histogram: the decade of every |g|, from two tables indexed by
 * the float's binary exponent (hist_tables below).
 */
/* Sum of g^2 (sumsq_f32 itself, so that the bits match gs_sumsq's) and the
   largest |g| over one chunk.  A NaN makes the sum NaN (squares cannot
   cancel an infinity), which is how the maximum learns of it. */
GS_MULTIVERSION
static double sumsq_max_f32(const float *restrict g, size_t n, double *gmax)
{
    double sum = sumsq_f32(g, n);
    /* The chunk is in L1 now: a max-only pass, on the bits (for floats
       >= 0 the order of their bits as integers is theirs). */
    int32_t top = 0;
#pragma omp simd reduction(max : top)
    for (size_t k = 0; k < n; k++) {
        int32_t u;
        memcpy(&u, g + k, sizeof u);
        u &= 0x7fffffff;
        top = u > top ? u : top;
    }
    float mx;
    memcpy(&mx, &top, sizeof mx);
    *gmax = sum != sum ? NAN : (double)mx;
    return sum;
}

static void norms_chunk(const float *g, const float *w, size_t n, double *gg, double *ww,
                        double *gmax)
{
    *gg = sumsq_max_f32(g, n, gmax);
    *ww = w ? sumsq_f32(w, n) : 0.0;
}

typedef struct norms_job {
    const float *g, *w;
    size_t n;
    double *gg, *ww, *gmax; /* per chunk */
} norms_job;

static void norms_range(void *arg, size_t c0, size_t c1)
{
    const norms_job *j = arg;
    for (size_t c = c0; c < c1; c++) {
        size_t b = c * REDUCE_CHUNK;
        norms_chunk(j->g + b, j->w ? j->w + b : NULL, chunk_len(j->n, c), &j->gg[c], &j->ww[c],
                    &j->gmax[c]);
    }
}

void gs_grad_norms(const float *g, const float *w, size_t n, double *gg, double *ww,
                   double *gmax)
{
    size_t chunks = (n + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    double stack[3 * 64];
    double *part = chunks <= 64 ? stack : gs_xmalloc(chunks * 3 * sizeof(double));
    norms_job j = {g, w, n, part, part + chunks, part + 2 * chunks};
    for_chunks(n, norms_range, &j);
    *gg = *ww = *gmax = 0.0;
    for (size_t c = 0; c < chunks; c++) {
        *gg += j.gg[c];
        *ww += j.ww[c];
        *gmax = *gmax != *gmax || j.gmax[c] != j.gmax[c] ? NAN
                : j.gmax[c] > *gmax                     ? j.gmax[c]
                                                        : *gmax;
    }
    if (part != stack)
        free(part);
}

/* Per binary exponent e of a float: the bin of the binade's smallest
   value, and the float at which the binade crosses into the next bin (a
   binade holds at most one power of ten; NO_EDGE when it stays in one bin).
   Denormals all land below 10^lo, which is why lo may not go below -37. */
typedef struct hist_tables {
    int32_t bin[256];
    int32_t edge[256]; /* the float's bits: |g| compares as an integer */
} hist_tables;

enum { NO_EDGE = 0x7fffffff }; /* above every |g| of a finite binade */

/* The smallest float >= 10^k for k in [EDGE_MIN, EDGE_MAX] (decided in
   double, where 10^k is exact enough to order it against every float). */
enum { EDGE_MIN = -46, EDGE_MAX = 40 };
static float edges[EDGE_MAX - EDGE_MIN + 1];
static pthread_once_t edges_once = PTHREAD_ONCE_INIT;

static void edges_init(void)
{
    for (int k = EDGE_MIN; k <= EDGE_MAX; k++) {
        double t = pow(10.0, k);
        float f = (float)t;
        edges[k - EDGE_MIN] = (double)f < t ? nextafterf(f, INFINITY) : f;
    }
}

static float decade_edge(int k) { return edges[k - EDGE_MIN]; }

static void hist_tables_init(hist_tables *t, int lo, int hi)
{
    const int last = hi - lo + 2;
#define BIN_OF(k) ((k) < lo ? 1 : (k) >= hi ? last : 2 + (k) - lo)
    t->bin[0] = 1; /* denormals: below 10^lo (zero is caught apart) */
    t->edge[0] = NO_EDGE;
    t->bin[255] = last - 1; /* infinities and NaN: every one reaches "edge" 0 */
    t->edge[255] = 0;
    for (int e = 1; e < 255; e++) {
        float v0 = ldexpf(1.0f, e - 127), v1 = e < 254 ? ldexpf(1.0f, e - 126) : INFINITY;
        int k = (int)floor((e - 127) * 0.30102999566398119521);
        while (decade_edge(k + 1) <= v0)
            k++;
        while (decade_edge(k) > v0)
            k--;
        float up = decade_edge(k + 1);
        t->bin[e] = BIN_OF(k);
        int32_t bits;
        memcpy(&bits, &up, sizeof bits);
        t->edge[e] = up < v1 && BIN_OF(k + 1) != BIN_OF(k) ? bits : NO_EDGE;
    }
#undef BIN_OF
}

enum { STATS_BLOCK = 256 };

/* Bins are computed a block at a time from the tables, in integers (a loop
   the compiler vectorizes with gathers; float comparisons with a NaN would
   keep it from doing so), then counted into four sub-histograms so that
   consecutive increments of one bin do not wait on each other. */
GS_MULTIVERSION
static void histogram_chunk(const float *restrict g, size_t n, const hist_tables *restrict t,
                            int last, uint32_t *restrict hist)
{
    uint32_t sub[4][GS_STATS_MAX_BINS];
    memset(sub, 0, sizeof sub);
    for (size_t b = 0; b < n; b += STATS_BLOCK) {
        size_t len = n - b < STATS_BLOCK ? n - b : STATS_BLOCK;
        int32_t bins[STATS_BLOCK];
        const float *gb = g + b;
        for (size_t i = 0; i < len; i++) {
            int32_t u;
            memcpy(&u, gb + i, sizeof u);
            u &= 0x7fffffff;
            const int32_t e = u >> 23;
            const int32_t bin = t->bin[e] + (u >= t->edge[e]);
            bins[i] = u == 0 ? 0 : bin;
        }
        size_t i = 0;
        for (; i + 4 <= len; i += 4) {
            sub[0][bins[i]]++;
            sub[1][bins[i + 1]]++;
            sub[2][bins[i + 2]]++;
            sub[3][bins[i + 3]]++;
        }
        for (; i < len; i++)
            sub[0][bins[i]]++;
    }
    for (int k = 0; k <= last; k++)
        hist[k] += sub[0][k] + sub[1][k] + sub[2][k] + sub[3][k];
}

typedef struct hist_job {
    const float *g;
    size_t n;
    const hist_tables *t;
    int last;
    uint32_t *hist; /* per chunk, GS_STATS_MAX_BINS each */
} hist_job;

static void hist_range(void *arg, size_t c0, size_t c1)
{
    const hist_job *j = arg;
    for (size_t c = c0; c < c1; c++) {
        histogram_chunk(j->g + c * REDUCE_CHUNK, chunk_len(j->n, c), j->t, j->last,
                        j->hist + c * GS_STATS_MAX_BINS);
    }
}

void gs_grad_histogram(const float *g, size_t n, int lo, int hi, uint32_t *hist)
{
    /* the tables of the last (lo, hi) asked for: the monitor's, every time */
    static hist_tables cache;
    static int cache_lo = 1, cache_hi = 0;
    static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_once(&edges_once, edges_init);
    hist_tables t;
    pthread_mutex_lock(&cache_lock);
    if (cache_lo != lo || cache_hi != hi) {
        hist_tables_init(&cache, lo, hi);
        cache_lo = lo;
        cache_hi = hi;
    }
    t = cache;
    pthread_mutex_unlock(&cache_lock);
    const int last = hi - lo + 2;
    if (n < REDUCE_PARALLEL_MIN || n_threads == 1) {
        histogram_chunk(g, n, &t, last, hist); /* counts: no order to keep */
        return;
    }
    size_t chunks = (n + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    size_t hbytes = chunks * GS_STATS_MAX_BINS * sizeof(uint32_t);
    uint32_t *h = memset(gs_xmalloc(hbytes), 0, hbytes);
    hist_job j = {g, n, &t, last, h};
    gs_parallel_for(chunks, 1, hist_range, &j);
    for (size_t c = 0; c < chunks; c++)
        for (int k = 0; k <= last; k++)
            hist[k] += h[c * GS_STATS_MAX_BINS + (size_t)k];
    free(h);
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
