/*
 * Loss plugins against torch.nn's definitions, re-derived here in double:
 * values, gradients against central differences, extreme logits, and
 * float/double agreement.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"

#define NB 4
#define W 5

/* Moderate logits, so the naive reference formulas below are accurate. */
static const double logits[NB * W] = {
    0.3, -1.2, 2.5, 0.0, 0.7,   -0.4, 0.9, 0.1, -2.2, 1.3,
    1.1, 1.1, -0.5, 0.6, -1.7,  -3.0, 2.2, 0.4, 0.8, -0.1,
};
static const int32_t labels[NB] = {2, 0, 4, 1};
static const double targets[NB * W] = {
    0.0, 1.0, 0.5, 0.2, 0.9,  1.0, 0.0, 0.3, 0.7, 0.1,
    0.4, 0.6, 1.0, 0.0, 0.5,  0.8, 0.2, 0.0, 1.0, 0.35,
};

static gs_registry *registry(void)
{
    static gs_registry *reg;
    if (!reg) {
        gs_error err;
        reg = gs_registry_new();
        ck_assert_msg(gs_registry_load_default(reg, NULL, 0, &err) == 0, "%s", err.msg);
    }
    return reg;
}

static gs_ref *parse(const char *name, const char *text)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(registry(), GS_KIND_LOSS, name, text, &err);
    ck_assert_msg(r != NULL, "%s: %s", name, err.msg);
    return r;
}

static const gs_loss_ops *ops_of(const gs_ref *r)
{
    return gs_ref_component(r)->ops;
}

/* A call over NB x W with this file's labels or targets in dtype dt. */
static gs_loss_call call_for(const gs_ref *r, const void *tgt)
{
    gs_loss_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = NB, .width = W};
    if (ops_of(r)->needs_labels)
        c.labels = labels;
    else
        c.targets = tgt;
    return c;
}

/* ---- reference definitions ---- */

static double ref_ce(double eps, const double *x, const int32_t *y, size_t n, size_t w)
{
    double total = 0;
    for (size_t r = 0; r < n; r++) {
        double s = 0;
        for (size_t j = 0; j < w; j++)
            s += exp(x[r * w + j]);
        for (size_t j = 0; j < w; j++) {
            double q = (j == (size_t)y[r] ? 1 - eps : 0) + eps / (double)w;
            total -= q * log(exp(x[r * w + j]) / s);
        }
    }
    return total / (double)n;
}

static double ref_mse(const double *x, const double *t, size_t count)
{
    double s = 0;
    for (size_t i = 0; i < count; i++)
        s += (x[i] - t[i]) * (x[i] - t[i]);
    return s / (double)count;
}

static double ref_bce(const double *x, const double *t, size_t count)
{
    double s = 0;
    for (size_t i = 0; i < count; i++) {
        double p = 1 / (1 + exp(-x[i]));
        s -= t[i] * log(p) + (1 - t[i]) * log(1 - p);
    }
    return s / (double)count;
}

/* ---- shared checks ---- */

static void check_value(const char *name, const char *text, double want)
{
    gs_ref *r = parse(name, text);
    gs_loss_call c = call_for(r, targets);
    double d[NB * W];
    ck_assert_msg(fabs(ops_of(r)->eval_f64(&c, logits, NULL) - want) <= 1e-12 * fmax(1, want),
                  "%s f64 loss", name);
    ck_assert_msg(fabs(ops_of(r)->eval_f64(&c, logits, d) - want) <= 1e-12 * fmax(1, want),
                  "%s f64 loss with gradient", name);

    float xf[NB * W], tf[NB * W], df[NB * W];
    for (size_t i = 0; i < NB * W; i++) {
        xf[i] = (float)logits[i];
        tf[i] = (float)targets[i];
    }
    c = call_for(r, tf);
    double lf = ops_of(r)->eval_f32(&c, xf, df);
    ck_assert_msg(fabs(lf - want) <= 1e-6 * fmax(1, want), "%s f32 loss %.9g vs %.9g", name, lf,
                  want);
    gs_ref_free(r);
}

/* d against central differences of eval_f64, and f32 against f64. */
static void check_gradient(const char *name, const char *text)
{
    gs_ref *r = parse(name, text);
    const gs_loss_ops *ops = ops_of(r);
    gs_loss_call c = call_for(r, targets);
    double x[NB * W], d[NB * W];
    for (size_t i = 0; i < NB * W; i++)
        x[i] = logits[i];
    ops->eval_f64(&c, x, d);
    const double h = 1e-5;
    for (size_t i = 0; i < NB * W; i++) {
        x[i] = logits[i] + h;
        double up = ops->eval_f64(&c, x, NULL);
        x[i] = logits[i] - h;
        double down = ops->eval_f64(&c, x, NULL);
        x[i] = logits[i];
        double fd = (up - down) / (2 * h);
        ck_assert_msg(fabs(d[i] - fd) <= 1e-8, "%s: d[%zu] = %.10g, finite difference %.10g",
                      name, i, d[i], fd);
    }

    float xf[NB * W], tf[NB * W], df[NB * W];
    for (size_t i = 0; i < NB * W; i++) {
        xf[i] = (float)logits[i];
        tf[i] = (float)targets[i];
    }
    c = call_for(r, tf);
    ops->eval_f32(&c, xf, df);
    for (size_t i = 0; i < NB * W; i++)
        ck_assert_msg(fabs(df[i] - d[i]) <= 1e-6, "%s: f32 d[%zu] = %.9g, f64 %.9g", name, i,
                      (double)df[i], d[i]);
    gs_ref_free(r);
}

/* ---- softmax cross-entropy ---- */

START_TEST(ce_value)
{
    check_value("softmax_cross_entropy", "", ref_ce(0.0, logits, labels, NB, W));
}
END_TEST

START_TEST(ce_value_label_smoothing)
{
    check_value("softmax_cross_entropy", "label_smoothing = 0.2;",
                ref_ce(0.2, logits, labels, NB, W));
    check_value("softmax_cross_entropy", "label_smoothing = 1.0;",
                ref_ce(1.0, logits, labels, NB, W));
}
END_TEST

START_TEST(ce_gradient)
{
    check_gradient("softmax_cross_entropy", "");
    check_gradient("softmax_cross_entropy", "label_smoothing = 0.3;");
}
END_TEST

START_TEST(ce_gradient_formula)
{
    /* d = (softmax - q) / n, written out. */
    const double eps = 0.1;
    gs_ref *r = parse("softmax_cross_entropy", "label_smoothing = 0.1;");
    gs_loss_call c = call_for(r, NULL);
    double d[NB * W];
    ops_of(r)->eval_f64(&c, logits, d);
    for (size_t row = 0; row < NB; row++) {
        double s = 0;
        for (size_t j = 0; j < W; j++)
            s += exp(logits[row * W + j]);
        for (size_t j = 0; j < W; j++) {
            double q = (j == (size_t)labels[row] ? 1 - eps : 0) + eps / W;
            double want = (exp(logits[row * W + j]) / s - q) / NB;
            ck_assert(fabs(d[row * W + j] - want) <= 1e-15);
        }
    }
    gs_ref_free(r);
}
END_TEST

START_TEST(ce_extreme_logits)
{
    /* Rows with a +-1000 spread: every naive exp overflows or underflows.
       Row 0: label at the maximum, loss ~ 0.  Row 1: label 2000 below the
       maximum, loss = 2000 + log(1 + e^-1000 + e^-2000) = 2000. */
    static const double xd[2 * 3] = {1000, -1000, 0, 1000, 0, -1000};
    static const int32_t y[2] = {0, 2};
    gs_ref *r = parse("softmax_cross_entropy", "label_smoothing = 0.1;");
    gs_loss_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = 2, .width = 3,
                      .labels = y};
    /* smoothing adds eps/3 * (lse - x_j) over all j to each row */
    const double eps = 0.1;
    const double row0 = (1 - eps) * 0 + eps / 3 * (0 + 2000 + 1000);
    const double row1 = (1 - eps) * 2000 + eps / 3 * (0 + 1000 + 2000);
    const double want = (row0 + row1) / 2;
    double d[6];
    double l = ops_of(r)->eval_f64(&c, xd, d);
    ck_assert_msg(fabs(l - want) <= 1e-12 * want, "f64 loss %.17g, want %.17g", l, want);
    float xf[6], df[6];
    for (int i = 0; i < 6; i++)
        xf[i] = (float)xd[i];
    double lf = ops_of(r)->eval_f32(&c, xf, df);
    ck_assert_msg(fabs(lf - want) <= 1e-6 * want, "f32 loss %.9g, want %.9g", lf, want);
    for (int i = 0; i < 6; i++) {
        ck_assert(isfinite(d[i]) && isfinite(df[i]));
        ck_assert(fabs(d[i] - df[i]) <= 1e-7);
    }
    /* softmax is one-hot at the maximum: d = (onehot(argmax) - q) / 2 */
    ck_assert(fabs(d[0] - (1 - (1 - eps) - eps / 3) / 2) <= 1e-15);
    ck_assert(fabs(d[5] - (0 - (1 - eps) - eps / 3) / 2) <= 1e-15);
    gs_ref_free(r);
}
END_TEST

/* ---- mean squared error ---- */

START_TEST(mse_value)
{
    check_value("mse", "", ref_mse(logits, targets, NB * W));
}
END_TEST

START_TEST(mse_gradient)
{
    check_gradient("mse", "");
}
END_TEST

/* ---- binary cross-entropy on logits ---- */

START_TEST(bce_value)
{
    check_value("bce_with_logits", "", ref_bce(logits, targets, NB * W));
}
END_TEST

START_TEST(bce_gradient)
{
    check_gradient("bce_with_logits", "");
}
END_TEST

START_TEST(bce_extreme_logits)
{
    /* x t terms dominate: loss_i = max(x,0) - x t exactly to double. */
    static const double xd[4] = {1000, -1000, 1000, -1000};
    static const double td[4] = {1.0, 0.0, 0.3, 0.3};
    const double want = (0 + 0 + 700 + 300) / 4.0;
    gs_ref *r = parse("bce_with_logits", "");
    gs_loss_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = 2, .width = 2,
                      .targets = td};
    double d[4];
    double l = ops_of(r)->eval_f64(&c, xd, d);
    ck_assert_msg(fabs(l - want) <= 1e-12 * want, "f64 loss %.17g", l);
    /* sigmoid saturates to exactly 1 and 0: d = (s - t) / 4 */
    ck_assert(d[0] == 0.0 && d[1] == 0.0);
    ck_assert(fabs(d[2] - 0.7 / 4) <= 1e-15 && fabs(d[3] + 0.3 / 4) <= 1e-15);
    float xf[4], tf[4], df[4];
    for (int i = 0; i < 4; i++) {
        xf[i] = (float)xd[i];
        tf[i] = (float)td[i];
    }
    c.targets = tf;
    double lf = ops_of(r)->eval_f32(&c, xf, df);
    ck_assert_msg(fabs(lf - want) <= 1e-6 * want, "f32 loss %.9g", lf);
    for (int i = 0; i < 4; i++)
        ck_assert(isfinite(df[i]) && fabs(df[i] - d[i]) <= 1e-7);
    gs_ref_free(r);
}
END_TEST

/* ---- sequences: one target per step, padded steps masked ---- */

/* The file's NB rows as 2 examples of 2 steps; the second step of the first
   example is padding. */
static const uint8_t seq_mask[NB] = {1, 0, 1, 1};

/* The loss by hand over the counted rows only: the same definitions on the
   rows {0, 2, 3}, a mean over those 3 rows (times W for the element-wise ones). */
static double seq_reference(const char *name)
{
    double x[3 * W], t[3 * W];
    int32_t y[3];
    static const size_t keep[3] = {0, 2, 3};
    for (size_t k = 0; k < 3; k++) {
        memcpy(x + k * W, logits + keep[k] * W, W * sizeof *x);
        memcpy(t + k * W, targets + keep[k] * W, W * sizeof *t);
        y[k] = labels[keep[k]];
    }
    if (!strcmp(name, "softmax_cross_entropy"))
        return ref_ce(0.0, x, y, 3, W);
    if (!strcmp(name, "mse"))
        return ref_mse(x, t, 3 * W);
    return ref_bce(x, t, 3 * W);
}

static const char *const seq_losses[] = {"softmax_cross_entropy", "mse", "bce_with_logits"};

START_TEST(masked_sequence_value_and_gradient)
{
    const char *name = seq_losses[_i];
    gs_ref *r = parse(name, "");
    const gs_loss_ops *ops = ops_of(r);
    ck_assert_msg(ops->per_step, "%s must honour steps and masks", name);
    gs_loss_call c = call_for(r, targets);
    c.n = NB / 2;
    c.steps = 2;
    c.mask = seq_mask;
    ck_assert_uint_eq(gs_loss_rows(&c), NB);
    ck_assert_uint_eq(gs_loss_counted(&c), 3);
    double x[NB * W], d[NB * W];
    memcpy(x, logits, sizeof x);
    double loss = ops->eval_f64(&c, x, d);
    double want = seq_reference(name);
    ck_assert_msg(fabs(loss - want) <= 1e-12 * fmax(1, fabs(want)), "%s: %.15g, by hand %.15g",
                  name, loss, want);
    /* the padded step: no gradient; the others: the derivative of the masked mean */
    for (size_t j = 0; j < W; j++)
        ck_assert_msg(d[W + j] == 0.0, "%s: padded output %zu has gradient %g", name, j, d[W + j]);
    const double h = 1e-6;
    for (size_t i = 0; i < NB * W; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = ops->eval_f64(&c, x, NULL);
        x[i] = keep - h;
        double down = ops->eval_f64(&c, x, NULL);
        x[i] = keep;
        double fd = (up - down) / (2 * h);
        ck_assert_msg(fabs(fd - d[i]) <= 1e-8 + 1e-6 * fabs(fd), "%s: d[%zu] %.12g, fd %.12g",
                      name, i, d[i], fd);
    }
    /* the float kernel agrees, mask and all */
    float xf[NB * W], df[NB * W], tf[NB * W];
    for (size_t i = 0; i < NB * W; i++)
        xf[i] = (float)x[i], tf[i] = (float)targets[i];
    if (!ops->needs_labels)
        c.targets = tf;
    double lf = ops->eval_f32(&c, xf, df);
    ck_assert(fabs(lf - loss) < 1e-5 * fmax(1, fabs(loss)));
    for (size_t i = 0; i < NB * W; i++)
        ck_assert(fabs(df[i] - d[i]) < 1e-5);
    /* without a mask, steps = 2 over 2 examples is the plain mean over the 4 rows */
    c.mask = NULL;
    c.targets = targets;
    double plain = ops->eval_f64(&c, x, NULL);
    gs_loss_call one = call_for(r, targets);
    ck_assert(plain == ops->eval_f64(&one, x, NULL));
    /* every step padded: no loss, no gradient */
    static const uint8_t none[NB] = {0, 0, 0, 0};
    c.mask = none;
    ck_assert(ops->eval_f64(&c, x, d) == 0.0);
    for (size_t i = 0; i < NB * W; i++)
        ck_assert(d[i] == 0.0);
    gs_ref_free(r);
}
END_TEST

START_TEST(label_kinds)
{
    gs_ref *r = parse("softmax_cross_entropy", "");
    ck_assert_int_eq(ops_of(r)->needs_labels, 1);
    gs_ref_free(r);
    r = parse("mse", "");
    ck_assert_int_eq(ops_of(r)->needs_labels, 0);
    gs_ref_free(r);
    r = parse("bce_with_logits", "");
    ck_assert_int_eq(ops_of(r)->needs_labels, 0);
    gs_ref_free(r);
}
END_TEST

START_TEST(smoothing_range)
{
    gs_error err;
    ck_assert_ptr_null(gs_ref_parse(registry(), GS_KIND_LOSS, "softmax_cross_entropy",
                                    "label_smoothing = 1.5;", &err));
}
END_TEST

START_TEST(check_component_ok)
{
    static const char *names[] = {"softmax_cross_entropy", "mse", "bce_with_logits"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const gs_component_info *info = gs_registry_find(registry(), GS_KIND_LOSS, names[i]);
        ck_assert_msg(info != NULL, "loss %s not found", names[i]);
        gs_check_result res;
        ck_assert_msg(gs_check_component(registry(), info, &res), "%s: %s", res.component,
                      res.detail);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("losses");
    TCase *tc = tcase_create("torch");
    tcase_add_test(tc, ce_value);
    tcase_add_test(tc, ce_value_label_smoothing);
    tcase_add_test(tc, ce_gradient);
    tcase_add_test(tc, ce_gradient_formula);
    tcase_add_test(tc, ce_extreme_logits);
    tcase_add_test(tc, mse_value);
    tcase_add_test(tc, mse_gradient);
    tcase_add_test(tc, bce_value);
    tcase_add_test(tc, bce_gradient);
    tcase_add_test(tc, bce_extreme_logits);
    tcase_add_loop_test(tc, masked_sequence_value_and_gradient, 0, 3);
    tcase_add_test(tc, label_kinds);
    tcase_add_test(tc, smoothing_range);
    tcase_add_test(tc, check_component_ok);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
