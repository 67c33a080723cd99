/*
 * Matrix products C = alpha op(A) op(B) + beta C, row-major.
 *
 * Float products run on a register tile: up to 6 rows by 16 columns of C
 * (12 by 32 with AVX-512) stay in registers while p runs over a chunk of
 * K, each step broadcasting one element of op(A) per row against vectors
 * of a row of op(B).  Operands are read in place when their layout allows
 * it (small problems then pay no copying at all) and copied into
 * contiguous panels ("packed") when op(B) is transposed or an operand is
 * too large for the caches to hold at its natural stride.  The loops
 * around the tile follow Goto's blocking: KC-deep slices of K, rows of A
 * in blocks sized to the core's L2 (gemm_tile.h).
 *
 * The tile exists three times: portable C here, AVX2+FMA (gemm_avx2.c) and
 * AVX-512 (gemm_avx512.c).  The best the processor runs is chosen at run
 * time, so one x86-64 binary runs everywhere; GRADSCOPE_ISA=portable|avx2|
 * avx512 forces one (the program refuses a set the processor lacks).
 *
 * Determinism: C(i, j) is always the sum over K in chunks of KC, each
 * chunk a chain of fused multiply-adds in p order in one register lane
 * (fmaf in the portable tile), scaled by alpha and added to C in chunk
 * order.  Threads own disjoint blocks of C whose edges lie on the 6 x 16
 * tile grid; tiles at the edges of C are computed with the same
 * per-element operations as full ones.  So neither the thread count, nor
 * the split, nor packing, nor the instruction set changes a single bit of
 * the result (tests/test_kernels.c checks each set against that order).
 */
#include "config.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/gemm_tile.h"
#include "base/util.h"
#include "kernels/kernels.h"

/*
 * Per-thread packing buffers, grown as needed and kept for the next call
 * (threads of the OpenMP team persist between parallel regions): one for
 * op(A) and one for the whole of op(B), which the calling thread's team
 * packs together, and one for the slice of op(B) a thread packs itself.
 * Every thread's buffers are also listed globally and released at exit.
 */
typedef struct scratch {
    float *buf[3];
    size_t cap[3];
    struct scratch *next;
} scratch;

static _Thread_local scratch *thread_scratch;
static scratch *all_scratch;
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;

float *gs_gemm_scratch(int which, size_t floats)
{
    scratch *s = thread_scratch;
    if (!s) {
        s = thread_scratch = gs_xmalloc(sizeof *s);
        memset(s, 0, sizeof *s);
        pthread_mutex_lock(&scratch_lock);
        s->next = all_scratch;
        all_scratch = s;
        pthread_mutex_unlock(&scratch_lock);
    }
    if (floats > s->cap[which]) {
        free(s->buf[which]);
        s->buf[which] = gs_xmalloc_aligned(floats * sizeof(float));
        s->cap[which] = floats;
    }
    return s->buf[which];
}

__attribute__((destructor)) static void scratch_release(void)
{
    for (scratch *s = all_scratch, *next; s; s = next) {
        next = s->next;
        for (size_t i = 0; i < GS_ARRAY_LEN(s->buf); i++)
            free(s->buf[i]);
        free(s);
    }
    all_scratch = NULL;
}


static ALWAYS_INLINE void tile_portable(int mr, int nr, size_t kc, const float *a, size_t ars,
                                        size_t acs, const float *b, size_t brs, float *c,
                                        size_t ldc, const float *ab)
{
    const float alpha = ab[0], beta = ab[1];
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    /* fmaf where the vector tiles fuse: the same roundings, the same bits */
    for (size_t p = 0; p < kc; p++, a += acs, b += brs)
        for (int r = 0; r < mr; r++) {
            const float av = a[r * ars];
            for (int j = 0; j < nr; j++)
                acc[r][j] = fmaf(av, b[j], acc[r][j]);
        }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < nr; j++) {
            float t = alpha == 1.0f ? acc[r][j] : alpha * acc[r][j];
            cr[j] = beta == 0.0f ? t : beta == 1.0f ? cr[j] + t : fmaf(beta, cr[j], t);
        }
    }
}


static void pack_bt_portable(size_t kc, size_t nc, const float *b, size_t bcs, float *dst)
{
    pack_b_cols(kc, nc, b, bcs, dst);
}

static void pack_br_portable(size_t kc, size_t nc, const float *b, size_t brs, float *dst)
{
    pack_b_rows(kc, nc, b, brs, dst, copy_panel_row);
}

static void pack_ar_portable(size_t mc, size_t kc, const float *a, size_t ars, float *dst)
{
    pack_a_rows(mc, kc, a, ars, dst);
}

static void pack_ac_portable(size_t mc, size_t kc, const float *a, size_t acs, float *dst)
{
    pack_a_cols(mc, kc, a, acs, dst);
}

static void tile_portable_fn(int mr, int nr, size_t kc, const float *a, size_t ars, size_t acs,
                             size_t a2, const float *b, size_t brs, size_t b2, float *c,
                             size_t ldc, const float *ab)
{
    (void)a2, (void)b2; /* MR x NR at most */
    tile_portable(mr, nr, kc, a, ars, acs, b, brs, c, ldc, ab);
}

static void block_portable(const sgemm *g, const float *ap, const float *bp, size_t i0, size_t i1,
                           size_t j0, size_t j1)
{
    block_generic(g, ap, bp, i0, i1, j0, j1, MR, NR, tile_portable_fn, pack_bt_portable,
                  pack_br_portable);
}

static void pack_a_portable(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_a_panels(g, q0, q1, dst, pack_ar_portable, pack_ac_portable);
}

static void pack_b_portable(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_b_panels(g, q0, q1, dst, pack_bt_portable, pack_br_portable);
}


static const gs_gemm_impl portable = {"portable", block_portable, pack_a_portable,
                                      pack_b_portable, 1};

/* The variants this processor runs, best last. */
static size_t available(const gs_gemm_impl **list)
{
    size_t n = 0;
    list[n++] = &portable;
#ifdef GS_GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        list[n++] = &gs_gemm_avx2;
        if (__builtin_cpu_supports("avx512f"))
            list[n++] = &gs_gemm_avx512;
    }
#endif
    return n;
}

GS_API int gs_isa_list(const char **names, int max)
{
    const gs_gemm_impl *list[3];
    size_t n = available(list);
    for (size_t i = 0; i < n && (int)i < max; i++)
        names[i] = list[i]->name;
    return (int)n;
}

static const gs_gemm_impl *impl;
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;
size_t gs_gemm_mc = MC;

/* A block of packed A (mc x KC floats) takes 9/32 of L2, which leaves room
   for the block's slice of op(B) and C: MC = 144 rows was sized for a
   512 KiB L2 (Zen 3); on a 1 MiB one (Zen 5) 288 rows ran the weight
   gradient of a 1024-wide layer faster (docs/PERFORMANCE.md, "AVX-512").
   Rounded down to whole 12-row tiles, between MC and four times it. */
static size_t row_block(void)
{
    long l2 = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (l2 <= 0)
        return MC;
    size_t rows = (size_t)l2 / (KC * sizeof(float)) * 9 / 32 / 12 * 12;
    return rows < MC ? MC : min_sz(rows, 4 * MC);
}

/* GRADSCOPE_ISA's variant, NULL when it names none this processor runs;
   the best one when it is unset. */
static const gs_gemm_impl *chosen(void)
{
    const gs_gemm_impl *list[3];
    size_t n = available(list);
    const char *env = getenv("GRADSCOPE_ISA");
    if (!env || !*env)
        return list[n - 1];
    for (size_t i = 0; i < n; i++)
        if (!strcmp(env, list[i]->name))
            return list[i];
    return NULL;
}

GS_API int gs_isa_check(gs_error *err)
{
    if (chosen())
        return 0;
    const char *env = getenv("GRADSCOPE_ISA"), *names[3];
    int n = gs_isa_list(names, 3);
    int known = !strcmp(env, "portable") || !strcmp(env, "avx2") || !strcmp(env, "avx512");
    gs_err_set(err, "GRADSCOPE_ISA=%s: %s; this processor runs %s%s%s%s%s", env,
               known ? "this processor lacks it" : "not a kernel set (portable, avx2, avx512)",
               names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "",
               n > 2 ? names[2] : "");
    return -1;
}

/* An unusable GRADSCOPE_ISA was refused by gs_gemm_isa_check where the
   program starts; a library caller that did not ask gets the best. */
static void kernels_choose(void)
{
    const gs_gemm_impl *list[3];
    gs_gemm_mc = row_block();
    impl = chosen();
    if (!impl)
        impl = list[available(list) - 1];
}

static const gs_gemm_impl *kernels_get(void)
{
    pthread_once(&impl_once, kernels_choose);
    return impl;
}

GS_API const char *gs_isa_name(void) { return kernels_get()->name; }

/* op(A) is packed once per product, for all threads, when its blocks
   outgrow L1 and enough columns of B reuse them to repay the copy. */
static int pack_a_pays(const sgemm *g)
{
    return min_sz(g->k, KC) * min_sz(g->m, MC) > DIRECT_A_MAX && g->n >= 64;
}

/* Column blocks at most (a bound on the array, not a tuning choice). */
enum { MAX_COL_BLOCKS = 512 };

/* How C is shared: tm bands of rows, each cut into tn blocks of columns
   at col[] (in tiles); block b is band b / tn, columns b % tn. */
typedef struct split {
    size_t tm, tn;
    size_t col[MAX_COL_BLOCKS + 1];
} split;

/*
 * How to share C among `threads` threads: blocks on the tile grid, taken
 * by the threads as they free up, so that a thread the system slows (a
 * busy or shared core) takes fewer.
 *
 * When every block packs its own slice of op(B) (in the forward pass a
 * transposed copy of the weights), blocks split only the columns, so that
 * no slice is packed twice.  Their widths are guided: each block takes
 * 1/(2t) of the tiles of columns still left, so the first are wide and
 * the last, whose finish decides when the team is done, narrow (64 tiles
 * on 2 threads: 16, 12, 9, 7, 5, 4, 3, 2, 2, 1, 1, 1, 1), in multiples of
 * `unit` tiles, the register tile's width (AVX-512: 16, 12, 10, 8, 6, 4,
 * 2, 2, 2, 2; mnist-mlp's 16 tiles: 4, 4, 2, 2, 2, 2).  Every block
 * rereads all of op(A) from the shared cache, for its few columns if it
 * is narrow, and the more threads do that at once the more it costs: so
 * blocks are at least t/2 tiles wide (on 8 threads, 64 tiles make 16
 * blocks of 4).  Rows are split only when C has fewer tiles of columns
 * than there are threads.
 *
 * Columns alone need enough of them: eight tiles per thread, or exactly
 * as many blocks of the least width per thread (columns_suffice(): two
 * blocks of one AVX-512 tile for 64 columns on two threads).  Otherwise
 * the team packs all of op(B) once, before the blocks (`shared_b`, up to
 * SHARED_B_MAX), and the blocks form a grid of rows and columns, about
 * three per thread, none narrower than four tiles while there are columns
 * enough.  So do blocks that read op(B) in place.  (The grid used to take
 * every product under eight tiles per thread: deep-narrow's first layer,
 * 32 x 64 x 784, then ran six blocks of six rows, half of AVX-512's tile,
 * in 40 us on two threads against 19 us on one; two blocks of 32 columns
 * take 16.)
 */
static size_t round_up(size_t x, size_t unit) { return (x + unit - 1) / unit * unit; }

static int columns_suffice(size_t nt, size_t t, size_t unit)
{
    size_t least = round_up(t / 2 ? t / 2 : 1, unit);
    return nt >= 8 * t || (nt % least == 0 && nt / least % t == 0);
}

static void grid(size_t mt, size_t nt, size_t t, size_t unit, int split_rows, split *s)
{
    if (!split_rows && nt >= t) {
        /* t/2 tiles wide at least, and nt / (MAX_COL_BLOCKS / 2): then
           there are never more than MAX_COL_BLOCKS blocks */
        size_t least = min_sz(t / 2 ? t / 2 : 1, nt / t), j = 0;
        if (least < nt / (MAX_COL_BLOCKS / 2))
            least = nt / (MAX_COL_BLOCKS / 2);
        s->tm = 1;
        s->tn = 0;
        s->col[0] = 0;
        least = round_up(least, unit);
        while (j < nt) {
            size_t w = (nt - j + 2 * t - 1) / (2 * t);
            w = w < least ? least : round_up(w, unit);
            w = min_sz(w, nt - j);
            j += w;
            s->col[++s->tn] = j;
        }
        return;
    }
    if (!split_rows) {
        s->tn = nt;
        s->tm = min_sz(mt, (t + nt - 1) / nt);
    } else {
        s->tn = min_sz(min_sz(nt, 3 * t), nt / 4 ? nt / 4 : 1);
        s->tm = min_sz(mt, (3 * t + s->tn - 1) / s->tn);
        if (s->tm * s->tn < t) /* too few rows to go round: narrower blocks */
            s->tn = min_sz(nt, (t + s->tm - 1) / s->tm);
    }
    s->tn = min_sz(s->tn, MAX_COL_BLOCKS);
    for (size_t b = 0; b <= s->tn; b++)
        s->col[b] = b * nt / s->tn;
}

static void sgemm_run(const sgemm *g)
{
    const gs_gemm_impl *kern = kernels_get();
    size_t t = (size_t)gs_get_threads();
    size_t mt = (g->m + MR - 1) / MR, nt = (g->n + NR - 1) / NR;
    float *ap = pack_a_pays(g) ? gs_gemm_scratch(SCRATCH_A, rows_padded(g->m) * g->k) : NULL;
    if (t <= 1 || (double)g->m * (double)g->n * (double)g->k < PARALLEL_MIN_FMAS) {
        if (ap)
            kern->pack_a(g, 0, mt, ap);
        kern->block(g, ap, NULL, 0, g->m, 0, g->n);
        return;
    }
    int in_place = b_in_place(g, g->n);
    size_t b_floats = cols_padded(g->n) * g->k;
    int shared_b =
        !in_place && !columns_suffice(nt, t, kern->tile_panels) && b_floats <= SHARED_B_MAX;
    float *bp = shared_b ? gs_gemm_scratch(SCRATCH_B_ALL, b_floats) : NULL;
    split s;
    grid(mt, nt, t, kern->tile_panels, shared_b || in_place, &s);
    /* A^T's panels are packed up to eight to a task (192 bytes of each row
       of A), while that leaves four tasks per thread to share the work */
    size_t a_group = g->ars == 1 && mt >= 4 * t ? min_sz(8, mt / (4 * t)) : 1;
    long a_packs = ap ? (long)((mt + a_group - 1) / a_group) : 0;
    long packs = a_packs + (bp ? (long)nt : 0);
    long blocks = (long)(s.tm * s.tn);
#pragma omp parallel num_threads((int)t)
    {
        if (packs) {
#pragma omp for schedule(dynamic, 1)
            for (long q = 0; q < packs; q++) {
                if (q < a_packs)
                    kern->pack_a(g, (size_t)q * a_group, min_sz(((size_t)q + 1) * a_group, mt), ap);
                else
                    kern->pack_b(g, (size_t)(q - a_packs), (size_t)(q - a_packs) + 1, bp);
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (long blk = 0; blk < blocks; blk++) {
            size_t bi = (size_t)blk / s.tn, bj = (size_t)blk % s.tn;
            size_t i0 = bi * mt / s.tm * MR, i1 = min_sz((bi + 1) * mt / s.tm * MR, g->m);
            size_t j0 = s.col[bj] * NR, j1 = min_sz(s.col[bj + 1] * NR, g->n);
            kern->block(g, ap, bp, i0, i1, j0, j1);
        }
    }
}

/* Double products serve the gradient checker: small, single-threaded,
   accumulated in p order. */
static void dgemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha, const double *a,
                  size_t lda, const double *b, size_t ldb, double beta, double *c, size_t ldc)
{
    size_t ars = ta ? 1 : lda, acs = ta ? lda : 1, brs = tb ? 1 : ldb, bcs = tb ? ldb : 1;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += a[i * ars + p * acs] * b[p * brs + j * bcs];
            double *cij = c + i * ldc + j;
            *cij = alpha * s + (beta == 0 ? 0.0 : beta * *cij);
        }
}

void gs_gemm(gs_dtype dt, int ta, int tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
             size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (dt != GS_F32) {
        dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (k == 0 || alpha == 0) {
        float *cf = c, bf = (float)beta;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                cf[i * ldc + j] = bf == 0.0f ? 0.0f : bf * cf[i * ldc + j];
        return;
    }
    sgemm g = {.m = m, .n = n, .k = k,
               .a = a, .ars = ta ? 1 : lda, .acs = ta ? lda : 1,
               .b = b, .brs = tb ? 1 : ldb, .bcs = tb ? ldb : 1,
               .c = c, .ldc = ldc, .alpha = (float)alpha, .beta = (float)beta};
    sgemm_run(&g);
}

