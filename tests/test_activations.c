/*
 * Activation plugins against formulas written out here in double, their
 * backward kernels against central differences of their forward kernels,
 * PReLU's slope gradient against differences in the slope, and the float
 * kernels against the double ones.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"
#include "gradscope/testing.h"

static gs_registry *reg;

typedef double (*ref_fn)(double x, const gs_value *p);

typedef struct act_case {
    const char *name;
    const char *text; /* parameters, libconfig syntax */
    ref_fn ref;
    double gain;
    double threshold;
} act_case;

/* ---- reference formulas, written independently of the plugins ---- */

static double ref_relu(double x, const gs_value *p) { (void)p; return x > 0 ? x : 0.0; }
static double ref_leaky(double x, const gs_value *p) { return x >= 0 ? x : p[0].f * x; }
static double ref_elu(double x, const gs_value *p) { return x > 0 ? x : p[0].f * (exp(x) - 1.0); }

static double ref_selu(double x, const gs_value *p)
{
    (void)p;
    const double alpha = 1.6732632423543772848170429916717;
    const double scale = 1.0507009873554804934193349852946;
    return x > 0 ? scale * x : scale * alpha * (exp(x) - 1.0);
}

static double ref_gelu(double x, const gs_value *p)
{
    (void)p;
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static double ref_gelu_tanh(double x, const gs_value *p)
{
    (void)p;
    const double u = sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}

static double ref_silu(double x, const gs_value *p) { (void)p; return x / (1.0 + exp(-x)); }
static double ref_softsign(double x, const gs_value *p) { (void)p; return x / (1.0 + fabs(x)); }

static double ref_softplus(double x, const gs_value *p)
{
    const double beta = p[0].f, threshold = p[1].f;
    return beta * x > threshold ? x : log(1.0 + exp(beta * x)) / beta;
}

static double ref_sigmoid(double x, const gs_value *p) { (void)p; return 1.0 / (1.0 + exp(-x)); }

static double ref_tanh(double x, const gs_value *p)
{
    (void)p;
    const double e = exp(2.0 * x);
    return (e - 1.0) / (e + 1.0);
}

static double ref_identity(double x, const gs_value *p) { (void)p; return x; }

static const act_case cases[] = {
    {"relu", "", ref_relu, 1.4142135623730951, 0.0},
    {"leaky_relu", "negative_slope = 0.2;", ref_leaky, 1.3867504905630728 /* sqrt(2/1.04) */, 0.0},
    {"leaky_relu", "", ref_leaky, 1.4141428569978354 /* sqrt(2/1.0001) */, 0.0},
    {"elu", "alpha = 1.5;", ref_elu, 1.0, 0.0},
    {"selu", "", ref_selu, 0.75, 0.0},
    {"gelu", "", ref_gelu, 1.0, 0.0},
    {"gelu", "approximate = \"tanh\";", ref_gelu_tanh, 1.0, 0.0},
    {"silu", "", ref_silu, 1.0, 0.0},
    {"swish", "", ref_silu, 1.0, 0.0},
    {"softsign", "", ref_softsign, 1.0, 0.01},
    {"softplus", "", ref_softplus, 1.0, 0.0},
    {"softplus", "beta = 2.0; threshold = 5.0;", ref_softplus, 1.0, 0.0},
    {"sigmoid", "", ref_sigmoid, 1.0, 0.01},
    {"tanh", "", ref_tanh, 5.0 / 3.0, 0.01},
    {"identity", "", ref_identity, 1.0, 0.0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Away from the kinks at 0 of the ReLU family and from softplus's switch to
   the identity at beta*x = threshold (2.6 and 4 are past it for beta = 2,
   threshold = 5). */
static const double points[] = {-3.0, -1.7, -0.9, -0.35, -0.05, 0.05, 0.4, 1.1, 2.6, 4.0};
#define N_POINTS (sizeof points / sizeof points[0])

static gs_ref *parse(gs_kind kind, const char *name, const char *text)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(reg, kind, name, text, &err);
    ck_assert_msg(r != NULL, "%s %s: %s", name, text, err.msg);
    return r;
}

static const gs_activation_ops *ops_of(const gs_ref *r)
{
    return gs_ref_component(r)->ops;
}

/* A call on n examples of `channels` channels at `positions` positions,
   channel-major (an image) when there are several positions. */
static gs_act_call make_call(const gs_ref *r, size_t n, size_t channels, size_t positions,
                             const void *theta)
{
    gs_act_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = n,
                     .layout = positions > 1 ? GS_LAYOUT_IMAGE : GS_LAYOUT_VECTOR,
                     .channels = channels, .positions = positions, .theta = theta};
    return c;
}

/* |a - b| relative to the larger magnitude, with a floor for values near 0 */
static double rel_err(double a, double b, double floor)
{
    double m = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / m;
}

/*
 * Float kernels against double ones: a few float roundings of O(1)
 * intermediates, so relative 1e-5 with an absolute floor of 1e-7 (tanh's
 * and sigmoid's backward from y lose digits near |y| = 1, as PyTorch's do).
 */
static int float_close(double f, double d) { return fabs(f - d) <= 1e-5 * fmax(fabs(d), 0.01); }

START_TEST(test_values)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    gs_act_call c = make_call(r, 2, N_POINTS / 2, 1, NULL);
    double y[N_POINTS];
    ops->forward_f64(&c, points, y);
    for (size_t k = 0; k < N_POINTS; k++) {
        double want = t->ref(points[k], gs_ref_values(r));
        ck_assert_msg(rel_err(y[k], want, 1e-300) < 1e-12, "%s(%s) at %g: %.17g, want %.17g",
                      t->name, t->text, points[k], y[k], want);
    }
    gs_ref_free(r);
}
END_TEST

START_TEST(test_gain_and_threshold)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    double g = ops->gain ? ops->gain(gs_ref_values(r)) : 1.0;
    ck_assert_msg(fabs(g - t->gain) < 1e-12, "%s gain %.17g, want %.17g", t->name, g, t->gain);
    ck_assert_msg(ops->saturation_threshold == t->threshold, "%s threshold %g, want %g", t->name,
                  ops->saturation_threshold, t->threshold);
    gs_ref_free(r);
}
END_TEST

/* dx = f'(x) dy against dy * (f(x + h) - f(x - h)) / 2h, with dx aliasing dy too */
START_TEST(test_backward_fd)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    const double h = 1e-6;
    gs_act_call c = make_call(r, 1, N_POINTS, 1, NULL);
    double y[N_POINTS], dy[N_POINTS], dx[N_POINTS], xp[N_POINTS], xm[N_POINTS];
    double yp[N_POINTS], ym[N_POINTS];
    for (size_t k = 0; k < N_POINTS; k++) {
        dy[k] = 0.5 + 0.25 * (double)k;
        xp[k] = points[k] + h;
        xm[k] = points[k] - h;
    }
    ops->forward_f64(&c, points, y);
    ops->forward_f64(&c, xp, yp);
    ops->forward_f64(&c, xm, ym);
    ops->backward_f64(&c, points, y, dy, dx, NULL);
    for (size_t k = 0; k < N_POINTS; k++) {
        double fd = dy[k] * (yp[k] - ym[k]) / (2 * h);
        ck_assert_msg(rel_err(dx[k], fd, 1e-8) < 1e-6, "%s(%s) at %g: dx %.12g, fd %.12g",
                      t->name, t->text, points[k], dx[k], fd);
    }
    /* in place: dx overwrites dy */
    ops->backward_f64(&c, points, y, dy, dy, NULL);
    for (size_t k = 0; k < N_POINTS; k++)
        ck_assert_msg(dy[k] == dx[k], "%s in-place backward differs at %g", t->name, points[k]);
    gs_ref_free(r);
}
END_TEST

/* Float kernels agree with double ones to float precision. */
START_TEST(test_f32_matches_f64)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    gs_act_call c = make_call(r, 1, N_POINTS, 1, NULL);
    double y[N_POINTS], dy[N_POINTS], dx[N_POINTS];
    float xf[N_POINTS], yf[N_POINTS], dyf[N_POINTS], dxf[N_POINTS];
    for (size_t k = 0; k < N_POINTS; k++) {
        xf[k] = (float)points[k]; /* every point is exact enough in float */
        dy[k] = 1.0 - 0.125 * (double)k;
        dyf[k] = (float)dy[k];
    }
    double xd[N_POINTS];
    for (size_t k = 0; k < N_POINTS; k++)
        xd[k] = xf[k];
    ops->forward_f64(&c, xd, y);
    ops->forward_f32(&c, xf, yf);
    ops->backward_f64(&c, xd, y, dy, dx, NULL);
    ops->backward_f32(&c, xf, yf, dyf, dxf, NULL);
    for (size_t k = 0; k < N_POINTS; k++) {
        ck_assert_msg(float_close(yf[k], y[k]), "%s f32 forward at %g: %.9g vs %.9g",
                      t->name, points[k], (double)yf[k], y[k]);
        ck_assert_msg(float_close(dxf[k], dx[k]), "%s f32 backward at %g: %.9g vs %.9g",
                      t->name, points[k], (double)dxf[k], dx[k]);
    }
    gs_ref_free(r);
}
END_TEST

/*
 * A dense sweep of the float kernels, which use their own vectorizable exp
 * and tanh: tanh, sigmoid and silu within a few float ulp of the double
 * kernels; every activation within float_close, forward and backward.
 */
START_TEST(test_f32_sweep)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    enum { N = 16001 };
    float *xf = malloc(N * sizeof *xf), *yf = malloc(N * sizeof *yf), *gf = malloc(N * sizeof *gf);
    double *xd = malloc(N * sizeof *xd), *yd = malloc(N * sizeof *yd), *gd = malloc(N * sizeof *gd);
    double *ones = malloc(N * sizeof *ones);
    float *onesf = malloc(N * sizeof *onesf);
    for (int k = 0; k < N; k++) {
        xf[k] = (float)(-40.0 + 80.0 * k / (N - 1));
        xd[k] = xf[k];
        ones[k] = 1.0;
        onesf[k] = 1.0f;
    }
    gs_act_call c = make_call(r, 1, N, 1, NULL);
    ops->forward_f32(&c, xf, yf);
    ops->forward_f64(&c, xd, yd);
    ops->backward_f32(&c, xf, yf, onesf, gf, NULL);
    ops->backward_f64(&c, xd, yd, ones, gd, NULL);
    const int tight = !strcmp(t->name, "tanh") || !strcmp(t->name, "sigmoid") ||
                      !strcmp(t->name, "silu") || !strcmp(t->name, "swish");
    double worst = 0.0;
    for (int k = 0; k < N; k++) {
        if (tight)
            worst = fmax(worst, fabs(yf[k] - yd[k]) / fmax(fabs(yd[k]), 1e-30));
        ck_assert_msg(float_close(yf[k], yd[k]), "%s(%s) f32 forward at %.9g: %.9g vs %.17g",
                      t->name, t->text, xd[k], (double)yf[k], yd[k]);
        ck_assert_msg(float_close(gf[k], gd[k]), "%s(%s) f32 backward at %.9g: %.9g vs %.17g",
                      t->name, t->text, xd[k], (double)gf[k], gd[k]);
    }
    /* 3e-7 is 2.5 to 5 ulp depending on where the value sits in its binade */
    ck_assert_msg(worst < 3e-7, "%s f32 forward relative error %g", t->name, worst);
    free(xf), free(yf), free(gf), free(xd), free(yd), free(gd), free(ones), free(onesf);
    gs_ref_free(r);
}
END_TEST

START_TEST(test_check_component)
{
    const act_case *t = &cases[_i];
    const gs_component_info *info = gs_registry_find(reg, GS_KIND_ACTIVATION, t->name);
    ck_assert_msg(info != NULL, "%s not registered", t->name);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, info, &res), "%s: %s", res.component, res.detail);
}
END_TEST

/* Far tails: no overflow to inf or NaN, and the exact limits where they exist. */
START_TEST(test_tails)
{
    static const double big[] = {-800.0, -100.0, 100.0, 800.0};
    const char *names[] = {"sigmoid", "tanh", "silu", "softplus", "softsign", "gelu", "elu", "selu"};
    for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
        gs_ref *r = parse(GS_KIND_ACTIVATION, names[j], "");
        const gs_activation_ops *ops = ops_of(r);
        gs_act_call c = make_call(r, 1, 4, 1, NULL);
        double y[4], dy[4] = {1, 1, 1, 1}, dx[4];
        float xf[4] = {-800.0f, -100.0f, 100.0f, 800.0f}, yf[4], dyf[4] = {1, 1, 1, 1}, dxf[4];
        ops->forward_f64(&c, big, y);
        ops->backward_f64(&c, big, y, dy, dx, NULL);
        ops->forward_f32(&c, xf, yf);
        ops->backward_f32(&c, xf, yf, dyf, dxf, NULL);
        for (int k = 0; k < 4; k++)
            ck_assert_msg(isfinite(y[k]) && isfinite(dx[k]) && isfinite(yf[k]) && isfinite(dxf[k]),
                          "%s not finite at %g", names[j], big[k]);
        gs_ref_free(r);
    }
    gs_ref *r = parse(GS_KIND_ACTIVATION, "sigmoid", "");
    gs_act_call c = make_call(r, 1, 4, 1, NULL);
    double y[4];
    ops_of(r)->forward_f64(&c, big, y);
    /* the small tail keeps its value instead of rounding 1 - (1 - e) */
    ck_assert(rel_err(y[1], exp(-100.0), 1e-300) < 1e-12);
    ck_assert(y[0] >= 0.0 && y[0] < 1e-300 && y[3] == 1.0);
    gs_ref_free(r);
}
END_TEST

/* NaN pre-activations stay NaN, as in PyTorch, so that a diverging run
   cannot hide behind a clamped output. */
START_TEST(test_nan_propagates)
{
    const act_case *t = &cases[_i];
    gs_ref *r = parse(GS_KIND_ACTIVATION, t->name, t->text);
    const gs_activation_ops *ops = ops_of(r);
    gs_act_call c = make_call(r, 1, 2, 1, NULL);
    const double x[2] = {NAN, -NAN};
    const float xf[2] = {NAN, -NAN};
    double y[2];
    float yf[2];
    ops->forward_f64(&c, x, y);
    ops->forward_f32(&c, xf, yf);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(isnan(y[k]) && isnan(yf[k]), "%s(%s) maps NaN to %g / %g", t->name, t->text,
                      y[k], (double)yf[k]);
    gs_ref_free(r);
}
END_TEST

/* PyTorch switches softplus to the identity only where beta*x > threshold. */
START_TEST(test_softplus_threshold)
{
    gs_ref *r = parse(GS_KIND_ACTIVATION, "softplus", "beta = 2.0; threshold = 5.0;");
    gs_act_call c = make_call(r, 1, 2, 1, NULL);
    const double x[2] = {2.5, 2.5000001};
    double y[2];
    ops_of(r)->forward_f64(&c, x, y);
    ck_assert(rel_err(y[0], log(1.0 + exp(5.0)) / 2.0, 1e-300) < 1e-12);
    ck_assert(y[1] == x[1]);
    gs_ref_free(r);
}
END_TEST

/* ---- PReLU ---- */

enum { PN = 2, PC = 3, PS = 2, PE = PN * PC * PS };

static double prelu_ref(double x, double a) { return fmax(0.0, x) + a * fmin(0.0, x); }

static void prelu_inputs(double *x, double *dy)
{
    for (int k = 0; k < PE; k++) {
        /* signs mixed within every channel, away from 0 */
        x[k] = (k % 4 == 1 ? 1.0 : -1.0) * (0.3 + 0.17 * k);
        dy[k] = 0.7 - 0.11 * k;
    }
}

static void check_prelu(int shared)
{
    gs_ref *r = parse(GS_KIND_ACTIVATION, "prelu", shared ? "shared = true; init = 0.1;" : "init = 0.1;");
    const gs_activation_ops *ops = ops_of(r);
    const size_t np = ops->n_params(gs_ref_values(r), PC);
    ck_assert_uint_eq(np, shared ? 1 : PC);
    double theta[PC];
    ops->init_params(gs_ref_values(r), np, theta);
    for (size_t k = 0; k < np; k++)
        ck_assert(theta[k] == 0.1);
    if (!shared) { /* distinct slopes, so a wrong channel index shows */
        theta[1] = 0.25;
        theta[2] = -0.3;
    }
    double x[PE], dy[PE], y[PE], dx[PE];
    prelu_inputs(x, dy);
    gs_act_call c = make_call(r, PN, PC, PS, theta);
    ops->forward_f64(&c, x, y);
    for (int i = 0; i < PN; i++)
        for (int ch = 0; ch < PC; ch++)
            for (int s = 0; s < PS; s++) {
                int k = (i * PC + ch) * PS + s;
                ck_assert(fabs(y[k] - prelu_ref(x[k], theta[shared ? 0 : ch])) < 1e-15);
            }

    double dtheta[PC] = {0.5, 0.5, 0.5}; /* backward accumulates onto this */
    ops->backward_f64(&c, x, y, dy, dx, dtheta);

    const double h = 1e-6;
    double xp[PE], xm[PE], yp[PE], ym[PE];
    for (int k = 0; k < PE; k++) {
        xp[k] = x[k] + h;
        xm[k] = x[k] - h;
    }
    ops->forward_f64(&c, xp, yp);
    ops->forward_f64(&c, xm, ym);
    for (int k = 0; k < PE; k++) {
        double fd = dy[k] * (yp[k] - ym[k]) / (2 * h);
        ck_assert_msg(rel_err(dx[k], fd, 1e-8) < 1e-6, "prelu dx[%d] %.12g, fd %.12g", k, dx[k], fd);
    }
    /* dL/da for L = sum dy * f(x; a) */
    for (size_t j = 0; j < np; j++) {
        double tp[PC], tm[PC];
        memcpy(tp, theta, sizeof tp);
        memcpy(tm, theta, sizeof tm);
        tp[j] += h;
        tm[j] -= h;
        gs_act_call cp = make_call(r, PN, PC, PS, tp), cm = make_call(r, PN, PC, PS, tm);
        ops->forward_f64(&cp, x, yp);
        ops->forward_f64(&cm, x, ym);
        double fd = 0.0;
        for (int k = 0; k < PE; k++)
            fd += dy[k] * (yp[k] - ym[k]) / (2 * h);
        ck_assert_msg(fd != 0.0, "every slope should see negative inputs");
        ck_assert_msg(rel_err(dtheta[j] - 0.5, fd, 1e-8) < 1e-6, "prelu dtheta[%zu] %.12g, fd %.12g",
                      j, dtheta[j] - 0.5, fd);
    }

    /* float kernels */
    float xf[PE], yf[PE], dyf[PE], dxf[PE], thf[PC], dthf[PC] = {0.5f, 0.5f, 0.5f};
    for (int k = 0; k < PE; k++) {
        xf[k] = (float)x[k];
        dyf[k] = (float)dy[k];
    }
    for (int k = 0; k < PC; k++)
        thf[k] = (float)theta[k];
    gs_act_call cf = make_call(r, PN, PC, PS, thf);
    ops->forward_f32(&cf, xf, yf);
    ops->backward_f32(&cf, xf, yf, dyf, dxf, dthf);
    for (int k = 0; k < PE; k++) {
        ck_assert(float_close(yf[k], y[k]));
        ck_assert(float_close(dxf[k], dx[k]));
    }
    for (size_t j = 0; j < np; j++)
        ck_assert(float_close(dthf[j], dtheta[j]));

    double g = ops->gain(gs_ref_values(r));
    ck_assert(fabs(g - sqrt(2.0 / (1.0 + 0.01))) < 1e-12);
    gs_ref_free(r);
}

START_TEST(test_prelu_per_channel) { check_prelu(0); }
END_TEST

START_TEST(test_prelu_shared) { check_prelu(1); }
END_TEST

/* Dense layers (inner == 1) take their own loop; check it against the general one. */
START_TEST(test_prelu_dense_layout)
{
    gs_ref *r = parse(GS_KIND_ACTIVATION, "prelu", "");
    const gs_activation_ops *ops = ops_of(r);
    const double theta[PC] = {0.25, -0.5, 0.75};
    double x[PE], dy[PE], y[PE], dx[PE], dtheta[PC] = {0, 0, 0};
    prelu_inputs(x, dy);
    const size_t n = PE / PC;
    gs_act_call c = make_call(r, n, PC, 1, theta);
    ops->forward_f64(&c, x, y);
    ops->backward_f64(&c, x, y, dy, dx, dtheta);
    double want[PC] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < PC; ch++) {
            size_t k = i * PC + (size_t)ch;
            ck_assert(fabs(y[k] - prelu_ref(x[k], theta[ch])) < 1e-15);
            ck_assert(fabs(dx[k] - (x[k] > 0 ? dy[k] : theta[ch] * dy[k])) < 1e-15);
            if (x[k] <= 0)
                want[ch] += dy[k] * x[k];
        }
    for (int ch = 0; ch < PC; ch++)
        ck_assert(fabs(dtheta[ch] - want[ch]) < 1e-13);
    gs_ref_free(r);
}
END_TEST

/* A sequence (N, T, C) keeps its channels innermost: element k's slope is
   theta[k % C], where the channel-major reading would take theta[(k / T) % C]. */
START_TEST(test_prelu_sequence_layout)
{
    gs_ref *r = parse(GS_KIND_ACTIVATION, "prelu", "");
    const gs_activation_ops *ops = ops_of(r);
    const double theta[PC] = {0.25, -0.5, 0.75};
    double x[PE], dy[PE], y[PE], dx[PE], dtheta[PC] = {0, 0, 0};
    prelu_inputs(x, dy);
    gs_act_call c = {.host = gs_host_table(), .p = gs_ref_values(r), .n = PN,
                     .layout = GS_LAYOUT_SEQUENCE, .channels = PC, .positions = PS,
                     .theta = theta, .n_theta = PC};
    ck_assert_uint_eq(gs_act_channel(&c, 4), 1);
    ops->forward_f64(&c, x, y);
    ops->backward_f64(&c, x, y, dy, dx, dtheta);
    double want[PC] = {0, 0, 0};
    for (size_t k = 0; k < PE; k++) {
        size_t ch = k % PC;
        ck_assert_msg(fabs(y[k] - prelu_ref(x[k], theta[ch])) < 1e-15, "y[%zu]", k);
        ck_assert(fabs(dx[k] - (x[k] > 0 ? dy[k] : theta[ch] * dy[k])) < 1e-15);
        if (x[k] <= 0)
            want[ch] += dy[k] * x[k];
    }
    for (int ch = 0; ch < PC; ch++)
        ck_assert_msg(fabs(dtheta[ch] - want[ch]) < 1e-13, "dtheta[%d] %g, want %g", ch,
                      dtheta[ch], want[ch]);
    gs_ref_free(r);
}
END_TEST

/* The model gives an activation the layout of its input: PReLU after a
   (T = 2, C = 3) sequence input learns 3 slopes, one per channel, and
   applies slope c to every value of channel c. */
START_TEST(test_prelu_in_sequence_model)
{
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {PS, PC}};
    gs_test_model *t = gs_test_model_new(reg, GS_F64, 5, &in);
    gs_error err;
    ck_assert_msg(gs_test_model_add(t, "prelu", NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_test_model_finalize(t, PN, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(gs_test_n_params(t), 1);
    gs_param *a = gs_test_param(t, 0);
    ck_assert_str_eq(a->name, "0.slope");
    ck_assert_int_eq(a->role, GS_ROLE_ACTIVATION);
    ck_assert_uint_eq(a->value.dims[0], PC);
    double *theta = a->value.data;
    theta[0] = 0.1, theta[1] = 0.2, theta[2] = 0.3;
    gs_tensor *x = gs_test_input(t);
    ck_assert_int_eq(x->layout, GS_LAYOUT_SEQUENCE);
    ck_assert_int_eq(gs_test_output(t)->layout, GS_LAYOUT_SEQUENCE);
    for (size_t k = 0; k < PE; k++)
        ((double *)x->data)[k] = -1.0;
    gs_test_forward(t, 1);
    const double *y = gs_test_output(t)->data;
    for (size_t k = 0; k < PE; k++)
        ck_assert_msg(y[k] == -theta[k % PC], "y[%zu] = %g", k, y[k]);
    double err_max;
    char what[128];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err_max, what, sizeof what) == 1, "%s: %g", what,
                  err_max);
    gs_test_model_free(t);
}
END_TEST

START_TEST(test_prelu_defaults)
{
    gs_ref *r = parse(GS_KIND_ACTIVATION, "prelu", "");
    const gs_activation_ops *ops = ops_of(r);
    ck_assert_uint_eq(ops->n_params(gs_ref_values(r), 7), 7);
    double theta[7];
    ops->init_params(gs_ref_values(r), 7, theta);
    for (int k = 0; k < 7; k++)
        ck_assert(theta[k] == 0.25);
    ck_assert(fabs(ops->gain(gs_ref_values(r)) - sqrt(2.0 / (1.0 + 0.0625))) < 1e-12);
    ck_assert(ops->saturation_threshold == 0.0);
    gs_ref_free(r);
}
END_TEST

START_TEST(test_prelu_check_component)
{
    const gs_component_info *info = gs_registry_find(reg, GS_KIND_ACTIVATION, "prelu");
    ck_assert(info != NULL);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, info, &res), "%s: %s", res.component, res.detail);
}
END_TEST

static Suite *activation_suite(void)
{
    Suite *s = suite_create("activations");
    TCase *tc = tcase_create("element-wise");
    tcase_add_loop_test(tc, test_values, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_gain_and_threshold, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_backward_fd, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_f32_matches_f64, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_f32_sweep, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_nan_propagates, 0, (int)N_CASES);
    tcase_add_test(tc, test_tails);
    tcase_add_test(tc, test_softplus_threshold);
    suite_add_tcase(s, tc);

    TCase *tp = tcase_create("prelu");
    tcase_add_test(tp, test_prelu_per_channel);
    tcase_add_test(tp, test_prelu_shared);
    tcase_add_test(tp, test_prelu_dense_layout);
    tcase_add_test(tp, test_prelu_sequence_layout);
    tcase_add_test(tp, test_prelu_in_sequence_model);
    tcase_add_test(tp, test_prelu_defaults);
    suite_add_tcase(s, tp);

    TCase *tk = tcase_create("check-plugin");
    tcase_set_timeout(tk, 60);
    tcase_add_loop_test(tk, test_check_component, 0, (int)N_CASES);
    tcase_add_test(tk, test_prelu_check_component);
    suite_add_tcase(s, tk);
    return s;
}

int main(void)
{
    gs_error err;
    reg = gs_registry_new();
    if (gs_registry_load_default(reg, NULL, 0, &err) != 0) {
        fprintf(stderr, "test_activations: %s\n", err.msg);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(activation_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    gs_registry_free(reg);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
