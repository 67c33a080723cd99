/*
 * Learning-rate schedules: factors at chosen steps against torch's
 * scheduler formulas, written out here.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include "gradscope/gradscope.h"

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

typedef struct sched {
    gs_ref *ref;
    const gs_schedule_ops *ops;
} sched;

static sched open_schedule(const char *name, const char *text)
{
    gs_error err;
    sched s;
    s.ref = gs_ref_parse(registry(), GS_KIND_SCHEDULE, name, text, &err);
    ck_assert_msg(s.ref != NULL, "%s: %s", name, err.msg);
    s.ops = gs_ref_component(s.ref)->ops;
    return s;
}

static void expect_factor(sched s, uint64_t t, uint64_t total, uint64_t spe, double want)
{
    double got = s.ops->factor(gs_ref_values(s.ref), t, total, spe);
    ck_assert_msg(fabs(got - want) <= 1e-12 * fmax(1, fabs(want)),
                  "%s at t=%llu: %.15g, expected %.15g", gs_ref_component(s.ref)->name,
                  (unsigned long long)t, got, want);
}

START_TEST(constant)
{
    sched s = open_schedule("constant", "");
    expect_factor(s, 0, 100, 10, 1.0);
    expect_factor(s, 99, 100, 10, 1.0);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(constant_warmup)
{
    sched s = open_schedule("constant", "warmup_steps = 4;");
    expect_factor(s, 0, 100, 10, 1.0 / 4);
    expect_factor(s, 2, 100, 10, 3.0 / 4);
    expect_factor(s, 3, 100, 10, 1.0);
    expect_factor(s, 4, 100, 10, 1.0);
    expect_factor(s, 50, 100, 10, 1.0);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(step)
{
    /* StepLR stepped per epoch: gamma^floor(epoch / step_size), epoch = t / spe */
    sched s = open_schedule("step", "step_size = 2; gamma = 0.5;");
    const uint64_t spe = 10;
    for (uint64_t t = 0; t < 75; t++)
        expect_factor(s, t, 75, spe, pow(0.5, (double)((t / spe) / 2)));
    expect_factor(s, 19, 75, spe, 1.0);
    expect_factor(s, 20, 75, spe, 0.5);
    expect_factor(s, 40, 75, spe, 0.25);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(step_defaults)
{
    /* step_size 10 epochs, gamma 0.1 */
    sched s = open_schedule("step", "");
    expect_factor(s, 9 * 7 + 6, 1000, 7, 1.0);
    expect_factor(s, 10 * 7, 1000, 7, 0.1);
    expect_factor(s, 20 * 7 + 3, 1000, 7, 0.1 * 0.1);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(exponential)
{
    sched s = open_schedule("exponential", "gamma = 0.9;");
    expect_factor(s, 0, 100, 5, 1.0);
    expect_factor(s, 4, 100, 5, 1.0);
    expect_factor(s, 5, 100, 5, 0.9);
    expect_factor(s, 12, 100, 5, 0.9 * 0.9);
    expect_factor(s, 99, 100, 5, pow(0.9, 19));
    gs_ref_free(s.ref);
    s = open_schedule("exponential", "");
    expect_factor(s, 30, 100, 10, 0.95 * 0.95 * 0.95);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(cosine)
{
    const double pi = acos(-1.0);
    sched s = open_schedule("cosine", "");
    expect_factor(s, 0, 100, 10, 1.0);
    expect_factor(s, 25, 100, 10, (1 + cos(pi / 4)) / 2);
    expect_factor(s, 50, 100, 10, 0.5);
    expect_factor(s, 99, 100, 10, (1 + cos(pi * 0.99)) / 2);
    expect_factor(s, 100, 100, 10, 0.0);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(cosine_floor_and_warmup)
{
    const double pi = acos(-1.0), f_min = 0.1;
    sched s = open_schedule("cosine", "eta_min_factor = 0.1; warmup_steps = 10;");
    for (uint64_t t = 0; t < 200; t += 7) {
        double annealed = f_min + (1 - f_min) * (1 + cos(pi * (double)t / 200)) / 2;
        double warm = t < 10 ? (double)(t + 1) / 10 : 1.0;
        expect_factor(s, t, 200, 10, annealed * warm);
    }
    expect_factor(s, 200, 200, 10, f_min);
    gs_ref_free(s.ref);
}
END_TEST

START_TEST(step_warmup)
{
    sched s = open_schedule("step", "step_size = 1; gamma = 0.5; warmup_steps = 8;");
    expect_factor(s, 0, 100, 4, 1.0 / 8);
    expect_factor(s, 5, 100, 4, 0.5 * 6.0 / 8);
    expect_factor(s, 8, 100, 4, 0.25);
    gs_ref_free(s.ref);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedules");
    TCase *tc = tcase_create("torch");
    tcase_add_test(tc, constant);
    tcase_add_test(tc, constant_warmup);
    tcase_add_test(tc, step);
    tcase_add_test(tc, step_defaults);
    tcase_add_test(tc, exponential);
    tcase_add_test(tc, cosine);
    tcase_add_test(tc, cosine_floor_and_warmup);
    tcase_add_test(tc, step_warmup);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
