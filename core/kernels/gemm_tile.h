/*
 * The GEMM's internals shared by its instruction-set variants (gemm.c,
 * gemm_avx2.c, gemm_avx512.c): blocking constants, the product, the
 * packers and the blocked loop, which each variant instantiates with its
 * own register tile so that the tile is inlined into the loop.
 */
#ifndef GS_KERNELS_GEMM_TILE_H
#define GS_KERNELS_GEMM_TILE_H

#include <stddef.h>
#include <string.h>
#include "kernels/gemm.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
    MR = 6,    /* rows of the register tile */
    NR = 16,   /* columns of the register tile (two AVX vectors) */
    KC = 256,  /* depth of a slice of K: one B micro-panel is 16 KiB (L1) */
    MC = 144,  /* rows of A per block at least (gs_gemm_mc): 144 KiB packed */
    NC = 2048, /* columns of B per block: 2 MiB packed (L3) */
};

/* Rows of A per block, sized at the first product from the core's L2
   (gemm.c): 9/32 of it packed (MC rows for 512 KiB, 288 for 1 MiB), a
   multiple of every tile's rows.  It decides which tiles run together,
   never an element's arithmetic, so it may differ between processors. */
extern size_t gs_gemm_mc;

/* Below this many multiply-adds a product runs on the calling thread:
   waking the team, and moving its share of the result back to the thread
   whose one-thread work comes next, costs more than it saves.  mnist-mlp's
   128 x 256 x 10 products (320k) ran faster alone; so, in whole runs on
   two cores, did deep-narrow's first layer (32 x 64 x 784, 1.6M: two
   threads 23% faster with it alone) and a 128-unit RNN's step (64 x 128 x
   128, 1.05M); docs/PERFORMANCE.md, "Small work on two threads".
   Measured on two cores: a build may set another (.dev/device9.sh builds
   one with 512k to compare on sixteen).  It moves no bit of a result. */
#ifndef PARALLEL_MIN_FMAS
#define PARALLEL_MIN_FMAS (2.0 * 1024.0 * 1024.0)
#endif

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

/* Per-thread packing buffers (gemm.c): which is one of these. */
enum { SCRATCH_A, SCRATCH_B_ALL, SCRATCH_B };
float *gs_gemm_scratch(int which, size_t floats);

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
 * with A(r, p) = a[r*ars + p*acs] and B(p, c) = b[p*brs + c] for the first
 * MR rows and NR columns; a tile larger than MR x NR (the AVX-512 one)
 * finds rows r >= MR at a + a2 + (r-MR)*ars and columns c >= NR at
 * b + b2 + (c-NR) (the next panel, packed or in place).  ab holds alpha
 * and beta: the caller's beta for the first K slice, 1 for the others.
 * (Passed in memory: as float arguments they would occupy two vector
 * registers through the loop, and the tile needs them.)
 */
typedef void tile_fn(int mr, int nr, size_t kc, const float *a, size_t ars, size_t acs,
                     size_t a2, const float *b, size_t brs, size_t b2, float *c, size_t ldc,
                     const float *ab);

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
                                        size_t i0, size_t i1, size_t j0, size_t j1,
                                        int tile_rows, int tile_cols, tile_fn *tile,
                                        pack_bt_fn *pack_bt, pack_br_fn *pack_br)
{
    size_t nb = j1 - j0, mp = rows_padded(g->m), np = cols_padded(g->n);
    float *bpack = b_in_place(g, nb) || bp_all
                       ? NULL
                       : gs_gemm_scratch(SCRATCH_B, KC * cols_padded(min_sz(nb, NC)));
    for (size_t jc = j0; jc < j1; jc += NC) {
        size_t nc = min_sz(NC, j1 - jc);
        for (size_t pc = 0; pc < g->k; pc += KC) {
            size_t kc = min_sz(KC, g->k - pc);
            const float ab[2] = {g->alpha, pc == 0 ? g->beta : 1.0f};
            const float *bsl = g->b + pc * g->brs + jc * g->bcs;
            const float *bpanels = bp_all ? bp_all + pc * np + jc * kc : bpack;
            if (bpack)
                pack_b_slice(g, kc, nc, bsl, bpack, pack_bt, pack_br);
            for (size_t ic = i0; ic < i1; ic += gs_gemm_mc) {
                size_t mc = min_sz(gs_gemm_mc, i1 - ic);
                for (size_t jr = 0; jr < nc; jr += (size_t)tile_cols) {
                    int nr = (int)min_sz((size_t)tile_cols, nc - jr);
                    const float *bp = bpanels ? bpanels + jr * kc : bsl + jr;
                    size_t brs = bpanels ? NR : g->brs, b2 = bpanels ? NR * kc : NR;
                    float *cc = g->c + ic * g->ldc + jc + jr;
                    for (size_t ir = 0; ir < mc; ir += (size_t)tile_rows) {
                        int mr = (int)min_sz((size_t)tile_rows, mc - ir);
                        if (ap)
                            tile(mr, nr, kc, ap + pc * mp + (ic + ir) * kc, 1, MR, MR * kc, bp,
                                 brs, b2, cc + ir * g->ldc, g->ldc, ab);
                        else
                            tile(mr, nr, kc, g->a + (ic + ir) * g->ars + pc * g->acs, g->ars,
                                 g->acs, MR * g->ars, bp, brs, b2, cc + ir * g->ldc, g->ldc, ab);
                    }
                }
            }
        }
    }
}

/* One instruction set's GEMM: its blocked loop and its packers. */
typedef struct gs_gemm_impl {
    const char *name;
    void (*block)(const sgemm *g, const float *ap, const float *bp, size_t i0, size_t i1,
                  size_t j0, size_t j1);
    void (*pack_a)(const sgemm *g, size_t q0, size_t q1, float *dst);
    void (*pack_b)(const sgemm *g, size_t q0, size_t q1, float *dst);
    /* NR-column panels in its widest register tile: blocks of columns are
       cut in multiples of it, so that none ends in a narrower edge tile
       (AVX-512's 32 columns run a 16-wide edge at half its speed) */
    size_t tile_panels;
} gs_gemm_impl;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define GS_GEMM_X86 1
extern const gs_gemm_impl gs_gemm_avx2, gs_gemm_avx512;
/* AVX2's packers, which the AVX-512 variant shares but for op(B)'s rows
   (same panel layout). */
void gs_gemm_pack_bt_avx2(size_t kc, size_t nc, const float *b, size_t bcs, float *dst);
void gs_gemm_pack_br_avx2(size_t kc, size_t nc, const float *b, size_t brs, float *dst);
void gs_gemm_pack_a_avx2(const sgemm *g, size_t q0, size_t q1, float *dst);
void gs_gemm_pack_b_avx2(const sgemm *g, size_t q0, size_t q1, float *dst);
/* AVX-512's packer of op(B)'s rows (the same panels; tests/test_kernels.c
   compares it with the portable one). */
void gs_gemm_pack_br_avx512(size_t kc, size_t nc, const float *b, size_t brs, float *dst);
#endif

#endif
