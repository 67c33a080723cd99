/*
 * Optimizer plugins against torch.optim's update rules, re-derived here in
 * double precision: three steps on a small tensor with fixed gradients.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"

#define N 5
#define STEPS 3

static const double theta0[N] = {0.5, -1.2, 2.0, 0.0, -0.3};
/* Mixed signs, a zero, and gradients that shrink so AMSGrad's maximum and
   centring matter. */
static const double grads[STEPS][N] = {
    {0.8, -0.4, 1.5, 0.0, -2.0},
    {0.1, 0.3, -0.5, 0.2, -0.05},
    {-0.6, 0.05, 0.02, -0.1, 0.01},
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
    gs_ref *r = gs_ref_parse(registry(), GS_KIND_OPTIMIZER, name, text, &err);
    ck_assert_msg(r != NULL, "%s: %s", name, err.msg);
    return r;
}

static double param(const gs_ref *r, const char *key)
{
    int i = gs_schema_index(gs_ref_component(r)->params, key);
    ck_assert_msg(i >= 0, "no parameter %s", key);
    return gs_ref_values(r)[i].f;
}

/* Runs STEPS plugin steps from theta0 at rate lr and decay wd. */
static void run_plugin(const char *name, const char *text, double lr, double wd,
                       float theta[N], size_t *slots_out)
{
    gs_ref *r = parse(name, text);
    const gs_optimizer_ops *ops = gs_ref_component(r)->ops;
    const gs_value *p = gs_ref_values(r);
    const size_t slots = ops->state_slots(p);
    float *state = calloc(slots * N + 1, sizeof *state);
    ck_assert_ptr_nonnull(state);
    if (ops->state_init)
        for (size_t k = 0; k < slots; k++)
            for (size_t i = 0; i < N; i++)
                state[k * N + i] = (float)ops->state_init(p, k);
    for (size_t i = 0; i < N; i++)
        theta[i] = (float)theta0[i];
    for (int t = 1; t <= STEPS; t++) {
        float g[N];
        for (size_t i = 0; i < N; i++)
            g[i] = (float)grads[t - 1][i];
        gs_opt_call c = {.host = gs_host_table(), .p = p, .t = (uint64_t)t, .lr = lr,
                         .weight_decay = wd, .stride = N};
        ops->step(&c, N, theta, g, state);
    }
    if (slots_out)
        *slots_out = slots;
    free(state);
    gs_ref_free(r);
}

static void expect_close(const char *what, const float got[N], const double want[N])
{
    for (size_t i = 0; i < N; i++) {
        double tol = 2e-6 * fmax(1.0, fabs(want[i]));
        ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s: theta[%zu] = %.9g, expected %.9g",
                      what, i, (double)got[i], want[i]);
    }
}

/* The whole displacement theta - theta0 within `rel` of the largest one:
   with moves of order 1, float32 rounding of theta stays near 1e-7. */
static void expect_moved(const char *what, const float got[N], const double want[N],
                         double rel)
{
    double scale = 0;
    for (size_t i = 0; i < N; i++)
        scale = fmax(scale, fabs(want[i] - theta0[i]));
    for (size_t i = 0; i < N; i++) {
        double moved = (double)got[i] - theta0[i], expected = want[i] - theta0[i];
        ck_assert_msg(fabs(moved - expected) <= rel * scale,
                      "%s: theta[%zu] moved %.9g, expected %.9g", what, i, moved, expected);
    }
}

/* ---- reference updates (torch.optim, written from its documentation) ---- */

static void ref_sgd(double lr, double mu, double damp, int nesterov, double wd,
                    double th[N])
{
    double buf[N] = {0};
    memcpy(th, theta0, sizeof theta0);
    for (int t = 1; t <= STEPS; t++)
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i] + wd * th[i];
            if (mu != 0) {
                buf[i] = t == 1 ? g : mu * buf[i] + (1 - damp) * g;
                g = nesterov ? g + mu * buf[i] : buf[i];
            }
            th[i] -= lr * g;
        }
}

static void ref_rmsprop(double lr, double alpha, double eps, double mu, int centered,
                        double wd, double th[N])
{
    double v[N] = {0}, gavg[N] = {0}, buf[N] = {0};
    memcpy(th, theta0, sizeof theta0);
    for (int t = 1; t <= STEPS; t++)
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i] + wd * th[i];
            v[i] = alpha * v[i] + (1 - alpha) * g * g;
            double avg = v[i];
            if (centered) {
                gavg[i] = alpha * gavg[i] + (1 - alpha) * g;
                avg = v[i] - gavg[i] * gavg[i];
            }
            double denom = sqrt(avg) + eps;
            if (mu > 0) {
                buf[i] = mu * buf[i] + g / denom;
                th[i] -= lr * buf[i];
            } else {
                th[i] -= lr * g / denom;
            }
        }
}

static void ref_adam(double lr, double b1, double b2, double eps, double wd, int decoupled,
                     int amsgrad, double th[N])
{
    double m[N] = {0}, v[N] = {0}, vmax[N] = {0};
    memcpy(th, theta0, sizeof theta0);
    for (int t = 1; t <= STEPS; t++)
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i];
            if (decoupled)
                th[i] *= 1 - lr * wd;
            else
                g += wd * th[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            vmax[i] = fmax(vmax[i], v[i]);
            double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
            double second = amsgrad ? vmax[i] : v[i];
            th[i] -= lr / bc1 * m[i] / (sqrt(second) / sqrt(bc2) + eps);
        }
}

static void ref_adagrad(double lr, double lr_decay, double init_acc, double eps, double wd,
                        double th[N])
{
    double sum[N];
    memcpy(th, theta0, sizeof theta0);
    for (size_t i = 0; i < N; i++)
        sum[i] = init_acc;
    for (int t = 1; t <= STEPS; t++)
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i] + wd * th[i];
            double clr = lr / (1 + (t - 1) * lr_decay);
            sum[i] += g * g;
            th[i] -= clr * g / (sqrt(sum[i]) + eps);
        }
}

/* ---- SGD ---- */

START_TEST(sgd_plain)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("sgd", "", 0.1, 0.0, got, &slots);
    ck_assert_uint_eq(slots, 0);
    ref_sgd(0.1, 0, 0, 0, 0.0, want);
    expect_close("sgd", got, want);
}
END_TEST

START_TEST(sgd_uses_scheduled_lr_and_group_decay)
{
    /* The schema's lr and weight_decay are the core's; the step must use
       the call's values. */
    float got[N];
    double want[N];
    run_plugin("sgd", "lr = 5.0; weight_decay = 3.0;", 0.05, 0.01, got, NULL);
    ref_sgd(0.05, 0, 0, 0, 0.01, want);
    expect_close("sgd decay", got, want);
}
END_TEST

START_TEST(sgd_momentum)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("sgd", "momentum = 0.9;", 0.1, 0.01, got, &slots);
    ck_assert_uint_eq(slots, 1);
    ref_sgd(0.1, 0.9, 0, 0, 0.01, want);
    expect_close("sgd momentum", got, want);
}
END_TEST

START_TEST(sgd_dampening)
{
    /* The first step seeds the buffer undamped; later ones damp. */
    float got[N];
    double want[N];
    run_plugin("sgd", "momentum = 0.8; dampening = 0.5;", 0.1, 0.0, got, NULL);
    ref_sgd(0.1, 0.8, 0.5, 0, 0.0, want);
    expect_close("sgd dampening", got, want);
}
END_TEST

START_TEST(sgd_nesterov)
{
    float got[N];
    double want[N];
    run_plugin("sgd", "momentum = 0.9; nesterov = true;", 0.1, 0.02, got, NULL);
    ref_sgd(0.1, 0.9, 0, 1, 0.02, want);
    expect_close("sgd nesterov", got, want);
}
END_TEST

START_TEST(sgd_defaults)
{
    gs_ref *r = parse("sgd", "");
    ck_assert(param(r, "lr") == 0.01);
    ck_assert(param(r, "momentum") == 0.0);
    ck_assert(param(r, "dampening") == 0.0);
    ck_assert(param(r, "weight_decay") == 0.0);
    gs_ref_free(r);
}
END_TEST

/* ---- RMSprop ---- */

START_TEST(rmsprop_default)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("rmsprop", "", 0.01, 0.0, got, &slots);
    ck_assert_uint_eq(slots, 1);
    ref_rmsprop(0.01, 0.99, 1e-8, 0, 0, 0.0, want);
    expect_close("rmsprop", got, want);
}
END_TEST

START_TEST(rmsprop_centered)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("rmsprop", "centered = true; alpha = 0.9;", 0.01, 0.0, got, &slots);
    ck_assert_uint_eq(slots, 2);
    ref_rmsprop(0.01, 0.9, 1e-8, 0, 1, 0.0, want);
    expect_close("rmsprop centered", got, want);
}
END_TEST

START_TEST(rmsprop_momentum)
{
    float got[N];
    double want[N];
    run_plugin("rmsprop", "momentum = 0.9;", 0.01, 0.0, got, NULL);
    ref_rmsprop(0.01, 0.99, 1e-8, 0.9, 0, 0.0, want);
    expect_close("rmsprop momentum", got, want);
}
END_TEST

START_TEST(rmsprop_centered_momentum_decay)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("rmsprop", "centered = true; momentum = 0.5; eps = 1e-3; alpha = 0.8;", 0.02,
               0.1, got, &slots);
    ck_assert_uint_eq(slots, 3);
    ref_rmsprop(0.02, 0.8, 1e-3, 0.5, 1, 0.1, want);
    expect_close("rmsprop centered momentum", got, want);
}
END_TEST

START_TEST(rmsprop_alpha_near_one)
{
    /* 1 - alpha taken from the float-rounded alpha made every step 6.8e-4 too
       large at alpha = 0.99999; torch float32 agrees with double to ~1e-7 */
    float got[N];
    double want[N];
    run_plugin("rmsprop", "alpha = 0.99999;", 1e-3, 0.0, got, NULL);
    ref_rmsprop(1e-3, 0.99999, 1e-8, 0, 0, 0.0, want);
    expect_moved("rmsprop alpha 0.99999", got, want, 1e-6);
    run_plugin("rmsprop", "alpha = 0.99999; centered = true; momentum = 0.5;", 1e-3, 0.1, got,
               NULL);
    ref_rmsprop(1e-3, 0.99999, 1e-8, 0.5, 1, 0.1, want);
    expect_moved("rmsprop centered alpha 0.99999", got, want, 1e-6);
}
END_TEST

/* ---- Adam and AdamW ---- */

START_TEST(adam_beta2_near_one)
{
    /* as rmsprop_alpha_near_one: 1 - beta in double, or each step is off
       by a fixed 6.8e-4 relative at beta2 = 0.99999 */
    float got[N];
    double want[N];
    run_plugin("adam", "betas = [0.9, 0.99999];", 0.5, 0.0, got, NULL);
    ref_adam(0.5, 0.9, 0.99999, 1e-8, 0.0, 0, 0, want);
    expect_moved("adam beta2 0.99999", got, want, 1e-6);
    run_plugin("adam", "betas = [0.99999, 0.99999]; amsgrad = true;", 0.5, 0.1, got, NULL);
    ref_adam(0.5, 0.99999, 0.99999, 1e-8, 0.1, 0, 1, want);
    expect_moved("adam amsgrad betas 0.99999", got, want, 1e-6);
    run_plugin("adamw", "betas = [0.9, 0.99999];", 0.5, 0.1, got, NULL);
    ref_adam(0.5, 0.9, 0.99999, 1e-8, 0.1, 1, 0, want);
    expect_moved("adamw beta2 0.99999", got, want, 1e-6);
}
END_TEST


START_TEST(adam_bias_correction)
{
    float got[N];
    double want[N];
    size_t slots;
    run_plugin("adam", "", 1e-3, 0.0, got, &slots);
    ck_assert_uint_eq(slots, 2);
    ref_adam(1e-3, 0.9, 0.999, 1e-8, 0.0, 0, 0, want);
    expect_close("adam", got, want);
}
END_TEST

START_TEST(adam_betas_eps_l2)
{
    float got[N];
    double want[N];
    run_plugin("adam", "betas = [0.8, 0.95]; eps = 1e-4;", 0.05, 0.1, got, NULL);
    ref_adam(0.05, 0.8, 0.95, 1e-4, 0.1, 0, 0, want);
    expect_close("adam betas", got, want);
}
END_TEST

START_TEST(adam_amsgrad)
{
    float got[N];
    double want[N], plain[N];
    size_t slots;
    /* A short second-moment memory lets v fall below its maximum. */
    run_plugin("adam", "amsgrad = true; betas = [0.9, 0.9];", 0.1, 0.0, got, &slots);
    ck_assert_uint_eq(slots, 3);
    ref_adam(0.1, 0.9, 0.9, 1e-8, 0.0, 0, 1, want);
    expect_close("adam amsgrad", got, want);
    /* The data must make the maximum matter, or this proves nothing. */
    ref_adam(0.1, 0.9, 0.9, 1e-8, 0.0, 0, 0, plain);
    ck_assert(fabs(plain[4] - want[4]) > 1e-3);
}
END_TEST

START_TEST(adamw_decoupled)
{
    float got[N];
    double want[N], coupled[N];
    run_plugin("adamw", "", 0.1, 0.01, got, NULL);
    ref_adam(0.1, 0.9, 0.999, 1e-8, 0.01, 1, 0, want);
    expect_close("adamw", got, want);
    ref_adam(0.1, 0.9, 0.999, 1e-8, 0.01, 0, 0, coupled);
    ck_assert(fabs(coupled[2] - want[2]) > 1e-5);
}
END_TEST

START_TEST(adamw_amsgrad)
{
    float got[N];
    double want[N];
    run_plugin("adamw", "amsgrad = true; betas = [0.5, 0.9];", 0.05, 0.2, got, NULL);
    ref_adam(0.05, 0.5, 0.9, 1e-8, 0.2, 1, 1, want);
    expect_close("adamw amsgrad", got, want);
}
END_TEST

START_TEST(adam_defaults)
{
    gs_ref *r = parse("adam", "");
    const gs_value *v = gs_ref_values(r);
    int bi = gs_schema_index(gs_ref_component(r)->params, "betas");
    ck_assert_int_ge(bi, 0);
    ck_assert_uint_eq(v[bi].list.n, 2);
    ck_assert(v[bi].list.v[0] == 0.9 && v[bi].list.v[1] == 0.999);
    ck_assert(param(r, "lr") == 1e-3);
    ck_assert(param(r, "eps") == 1e-8);
    ck_assert(param(r, "weight_decay") == 0.0);
    gs_ref_free(r);
    r = parse("adamw", "");
    ck_assert(param(r, "weight_decay") == 1e-2);
    gs_ref_free(r);
}
END_TEST

START_TEST(adam_rejects_beta_one)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(registry(), GS_KIND_OPTIMIZER, "adam", "betas = [0.9, 1.0];", &err);
    ck_assert_ptr_null(r);
}
END_TEST

/* ---- Adagrad ---- */

START_TEST(adagrad_default)
{
    float got[N];
    double want[N];
    run_plugin("adagrad", "", 0.01, 0.0, got, NULL);
    ref_adagrad(0.01, 0, 0, 1e-10, 0.0, want);
    expect_close("adagrad", got, want);
}
END_TEST

START_TEST(adagrad_decay_accumulator)
{
    float got[N];
    double want[N];
    run_plugin("adagrad", "lr_decay = 0.5; initial_accumulator_value = 0.25; eps = 1e-3;", 0.1,
               0.05, got, NULL);
    ref_adagrad(0.1, 0.5, 0.25, 1e-3, 0.05, want);
    expect_close("adagrad decay", got, want);
}
END_TEST

/* ---- the library's own plugin check ---- */

START_TEST(check_component_ok)
{
    static const char *names[] = {"sgd", "rmsprop", "adam", "adamw", "adagrad"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const gs_component_info *info = gs_registry_find(registry(), GS_KIND_OPTIMIZER, names[i]);
        ck_assert_msg(info != NULL, "optimizer %s not found", names[i]);
        gs_check_result res;
        ck_assert_msg(gs_check_component(registry(), info, &res), "%s: %s", res.component,
                      res.detail);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optimizers");
    TCase *tc = tcase_create("torch");
    tcase_add_test(tc, sgd_plain);
    tcase_add_test(tc, sgd_uses_scheduled_lr_and_group_decay);
    tcase_add_test(tc, sgd_momentum);
    tcase_add_test(tc, sgd_dampening);
    tcase_add_test(tc, sgd_nesterov);
    tcase_add_test(tc, sgd_defaults);
    tcase_add_test(tc, rmsprop_default);
    tcase_add_test(tc, rmsprop_centered);
    tcase_add_test(tc, rmsprop_momentum);
    tcase_add_test(tc, rmsprop_centered_momentum_decay);
    tcase_add_test(tc, rmsprop_alpha_near_one);
    tcase_add_test(tc, adam_beta2_near_one);
    tcase_add_test(tc, adam_bias_correction);
    tcase_add_test(tc, adam_betas_eps_l2);
    tcase_add_test(tc, adam_amsgrad);
    tcase_add_test(tc, adamw_decoupled);
    tcase_add_test(tc, adamw_amsgrad);
    tcase_add_test(tc, adam_defaults);
    tcase_add_test(tc, adam_rejects_beta_one);
    tcase_add_test(tc, adagrad_default);
    tcase_add_test(tc, adagrad_decay_accumulator);
    tcase_add_test(tc, check_component_ok);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
