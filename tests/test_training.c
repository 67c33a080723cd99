/* Training aids as the trainer applies them: gradient clipping (the logged
   norm is the raw one; under the threshold nothing changes; the norm clip
   after a value clip measures the clamped gradients), the
   learning-rate schedule, weight decay per tensor group; the step pace
   watch that warns of a several-fold slowdown. */
#include <math.h>
#include "testutil.h"
#include "engine/pace.h"

static gs_registry *reg;
static char *dir;

static void setup(void)
{
    reg = tu_registry();
    dir = tu_tempdir();
}

static void teardown(void)
{
    gs_registry_free(reg);
    tu_rmrf(dir);
    free(dir);
}

static const char *cfg =
    "seed = 9;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 8; classes = 3; samples = 300; "
    "test_samples = 0; };\n"
    "model = { layers = ( { type = \"dense\"; units = 16; activation = \"prelu\"; "
    "bias_init = { type = \"constant\"; value = 0.5; }; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
    "training = { epochs = 2; batch_size = 30; validation = 0; };\n"
    "monitor = { every = 1; detail_every = 1; };\n";

static char *run(const char *name, const char *const *sets, size_t n)
{
    return tu_train(reg, dir, cfg, name, sets, n);
}

static char *read_in(const char *run_dir, const char *file)
{
    char *p = tu_path(run_dir, file);
    char *text = tu_read(p, NULL);
    ck_assert_msg(text != NULL, "missing %s", p);
    free(p);
    return text;
}

/* Column `col` (0-based) of metrics.csv at step `step`. */
static double metric(const char *run_dir, unsigned step, int col)
{
    char *text = read_in(run_dir, "metrics.csv");
    char key[32];
    snprintf(key, sizeof key, "\n%u,", step);
    const char *row = strstr(text, key);
    ck_assert_ptr_nonnull(row);
    row++;
    for (int k = 0; k < col; k++)
        row = strchr(row, ',') + 1;
    double v = strtod(row, NULL);
    free(text);
    return v;
}

/* weight_norm (column 4) of a tensor at a step, from gradients.csv */
static double weight_norm(const char *run_dir, unsigned step, const char *tensor)
{
    char *text = read_in(run_dir, "gradients.csv");
    char key[96];
    snprintf(key, sizeof key, "\n%u,%s,", step, tensor);
    const char *row = strstr(text, key);
    ck_assert_msg(row != NULL, "no row %s", key + 1);
    row++;
    for (int k = 0; k < 4; k++)
        row = strchr(row, ',') + 1;
    double v = strtod(row, NULL);
    free(text);
    return v;
}

START_TEST(clip_norm_above_the_norm_changes_nothing)
{
    char *plain = run("plain", NULL, 0);
    const char *sets[] = {"training.clip_grad_norm=1e6"};
    char *clipped = run("clipped", sets, 1);
    char *a = read_in(plain, "gradients.csv"), *b = read_in(clipped, "gradients.csv");
    ck_assert_msg(strcmp(a, b) == 0, "a threshold above every norm changed the run");
    free(a);
    free(b);
    free(plain);
    free(clipped);
}
END_TEST

START_TEST(clip_norm_logs_the_pre_clip_norm)
{
    char *plain = run("plain", NULL, 0);
    const char *sets[] = {"training.clip_grad_norm=0.01"};
    char *clipped = run("clipped", sets, 1);
    /* step 0 sees the same weights: same pre-clip norm, far above 0.01 */
    double n0 = metric(plain, 0, 5), c0 = metric(clipped, 0, 5);
    ck_assert_double_eq(n0, c0);
    ck_assert(c0 > 0.1);
    /* the update of step 0 was scaled by 0.01/(norm + 1e-6): SGD moves the
       weights by lr * that much, so the second row's weights differ */
    ck_assert(weight_norm(plain, 1, "0,weight") != weight_norm(clipped, 1, "0,weight"));
    /* the norm of the whole first update equals lr * max_norm: check it on
       the output layer's bias alone, bounded by it */
    double b0 = weight_norm(clipped, 0, "1,bias"), b1 = weight_norm(clipped, 1, "1,bias");
    ck_assert_msg(fabs(b1 - b0) <= 0.1 * 0.01 * (1 + 1e-4), "bias moved by %g", fabs(b1 - b0));
    free(plain);
    free(clipped);
}
END_TEST

START_TEST(clip_value_bounds_every_update)
{
    /* SGD with lr 0.1 and |g| <= 1e-4: no weight moves more than 1e-5 per step */
    const char *sets[] = {"training.clip_grad_value=1e-4", "training.epochs=1"};
    char *out = run("value", sets, 2);
    char *text = read_in(out, "gradients.csv");
    /* the update ratio bounds |dtheta| = ratio * |theta| <= lr * c * sqrt(numel) */
    double w = weight_norm(out, 0, "0,weight");
    const char *row = strstr(text, "\n0,0,weight,") + 1;
    for (int k = 0; k < 6; k++)
        row = strchr(row, ',') + 1;
    double ratio = strtod(row, NULL);
    ck_assert_msg(ratio * w <= 0.1 * 1e-4 * sqrt(16.0 * 8.0) * (1 + 1e-3), "update %g", ratio * w);
    free(text);
    free(out);
}
END_TEST

/* Sum over step 0's tensors of (update_ratio * weight_norm)^2 = |dtheta|^2. */
static double first_update_sq(const char *run_dir)
{
    char *text = read_in(run_dir, "gradients.csv");
    double sq = 0;
    for (const char *row = strstr(text, "\n0,"); row; row = strstr(row, "\n0,")) {
        row++;
        double col[7];
        const char *f = row;
        for (int k = 0; k < 7; k++) {
            col[k] = strtod(f, NULL);
            f = strchr(f, ',') + 1;
        }
        ck_assert_msg(isfinite(col[6]), "no update ratio in %.40s", row);
        sq += col[6] * col[4] * col[6] * col[4];
    }
    free(text);
    return sq;
}

/* One dense layer with nonzero weights and bias, so that every tensor's
   update shows in update_ratio * weight_norm. */
static const char *dense_cfg =
    "seed = 9;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 8; classes = 3; samples = 60; "
    "test_samples = 0; };\n"
    "model = { layers = ( { type = \"dense\"; units = 3; "
    "bias_init = { type = \"constant\"; value = 0.5; }; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 1.0; };\n"
    "training = { epochs = 1; batch_size = 30; validation = 0; clip_grad_value = 0.05; "
    "clip_grad_norm = 0.2; };\n"
    "monitor = { every = 1; detail_every = 1; };\n";

START_TEST(clip_norm_after_clip_value_measures_the_clamped_gradients)
{
    /* torch: clip_grad_value_(0.05) then clip_grad_norm_(0.2) applies a
       gradient of norm 0.2 whenever the clamped one is longer; scaling the
       clamped gradients by the raw norm gave 0.106 here */
    char *out = tu_train(reg, dir, dense_cfg, "both", NULL, 0);
    const char *no_norm[] = {"training.clip_grad_norm=0"};
    char *value_only = tu_train(reg, dir, dense_cfg, "value", no_norm, 1);
    double clamped = sqrt(first_update_sq(value_only)); /* lr 1: the clamped norm */
    ck_assert_msg(clamped > 0.2 * 1.1, "the clamped norm %g does not exceed the clip", clamped);
    double applied = sqrt(first_update_sq(out));
    ck_assert_msg(fabs(applied - 0.2) <= 1e-5 * 0.2, "applied norm %.9g, not 0.2", applied);
    /* metrics.csv logs the raw norm, before either clip */
    double raw = metric(out, 0, 5);
    ck_assert_double_eq(raw, metric(value_only, 0, 5));
    ck_assert_msg(raw > clamped, "logged %g, clamped %g", raw, clamped);
    free(out);
    free(value_only);
}
END_TEST

START_TEST(schedule_sets_the_logged_learning_rate)
{
    /* cosine over 20 steps (2 epochs of 10), with 4 warm-up steps */
    const char *sets[] = {"schedule={ type = \"cosine\"; warmup_steps = 4; }"};
    char *out = run("cos", sets, 1);
    for (unsigned t = 0; t < 20; t++) {
        double want = 0.1 * 0.5 * (1 + cos(M_PI * t / 20.0));
        if (t < 4)
            want *= (t + 1) / 4.0;
        double got = metric(out, t, 4);
        ck_assert_msg(fabs(got - want) <= 1e-8 * want, "lr at step %u: %.12g, expected %.12g", t,
                      got, want);
    }
    free(out);
}
END_TEST

START_TEST(weight_decay_follows_the_groups)
{
    /* Zero gradients would isolate decay, but any run shows it: with decay on
       biases off, bias trajectories equal those of the run without decay
       only when weights are not decayed either. */
    const char *none[] = {"optimizer.weight_decay=0.0"};
    const char *weights_only[] = {"optimizer.weight_decay=0.5", "training.decay_biases=false",
                                  "training.decay_weights=true"};
    const char *nothing[] = {"optimizer.weight_decay=0.5", "training.decay_biases=false",
                             "training.decay_weights=false", "training.decay_slopes=false"};
    const char *slopes[] = {"optimizer.weight_decay=0.5", "training.decay_biases=false",
                            "training.decay_weights=false", "training.decay_slopes=true"};
    char *a = run("none", none, 1), *b = run("weights", weights_only, 3),
         *c = run("nothing", nothing, 4), *d = run("slopes", slopes, 4);
    char *ga = read_in(a, "gradients.csv"), *gc = read_in(c, "gradients.csv");
    ck_assert_msg(strcmp(ga, gc) == 0, "decay with every group off changed the run");
    /* decaying weights shrinks them relative to the run without decay */
    ck_assert(weight_norm(b, 19, "0,weight") < weight_norm(a, 19, "0,weight"));
    /* PReLU slopes decay only when asked (default off, as the brief says) */
    ck_assert_double_eq(weight_norm(c, 1, "0,act.slope"), weight_norm(a, 1, "0,act.slope"));
    ck_assert(weight_norm(d, 1, "0,act.slope") < weight_norm(a, 1, "0,act.slope"));
    free(ga);
    free(gc);
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

/* Feeds n steps of secs each; the step index of the first warning (its
   factor in *factor), or -1. */
static long pace_feed(gs_pace *p, long n, double secs, double *factor)
{
    long at = -1;
    for (long i = 0; i < n; i++) {
        double f = gs_pace_step(p, secs);
        if (f > 0 && at < 0) {
            at = i;
            *factor = f;
        }
    }
    return at;
}

START_TEST(pace_warns_once_when_steps_slow_down_several_fold)
{
    gs_pace p = {0};
    double f = 0;
    ck_assert_int_eq(pace_feed(&p, 3000, 1e-3, &f), -1); /* steady: never */
    /* 6x slower, as denormals make it: the first full window warns */
    long at = pace_feed(&p, 1000, 6e-3, &f);
    ck_assert_int_eq(at, 83); /* 84 steps of 6 ms fill the first 0.5 s window */
    ck_assert_double_eq_tol(f, 6.0, 1e-9);
    ck_assert_int_eq(pace_feed(&p, 1000, 12e-3, &f), -1); /* once only */
}
END_TEST

START_TEST(pace_ignores_warm_up_and_mild_slowdowns)
{
    gs_pace p = {0};
    double f = 0;
    /* a slow start then fast: the fastest window is the reference */
    ck_assert_int_eq(pace_feed(&p, 100, 20e-3, &f), -1);
    ck_assert_int_eq(pace_feed(&p, 2000, 1e-3, &f), -1);
    /* 3x slower (load from other programs) is not several-fold */
    ck_assert_int_eq(pace_feed(&p, 2000, 3e-3, &f), -1);
    /* one slow step inside a window averages out */
    ck_assert_int_eq(pace_feed(&p, 1, 0.1, &f), -1);
    ck_assert_int_eq(pace_feed(&p, 2000, 1e-3, &f), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("training");
    TCase *tc = tcase_create("training");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, clip_norm_above_the_norm_changes_nothing);
    tcase_add_test(tc, clip_norm_logs_the_pre_clip_norm);
    tcase_add_test(tc, clip_value_bounds_every_update);
    tcase_add_test(tc, clip_norm_after_clip_value_measures_the_clamped_gradients);
    tcase_add_test(tc, schedule_sets_the_logged_learning_rate);
    tcase_add_test(tc, weight_decay_follows_the_groups);
    tcase_add_test(tc, pace_warns_once_when_steps_slow_down_several_fold);
    tcase_add_test(tc, pace_ignores_warm_up_and_mild_slowdowns);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
