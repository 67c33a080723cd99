/*
 * Matrix products C = alpha op(A) op(B) + beta C, row-major.
 *
 * Float products run on a register tile: up to 6 rows by 16 columns of C
 * stay in registers while p runs over a chunk of K, each step broadcasting
 * one element of op(A) per row against two 8-wide vectors of a row of
 * op(B).  Operands are read in place when their layout allows it (small
 * problems then pay no copying at all) and copied into contiguous panels
 * ("packed") when op(B) is transposed or an operand is too large for the
 * caches to hold at its natural stride.  The loops around the tile follow
 * Goto's blocking: KC-deep slices of K, MC rows of A per L2-resident block.
 *
 * The tile exists twice, as AVX2+FMA intrinsics and as portable C; the
 * first is chosen at run time when the processor has AVX2 and FMA, so one
 * x86-64 binary runs everywhere.  GRADSCOPE_KERNELS=portable forces the
 * second (for testing it, and for comparing).
 *
 * Determinism: C(i, j) is always the sum over K in chunks of KC, each
 * chunk accumulated in p order in one register lane, scaled by alpha and
 * added to C in chunk order.  Threads own disjoint blocks of C whose edges
 * lie on the 6 x 16 tile grid; tiles at the edges of C are computed with
 * the same per-element operations as full ones.  So neither the thread
 * count, nor the split, nor packing changes a single bit of the result.
 */
#include "config.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#include <immintrin.h>
#define GS_GEMM_AVX2 1
#endif
#include "kernels/gemm.h"
#include "base/util.h"
#include "kernels/kernels.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
    MR = 6,    /* rows of the register tile */
    NR = 16,   /* columns of the register tile (two AVX vectors) */
    KC = 256,  /* depth of a slice of K: one B micro-panel is 16 KiB (L1) */
    MC = 144,  /* rows of A per block: 144 KiB packed (L2) */
    NC = 2048, /* columns of B per block: 2 MiB packed (L3) */
};

/* Below this many multiply-adds a product runs on the calling thread:
   waking the team would cost more than it saves. */
#define PARALLEL_MIN_FMAS (192.0 * 1024.0)

/* Operands packed past these sizes (floats of the slice that one block
   reads), so that strided rows do not fight over cache sets. */
#define DIRECT_A_MAX (16 * 1024)
#define DIRECT_B_MAX (4 * 1024)

/* The largest op(B) (floats, 16 MiB) that a team packs whole; past it,
   blocks pack their own slices. */
#define SHARED_B_MAX (4 * 1024 * 1024)

/* One product: op(A)(i, p) = a[i*ars + p*acs], op(B)(p, j) = b[p*brs + j*bcs]. */
typedef struct sgemm {
    size_t m, n, k;
    const float *a;
    size_t ars, acs;
    const float *b;
    size_t brs, bcs;
    float *c;
    size_t ldc;
    float alpha, beta;
} sgemm;

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

enum { SCRATCH_A, SCRATCH_B_ALL, SCRATCH_B };

static _Thread_local scratch *thread_scratch;
static scratch *all_scratch;
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;

static float *scratch_get(int which, size_t floats)
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

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/*
 * Packing.  A block of op(B) (kc x nc) becomes ceil(nc/NR) panels of kc
 * rows of NR floats; a block of op(A) (mc x kc) ceil(mc/MR) panels of kc
 * columns of MR floats.  Panels are padded with zeros: padding only ever
 * meets padding, never a real element of C.
 */

/* One row of a full panel of B, NR floats (the AVX2 build has its own). */
typedef void copy_panel_row_fn(float *dst, const float *src);

static ALWAYS_INLINE void copy_panel_row(float *dst, const float *src)
{
    memcpy(dst, src, NR * sizeof(float));
}

static ALWAYS_INLINE void pack_b_rows(size_t kc, size_t nc, const float *b, size_t brs,
                                      float *dst, copy_panel_row_fn *copy_row)
{
    /* Sixteen rows of B at a time: reads stream along them while writes
       stay contiguous within a panel.  Full panels first. */
    size_t full = nc / NR;
    for (size_t p0 = 0; p0 < kc; p0 += 16) {
        size_t p1 = min_sz(p0 + 16, kc);
        for (size_t q = 0; q < full; q++)
            for (size_t p = p0; p < p1; p++)
                copy_row(dst + (q * kc + p) * NR, b + p * brs + q * NR);
    }
    size_t nr = nc - full * NR;
    if (nr) {
        float *d = dst + full * kc * NR;
        for (size_t p = 0; p < kc; p++) {
            memcpy(d + p * NR, b + p * brs + full * NR, nr * sizeof(float));
            memset(d + p * NR + nr, 0, (NR - nr) * sizeof(float));
        }
    }
}

/* op(B) = B^T: column c of a panel is row j + c of B in memory. */
static ALWAYS_INLINE void pack_b_cols(size_t kc, size_t nc, const float *b, size_t bcs, float *dst)
{
    for (size_t j = 0; j < nc; j += NR, dst += kc * NR) {
        size_t nr = min_sz(NR, nc - j);
        const float *src = b + j * bcs;
        for (size_t c = 0; c < NR; c++)
            for (size_t p = 0; p < kc; p++)
                dst[p * NR + c] = c < nr ? src[c * bcs + p] : 0.0f;
    }
}

/* op(A) = A^T: a panel's column p is a run of row p of A in memory. */
static ALWAYS_INLINE void pack_a_cols(size_t mc, size_t kc, const float *a, size_t acs, float *dst)
{
    size_t full = mc / MR;
    for (size_t p = 0; p < kc; p++) {
        const float *src = a + p * acs;
        for (size_t q = 0; q < full; q++)
            memcpy(dst + (q * kc + p) * MR, src + q * MR, MR * sizeof(float));
    }
    size_t mr = mc - full * MR;
    if (mr) {
        float *d = dst + full * kc * MR;
        for (size_t p = 0; p < kc; p++) {
            memcpy(d + p * MR, a + p * acs + full * MR, mr * sizeof(float));
            memset(d + p * MR + mr, 0, (MR - mr) * sizeof(float));
        }
    }
}

/* op(A) = A: a panel interleaves MR rows of A. */
static ALWAYS_INLINE void pack_a_rows(size_t mc, size_t kc, const float *a, size_t ars,
                                      float *dst)
{
    for (size_t i = 0; i < mc; i += MR, dst += kc * MR) {
        size_t mr = min_sz(MR, mc - i);
        const float *src = a + i * ars;
        for (size_t r = 0; r < MR; r++)
            for (size_t p = 0; p < kc; p++)
                dst[p * MR + r] = r < mr ? src[r * ars + p] : 0.0f;
    }
}

/*
 * A tile: C[0:mr, 0:nr] (+)= alpha * sum_p A(r, p) B(p, c) over p < kc,
 * with A(r, p) = a[r*ars + p*acs] and B(p, c) = b[p*brs + c].  ab holds
 * alpha and beta: the caller's beta for the first K slice, 1 for the others.
 * (Passed in memory: as float arguments they would occupy two vector
 * registers through the loop, and the tile needs all sixteen.)
 */
typedef void tile_fn(int mr, int nr, size_t kc, const float *a, size_t ars, size_t acs,
                     const float *b, size_t brs, float *c, size_t ldc, const float *ab);

static ALWAYS_INLINE void tile_portable(int mr, int nr, size_t kc, const float *a, size_t ars,
                                        size_t acs, const float *b, size_t brs, float *c,
                                        size_t ldc, const float *ab)
{
    const float alpha = ab[0], beta = ab[1];
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (size_t p = 0; p < kc; p++, a += acs, b += brs)
        for (int r = 0; r < mr; r++) {
            const float av = a[r * ars];
            for (int j = 0; j < nr; j++)
                acc[r][j] += av * b[j];
        }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < nr; j++) {
            float t = alpha == 1.0f ? acc[r][j] : alpha * acc[r][j];
            cr[j] = beta == 0.0f ? t : beta == 1.0f ? cr[j] + t : beta * cr[j] + t;
        }
    }
}

/* The packers that transpose an operand or copy op(B)'s rows, vectorized
   where the processor allows. */
typedef void pack_bt_fn(size_t kc, size_t nc, const float *b, size_t bcs, float *dst);
typedef void pack_br_fn(size_t kc, size_t nc, const float *b, size_t brs, float *dst);
typedef void pack_ar_fn(size_t mc, size_t kc, const float *a, size_t ars, float *dst);
typedef void pack_ac_fn(size_t mc, size_t kc, const float *a, size_t acs, float *dst);

/* Rows of op(A) rounded up to whole panels. */
static inline size_t rows_padded(size_t m) { return (m + MR - 1) / MR * MR; }

/*
 * Packs panels [q0, q1) of op(A) for every KC slice.  Slice s (starting at
 * p = pc) begins at pc * rows_padded(m); panel q of a slice of depth kc
 * at q * kc * MR within it.
 */
static ALWAYS_INLINE void pack_a_panels(const sgemm *g, size_t q0, size_t q1, float *dst,
                                        pack_ar_fn *pack_ar, pack_ac_fn *pack_ac)
{
    size_t mp = rows_padded(g->m), i0 = q0 * MR, i1 = min_sz(q1 * MR, g->m);
    for (size_t pc = 0; pc < g->k; pc += KC) {
        size_t kc = min_sz(KC, g->k - pc);
        const float *src = g->a + i0 * g->ars + pc * g->acs;
        float *d = dst + pc * mp + q0 * kc * MR;
        if (g->ars == 1)
            pack_ac(i1 - i0, kc, src, g->acs, d);
        else
            pack_ar(i1 - i0, kc, src, g->ars, d);
    }
}

/* Columns of op(B) rounded up to whole panels. */
static inline size_t cols_padded(size_t n) { return (n + NR - 1) / NR * NR; }

/* Whether a block `width` columns wide reads op(B) in place: rows of B
   (not transposed), and slices small enough or shallow enough that they
   do not collide in L1. */
static inline int b_in_place(const sgemm *g, size_t width)
{
    size_t kc0 = min_sz(g->k, KC);
    return g->bcs == 1 && (kc0 <= 32 || kc0 * width <= DIRECT_B_MAX);
}

/* Packs a kc x nc slice of op(B) starting at src: B's rows, or B^T. */
static ALWAYS_INLINE void pack_b_slice(const sgemm *g, size_t kc, size_t nc, const float *src,
                                       float *dst, pack_bt_fn *pack_bt, pack_br_fn *pack_br)
{
    if (g->bcs == 1)
        pack_br(kc, nc, src, g->brs, dst);
    else
        pack_bt(kc, nc, src, g->bcs, dst);
}

/*
 * Packs panels [q0, q1) of op(B) for every KC slice, the layout a block
 * packs for itself, extended to all of op(B): slice s (starting at p = pc)
 * begins at pc * cols_padded(n); panel q of a slice of depth kc at
 * q * kc * NR within it.
 */
static ALWAYS_INLINE void pack_b_panels(const sgemm *g, size_t q0, size_t q1, float *dst,
                                        pack_bt_fn *pack_bt, pack_br_fn *pack_br)
{
    size_t np = cols_padded(g->n), j0 = q0 * NR, j1 = min_sz(q1 * NR, g->n);
    for (size_t pc = 0; pc < g->k; pc += KC) {
        size_t kc = min_sz(KC, g->k - pc);
        pack_b_slice(g, kc, j1 - j0, g->b + pc * g->brs + j0 * g->bcs,
                     dst + pc * np + q0 * kc * NR, pack_bt, pack_br);
    }
}

/*
 * The blocked product of rows [i0, i1) and columns [j0, j1) of C, on one
 * thread, i0 a multiple of MR and j0 of NR.  KC slices are the outer loop
 * over K so that every element sees the same chunks whatever block it
 * falls in.  op(A) is read from `ap` (packed by pack_a_panels) or, when
 * that is NULL, in place.  op(B) is read from `bp` (packed by
 * pack_b_panels) or, when that is NULL, a slice of it is packed here when
 * it is transposed or its rows would collide in L1, and read in place
 * otherwise.
 */
static ALWAYS_INLINE void block_generic(const sgemm *g, const float *ap, const float *bp_all,
                                        size_t i0, size_t i1, size_t j0, size_t j1, tile_fn *tile,
                                        pack_bt_fn *pack_bt, pack_br_fn *pack_br)
{
    size_t nb = j1 - j0, mp = rows_padded(g->m), np = cols_padded(g->n);
    float *bpack = b_in_place(g, nb) || bp_all
                       ? NULL
                       : scratch_get(SCRATCH_B, KC * cols_padded(min_sz(nb, NC)));
    for (size_t jc = j0; jc < j1; jc += NC) {
        size_t nc = min_sz(NC, j1 - jc);
        for (size_t pc = 0; pc < g->k; pc += KC) {
            size_t kc = min_sz(KC, g->k - pc);
            const float ab[2] = {g->alpha, pc == 0 ? g->beta : 1.0f};
            const float *bsl = g->b + pc * g->brs + jc * g->bcs;
            const float *bpanels = bp_all ? bp_all + pc * np + jc * kc : bpack;
            if (bpack)
                pack_b_slice(g, kc, nc, bsl, bpack, pack_bt, pack_br);
            for (size_t ic = i0; ic < i1; ic += MC) {
                size_t mc = min_sz(MC, i1 - ic);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    int nr = (int)min_sz(NR, nc - jr);
                    const float *bp = bpanels ? bpanels + jr * kc : bsl + jr;
                    size_t brs = bpanels ? NR : g->brs;
                    float *cc = g->c + ic * g->ldc + jc + jr;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        int mr = (int)min_sz(MR, mc - ir);
                        if (ap)
                            tile(mr, nr, kc, ap + pc * mp + (ic + ir) * kc, 1, MR, bp, brs,
                                 cc + ir * g->ldc, g->ldc, ab);
                        else
                            tile(mr, nr, kc, g->a + (ic + ir) * g->ars + pc * g->acs, g->ars,
                                 g->acs, bp, brs, cc + ir * g->ldc, g->ldc, ab);
                    }
                }
            }
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
                             const float *b, size_t brs, float *c, size_t ldc, const float *ab)
{
    tile_portable(mr, nr, kc, a, ars, acs, b, brs, c, ldc, ab);
}

static void block_portable(const sgemm *g, const float *ap, const float *bp, size_t i0, size_t i1,
                           size_t j0, size_t j1)
{
    block_generic(g, ap, bp, i0, i1, j0, j1, tile_portable_fn, pack_bt_portable, pack_br_portable);
}

static void pack_a_portable(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_a_panels(g, q0, q1, dst, pack_ar_portable, pack_ac_portable);
}

static void pack_b_portable(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_b_panels(g, q0, q1, dst, pack_bt_portable, pack_br_portable);
}

#ifdef GS_GEMM_AVX2
#define AVX2 __attribute__((target("avx2,fma")))

/* Lanes below nr % 8 set: the real columns of a partial last vector. */
static ALWAYS_INLINE AVX2 __m256i lane_mask(int nr)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(nr % 8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * The AVX2 tile for MRV rows and NV vectors of columns, the last vector
 * masked when MASKED; instantiated with constants so that accumulators
 * live in registers and unused rows cost nothing.  Rows and lanes are
 * independent: an element's arithmetic does not depend on MRV, NV or MASKED.
 */
static ALWAYS_INLINE AVX2 void tile_avx2_body(const int MRV, const int NV, const int MASKED,
                                              int nr, size_t kc, const float *a, size_t ars,
                                              size_t acs, const float *b, size_t brs, float *c,
                                              size_t ldc, const float *ab)
{
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        acc0[r] = acc1[r] = _mm256_setzero_ps();
        if (r < MRV) /* C is needed only at the end: fetch it meanwhile */
            _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    }
#pragma GCC unroll 2
    for (size_t p = 0; p < kc; p++, a += acs, b += brs) {
        __m256 b0, b1;
        if (NV == 2) {
            b0 = _mm256_loadu_ps(b);
            b1 = MASKED ? _mm256_maskload_ps(b + 8, lane_mask(nr)) : _mm256_loadu_ps(b + 8);
        } else {
            b0 = MASKED ? _mm256_maskload_ps(b, lane_mask(nr)) : _mm256_loadu_ps(b);
            b1 = b0;
        }
#pragma GCC unroll 6
        for (int r = 0; r < MRV; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r * ars);
            acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
            if (NV == 2)
                acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
        }
    }
    const float alpha = ab[0], beta = ab[1];
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256i mask = lane_mask(nr);
#pragma GCC unroll 6
    for (int r = 0; r < MRV; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            float *cp = c + r * ldc + 8 * v;
            const int masked = MASKED && v == NV - 1;
            __m256 t = v ? acc1[r] : acc0[r];
            if (alpha != 1.0f)
                t = _mm256_mul_ps(t, va);
            if (beta != 0.0f) {
                __m256 old = masked ? _mm256_maskload_ps(cp, mask) : _mm256_loadu_ps(cp);
                t = beta == 1.0f ? _mm256_add_ps(old, t) : _mm256_fmadd_ps(vb, old, t);
            }
            if (masked)
                _mm256_maskstore_ps(cp, mask, t);
            else
                _mm256_storeu_ps(cp, t);
        }
    }
}

#define TILE_ROWS(MRV)                                                                         \
    case MRV:                                                                                  \
        if (nr == 16)                                                                          \
            tile_avx2_body(MRV, 2, 0, nr, kc, a, ars, acs, b, brs, c, ldc, ab);                \
        else if (nr > 8)                                                                       \
            tile_avx2_body(MRV, 2, 1, nr, kc, a, ars, acs, b, brs, c, ldc, ab);                \
        else if (nr == 8)                                                                      \
            tile_avx2_body(MRV, 1, 0, nr, kc, a, ars, acs, b, brs, c, ldc, ab);                \
        else                                                                                   \
            tile_avx2_body(MRV, 1, 1, nr, kc, a, ars, acs, b, brs, c, ldc, ab);                \
        break;

static AVX2 void tile_avx2(int mr, int nr, size_t kc, const float *a, size_t ars, size_t acs,
                           const float *b, size_t brs, float *c, size_t ldc, const float *ab)
{
    switch (mr) {
        TILE_ROWS(6)
        TILE_ROWS(5)
        TILE_ROWS(4)
        TILE_ROWS(3)
        TILE_ROWS(2)
        TILE_ROWS(1)
    }
}

/* Transposes the 8 x 8 block in r[] in place. */
static ALWAYS_INLINE AVX2 void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* Eight rows of B^T (columns h..h+7 of a panel), depths p..p+7. */
static ALWAYS_INLINE AVX2 void pack_bt_block8(const float *src, size_t bcs, size_t p, size_t h,
                                             float *dst)
{
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + (h + (size_t)i) * bcs + p);
    transpose8(r);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(dst + (p + (size_t)i) * NR + h, r[i]);
}

/* B^T packed with 8 x 8 transposes in registers; edges element by element.
   Sixteen deep at a time, so that each 64-byte line of B is used whole
   while it is in L1: the sixteen rows a panel reads are often 4 KiB
   apart, in one cache set, where they would evict each other. */
static AVX2 void pack_bt_avx2(size_t kc, size_t nc, const float *b, size_t bcs, float *dst)
{
    size_t kc8 = kc / 8 * 8, kc16 = kc / 16 * 16;
    for (size_t j = 0; j < nc; j += NR, dst += kc * NR) {
        size_t nr = min_sz(NR, nc - j);
        const float *src = b + j * bcs;
        if (nr < NR) {
            pack_b_cols(kc, nr, src, bcs, dst);
            continue;
        }
        for (size_t p = 0; p < kc16; p += 16)
            for (size_t h = 0; h < NR; h += 8) {
                pack_bt_block8(src, bcs, p, h, dst);
                pack_bt_block8(src, bcs, p + 8, h, dst);
            }
        if (kc16 < kc8) /* one 8-deep step left */
            for (size_t h = 0; h < NR; h += 8)
                pack_bt_block8(src, bcs, kc16, h, dst);
        for (size_t p = kc8; p < kc; p++)
            for (size_t c = 0; c < NR; c++)
                dst[p * NR + c] = src[c * bcs + p];
    }
}

/* A panel row in two 32-byte moves: the compiler expands the portable
   memcpy of 64 bytes to 16-byte ones. */
static ALWAYS_INLINE AVX2 void copy_panel_row_avx2(float *dst, const float *src)
{
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
}

static AVX2 void pack_br_avx2(size_t kc, size_t nc, const float *b, size_t brs, float *dst)
{
    pack_b_rows(kc, nc, b, brs, dst, copy_panel_row_avx2);
}

/* A packed by 8 x 8 transposes of its 6 rows and 2 zero rows; each
   transposed row is stored whole and its 2 extra floats are overwritten by
   the next store.  The last store of a panel is masked so that no thread
   writes past the panels it packs. */
static AVX2 void pack_ar_avx2(size_t mc, size_t kc, const float *a, size_t ars, float *dst)
{
    size_t kc8 = kc / 8 * 8;
    const __m256i six = lane_mask(6);
    for (size_t i = 0; i < mc; i += MR, dst += kc * MR) {
        size_t mr = min_sz(MR, mc - i);
        const float *src = a + i * ars;
        if (mr < MR) {
            pack_a_rows(mr, kc, src, ars, dst);
            continue;
        }
        for (size_t p = 0; p < kc8; p += 8) {
            __m256 r[8];
#pragma GCC unroll 6
            for (int q = 0; q < MR; q++)
                r[q] = _mm256_loadu_ps(src + (size_t)q * ars + p);
            r[6] = r[7] = _mm256_setzero_ps();
            transpose8(r);
#pragma GCC unroll 7
            for (int q = 0; q < 7; q++)
                _mm256_storeu_ps(dst + (p + (size_t)q) * MR, r[q]);
            _mm256_maskstore_ps(dst + (p + 7) * MR, six, r[7]);
        }
        for (size_t p = kc8; p < kc; p++)
            for (size_t q = 0; q < MR; q++)
                dst[p * MR + q] = src[q * ars + p];
    }
}

/* op(A) = A^T: each panel row is six floats of a row of A, moved as eight
   (the two extra are overwritten by the next row's store; a panel's last
   row and the loads at the block's edge are masked).  Eight rows of A at a
   time, so that a panel receives 192 contiguous bytes and the rows read,
   often 4 KiB apart, are used whole before they leave L1. */
static AVX2 void pack_ac_avx2(size_t mc, size_t kc, const float *a, size_t acs, float *dst)
{
    size_t full = mc / MR, inside = mc >= 2 ? (mc - 2) / MR : 0; /* loads within the block */
    const __m256i six = lane_mask(6);
    for (size_t p0 = 0; p0 < kc; p0 += 8) {
        size_t p1 = min_sz(p0 + 8, kc);
        for (size_t q = 0; q < full; q++) {
            const float *src = a + q * MR;
            float *d = dst + q * kc * MR;
            for (size_t p = p0; p < p1; p++) {
                __m256 v = q < inside ? _mm256_loadu_ps(src + p * acs)
                                      : _mm256_maskload_ps(src + p * acs, six);
                if (p + 1 < kc)
                    _mm256_storeu_ps(d + p * MR, v);
                else
                    _mm256_maskstore_ps(d + p * MR, six, v);
            }
        }
    }
    if (mc > full * MR)
        pack_a_cols(mc - full * MR, kc, a + full * MR, acs, dst + full * kc * MR);
}

static AVX2 void block_avx2(const sgemm *g, const float *ap, const float *bp, size_t i0,
                            size_t i1, size_t j0, size_t j1)
{
    block_generic(g, ap, bp, i0, i1, j0, j1, tile_avx2, pack_bt_avx2, pack_br_avx2);
}

static AVX2 void pack_a_avx2(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_a_panels(g, q0, q1, dst, pack_ar_avx2, pack_ac_avx2);
}

static AVX2 void pack_b_avx2(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_b_panels(g, q0, q1, dst, pack_bt_avx2, pack_br_avx2);
}
#endif

/* The implementation in use: AVX2+FMA or portable. */
typedef struct kernels {
    const char *name;
    void (*block)(const sgemm *g, const float *ap, const float *bp, size_t i0, size_t i1,
                  size_t j0, size_t j1);
    void (*pack_a)(const sgemm *g, size_t q0, size_t q1, float *dst);
    void (*pack_b)(const sgemm *g, size_t q0, size_t q1, float *dst);
} kernels;

static const kernels portable = {"portable", block_portable, pack_a_portable, pack_b_portable};
#ifdef GS_GEMM_AVX2
static const kernels avx2 = {"avx2-fma", block_avx2, pack_a_avx2, pack_b_avx2};
#endif

static const kernels *impl;
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static void kernels_choose(void)
{
    impl = &portable;
#ifdef GS_GEMM_AVX2
    const char *env = getenv("GRADSCOPE_KERNELS");
    __builtin_cpu_init();
    if (!(env && strcmp(env, "portable") == 0) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        impl = &avx2;
#endif
}

static const kernels *kernels_get(void)
{
    pthread_once(&impl_once, kernels_choose);
    return impl;
}

const char *gs_gemm_kernel_name(void) { return kernels_get()->name; }

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
 * on 2 threads: 16, 12, 9, 7, 5, 4, 3, 2, 2, 1, 1, 1, 1).  Every block
 * rereads all of op(A) from the shared cache, for its few columns if it
 * is narrow, and the more threads do that at once the more it costs: so
 * blocks are at least t/2 tiles wide (on 8 threads, 64 tiles make 16
 * blocks of 4).  Rows are split only when C has fewer tiles of columns
 * than there are threads.
 *
 * With fewer than eight tiles of columns per thread the team instead
 * packs all of op(B) once, before the blocks (`shared_b`, up to
 * SHARED_B_MAX), and the blocks form a grid of rows and columns, about
 * three per thread, none narrower than four tiles while there are columns
 * enough.  So do blocks that read op(B) in place.
 */
static void grid(size_t mt, size_t nt, size_t t, int split_rows, split *s)
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
        while (j < nt) {
            size_t w = (nt - j + 2 * t - 1) / (2 * t);
            w = w < least ? least : w;
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
    const kernels *kern = kernels_get();
    size_t t = (size_t)gs_get_threads();
    size_t mt = (g->m + MR - 1) / MR, nt = (g->n + NR - 1) / NR;
    float *ap = pack_a_pays(g) ? scratch_get(SCRATCH_A, rows_padded(g->m) * g->k) : NULL;
    if (t <= 1 || (double)g->m * (double)g->n * (double)g->k < PARALLEL_MIN_FMAS) {
        if (ap)
            kern->pack_a(g, 0, mt, ap);
        kern->block(g, ap, NULL, 0, g->m, 0, g->n);
        return;
    }
    int in_place = b_in_place(g, g->n);
    size_t b_floats = cols_padded(g->n) * g->k;
    int shared_b = !in_place && nt < 8 * t && b_floats <= SHARED_B_MAX;
    float *bp = shared_b ? scratch_get(SCRATCH_B_ALL, b_floats) : NULL;
    split s;
    grid(mt, nt, t, shared_b || in_place, &s);
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
