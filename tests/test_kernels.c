/*
 * The linear-algebra kernels (core/kernels/gemm.c, core/kernels/kernels.c) against
 * double-precision loops written here: every transpose combination, edge
 * sizes around the 6 x 16 register tile, alpha and beta, both the AVX2
 * and the portable implementation, and bit-identical results at 1 to 4
 * threads; the monitor's statistics and number formatting; the optimizer
 * step's ranges; pinning the team to the CPUs.  Built from the
 * kernel sources themselves, so the test can set the thread count and reach
 * the internal functions.
 */
#define _GNU_SOURCE /* sched_getaffinity, pthread_getaffinity_np */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "engine/optstep.h"
#include "kernels/affinity.h"
#include "kernels/gemm.h"
#include "kernels/gemm_tile.h"
#include "kernels/kernels.h"

static uint64_t lcg = 1;

static float frand(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(lcg >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static float *random_array(size_t n)
{
    float *a = gs_xmalloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = frand();
    return a;
}

/*
 * C = alpha op(A) op(B) + beta C with padded leading dimensions, checked
 * against a double loop (tolerance from the sum of |terms|), the padding
 * of C untouched; then the same product at 2, 3 and 4 threads must give
 * the same bits.
 */
static void check_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta)
{
    size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
    float *a = random_array((ta ? k : m) * lda), *b = random_array((tb ? n : k) * ldb);
    float *c0 = random_array(m * ldc), *c = gs_xmalloc(m * ldc * sizeof *c),
          *first = gs_xmalloc(m * ldc * sizeof *c);
    for (int threads = 1; threads <= 4; threads++) {
        gs_set_threads(threads);
        memcpy(c, c0, m * ldc * sizeof *c);
        gs_gemm(GS_F32, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (threads == 1) {
            memcpy(first, c, m * ldc * sizeof *c);
            continue;
        }
        ck_assert_msg(memcmp(first, c, m * ldc * sizeof *c) == 0,
                      "op %d%d %zux%zux%zu: %d threads differ from 1", ta, tb, m, n, k, threads);
    }
    /* Bit for bit the documented order, whatever kernel set runs: each
       element a chain of fused multiply-adds over a KC-deep slice of K,
       scaled by alpha and added to C slice after slice (beta with the first). */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float cij = c0[i * ldc + j];
            for (size_t pc = 0; pc < k; pc += KC) {
                float acc = 0.0f, bt = pc == 0 ? beta : 1.0f;
                for (size_t p = pc; p < k && p < pc + KC; p++)
                    acc = fmaf(ta ? a[p * lda + i] : a[i * lda + p],
                               tb ? b[j * ldb + p] : b[p * ldb + j], acc);
                float t = alpha == 1.0f ? acc : alpha * acc;
                cij = bt == 0.0f ? t : bt == 1.0f ? cij + t : fmaf(bt, cij, t);
            }
            ck_assert_msg(memcmp(&cij, &first[i * ldc + j], sizeof cij) == 0,
                          "%s, op %d%d %zux%zux%zu: C(%zu,%zu) = %a, the documented order gives %a",
                          gs_isa_name(), ta, tb, m, n, k, i, j, first[i * ldc + j], cij);
        }
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (size_t p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
                mag += fabs(x * y);
            }
            double old = c0[i * ldc + j];
            double want = alpha * s + (beta == 0.0f ? 0.0 : beta * old);
            double tol = 1e-5 * (fabs(alpha) * mag + fabs(beta * old)) + 1e-30;
            ck_assert_msg(fabs(first[i * ldc + j] - want) <= tol,
                          "op %d%d %zux%zux%zu alpha %g beta %g: C(%zu,%zu) = %.9g, want %.9g",
                          ta, tb, m, n, k, alpha, beta, i, j, first[i * ldc + j], want);
        }
        for (size_t j = n; j < ldc; j++)
            ck_assert_msg(first[i * ldc + j] == c0[i * ldc + j], "padding of C written");
    }
    gs_set_threads(1);
    free(a);
    free(b);
    free(c0);
    free(c);
    free(first);
}

static void gemm_suite(void)
{
    static const size_t dims[] = {1, 5, 6, 7, 16, 17, 33, 70};
    static const float betas[] = {0.0f, 1.0f, -0.7f};
    size_t nd = sizeof dims / sizeof dims[0];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t x = 0; x < nd; x++)
                for (size_t y = 0; y < nd; y++)
                    for (size_t z = 0; z < nd; z += 3)
                        check_gemm(ta, tb, dims[x], dims[y], dims[z], (x + y) % 2 ? 0.5f : 1.0f,
                                   betas[(x + z) % 3]);
    /* Past the parallel threshold, the 256-deep K slices, the packing
       sizes and the row blocks (144 or 288 rows, from the L2 size): the
       forward, weight-gradient and input-gradient products of a dense
       layer, and one with ragged edges. */
    check_gemm(0, 1, 64, 300, 600, 1.0f, 0.0f);
    check_gemm(1, 0, 300, 200, 64, 1.0f, 1.0f);
    /* op(A) = A^T packed by the team, several panels to a task (6, 4 and 3
       of the 50 at 2, 3 and 4 threads), with a 4-deep last slice */
    check_gemm(1, 0, 300, 200, 260, 1.0f, 1.0f);
    check_gemm(0, 0, 64, 250, 300, 1.0f, 0.0f);
    check_gemm(1, 1, 151, 97, 530, 0.5f, -0.7f);
    /* 13 tile-columns, too few to go round in equal blocks: op(B) packed
       once by the team, and the blocks split rows as well as columns (16
       on 3 threads too; on 2 and 4 they make equal column blocks) */
    check_gemm(1, 0, 256, 208, 64, 1.0f, 1.0f);
    check_gemm(1, 0, 256, 256, 64, 1.0f, 1.0f);
    /* 4 tile-columns (deep-narrow's first layer, deeper to be split): two
       blocks of one AVX-512 tile on 2 threads (four of one AVX2 tile), a
       grid on 3 and 4 */
    check_gemm(0, 1, 32, 64, 1100, 1.0f, 0.0f);
    /* one row of tiles: the columns alone go round the threads */
    check_gemm(0, 1, 6, 128, 3000, 1.0f, 0.0f);
    /* 64 tile-columns, each block packing its own slice of op(B): guided
       widths, from 16 tiles down to 1 on 2 threads (to 2 with AVX-512) */
    check_gemm(0, 1, 32, 1024, 300, 1.0f, 0.0f);
    /* Both operands packed (AVX-512 then runs its constant-stride tile):
       every count of rows in the last tile, 1 to 12, with a last tile of
       columns 16 wide, 26 and 6 (masked) */
    for (size_t m = 133; m <= 144; m++)
        check_gemm(m % 2, 0, m, m % 3 == 0 ? 80 : m % 3 == 1 ? 90 : 70, 300, 1.0f,
                   m % 4 ? 1.0f : 0.0f);
}

START_TEST(gemm_avx2_or_portable)
{
    gemm_suite();
}
END_TEST

/* The implementation is chosen once per process: this test needs Check's
   process per test (not CK_FORK=no). */
static int forked = 1;

/* Every kernel set this processor runs (portable, avx2, avx512), by
   GRADSCOPE_ISA: correct, and the same bits as the documented order. */
START_TEST(gemm_every_isa)
{
    static const char *const sets[] = {"portable", "avx2", "avx512"};
    if (!forked)
        return;
    const char *names[3];
    int n = gs_isa_list(names, 3), have = 0;
    for (int i = 0; i < n; i++)
        have |= !strcmp(names[i], sets[_i]);
    setenv("GRADSCOPE_ISA", sets[_i], 1);
    gs_error err;
    if (!have) {
        ck_assert_int_eq(gs_isa_check(&err), -1);
        ck_assert_msg(strstr(err.msg, "lacks"), "%s", err.msg);
        return;
    }
    ck_assert_int_eq(gs_isa_check(&err), 0);
    ck_assert_str_eq(gs_isa_name(), sets[_i]);
    gemm_suite();
}
END_TEST

/* AVX-512's packer of op(B)'s rows writes the panels the portable one
   writes, padding included (depths and columns not multiples of 16), and
   nothing past them. */
START_TEST(gemm_pack_b_avx512)
{
#ifdef GS_GEMM_X86
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return;
    static const size_t kcs[] = {1, 5, 15, 16, 17, 40, 256}, ncs[] = {1, 7, 16, 17, 40, 64};
    enum { GUARD = 64 };
    for (size_t x = 0; x < GS_ARRAY_LEN(kcs); x++)
        for (size_t y = 0; y < GS_ARRAY_LEN(ncs); y++) {
            size_t kc = kcs[x], nc = ncs[y], ld = (kc > nc ? kc : nc) + 3;
            size_t len = kc * cols_padded(nc) + GUARD;
            float *b = random_array(ld * ld);
            float *want = gs_xmalloc(len * sizeof *want), *got = gs_xmalloc(len * sizeof *got);
            for (size_t i = 0; i < len; i++)
                want[i] = got[i] = -1.0f - (float)i;
            pack_b_rows(kc, nc, b, ld, want, copy_panel_row);
            gs_gemm_pack_br_avx512(kc, nc, b, ld, got);
            ck_assert_msg(memcmp(want, got, len * sizeof *got) == 0,
                          "pack_br_avx512 kc %zu nc %zu differs from the portable packer", kc, nc);
            free(b);
            free(want);
            free(got);
        }
#endif
}
END_TEST

/* The reductions' documented order (kernels.c): chunks of 4096 added in
   order; within a chunk element i in lane i % 16, each lane in index order,
   the lanes combined by lane l += lane l + w for w = 8, 4, 2, 1.  term(i)
   is what element i adds. */
enum { REF_CHUNK = 4096, REF_LANES = 16 };
static double ref_reduce(size_t n, double (*term)(const void *, size_t), const void *ctx)
{
    double total = 0.0;
    for (size_t b = 0; b < n; b += REF_CHUNK) {
        double lane[REF_LANES] = {0};
        for (size_t i = b; i < n && i < b + REF_CHUNK; i++)
            lane[(i - b) % REF_LANES] += term(ctx, i);
        for (int w = REF_LANES / 2; w > 0; w /= 2)
            for (int l = 0; l < w; l++)
                lane[l] += lane[l + w];
        total += lane[0];
    }
    return total;
}

typedef struct ref_arrays {
    const float *x, *y;
    const double *d;
} ref_arrays;
static double t_sum(const void *c, size_t i) { return ((const ref_arrays *)c)->x[i]; }
static double t_sq(const void *c, size_t i)
{
    double v = ((const ref_arrays *)c)->x[i];
    return v * v;
}
static double t_sum64(const void *c, size_t i) { return ((const ref_arrays *)c)->d[i]; }
static double t_sq64(const void *c, size_t i)
{
    double v = ((const ref_arrays *)c)->d[i];
    return v * v;
}
static double t_dist(const void *c, size_t i)
{
    const ref_arrays *r = c;
    double v = (double)r->x[i] - (double)r->y[i];
    return v * v;
}

static void same_bits(double want, double got, const char *what, size_t n)
{
    ck_assert_msg(memcmp(&want, &got, sizeof want) == 0, "%s: %s, n %zu: %a, documented order %a",
                  gs_kernels_isa_name(), what, n, got, want);
}

/* The element-wise kernels and reductions under every kernel set this
   processor runs: the set is GRADSCOPE_ISA's, and every result has the bits
   of the documented order (so the sets agree with each other). */
START_TEST(elementwise_every_isa)
{
    static const char *const sets[] = {"portable", "avx2", "avx512"};
    if (!forked)
        return;
    const char *names[3];
    int have = 0, nsets = gs_isa_list(names, 3);
    for (int i = 0; i < nsets; i++)
        have |= !strcmp(names[i], sets[_i]);
    if (!have)
        return;
    setenv("GRADSCOPE_ISA", sets[_i], 1);
    ck_assert_str_eq(gs_kernels_isa_name(), sets[_i]);
    size_t sizes[] = {1, 15, 17, 100, 4096, 4099, 300001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *x = random_array(n), *y = random_array(n), *z = gs_xmalloc(n * sizeof *z);
        double *d = gs_xmalloc(n * sizeof *d);
        for (size_t i = 0; i < n; i++) {
            x[i] *= (float)pow(10.0, (int)(i % 7) - 3); /* magnitudes that round apart */
            d[i] = (double)x[i] * 1.000000119;
        }
        x[n / 2] = 1e-40f; /* a denormal */
        ref_arrays r = {x, y, d};
        for (int threads = 1; threads <= 2; threads++) {
            gs_set_threads(threads);
            same_bits(ref_reduce(n, t_sum, &r), gs_sum(GS_F32, n, x), "sum", n);
            same_bits(ref_reduce(n, t_sq, &r), gs_sumsq(GS_F32, n, x), "sumsq", n);
            same_bits(ref_reduce(n, t_sum64, &r), gs_sum(GS_F64, n, d), "sum f64", n);
            same_bits(ref_reduce(n, t_sq64, &r), gs_sumsq(GS_F64, n, d), "sumsq f64", n);
            same_bits(ref_reduce(n, t_dist, &r), gs_sqdist_f32(n, x, y), "sqdist", n);
            double gg, ww, gmax, mx = 0;
            gs_grad_norms(x, y, n, &gg, &ww, &gmax);
            same_bits(ref_reduce(n, t_sq, &r), gg, "grad_norms g", n);
            r.x = y;
            same_bits(ref_reduce(n, t_sq, &r), ww, "grad_norms w", n);
            r.x = x;
            for (size_t i = 0; i < n; i++)
                mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
            same_bits(mx, gmax, "grad_norms max", n);
            same_bits(mx, gs_maxabs(GS_F32, n, x), "maxabs", n);
            ck_assert(gs_all_finite(GS_F32, n, x));
            memcpy(z, y, n * sizeof *z);
            gs_axpy(GS_F32, n, -0.3, x, z);
            for (size_t i = 0; i < n; i++) {
                float p = -0.3f * x[i]; /* multiplied, rounded, then added */
                ck_assert_msg(z[i] == y[i] + p, "%s: axpy n %zu element %zu", sets[_i], n, i);
            }
            size_t cols = n % 5 ? 7 : 128;
            cols = cols < n ? cols : n; /* y holds n values: a short array is one row */
            size_t rows = n / cols;
            memcpy(z, y, n * sizeof *z);
            gs_add_row_vector(GS_F32, rows, cols, x, z);
            float sums[128];
            memcpy(sums, y, cols * sizeof *sums);
            gs_sum_rows(GS_F32, rows, cols, x, sums);
            for (size_t c = 0; c < cols; c++) {
                float want = y[c];
                for (size_t i = 0; i < rows; i++) {
                    ck_assert(z[i * cols + c] == y[i * cols + c] + x[c]);
                    want += x[i * cols + c];
                }
                ck_assert_msg(memcmp(&want, &sums[c], sizeof want) == 0,
                              "%s: sum_rows column %zu", sets[_i], c);
            }
            int32_t alive[128] = {0}, alive_want[128] = {0};
            size_t sat_want = 0;
            for (size_t i = 0; i < rows * cols; i++) {
                z[i] = fabsf(x[i]) > 0.5f ? 0.0f : x[i]; /* f' of a unit, dead where 0 */
                alive_want[i % cols] |= z[i] != 0.0f;
                sat_want += fabsf(z[i]) < 0.01f;
            }
            ck_assert_uint_eq(gs_act_mark(GS_F32, z, rows, cols, 0.01, alive), sat_want);
            ck_assert(memcmp(alive, alive_want, cols * sizeof *alive) == 0);
        }
        gs_set_threads(1);
        x[n - 1] = NAN;
        ck_assert(!gs_all_finite(GS_F32, n, x));
        free(x);
        free(y);
        free(z);
        free(d);
    }
}
END_TEST

START_TEST(gemm_isa_unknown)
{
    setenv("GRADSCOPE_ISA", "sse9", 1);
    gs_error err;
    ck_assert_int_eq(gs_isa_check(&err), -1);
    ck_assert_msg(strstr(err.msg, "not a kernel set (portable, avx2, avx512)") &&
                      strstr(err.msg, "portable"),
                  "%s", err.msg);
    unsetenv("GRADSCOPE_ISA");
}
END_TEST

START_TEST(gemm_degenerate)
{
    float a[4] = {1, 2, 3, 4}, c[4] = {1, 1, 1, 1};
    /* k = 0: C = beta C */
    gs_gemm(GS_F32, 0, 0, 2, 2, 0, 1.0, a, 1, a, 2, 0.5, c, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(c[i], 0.5f);
    /* beta = 0 ignores what C held, NaN included */
    c[0] = NAN;
    gs_gemm(GS_F32, 0, 0, 2, 2, 2, 1.0, a, 2, a, 2, 0.0, c, 2);
    ck_assert_float_eq(c[0], 7.0f);
    ck_assert_float_eq(c[3], 22.0f);
    /* double products (the gradient checker's) */
    double da[4] = {1, 2, 3, 4}, dc[4] = {0};
    gs_gemm(GS_F64, 1, 0, 2, 2, 2, 1.0, da, 2, da, 2, 0.0, dc, 2);
    ck_assert(dc[0] == 10.0 && dc[1] == 14.0 && dc[2] == 14.0 && dc[3] == 20.0);
}
END_TEST

/* Sums in double against a double loop; same bits at 1 to 4 threads. */
/* gs_format_g9 writes what "%.9g" writes: random bit patterns (every
   exponent, denormals), near-ties of the ninth digit, powers of ten and
   their neighbours, float values as the monitor's norms often are. */
START_TEST(format_g9)
{
    uint64_t state = 0x9e3779b97f4a7c15u;
    char want[64], got[64];
    size_t checked = 0;
    for (size_t i = 0; i < 2000000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        double v;
        switch (i % 5) {
        case 0: memcpy(&v, &state, sizeof v); break;
        case 1: v = (double)(float)((double)(state >> 11) * 0x1p-53 * pow(10.0, (int)(state % 90) - 45)); break;
        case 2: v = ((double)(state % 2000000000u) + 0.5) * pow(10.0, (int)(state % 40) - 20); break;
        case 3: v = nextafter(pow(10.0, (int)(state % 600) - 300), (state & 1) ? INFINITY : 0.0); break;
        default: v = (double)(int64_t)state * 1e-12; break;
        }
        if (isnan(v))
            continue;
        snprintf(want, sizeof want, "%.9g", v);
        int n = gs_format_g9(got, v);
        ck_assert_msg(!strcmp(got, want) && n == (int)strlen(want), "%a: got %s, want %s", v, got,
                      want);
        checked++;
    }
    static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, 1.0, 0.0001, 0.00001,
                                     123456789.0, 999999999.5, 1e9, 9.999999995, 5e-324,
                                     1.7976931348623157e308, 0.5, 1e-5, 1e+16, 100.0};
    for (size_t i = 0; i < GS_ARRAY_LEN(special); i++) {
        snprintf(want, sizeof want, "%.9g", special[i]);
        gs_format_g9(got, special[i]);
        ck_assert_str_eq(got, want);
    }
    ck_assert(checked > 1900000);
}
END_TEST

START_TEST(reductions)
{
    size_t sizes[] = {0, 1, 15, 17, 4096, 4097, 300001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *x = random_array(n);
        double sq = 0, sum = 0, mx = 0, mag = 0;
        for (size_t i = 0; i < n; i++) {
            sq += (double)x[i] * x[i];
            sum += x[i];
            mag += fabs(x[i]);
            mx = fabs(x[i]) > mx ? fabs(x[i]) : mx;
        }
        double first[3] = {0};
        for (int threads = 1; threads <= 4; threads++) {
            gs_set_threads(threads);
            double got[3] = {gs_sumsq(GS_F32, n, x), gs_sum(GS_F32, n, x),
                             gs_maxabs(GS_F32, n, x)};
            if (threads == 1) {
                ck_assert(fabs(got[0] - sq) <= 1e-10 * sq);
                ck_assert(fabs(got[1] - sum) <= 1e-10 * mag);
                ck_assert(got[2] == mx);
                memcpy(first, got, sizeof got);
            } else {
                ck_assert_msg(memcmp(first, got, sizeof got) == 0, "n %zu: %d threads differ", n,
                              threads);
            }
        }
        gs_set_threads(1);
        free(x);
    }
    float bad[3] = {1, INFINITY, 2};
    ck_assert(!gs_all_finite(GS_F32, 3, bad));
    bad[1] = NAN;
    ck_assert(!gs_all_finite(GS_F32, 3, bad));
    bad[1] = -3;
    ck_assert(gs_all_finite(GS_F32, 3, bad));
}
END_TEST

/* Row-vector add, column sums, axpy and zeroing, small and past the
   threshold where threads share them. */
START_TEST(elementwise)
{
    size_t shapes[][2] = {{3, 5}, {300, 1000}};
    for (size_t s = 0; s < 2; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *y = random_array(n), *b = random_array(cols), *y1 = gs_xmalloc(n * sizeof *y1);
        float *sums = random_array(cols), *sums0 = gs_xmalloc(cols * sizeof *sums0);
        memcpy(sums0, sums, cols * sizeof *sums);
        float *first = gs_xmalloc(cols * sizeof *first);
        for (int threads = 1; threads <= 4; threads++) {
            gs_set_threads(threads);
            memcpy(sums, sums0, cols * sizeof *sums);
            gs_sum_rows(GS_F32, rows, cols, y, sums);
            if (threads == 1)
                memcpy(first, sums, cols * sizeof *sums);
            else
                ck_assert(memcmp(first, sums, cols * sizeof *sums) == 0);
        }
        for (size_t j = 0; j < cols; j++) {
            float want = sums0[j]; /* rows added in order, in float */
            for (size_t i = 0; i < rows; i++)
                want += y[i * cols + j];
            ck_assert_float_eq(first[j], want);
        }
        gs_set_threads(4);
        memcpy(y1, y, n * sizeof *y);
        gs_add_row_vector(GS_F32, rows, cols, b, y1);
        for (size_t i = 0; i < n; i++)
            ck_assert_float_eq(y1[i], y[i] + b[i % cols]);
        memcpy(y1, y, n * sizeof *y);
        gs_axpy(GS_F32, n, -0.25, y, y1);
        for (size_t i = 0; i < n; i++)
            ck_assert_float_eq(y1[i], y[i] + -0.25f * y[i]);
        gs_zero(n * sizeof *y1, y1);
        for (size_t i = 0; i < n; i++)
            ck_assert_float_eq(y1[i], 0.0f);
        /* batches shorter than the prefetch distance, rows repeated */
        size_t idx[] = {rows - 1, 0, rows - 1, rows / 2};
        for (size_t take = 1; take <= rows && take <= 4; take++) {
            gs_gather_rows(take, cols, y, idx, y1);
            for (size_t i = 0; i < take; i++)
                ck_assert(memcmp(y1 + i * cols, y + idx[i] * cols, cols * sizeof *y) == 0);
        }
        gs_set_threads(1);
        free(y);
        free(b);
        free(y1);
        free(sums);
        free(sums0);
        free(first);
    }
}
END_TEST

/* The monitor's definition of a bin, element by element, in double. */
static int ref_bin(float g, int lo, int hi)
{
    double a = fabs((double)g);
    int last = hi - lo + 2;
    if (a == 0)
        return 0;
    if (!isfinite(a) || a >= pow(10.0, hi))
        return last;
    for (int k = hi - 1; k >= lo; k--)
        if (a >= pow(10.0, k))
            return 2 + k - lo;
    return 1;
}

/* Every decade's edge and its float neighbours, zeros, denormals, inf, NaN
   and random magnitudes over 80 decades; one thread and four. */
START_TEST(grad_stats)
{
    enum { LO = -30, HI = 2, BINS = HI - LO + 3 };
    size_t n = 300000;
    float *g = gs_xmalloc(n * sizeof *g), *w = random_array(n);
    size_t i = 0;
    for (int k = -40; k <= 38 && i + 3 <= n; k++) {
        float e = (float)pow(10.0, k);
        g[i++] = e;
        g[i++] = -nextafterf(e, 0.0f);
        g[i++] = nextafterf(e, INFINITY);
    }
    g[i++] = 0.0f;
    g[i++] = -0.0f;
    g[i++] = 1e-45f;
    g[i++] = INFINITY;
    for (; i < n; i++)
        g[i] = frand() * (float)pow(10.0, (int)(frand() * 40.0));
    for (int with_nan = 0; with_nan < 2; with_nan++) {
        if (with_nan)
            g[n / 2] = NAN;
        uint32_t want[BINS] = {0};
        double ww = 0;
        for (size_t e = 0; e < n; e++) {
            want[ref_bin(g[e], LO, HI)]++;
            ww += (double)w[e] * w[e];
        }
        for (int threads = 1; threads <= 4; threads += 3) {
            gs_set_threads(threads);
            uint32_t hist[BINS] = {0};
            double got_gg, got_ww, got_max;
            gs_grad_norms(g, w, n, &got_gg, &got_ww, &got_max);
            gs_grad_histogram(g, n, LO, HI, hist);
            /* the same order as gs_sumsq, bit for bit: the global norm is the same
               number whether the monitor or the trainer takes the sums */
            ck_assert(gs_sumsq(GS_F32, n, w) == got_ww);
            double gsq = gs_sumsq(GS_F32, n, g), wg, ww2, wmax;
            ck_assert(gsq == got_gg || (isnan(gsq) && isnan(got_gg)));
            gs_grad_norms(w, NULL, n, &wg, &ww2, &wmax); /* finite values */
            ck_assert(wg == got_ww && ww2 == 0.0 && wmax > 0);
            for (int b = 0; b < BINS; b++)
                ck_assert_msg(hist[b] == want[b], "bin %d: %u, want %u", b, hist[b], want[b]);
            /* the infinity, or the NaN, dominates the sum and the maximum */
            ck_assert(with_nan ? isnan(got_gg) : isinf(got_gg));
            ck_assert(with_nan ? isnan(got_max) : isinf(got_max));
            ck_assert(fabs(got_ww - ww) <= 1e-10 * ww);
        }
    }
    gs_set_threads(1);
    free(g);
    free(w);
}
END_TEST

/*
 * The optimizer step (core/engine/optstep.c): an element-wise optimizer cut
 * into ranges on 1 to 4 threads gives the bits of one whole-tensor call,
 * and the measured update equals ||after - before||^2 from a full copy;
 * an optimizer that does not declare itself element-wise (a 1.1-sized
 * table) is called once on the whole tensor; GS_STEP_CLEAR_GRAD leaves
 * the gradient zeroed either way.
 */
static void momentum_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                          float *state)
{
    for (size_t i = 0; i < n; i++) {
        state[i] = 0.9f * state[i] + grad[i];
        state[c->stride + i] += grad[i] * grad[i];
        theta[i] -= (float)c->lr * state[i] / (1.0f + state[c->stride + i]);
    }
}

/* Scales by the call's mean |g|: wrong if the core ever split the tensor. */
static void normalized_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                            float *state)
{
    (void)state;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += fabs(grad[i]) / (double)n;
    for (size_t i = 0; i < n; i++)
        theta[i] -= (float)(c->lr * grad[i] / (mean + 1e-3));
}

static size_t two_slots(const gs_value *p)
{
    (void)p;
    return 2;
}

START_TEST(optimizer_step_in_ranges)
{
    const gs_optimizer_ops ew = {.size = sizeof ew, .state_slots = two_slots,
                                 .step = momentum_step, .elementwise = 1};
    const gs_optimizer_ops whole = {.size = sizeof whole, .state_slots = two_slots,
                                    .step = normalized_step, .elementwise = 0};
    ck_assert(gs_optimizer_elementwise(&ew));
    ck_assert(!gs_optimizer_elementwise(&whole));
    const size_t sizes[] = {1, 4095, 4097, 70001, 300000};
    for (int o = 0; o < 2; o++) {
        const gs_optimizer_ops *ops = o ? &whole : &ew;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            float *theta0 = random_array(n), *grad = random_array(n);
            float *want = gs_xmalloc(n * sizeof *want);
            float *want_state = gs_xcalloc(2 * n, sizeof(float));
            float *theta = gs_xmalloc(n * sizeof *theta);
            float *state = gs_xmalloc(2 * n * sizeof(float));
            memcpy(want, theta0, n * sizeof *want);
            gs_opt_call c = {.lr = 0.01, .t = 1, .stride = n};
            for (int step = 0; step < 2; step++)
                ops->step(&c, n, want, grad, want_state);
            double want_sq = 0;
            for (int threads = 1; threads <= 4; threads++) {
                gs_set_threads(threads);
                memcpy(theta, theta0, n * sizeof *theta);
                memset(state, 0, 2 * n * sizeof(float));
                double sq0 = gs_optimizer_step(ops, (gs_opt_call){.lr = 0.01, .t = 1}, n, 2, theta,
                                               grad, state, 0);
                ck_assert(isnan(sq0));
                float *mid = gs_xmalloc(n * sizeof *mid), *g = gs_xmalloc(n * sizeof *g);
                memcpy(mid, theta, n * sizeof *mid);
                memcpy(g, grad, n * sizeof *g);
                double sq = gs_optimizer_step(ops, (gs_opt_call){.lr = 0.01, .t = 2}, n, 2, theta,
                                              g, state, GS_STEP_MEASURE | GS_STEP_CLEAR_GRAD);
                ck_assert_msg(memcmp(theta, want, n * sizeof *theta) == 0 &&
                                  memcmp(state, want_state, 2 * n * sizeof(float)) == 0,
                              "%s optimizer, n %zu, %d threads: not the whole call's bits",
                              o ? "whole-tensor" : "element-wise", n, threads);
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg(g[i] == 0.0f, "n %zu: gradient %zu not cleared", n, i);
                free(g);
                if (threads == 1)
                    want_sq = gs_sqdist_f32(n, theta, mid);
                ck_assert_msg(sq == want_sq && sq > 0,
                              "n %zu, %d threads: update %.17g, want %.17g", n, threads, sq,
                              want_sq);
                free(mid);
            }
            gs_set_threads(1);
            free(theta0);
            free(grad);
            free(want);
            free(want_state);
            free(theta);
            free(state);
        }
    }
}
END_TEST

/* Each thread's CPU mask, seen from inside a team of `threads`. */
static void team_masks(int threads, cpu_set_t *masks)
{
#pragma omp parallel num_threads(threads)
    pthread_getaffinity_np(pthread_self(), sizeof masks[0], &masks[omp_get_thread_num()]);
}

/* As many threads as the CPUs the process may use: one thread per CPU,
   each on a different one, and every thread gets the whole set back when
   unpinned.  Fewer threads, or a placement chosen in the environment: no
   pinning. */
START_TEST(threads_pinned_one_per_cpu)
{
    cpu_set_t allowed;
    ck_assert_int_eq(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    int cpus = CPU_COUNT(&allowed);
    gs_pinning pin;
    unsetenv("OMP_PLACES");
    unsetenv("GOMP_CPU_AFFINITY");
    setenv("OMP_PROC_BIND", "false", 1);
    gs_set_threads(cpus);
    ck_assert_int_eq(gs_threads_pin(&pin), 0);
    unsetenv("OMP_PROC_BIND");
    gs_set_threads(cpus - 1);
    ck_assert_int_eq(gs_threads_pin(&pin), 0);
    if (cpus < 2) /* one CPU: nothing to share out */
        return;
    gs_set_threads(cpus);
    ck_assert_int_eq(gs_threads_pin(&pin), 1);
    cpu_set_t *masks = gs_xcalloc((size_t)cpus, sizeof *masks), taken;
    CPU_ZERO(&taken);
    team_masks(cpus, masks);
    for (int i = 0; i < cpus; i++) {
        ck_assert_int_eq(CPU_COUNT(&masks[i]), 1);
        CPU_OR(&taken, &taken, &masks[i]);
    }
    ck_assert_msg(CPU_EQUAL(&taken, &allowed), "the team does not cover the allowed CPUs once");
    gs_threads_unpin(&pin);
    team_masks(cpus, masks);
    for (int i = 0; i < cpus; i++)
        ck_assert_msg(CPU_EQUAL(&masks[i], &allowed), "thread %d not given its CPUs back", i);
    free(masks);
    gs_set_threads(1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, gemm_avx2_or_portable);
    tcase_add_loop_test(tc, gemm_every_isa, 0, 3);
    tcase_add_test(tc, gemm_isa_unknown);
    tcase_add_test(tc, gemm_pack_b_avx512);
    tcase_add_loop_test(tc, elementwise_every_isa, 0, 3);
    tcase_add_test(tc, gemm_degenerate);
    tcase_add_test(tc, reductions);
    tcase_add_test(tc, elementwise);
    tcase_add_test(tc, grad_stats);
    tcase_add_test(tc, optimizer_step_in_ranges);
    tcase_add_test(tc, threads_pinned_one_per_cpu);
    tcase_add_test(tc, format_g9);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    forked = srunner_fork_status(sr) != CK_NOFORK;
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
