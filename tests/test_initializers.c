/*
 * Initializer plugins: sample moments against the formulas of the PyTorch
 * functions they follow, orthogonality and the QR sign convention of the
 * orthogonal initializer, reproducibility from the seed, exact constants.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"

static gs_registry *reg;

typedef struct fill_args {
    int ndim;
    size_t dims[4];
    size_t fan_in, fan_out;
    double activation_gain, activation_slope;
    uint64_t seed;
} fill_args;

static size_t numel(const fill_args *a)
{
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->dims[d];
    return n;
}

/* Runs NAME's fill with parameters TEXT; returns fill's status. */
static int fill(const char *name, const char *text, const fill_args *a, double *out)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(reg, GS_KIND_INITIALIZER, name, text, &err);
    ck_assert_msg(r != NULL, "%s %s: %s", name, text, err.msg);
    const gs_initializer_ops *ops = gs_ref_component(r)->ops;
    gs_rng *rng = gs_rng_new(a->seed, 7);
    gs_init_call c = {
        .host = gs_host_table(),
        .p = gs_ref_values(r),
        .rng = rng,
        .ndim = a->ndim,
        .dims = a->dims,
        .fan_in = a->fan_in,
        .fan_out = a->fan_out,
        .activation_gain = a->activation_gain,
        .activation_slope = a->activation_slope,
    };
    int rc = ops->fill(&c, out);
    gs_rng_free(rng);
    gs_ref_free(r);
    return rc;
}

/* ---- moments over 10^6 draws ---- */

/*
 * The fans are passed as given, not derived from the 1000 x 1000 shape, so
 * that formulas mixing up fan_in and fan_out show (the core computes the
 * fans from real shapes).
 */
enum { FAN_IN = 400, FAN_OUT = 2500 };

typedef struct moment_case {
    const char *name, *text;
    double gain, slope; /* what the following activation would report */
    double mean, var;
    double bound; /* > 0: a uniform law on mean +- bound */
} moment_case;

#define XAVIER_VAR (2.0 / (FAN_IN + FAN_OUT))

static const moment_case moment_cases[] = {
    {"normal", "", 1, 0, 0.0, 1.0, 0},
    {"normal", "mean = 0.5; std = 2.0;", 1, 0, 0.5, 4.0, 0},
    {"uniform", "", 1, 0, 0.5, 1.0 / 12, 0.5},
    {"uniform", "a = -1.0; b = 3.0;", 1, 0, 1.0, 16.0 / 12, 2.0},
    /* U(+-1/sqrt(fan_in)): variance 1/(3 fan_in) */
    {"standard", "", 1, 0, 0.0, 1.0 / (3.0 * FAN_IN), 0.05},
    {"lecun", "", 1, 0, 0.0, 1.0 / FAN_IN, 0},
    {"lecun", "distribution = \"uniform\";", 1, 0, 0.0, 1.0 / FAN_IN, 0.08660254037844387},
    {"xavier", "", 1, 0, 0.0, XAVIER_VAR, 0},
    /* xavier_uniform_ bound gain*sqrt(6/(fan_in + fan_out)) = 2*sqrt(6/2900) */
    {"xavier", "distribution = \"uniform\"; gain = 2.0;", 1, 0, 0.0, 4.0 * XAVIER_VAR,
     0.09097176522946841},
    {"xavier", "auto_gain = true; gain = 3.0;", 5.0 / 3.0, 0, 0.0, 25.0 / 9.0 * XAVIER_VAR, 0},
    {"he", "", 1, 0, 0.0, 2.0 / FAN_IN, 0},
    {"kaiming", "", 1, 0, 0.0, 2.0 / FAN_IN, 0},
    {"he", "mode = \"fan_out\";", 1, 0, 0.0, 2.0 / FAN_OUT, 0},
    /* kaiming_uniform_(a = 0.2): bound sqrt(3) * sqrt(2/1.04)/sqrt(400) */
    {"he", "distribution = \"uniform\"; nonlinearity = \"leaky_relu\"; negative_slope = 0.2;", 1,
     0, 0.0, 2.0 / (1.04 * FAN_IN), 0.12009611535381534},
    /* auto: the following activation's gain, here leaky_relu(0.1)'s sqrt(2/1.01) */
    {"he", "nonlinearity = \"auto\";", 1.4071950894605838, 0.1, 0.0, 2.0 / (1.01 * FAN_IN), 0},
    /* ... and tanh's 5/3 */
    {"he", "nonlinearity = \"auto\";", 5.0 / 3.0, 0, 0.0, 25.0 / 9.0 / FAN_IN, 0},
    /* relu ignores negative_slope */
    {"he", "negative_slope = 0.5;", 1, 0.3, 0.0, 2.0 / FAN_IN, 0},
};

START_TEST(test_moments)
{
    const moment_case *t = &moment_cases[_i];
    fill_args a = {.ndim = 2, .dims = {1000, 1000}, .fan_in = FAN_IN, .fan_out = FAN_OUT,
                   .activation_gain = t->gain, .activation_slope = t->slope, .seed = 42};
    const size_t n = numel(&a);
    double *w = malloc(n * sizeof *w);
    ck_assert_int_eq(fill(t->name, t->text, &a, w), 0);
    double sum = 0.0, lo = w[0], hi = w[0];
    for (size_t k = 0; k < n; k++) {
        sum += w[k];
        lo = fmin(lo, w[k]);
        hi = fmax(hi, w[k]);
    }
    const double mean = sum / (double)n;
    double ss = 0.0;
    for (size_t k = 0; k < n; k++)
        ss += (w[k] - mean) * (w[k] - mean);
    const double var = ss / (double)(n - 1);
    const double sd = sqrt(t->var);
    ck_assert_msg(fabs(mean - t->mean) <= 0.01 * fmax(fabs(t->mean), sd),
                  "%s(%s): mean %g, want %g", t->name, t->text, mean, t->mean);
    ck_assert_msg(fabs(var / t->var - 1.0) <= 0.01, "%s(%s): variance %g, want %g", t->name,
                  t->text, var, t->var);
    if (t->bound > 0) {
        /* inside the support, and 10^6 draws come within 0.1 % of its ends */
        ck_assert_msg(lo >= t->mean - t->bound && hi <= t->mean + t->bound,
                      "%s(%s): range [%g, %g] outside +-%g", t->name, t->text, lo, hi, t->bound);
        ck_assert_msg(lo < t->mean - 0.999 * t->bound && hi > t->mean + 0.999 * t->bound,
                      "%s(%s): range [%g, %g] short of +-%g", t->name, t->text, lo, hi, t->bound);
    }
    free(w);
}
END_TEST

/* ---- orthogonal ---- */

/* Max deviation of W^T W (tall, square) or W W^T (wide) from gain^2 I. */
static double orthogonality_error(const double *w, size_t rows, size_t cols, double gain)
{
    const int wide = rows < cols;
    const size_t k = wide ? rows : cols, len = wide ? cols : rows;
    double worst = 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double s = 0.0;
            for (size_t t = 0; t < len; t++)
                s += wide ? w[i * cols + t] * w[j * cols + t] : w[t * cols + i] * w[t * cols + j];
            worst = fmax(worst, fabs(s - (i == j ? gain * gain : 0.0)));
        }
    return worst;
}

/*
 * torch's convention: for the matrix A of draws (rows x cols, or its
 * transpose when wide), Q^T A = R is upper triangular with a positive
 * diagonal.  Redraws A from the same seed and stream to check it.
 */
static double qr_convention_error(const double *w, size_t rows, size_t cols, double gain,
                                  uint64_t seed, double *min_diag)
{
    const gs_host *h = gs_host_table();
    gs_rng *rng = gs_rng_new(seed, 7);
    const size_t n = rows * cols;
    double *draws = malloc(n * sizeof *draws);
    for (size_t k = 0; k < n; k++)
        draws[k] = h->rng_normal(rng);
    gs_rng_free(rng);
    const int wide = rows < cols;
    /* A is m x p, Q = W / gain (tall) or W^T / gain (wide) */
    const size_t m = wide ? cols : rows, p = wide ? rows : cols;
    double worst = 0.0;
    *min_diag = HUGE_VAL;
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double r = 0.0;
            for (size_t t = 0; t < m; t++) {
                double q = wide ? w[i * cols + t] : w[t * cols + i];
                double av = wide ? draws[j * cols + t] : draws[t * cols + j];
                r += q / gain * av;
            }
            if (i > j)
                worst = fmax(worst, fabs(r));
            if (i == j)
                *min_diag = fmin(*min_diag, r);
        }
    free(draws);
    return worst;
}

typedef struct ortho_case {
    int ndim;
    size_t dims[4];
    const char *text;
    double gain;
} ortho_case;

static const ortho_case ortho_cases[] = {
    {2, {64, 64}, "", 1.0},
    {2, {100, 30}, "", 1.0},
    {2, {30, 100}, "", 1.0},
    {2, {50, 50}, "gain = 2.0;", 2.0},
    {4, {16, 4, 3, 3}, "", 1.0}, /* a convolution: 16 x 36, wide */
    {4, {40, 2, 2, 2}, "gain = 0.5;", 0.5}, /* 40 x 8, tall */
    {2, {1, 10}, "", 1.0},
};

START_TEST(test_orthogonal)
{
    const ortho_case *t = &ortho_cases[_i];
    fill_args a = {.ndim = t->ndim, .fan_in = 1, .fan_out = 1, .activation_gain = 1, .seed = 9};
    memcpy(a.dims, t->dims, sizeof a.dims);
    const size_t n = numel(&a), rows = t->dims[0], cols = n / rows;
    double *w = malloc(n * sizeof *w);
    ck_assert_int_eq(fill("orthogonal", t->text, &a, w), 0);
    double err = orthogonality_error(w, rows, cols, t->gain);
    ck_assert_msg(err < 1e-5 * t->gain * t->gain, "%zu x %zu: orthogonality error %g", rows, cols,
                  err);
    double min_diag;
    double tri = qr_convention_error(w, rows, cols, t->gain, a.seed, &min_diag);
    ck_assert_msg(tri < 1e-9, "%zu x %zu: Q^T A not upper triangular (%g)", rows, cols, tri);
    ck_assert_msg(min_diag > 0, "%zu x %zu: R has diagonal %g", rows, cols, min_diag);
    free(w);
}
END_TEST

START_TEST(test_orthogonal_rejects_vectors)
{
    fill_args a = {.ndim = 1, .dims = {10}, .fan_in = 10, .fan_out = 1, .seed = 1};
    double w[10];
    ck_assert_int_eq(fill("orthogonal", "", &a, w), -1);
}
END_TEST

/* ---- reproducibility and exact values ---- */

START_TEST(test_same_seed_same_values)
{
    static const char *const names[] = {"normal", "uniform", "standard", "lecun",
                                        "xavier", "he", "orthogonal"};
    for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
        fill_args a = {.ndim = 2, .dims = {20, 30}, .fan_in = 30, .fan_out = 20, .seed = 123};
        double w1[600], w2[600], w3[600];
        ck_assert_int_eq(fill(names[j], "", &a, w1), 0);
        ck_assert_int_eq(fill(names[j], "", &a, w2), 0);
        a.seed = 124;
        ck_assert_int_eq(fill(names[j], "", &a, w3), 0);
        ck_assert_msg(memcmp(w1, w2, sizeof w1) == 0, "%s: same seed, different values", names[j]);
        ck_assert_msg(memcmp(w1, w3, sizeof w1) != 0, "%s: seed ignored", names[j]);
    }
}
END_TEST

START_TEST(test_zeros_and_constant)
{
    fill_args a = {.ndim = 4, .dims = {3, 2, 2, 5}, .fan_in = 20, .fan_out = 60, .seed = 5};
    double w[60];
    for (int k = 0; k < 60; k++)
        w[k] = 99.0;
    ck_assert_int_eq(fill("zeros", "", &a, w), 0);
    for (int k = 0; k < 60; k++)
        ck_assert(w[k] == 0.0);
    ck_assert_int_eq(fill("constant", "value = 0.75;", &a, w), 0);
    for (int k = 0; k < 60; k++)
        ck_assert(w[k] == 0.75);
    ck_assert_int_eq(fill("constant", "", &a, w), 0);
    for (int k = 0; k < 60; k++)
        ck_assert(w[k] == 0.0);
}
END_TEST

START_TEST(test_errors)
{
    fill_args a = {.ndim = 2, .dims = {4, 4}, .fan_in = 0, .fan_out = 0, .seed = 5};
    double w[16];
    ck_assert_int_eq(fill("uniform", "a = 2.0; b = 1.0;", &a, w), -1);
    ck_assert_int_eq(fill("standard", "", &a, w), -1);
    ck_assert_int_eq(fill("lecun", "", &a, w), -1);
    ck_assert_int_eq(fill("xavier", "", &a, w), -1);
    ck_assert_int_eq(fill("he", "", &a, w), -1);
}
END_TEST

static const char *const init_names[] = {"zeros",  "constant", "normal", "uniform",  "standard",
                                         "lecun",  "xavier",   "he",     "kaiming",  "orthogonal"};

START_TEST(test_check_component)
{
    const gs_component_info *info = gs_registry_find(reg, GS_KIND_INITIALIZER, init_names[_i]);
    ck_assert_msg(info != NULL, "%s not registered", init_names[_i]);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, info, &res), "%s: %s", res.component, res.detail);
}
END_TEST

static Suite *initializer_suite(void)
{
    Suite *s = suite_create("initializers");
    TCase *tm = tcase_create("moments");
    tcase_set_timeout(tm, 60);
    tcase_add_loop_test(tm, test_moments, 0, (int)(sizeof moment_cases / sizeof moment_cases[0]));
    suite_add_tcase(s, tm);

    TCase *to = tcase_create("orthogonal");
    tcase_add_loop_test(to, test_orthogonal, 0, (int)(sizeof ortho_cases / sizeof ortho_cases[0]));
    tcase_add_test(to, test_orthogonal_rejects_vectors);
    suite_add_tcase(s, to);

    TCase *tc = tcase_create("basics");
    tcase_add_test(tc, test_same_seed_same_values);
    tcase_add_test(tc, test_zeros_and_constant);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);

    TCase *tk = tcase_create("check-plugin");
    tcase_set_timeout(tk, 60);
    tcase_add_loop_test(tk, test_check_component, 0,
                        (int)(sizeof init_names / sizeof init_names[0]));
    suite_add_tcase(s, tk);
    return s;
}

int main(void)
{
    gs_error err;
    reg = gs_registry_new();
    if (gs_registry_load_default(reg, NULL, 0, &err) != 0) {
        fprintf(stderr, "test_initializers: %s\n", err.msg);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(initializer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    gs_registry_free(reg);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
