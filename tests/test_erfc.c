/*
 * gs_erfcf (gradscope/activation.h) against libm's double erfc on every
 * 4097th float and the special values; its loop vectorized for each x86
 * level against the plain scalar loop, bit for bit; and the GELU plugin's
 * float kernels, which use it, against GELU written out in double down to
 * the tail where its output is subnormal.
 */
#include <check.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bits.h"
#include "testutil.h"
#include "gradscope/activation.h"

/* The bound the header states (ulp of the result, 2^-149 where it is
   subnormal); the worst case over all 2^32 floats is 0.6001 ulp. */
#define ERFC_ULP_BOUND 0.61

/* Check's ck_assert records its location on every pass; loops over a
   million values test with this instead. */
#define REQUIRE(cond, ...)                                                      \
    do {                                                                        \
        if (!(cond))                                                            \
            ck_abort_msg(__VA_ARGS__);                                          \
    } while (0)


/* The float ulp at |v|; 2^-149 in the subnormal range. */
static double float_ulp(double v)
{
    v = fabs(v);
    if (v < 0x1p-126)
        return 0x1p-149;
    int e;
    frexp(v, &e);
    return ldexp(1.0, e - 24);
}

/* |got - want| in ulps of want */
static double ulps(float got, double want) { return fabs((double)got - want) / float_ulp(want); }

START_TEST(test_erfcf_sample)
{
    double worst = 0.0, worst_sub = 0.0;
    float at = 0.0f;
    for (uint64_t b = 0; b < ((uint64_t)1 << 32); b += 4097) {
        const float x = f32_from_bits((uint32_t)b);
        const float y = gs_erfcf(x);
        if (isnan(x)) {
            REQUIRE(isnan(y), "erfc(%a) = %a, want NaN", (double)x, (double)y);
            continue;
        }
        const double want = erfc((double)x), u = ulps(y, want);
        if (want >= 0x1p-126 && u > worst)
            worst = u, at = x;
        if (want < 0x1p-126)
            worst_sub = fmax(worst_sub, u);
    }
    ck_assert_msg(worst <= ERFC_ULP_BOUND, "erfc: %.3f ulp at %a", worst, (double)at);
    /* subnormal results: in units of 2^-149 */
    ck_assert_msg(worst_sub <= ERFC_ULP_BOUND, "erfc, subnormal results: %.4f ulp", worst_sub);
}
END_TEST

START_TEST(test_erfcf_limits)
{
    ck_assert(gs_erfcf(0.0f) == 1.0f && gs_erfcf(-0.0f) == 1.0f);
    ck_assert(gs_erfcf(INFINITY) == 0.0f && !signbit(gs_erfcf(INFINITY)));
    ck_assert(gs_erfcf(-INFINITY) == 2.0f);
    ck_assert(gs_erfcf(FLT_MAX) == 0.0f && gs_erfcf(-FLT_MAX) == 2.0f);
    ck_assert(isnan(gs_erfcf(NAN)) && isnan(gs_erfcf(-NAN)));
    /* tiny and subnormal arguments: 1, with no slow path to take */
    for (uint32_t b = 1; b < 0x00800000u; b += 997)
        REQUIRE(gs_erfcf(f32_from_bits(b)) == 1.0f && gs_erfcf(-f32_from_bits(b)) == 1.0f,
                "erfc(+-%a) is not 1", (double)f32_from_bits(b));
    /* every float where erfc goes subnormal and then underflows to 0
       (erfcf gives 0 from 10.0546875 on), and where erfc(-x) reaches 2 */
    for (float x = 9.1f; x <= 10.2f; x = nextafterf(x, INFINITY)) {
        const float y = gs_erfcf(x);
        REQUIRE(ulps(y, erfc((double)x)) <= ERFC_ULP_BOUND, "erfc(%a) = %a", (double)x, (double)y);
        REQUIRE(x < 10.0546875f || y == 0.0f, "erfc(%a) = %a, want 0", (double)x, (double)y);
    }
    for (float x = -3.7f; x >= -4.1f; x = nextafterf(x, -INFINITY)) {
        const float y = gs_erfcf(x);
        REQUIRE(ulps(y, erfc((double)x)) <= ERFC_ULP_BOUND, "erfc(%a) = %a", (double)x, (double)y);
        REQUIRE(x > -3.9f || y == 2.0f, "erfc(%a) = %a, want 2", (double)x, (double)y);
    }
}
END_TEST

/*
 * The same bits on every instruction set: the loop as the plugins compile
 * it (omp simd, -fno-trapping-math: tests/catalogue.mk) for x86-64-v3 and
 * -v4 where this processor runs them and for the baseline, each against a
 * loop kept scalar.  A lane computes what the scalar code computes only
 * while nothing contracts a*b + c into an FMA (-ffp-contract=off).
 */
#define ERFC_LOOP(name, attr)                                                   \
    attr static void name(const float *x, float *y, size_t n)                   \
    {                                                                           \
        GS_SIMD                                                                 \
        for (size_t i = 0; i < n; i++)                                          \
            y[i] = gs_erfcf(x[i]);                                              \
    }

ERFC_LOOP(erfc_loop_base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_LEVELS 1
ERFC_LOOP(erfc_loop_v3, __attribute__((target("arch=x86-64-v3"))))
ERFC_LOOP(erfc_loop_v4, __attribute__((target("arch=x86-64-v4"))))
#endif

__attribute__((noinline, optimize("no-tree-vectorize"))) static void
erfc_loop_scalar(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = gs_erfcf(x[i]);
}

static void check_same_bits(void (*loop)(const float *, float *, size_t), const char *what)
{
    enum { N = (int)(((uint64_t)1 << 32) / 4099) + 1 };
    float *x = malloc(N * sizeof *x), *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    ck_assert(x && want && got);
    for (int i = 0; i < N; i++)
        x[i] = f32_from_bits((uint32_t)((uint64_t)i * 4099));
    erfc_loop_scalar(x, want, N);
    loop(x, got, N);
    for (int i = 0; i < N; i++)
        REQUIRE(f32_bits(got[i]) == f32_bits(want[i]), "%s: erfc(%a) = %a, scalar %a", what,
                (double)x[i], (double)got[i], (double)want[i]);
    free(x), free(want), free(got);
}

START_TEST(test_erfcf_same_bits)
{
    check_same_bits(erfc_loop_base, "baseline vector loop");
#ifdef X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v3"))
        check_same_bits(erfc_loop_v3, "x86-64-v3 loop");
    if (__builtin_cpu_supports("x86-64-v4"))
        check_same_bits(erfc_loop_v4, "x86-64-v4 loop");
#endif
}
END_TEST

/* ---- the GELU plugin's float kernels ---- */

static double gelu_ref(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }

static double gelu_grad_ref(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
}

/*
 * Every float result against GELU computed in double, from x = -14.5
 * (output subnormal) to 6, dy = 1.  The forward within 0.61 ulp.  The
 * backward takes Phi(x) = y/x from the forward's output, so it is allowed
 * half an ulp (its own rounding) plus the forward's 0.61 ulp divided by
 * |x|, and 1e-9 of its two terms (the rest of its arithmetic); over every
 * float that is at most 1.244 ulp for x >= 0 and 0.626 below -2, more in
 * ulps only near x = -0.75 where the two terms cancel.  The erfc of x/sqrt(2) rounded to
 * float first, as erfcf(-x*0.70710678f), is up to 7e-6 off near x = -12.
 */
START_TEST(test_gelu_f32_accuracy)
{
    gs_registry *reg = tu_registry();
    gs_error err;
    gs_ref *r = gs_ref_parse(reg, GS_KIND_ACTIVATION, "gelu", "", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    const gs_activation_ops *ops = gs_ref_component(r)->ops;
    /* and around 0, where y/x is not used: y = x/2 loses bits for a
       subnormal x, and 0/0 */
    static const float tiny[] = {0.0f, 0x1p-149f, 0x1p-140f, 0x1p-127f, 1e-30f, 1e-10f, 0x1p-10f,
                                 0x1.fffffep-10f, 0x1p-9f, 0x1.000002p-9f, 0.01f};
    enum { NG = 40001, NT = sizeof tiny / sizeof tiny[0], N = NG + 2 * NT };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *dx = malloc(N * sizeof *dx);
    float *dy = malloc(N * sizeof *dy);
    ck_assert(x && y && dx && dy);
    for (int i = 0; i < N; i++) {
        x[i] = i < NG ? (float)(-14.5 + 20.5 * i / (NG - 1)) : (i - NG) % 2 ? -tiny[(i - NG) / 2]
                                                                         : tiny[(i - NG) / 2];
        dy[i] = 1.0f;
    }
    gs_act_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = 1,
                     .layout = GS_LAYOUT_VECTOR, .channels = N, .positions = 1};
    ops->forward_f32(&c, x, y);
    ops->backward_f32(&c, x, y, dy, dx, NULL);
    for (int i = 0; i < N; i++) {
        const double xd = x[i], want = gelu_ref(xd), g = gelu_grad_ref(xd);
        REQUIRE(ulps(y[i], want) <= ERFC_ULP_BOUND, "gelu(%a) = %a, want %a (%.2f ulp)", xd, (double)y[i],
                want, ulps(y[i], want));
        const double terms = 0.5 * erfc(-xd / sqrt(2.0)) + fabs(xd) * exp(-0.5 * xd * xd);
        const double from_y = xd != 0 ? ERFC_ULP_BOUND * float_ulp(want) / fabs(xd) : 0.0;
        REQUIRE(fabs(dx[i] - g) <= 0.5 * float_ulp(g) + from_y + 1e-9 * terms,
                "gelu'(%a) = %a, want %a (%.2f ulp)", xd, (double)dx[i], g, ulps(dx[i], g));
        if (xd >= 0 || xd <= -2)
            REQUIRE(ulps(dx[i], g) <= (xd >= 0 ? 1.25 : 0.64), "gelu'(%a) = %a, want %a (%.2f ulp)", xd,
                    (double)dx[i], g, ulps(dx[i], g));
    }
    free(x), free(y), free(dx), free(dy);
    gs_ref_free(r);
    gs_registry_free(reg);
}
END_TEST

static Suite *erfc_suite(void)
{
    Suite *s = suite_create("erfc");
    TCase *tc = tcase_create("erfc");
    /* well under a second of processor time, but a busy machine can
       stretch that past Check's default of 4 s */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_erfcf_sample);
    tcase_add_test(tc, test_erfcf_limits);
    tcase_add_test(tc, test_erfcf_same_bits);
    tcase_add_test(tc, test_gelu_f32_accuracy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(erfc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
