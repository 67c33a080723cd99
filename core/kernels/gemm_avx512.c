/*
 * The GEMM's AVX-512 variant: a 12 x 32 register tile, two MR-row panels
 * of op(A) against two NR-column panels of op(B) (24 accumulators of
 * sixteen lanes, with the two B vectors and a broadcast 27 of the 32
 * registers).  The panels are the AVX2 variant's, and so are its packers
 * but for the copy of op(B)'s rows.
 *
 * Each element of C is still one lane accumulating its products in p order
 * with fused multiply-adds, scaled and added to C as the other variants
 * do: a bigger tile changes which elements are computed together, never
 * how one is computed, so the bits are those of the AVX2 and portable
 * variants.
 */
#include "config.h"
#include "kernels/gemm_tile.h"
#ifdef GS_GEMM_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

enum { TR = 2 * MR, TC = 2 * NR }; /* the tile: rows, columns */

/*
 * The tile for MRV rows and NV vectors of sixteen columns, the last vector
 * masked when MASKED; instantiated with constants so that accumulators
 * live in registers.  Row r < MR reads a + r*ars, the others the second
 * panel at a + a2; vector 1 reads the second B panel at b + b2.
 */
static ALWAYS_INLINE AVX512 void tile_body(const int MRV, const int NV, const int MASKED, int nr,
                                           size_t kc, const float *a, size_t ars, size_t acs,
                                           size_t a2, const float *b, size_t brs, size_t b2,
                                           float *c, size_t ldc, const float *ab)
{
    const int last = nr - NR * (NV - 1); /* columns of the last vector, 1..16 */
    const __mmask16 mask = MASKED ? (__mmask16)((1u << last) - 1u) : (__mmask16)0xFFFF;
    __m512 acc0[TR], acc1[TR];
#pragma GCC unroll 12
    for (int r = 0; r < TR; r++) {
        acc0[r] = acc1[r] = _mm512_setzero_ps();
        if (r < MRV) { /* C is needed only at the end: fetch it meanwhile */
            _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
            if (NV == 2)
                _mm_prefetch((const char *)(c + (size_t)r * ldc + NR), _MM_HINT_T0);
        }
    }
#pragma GCC unroll 2
    for (size_t p = 0; p < kc; p++, a += acs, b += brs) {
        __m512 b0, b1;
        if (NV == 2) {
            b0 = _mm512_loadu_ps(b);
            b1 = MASKED ? _mm512_maskz_loadu_ps(mask, b + b2) : _mm512_loadu_ps(b + b2);
        } else {
            b0 = MASKED ? _mm512_maskz_loadu_ps(mask, b) : _mm512_loadu_ps(b);
            b1 = b0;
        }
#pragma GCC unroll 12
        for (int r = 0; r < MRV; r++) {
            const float *ar = r < MR ? a + (size_t)r * ars : a + a2 + (size_t)(r - MR) * ars;
            const __m512 av = _mm512_set1_ps(*ar);
            acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
            if (NV == 2)
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
        }
    }
    const float alpha = ab[0], beta = ab[1];
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int r = 0; r < MRV; r++) {
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            float *cp = c + (size_t)r * ldc + NR * v;
            const int masked = MASKED && v == NV - 1;
            __m512 t = v ? acc1[r] : acc0[r];
            if (alpha != 1.0f)
                t = _mm512_mul_ps(t, va);
            if (beta != 0.0f) {
                __m512 old = masked ? _mm512_maskz_loadu_ps(mask, cp) : _mm512_loadu_ps(cp);
                t = beta == 1.0f ? _mm512_add_ps(old, t) : _mm512_fmadd_ps(vb, old, t);
            }
            if (masked)
                _mm512_mask_storeu_ps(cp, mask, t);
            else
                _mm512_storeu_ps(cp, t);
        }
    }
}

#define TILE_ROWS(MRV, ARS, ACS, BRS)                                                          \
    case MRV:                                                                                  \
        if (nr == TC)                                                                          \
            tile_body(MRV, 2, 0, nr, kc, a, ARS, ACS, a2, b, BRS, b2, c, ldc, ab);             \
        else if (nr > NR)                                                                      \
            tile_body(MRV, 2, 1, nr, kc, a, ARS, ACS, a2, b, BRS, b2, c, ldc, ab);             \
        else if (nr == NR)                                                                     \
            tile_body(MRV, 1, 0, nr, kc, a, ARS, ACS, a2, b, BRS, b2, c, ldc, ab);             \
        else                                                                                   \
            tile_body(MRV, 1, 1, nr, kc, a, ARS, ACS, a2, b, BRS, b2, c, ldc, ab);             \
        break;

/* The tile for mr rows (1 .. MR), with the given strides */
#define TILE_SWITCH(ARS, ACS, BRS)                                                             \
    switch (mr) {                                                                              \
        TILE_ROWS(12, ARS, ACS, BRS)                                                           \
        TILE_ROWS(11, ARS, ACS, BRS)                                                           \
        TILE_ROWS(10, ARS, ACS, BRS)                                                           \
        TILE_ROWS(9, ARS, ACS, BRS)                                                            \
        TILE_ROWS(8, ARS, ACS, BRS)                                                            \
        TILE_ROWS(7, ARS, ACS, BRS)                                                            \
        TILE_ROWS(6, ARS, ACS, BRS)                                                            \
        TILE_ROWS(5, ARS, ACS, BRS)                                                            \
        TILE_ROWS(4, ARS, ACS, BRS)                                                            \
        TILE_ROWS(3, ARS, ACS, BRS)                                                            \
        TILE_ROWS(2, ARS, ACS, BRS)                                                            \
        TILE_ROWS(1, ARS, ACS, BRS)                                                            \
    }

/* Both operands packed (every large product): their strides are
   constants, so the twelve rows of A are read at fixed offsets from two
   pointers instead of from twelve registers of offsets, some of which
   the compiler had to keep on the stack and reload every step of p. */
static AVX512 void tile_packed(int mr, int nr, size_t kc, const float *a, size_t a2,
                               const float *b, size_t b2, float *c, size_t ldc, const float *ab)
{
    TILE_SWITCH(1, MR, NR)
}

static AVX512 void tile_avx512(int mr, int nr, size_t kc, const float *a, size_t ars,
                               size_t acs, size_t a2, const float *b, size_t brs, size_t b2,
                               float *c, size_t ldc, const float *ab)
{
    if (ars == 1 && acs == MR && brs == NR) {
        tile_packed(mr, nr, kc, a, a2, b, b2, c, ldc, ab);
        return;
    }
    TILE_SWITCH(ars, acs, brs)
}

/*
 * Packers.  op(B)'s rows are copied a 64-byte panel row per move (10 to
 * 15% faster than AVX2's two 32-byte moves on a 1024-wide weight, five
 * interleaved rounds).  The other packers are AVX2's: a 16 x 16 transpose
 * of B^T in zmm registers ran no faster than AVX2's 8 x 8 ones (both about
 * 26 GB/s on a 4 MiB weight, which comes from L3), so it was not kept.
 */

/* A panel row of op(B) in one 64-byte move. */
static ALWAYS_INLINE AVX512 void copy_panel_row_avx512(float *dst, const float *src)
{
    _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
}

AVX512 void gs_gemm_pack_br_avx512(size_t kc, size_t nc, const float *b, size_t brs, float *dst)
{
    pack_b_rows(kc, nc, b, brs, dst, copy_panel_row_avx512);
}

static AVX512 void block_avx512(const sgemm *g, const float *ap, const float *bp, size_t i0,
                                size_t i1, size_t j0, size_t j1)
{
    block_generic(g, ap, bp, i0, i1, j0, j1, TR, TC, tile_avx512, gs_gemm_pack_bt_avx2,
                  gs_gemm_pack_br_avx512);
}

static AVX512 void pack_b_avx512(const sgemm *g, size_t q0, size_t q1, float *dst)
{
    pack_b_panels(g, q0, q1, dst, gs_gemm_pack_bt_avx2, gs_gemm_pack_br_avx512);
}

const gs_gemm_impl gs_gemm_avx512 = {"avx512", block_avx512, gs_gemm_pack_a_avx2,
                                     pack_b_avx512, 2};
#endif
