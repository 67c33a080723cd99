/*
 * The GEMM's AVX2+FMA variant: a 6 x 16 register tile (two 8-wide vectors
 * per row, twelve accumulators) and packers that transpose in registers.
 * Compiled for AVX2 whatever the build targets; chosen at run time.
 */
#include "config.h"
#include "kernels/gemm_tile.h"
#ifdef GS_GEMM_X86
#include <immintrin.h>

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
                           size_t a2, const float *b, size_t brs, size_t b2, float *c, size_t ldc,
                           const float *ab)
{
    (void)a2, (void)b2; /* MR x NR at most */
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
AVX2 void gs_gemm_pack_bt_avx2(size_t kc, size_t nc, const float *b, size_t bcs, float *dst)
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

AVX2 void gs_gemm_pack_br_avx2(size_t kc, size_t nc, const float *b, size_t brs, float *dst)
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
    block_generic(g, ap, bp, i0, i1, j0, j1, MR, NR, tile_avx2, gs_gemm_pack_bt_avx2,
                  gs_gemm_pack_br_avx2);
}

AVX2 void gs_gemm_pack_a_avx2(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_a_panels(g, q0, q1, dst, pack_ar_avx2, pack_ac_avx2);
}

AVX2 void gs_gemm_pack_b_avx2(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_b_panels(g, q0, q1, dst, gs_gemm_pack_bt_avx2, gs_gemm_pack_br_avx2);
}

const gs_gemm_impl gs_gemm_avx2 = {"avx2", block_avx2, gs_gemm_pack_a_avx2,
                                   gs_gemm_pack_b_avx2, 1};
#endif
