/*
 * Element-wise kernels and reductions used by the host and the trainer
 * (matrix products are in gemm.c).
 *
 * Determinism: every output element is computed by one thread, in an order
 * fixed by the problem shape alone, and every reduction sums fixed-size
 * chunks in chunk order, each chunk in fixed lanes combined in a fixed
 * tree.  So results are bit-identical at any thread count.
 *
 * The hot loops are compiled once per kernel set (baseline x86-64,
 * AVX2+FMA, AVX-512: kernels_isa.h) and the set the GEMM runs is called,
 * so one binary runs on any x86-64 and GRADSCOPE_ISA switches these loops
 * too; no copy reassociates a sum, so every set gives the same bits.
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

void gs_parallel_jobs(size_t n, void (*fn)(void *, size_t, size_t), void *arg)
{
    int par = n > 1 && n_threads > 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (par)
    for (long j = 0; j < (long)n; j++)
        fn(arg, (size_t)j, (size_t)j + 1);
}

/*
 * Reductions, in double: chunks of REDUCE_CHUNK elements, added in chunk
 * order.  Within a chunk, element i goes to lane i % 16 (four vectors of
 * four doubles, or two of eight with AVX-512: independent accumulators, so
 * the loop is not bound by the latency of one addition), each lane adding
 * its elements in index order, and the lanes are combined by a fixed
 * pairwise tree: ((l0+l8)+(l4+l12))+((l2+l10)+(l6+l14)) + the same for the
 * odd lanes, i.e. lane l += lane l+w for w = 8, 4, 2, 1.  Long arrays have their chunks summed by several threads.
 */
enum { REDUCE_CHUNK = 4096, LANES = 16, REDUCE_PARALLEL_MIN = 1 << 16 };

static double combine_lanes(double *acc, int max)
{
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = max ? (acc[l + w] > acc[l] ? acc[l + w] : acc[l]) : acc[l] + acc[l + w];
    return acc[0];
}

typedef struct axpy_job {
    float a;
    const float *x;
    float *y;
} axpy_job;

/* Per binary exponent e of a float: the bin of the binade's smallest
   value, and the float at which the binade crosses into the next bin (a
   binade holds at most one power of ten; NO_EDGE when it stays in one bin).
   Denormals all land below 10^lo, which is why lo may not go below -37. */
typedef struct hist_tables {
    int32_t bin[256];
    int32_t edge[256]; /* the float's bits: |g| compares as an integer */
} hist_tables;

enum { STATS_BLOCK = 256 };

/* One kernel set's copies of the loops (kernels_isa.h). */
typedef struct kernel_set {
    const char *name;
    void (*add_row_range)(void *, size_t, size_t);
    void (*sum_rows_range)(void *, size_t, size_t);
    void (*axpy_range)(void *, size_t, size_t);
    double (*sumsq_f32)(const float *, const float *, size_t);
    double (*sumsq_f64)(const double *, const double *, size_t);
    double (*sum_f32)(const float *, const float *, size_t);
    double (*sum_f64)(const double *, const double *, size_t);
    double (*sqdist)(const float *, const float *, size_t);
    size_t (*act_mark_f32)(const float *, size_t, size_t, float, int32_t *);
    double (*sumsq_max_f32)(const float *, size_t, double *);
    void (*histogram_chunk)(const float *, size_t, const hist_tables *, int, uint32_t *);
    int (*all_finite_f32)(size_t, const float *);
} kernel_set;

#define ISA(name) name##_portable
#define ISA_NAME "portable"
#define VW 4
#include "kernels/kernels_isa.h"
#undef ISA
#undef ISA_NAME
#undef VW

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GS_KERNELS_X86 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA(name) name##_avx2
#define ISA_NAME "avx2"
#define VW 4
#include "kernels/kernels_isa.h"
#undef ISA
#undef ISA_NAME
#undef VW
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define ISA(name) name##_avx512
#define ISA_NAME "avx512"
#define VW 8
#include "kernels/kernels_isa.h"
#undef ISA
#undef ISA_NAME
#undef VW
#pragma GCC pop_options
#endif

/* The set the GEMM runs (GRADSCOPE_ISA or the best the processor has), so
   that one variable switches every kernel. */
static const kernel_set *kset;
static pthread_once_t kset_once = PTHREAD_ONCE_INIT;

static void kset_choose(void)
{
    const char *name = gs_isa_name();
    kset = &set_portable;
#ifdef GS_KERNELS_X86
    if (!strcmp(name, set_avx2.name))
        kset = &set_avx2;
    else if (!strcmp(name, set_avx512.name))
        kset = &set_avx512;
#endif
}

static const kernel_set *ks(void)
{
    pthread_once(&kset_once, kset_choose);
    return kset;
}

const char *gs_kernels_isa_name(void) { return ks()->name; }

void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y)
{
    if (dt == GS_F32) {
        rows_job j = {rows, cols, b, y};
        if (split_elementwise(rows * cols))
            gs_parallel_for(rows, (ELEMENTWISE_GRAIN + cols - 1) / cols, ks()->add_row_range, &j);
        else
            ks()->add_row_range(&j, 0, rows);
        return;
    }
    const double *bb = b;
    double *yy = y;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            yy[i * cols + j] += bb[j];
}

void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s)
{
    if (dt == GS_F32) {
        rows_job j = {rows, cols, y, s};
        if (split_elementwise(rows * cols) && cols >= 128)
            gs_parallel_for(cols, 64, ks()->sum_rows_range, &j);
        else
            ks()->sum_rows_range(&j, 0, cols);
        return;
    }
    const double *yy = y;
    double *ss = s;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            ss[j] += yy[i * cols + j];
}

void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y)
{
    if (dt == GS_F32) {
        axpy_job j = {(float)alpha, x, y};
        if (split_elementwise(n))
            gs_parallel_for(n, ELEMENTWISE_GRAIN, ks()->axpy_range, &j);
        else
            ks()->axpy_range(&j, 0, n);
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

/* Rows a batch gathers at random from a data set larger than the caches:
   each row's first lines miss before the hardware prefetcher sees the
   stream, so the lines of the row GATHER_AHEAD further on are requested
   while this one is copied (mnist-mlp's 128 rows of 784 floats: 38 to
   23 us; docs/PERFORMANCE.md). */
enum { GATHER_AHEAD = 2, CACHE_LINE = 64 };

void gs_gather_rows(size_t n, size_t width, const float *src, const size_t *idx, float *dst)
{
    size_t bytes = width * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        if (i + GATHER_AHEAD < n) {
            const char *next = (const char *)(src + idx[i + GATHER_AHEAD] * width);
            for (size_t b = 0; b < bytes; b += CACHE_LINE)
                __builtin_prefetch(next + b);
        }
        memcpy(dst + i * width, src + idx[i] * width, bytes);
    }
}

/* Largest |x| over one chunk (no hot caller: plain loop). */
#define DEFINE_MAX_CHUNK(NAME, T)                                                            \
    static double NAME(const T *restrict v, const T *unused, size_t n)                       \
    {                                                                                        \
        (void)unused;                                                                        \
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
    double (*f32)(const float *, const float *, size_t);
    double (*f64)(const double *, const double *, size_t);
    double *part;
} reduce_job;

static void reduce_range(void *arg, size_t c0, size_t c1)
{
    const reduce_job *j = arg;
    size_t es = j->dt == GS_F32 ? sizeof(float) : sizeof(double);
    for (size_t c = c0; c < c1; c++) {
        const void *p = (const char *)j->x + c * REDUCE_CHUNK * es;
        j->part[c] = j->dt == GS_F32 ? j->f32(p, NULL, chunk_len(j->n, c))
                                     : j->f64(p, NULL, chunk_len(j->n, c));
    }
}

static double reduce(gs_dtype dt, size_t n, const void *x,
                     double (*f32)(const float *, const float *, size_t),
                     double (*f64)(const double *, const double *, size_t), int max)
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
    return reduce(dt, n, x, ks()->sumsq_f32, ks()->sumsq_f64, 0);
}

double gs_sum(gs_dtype dt, size_t n, const void *x) { return reduce(dt, n, x, ks()->sum_f32, ks()->sum_f64, 0); }

/* NaN is not ordered: a NaN element leaves the maximum as it was, like
   the scalar loop this replaces; gs_all_finite reports NaN. */
double gs_maxabs(gs_dtype dt, size_t n, const void *x)
{
    return reduce(dt, n, x, maxabs_f32, maxabs_f64, 1);
}

size_t gs_act_mark(gs_dtype dt, const void *deriv, size_t batch, size_t units, double thr,
                   int32_t *alive)
{
    if (dt == GS_F32)
        return ks()->act_mark_f32(deriv, batch, units, (float)thr, alive);
    const double *d = deriv;
    for (size_t b = 0; b < batch; b++)
        for (size_t u = 0; u < units; u++)
            alive[u] |= d[b * units + u] != 0.0;
    size_t sat = 0;
    for (size_t i = 0; thr > 0 && i < batch * units; i++)
        sat += fabs(d[i]) < thr;
    return sat;
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
        j->part[c] = ks()->sqdist(j->a + c * REDUCE_CHUNK, j->b + c * REDUCE_CHUNK,
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
static void norms_chunk(const float *g, const float *w, size_t n, double *gg, double *ww,
                        double *gmax)
{
    *gg = ks()->sumsq_max_f32(g, n, gmax);
    *ww = w ? ks()->sumsq_f32(w, NULL, n) : 0.0;
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
        ks()->histogram_chunk(j->g + c * REDUCE_CHUNK, chunk_len(j->n, c), j->t, j->last,
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
        ks()->histogram_chunk(g, n, &t, last, hist); /* counts: no order to keep */
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

int gs_all_finite(gs_dtype dt, size_t n, const void *x)
{
    if (dt == GS_F32)
        return ks()->all_finite_f32(n, x);
    const double *v = x;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}
