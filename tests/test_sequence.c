/*
 * Sequence data end to end (issue 22): per-step targets and their mask
 * through the trainer, a per-step task trained with a recurrent layer,
 * and the refusals of data and models that do not fit each other.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"
#include "gradscope/testing.h"
#include "testutil.h"

static gs_registry *reg;

/* The `loss` column of DIR/metrics.csv: up to max values, the count. */
static size_t metric_losses(const char *dir, double *v, size_t max)
{
    char *path = tu_path(dir, "metrics.csv");
    char *text = tu_read(path, NULL);
    free(path);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strncmp(text, "step,epoch,loss,", 16) == 0, "%.40s", text);
    size_t n = 0;
    for (char *line = strchr(text, '\n'); line && line[1] && n < max;
         line = strchr(line + 1, '\n')) {
        const char *c = line + 1;
        for (int k = 0; k < 2; k++)
            c = strchr(c, ',') + 1;
        v[n++] = strtod(c, NULL);
    }
    free(text);
    return n;
}

/* Per-step regression rows of three sequences of 3, 1 and 2 steps. */
static const double ys[6] = {1.0, 2.0, -1.5, 0.5, 3.0, -2.0};
static const char *seq_csv = "id,x,y\n"
                             "1,0.5,1.0\n"
                             "1,-1.0,2.0\n"
                             "1,2.0,-1.5\n"
                             "2,1.5,0.5\n"
                             "3,0.25,3.0\n"
                             "3,-0.5,-2.0\n";
static const char *flat_csv = "x,y\n"
                              "0.5,1.0\n"
                              "-1.0,2.0\n"
                              "2.0,-1.5\n"
                              "1.5,0.5\n"
                              "0.25,3.0\n"
                              "-0.5,-2.0\n";

static char *train_cfg(const char *dir, const char *file, const char *data_extra,
                       const char *dense_extra, size_t batch)
{
    static char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "seed = 3;\n"
             "data = { type = \"csv\"; train = \"%s/%s\"; label = \"\"; targets = \"y\"; %s };\n"
             "model = { layers = ( { type = \"dense\"; units = 1; init = \"zeros\"; %s } ); };\n"
             "loss = { type = \"mse\"; };\n"
             "optimizer = { type = \"sgd\"; lr = 0.05; };\n"
             "training = { epochs = 12; batch_size = %zu; validation = 0; };\n"
             "monitor = { every = 1; };\n",
             dir, file, data_extra, dense_extra, batch);
    return cfg;
}

/*
 * A dense layer with per_step = true maps each step of a sequence; with
 * zero weights the first
 * loss is the mean of y^2 over the six real steps, not the nine padded
 * ones.  Padded steps have no gradient: full-batch training on the padded,
 * masked sequences follows the run on the six rows as plain examples.
 */
START_TEST(masked_steps_count_nothing)
{
    char *dir = tu_tempdir();
    char *p = tu_path(dir, "seq.csv");
    tu_write(p, seq_csv);
    free(p);
    p = tu_path(dir, "flat.csv");
    tu_write(p, flat_csv);
    free(p);
    char *seq = tu_train(reg, dir, train_cfg(dir, "seq.csv", "sequence = \"id\"; per_step = true;",
                                   "per_step = true;", 3),
                         "seq", NULL, 0);
    char *flat = tu_train(reg, dir, train_cfg(dir, "flat.csv", "", "", 6), "flat", NULL, 0);
    double a[32], b[32];
    size_t na = metric_losses(seq, a, 32), nb = metric_losses(flat, b, 32);
    ck_assert_uint_eq(na, 12);
    ck_assert_uint_eq(nb, 12);
    double hand = 0;
    for (int i = 0; i < 6; i++)
        hand += ys[i] * ys[i];
    hand /= 6;
    ck_assert_msg(fabs(a[0] - hand) < 1e-6 * hand, "first loss %.9g, by hand %.9g", a[0], hand);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(fabs(a[i] - b[i]) <= 1e-5 * fabs(b[i]), "step %zu: %.9g vs %.9g", i, a[i],
                      b[i]);
    ck_assert_msg(a[11] < 0.9 * a[0], "no training: %g -> %g", a[0], a[11]);
    tu_rmrf(dir);
    free(seq);
    free(flat);
    free(dir);
}
END_TEST

/* Row 1 of DIR/epochs.csv (the first epoch): train_loss, train_accuracy. */
static void first_epoch(const char *dir, double *loss, double *acc)
{
    char *path = tu_path(dir, "epochs.csv");
    char *text = tu_read(path, NULL);
    free(path);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strncmp(text, "epoch,step,train_loss,train_accuracy,", 37) == 0, "%.60s", text);
    const char *c = strchr(text, '\n');
    ck_assert_ptr_nonnull(c);
    c = strchr(strchr(c + 1, ',') + 1, ',') + 1;
    *loss = strtod(c, NULL);
    c = strchr(c, ',') + 1;
    *acc = strncmp(c, "nan", 3) == 0 || *c == ',' ? NAN : strtod(c, NULL);
    free(text);
}

/*
 * The epoch's training loss and accuracy are means over its counted rows,
 * not over its examples: with lr = 0 every batch (one sequence each) has
 * the loss of the zero output, and the epoch's mean is that of the six real
 * steps, whatever the sequences' lengths.  Weighting each sequence's mean
 * by one example gives (7.25/3 + 0.25 + 6.5)/3 = 3.06, not 20.5/6 = 3.42;
 * the accuracy 4/6 of the zero output (class 0 wins the tie) would be
 * (2/3 + 0 + 1)/3.
 */
static const char *cls_csv = "id,x,c\n"
                             "1,0.5,0\n"
                             "1,-1.0,0\n"
                             "1,2.0,1\n"
                             "2,1.5,1\n"
                             "3,0.25,0\n"
                             "3,-0.5,0\n";

START_TEST(epoch_means_over_counted_rows)
{
    char *dir = tu_tempdir();
    char *p = tu_path(dir, "seq.csv");
    tu_write(p, seq_csv);
    free(p);
    p = tu_path(dir, "cls.csv");
    tu_write(p, cls_csv);
    free(p);
    char *cfg = train_cfg(dir, "seq.csv", "sequence = \"id\"; per_step = true;",
                          "per_step = true;", 1);
    char *lr = strstr(cfg, "lr = 0.05");
    ck_assert_ptr_nonnull(lr);
    memcpy(lr, "lr = 0.00", 9);
    char *seq = tu_train(reg, dir, cfg, "seq", NULL, 0);
    double loss, acc, hand = 0;
    first_epoch(seq, &loss, &acc);
    for (int i = 0; i < 6; i++)
        hand += ys[i] * ys[i];
    hand /= 6;
    ck_assert_msg(fabs(loss - hand) <= 1e-6 * hand, "epoch loss %.9g, by hand %.9g", loss, hand);

    char ccfg[2048];
    snprintf(ccfg, sizeof ccfg,
             "seed = 3;\n"
             "data = { type = \"csv\"; train = \"%s/cls.csv\"; label = \"c\"; "
             "sequence = \"id\"; per_step = true; };\n"
             "model = { layers = ( { type = \"dense\"; units = 2; init = \"zeros\"; "
             "per_step = true; } ); };\n"
             "optimizer = { type = \"sgd\"; lr = 0.0; };\n"
             "training = { epochs = 2; batch_size = 1; validation = 0; };\n",
             dir);
    char *cls = tu_train(reg, dir, ccfg, "cls", NULL, 0);
    first_epoch(cls, &loss, &acc);
    ck_assert_msg(fabs(loss - log(2.0)) <= 1e-6, "epoch loss %.9g, log 2 by hand", loss);
    ck_assert_msg(fabs(acc - 4.0 / 6.0) <= 1e-9, "epoch accuracy %.9g, by hand 4/6", acc);
    tu_rmrf(dir);
    free(seq);
    free(cls);
    free(dir);
}
END_TEST

static double json_number(const char *dir, const char *key)
{
    char *path = tu_path(dir, "summary.json");
    char *text = tu_read(path, NULL);
    free(path);
    ck_assert_ptr_nonnull(text);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(text, pat);
    ck_assert_msg(at != NULL, "%s not in summary.json", key);
    at += strlen(pat);
    while (*at == ' ')
        at++;
    double v = strncmp(at, "null", 4) == 0 ? NAN : strtod(at, NULL);
    free(text);
    return v;
}

/* The copy task through an rnn returning every step and a per-step
   dense classifier: a label per step, the loss starting at log(classes);
   the same bits on 1 and 3 threads. */
static const char *copy_cfg =
    "seed = 4;\n"
    "data = { type = \"copy\"; symbols = 3; copy_length = 2; delay = 3; "
    "samples = 96; test_samples = 32; };\n"
    "model = { layers = (\n"
    "  { type = \"rnn\"; units = 12; return = \"sequence\"; },\n"
    "  { type = \"dense\"; units = 4; per_step = true; } ); };\n"
    "optimizer = { type = \"adam\"; lr = 0.01; };\n"
    "training = { epochs = 4; batch_size = 16; validation = 0; };\n"
    "monitor = { every = 1; };\n";

START_TEST(copy_task_trains)
{
    char *dir = tu_tempdir();
    const char *one[] = {"training.threads=1"}, *three[] = {"training.threads=3"};
    char *run = tu_train(reg, dir, copy_cfg, "copy", one, 1);
    char *run3 = tu_train(reg, dir, copy_cfg, "copy3", three, 1);
    char *p1 = tu_path(run, "metrics.csv"), *p3 = tu_path(run3, "metrics.csv");
    char *m1 = tu_read(p1, NULL), *m3 = tu_read(p3, NULL);
    ck_assert_ptr_nonnull(m1);
    ck_assert_ptr_nonnull(m3);
    ck_assert_str_eq(m1, m3);
    free(m1);
    free(m3);
    free(p1);
    free(p3);
    free(run3);
    double loss[64];
    size_t n = metric_losses(run, loss, 64);
    ck_assert_uint_eq(n, 24);
    ck_assert_msg(fabs(loss[0] - log(4.0)) < 0.4, "first loss %g", loss[0]);
    ck_assert_msg(loss[n - 1] < loss[0], "%g -> %g", loss[0], loss[n - 1]);
    double acc = json_number(run, "test_accuracy");
    /* 5 of the 7 steps are blank: learning the blank alone gives 5/7 */
    ck_assert_msg(acc >= 0.6 && acc <= 1.0, "test accuracy %g", acc);
    tu_rmrf(dir);
    free(run);
    free(dir);
}
END_TEST

/* cfg must be refused with GS_EXIT_INPUT, a message holding each of
   want[], and no run directory. */
static void expect_refused(const char *cfg, const char *const *want, size_t n_want)
{
    char *dir = tu_tempdir(), *path = tu_path(dir, "bad.cfg"), *out = tu_path(dir, "out");
    tu_write(path, cfg);
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_error err = {{0}};
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    int rc = e ? gs_experiment_run(e, &opt, &err) : GS_EXIT_INPUT;
    ck_assert_int_eq(rc, GS_EXIT_INPUT);
    for (size_t i = 0; i < n_want; i++)
        ck_assert_msg(strstr(err.msg, want[i]) != NULL, "'%s' not in: %s", want[i], err.msg);
    ck_assert(!tu_exists(out));
    gs_experiment_free(e);
    tu_rmrf(dir);
    free(out);
    free(path);
    free(dir);
}

START_TEST(per_step_data_into_a_last_step_model)
{
    const char *want[] = {"bad.cfg:3", "a target at every step, (T, 4) = (7, 4)",
                          "a vector (C) = (4)", "return = \"sequence\"", "per_step = true"};
    expect_refused("data = { type = \"copy\"; symbols = 3; copy_length = 2; delay = 3; "
                   "samples = 32; test_samples = 0; };\n"
                   "model = { layers = ( { type = \"lstm\"; units = 5; },\n"
                   "                     { type = \"dense\"; units = 4; } ); };\n",
                   want, 5);
}
END_TEST

START_TEST(sequence_data_into_a_dense_model)
{
    const char *want[] = {"bad.cfg:2", "data 'adding' gives a sequence (T, C) = (12, 2)",
                          "layer 0 (dense) reads it as 24 flat features to give a vector (C) = "
                          "(1)",
                          "recurrent layer"};
    expect_refused("data = { type = \"adding\"; length = 12; samples = 32; test_samples = 0; };\n"
                   "model = { layers = ( { type = \"dense\"; units = 1; } ); };\n"
                   "loss = { type = \"mse\"; };\n",
                   want, 4);
    /* per step, its output is a sequence, which one target per example is not */
    const char *want2[] = {"bad.cfg:2", "the output is a sequence (T, C) = (12, 1)",
                           "one target per example", "return = \"last\""};
    expect_refused("data = { type = \"adding\"; length = 12; samples = 32; test_samples = 0; };\n"
                   "model = { layers = ( { type = \"dense\"; units = 1; per_step = true; } ); };\n"
                   "loss = { type = \"mse\"; };\n",
                   want2, 4);
}
END_TEST

START_TEST(per_step_width_mismatch)
{
    const char *want[] = {"bad.cfg:4", "output width is 3", "4 classes"};
    expect_refused("data = { type = \"copy\"; symbols = 3; copy_length = 2; delay = 3; "
                   "samples = 32; test_samples = 0; };\n"
                   "model = { layers = (\n"
                   "  { type = \"gru\"; units = 5; return = \"sequence\"; },\n"
                   "  { type = \"dense\"; units = 3; per_step = true; } ); };\n",
                   want, 3);
}
END_TEST

START_TEST(zero_length_refused)
{
    const char *want[] = {"bad.cfg:1", "length"};
    expect_refused("data = { type = \"adding\"; length = 0; };\n"
                   "model = { layers = ( { type = \"rnn\"; units = 4; },\n"
                   "                     { type = \"dense\"; units = 1; } ); };\n",
                   want, 2);
}
END_TEST

/* dense with per_step = true on (T, C) = (4, 3): y[n, t] = W x[n, t] + b at
   every step, an output (T, units), gradients equal to central
   differences; on a vector it is refused. */
START_TEST(dense_per_step)
{
    enum { N = 2, T = 4, C = 3, U = 5 };
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {T, C}};
    gs_test_model *t = gs_test_model_new(reg, GS_F64, 9, &in);
    gs_error err;
    ck_assert_msg(gs_test_model_add(t, "dense", "units = 5; per_step = true; "
                                                "activation = \"tanh\";", &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(gs_test_model_finalize(t, N, &err) == 0, "%s", err.msg);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_int_eq(out.layout, GS_LAYOUT_SEQUENCE);
    ck_assert_uint_eq(out.dims[0], T);
    ck_assert_uint_eq(out.dims[1], U);
    ck_assert_uint_eq(gs_test_param_count(t), U * C + U);
    const double *w = gs_test_param(t, 0)->value.data, *b = gs_test_param(t, 1)->value.data;
    double *x = gs_test_input(t)->data;
    for (size_t k = 0; k < N * T * C; k++)
        x[k] = sin(0.7 * (double)k + 0.3);
    gs_test_forward(t, 1);
    const double *y = gs_test_output(t)->data;
    for (size_t r = 0; r < N * T; r++)
        for (size_t u = 0; u < U; u++) {
            double z = b[u];
            for (size_t c = 0; c < C; c++)
                z += w[u * C + c] * x[r * C + c];
            ck_assert_msg(fabs(y[r * U + u] - tanh(z)) < 1e-12, "row %zu unit %zu", r, u);
        }
    double err_max;
    char what[128];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err_max, what, sizeof what) == 1, "%s: %g", what,
                  err_max);
    gs_test_model_free(t);
    gs_shape vec = {.ndim = 1, .dims = {6}};
    t = gs_test_model_new(reg, GS_F64, 9, &vec);
    ck_assert_int_eq(gs_test_model_add(t, "dense", "units = 2; per_step = true;", &err), -1);
    ck_assert_msg(strstr(err.msg, "per_step = true needs a sequence input (T, C)"), "%s",
                  err.msg);
    gs_test_model_free(t);
}
END_TEST

int main(void)
{
    reg = tu_registry();
    Suite *s = suite_create("sequence");
    TCase *t = tu_tcase(s, "sequence", NULL, NULL, 120);
    tcase_add_test(t, dense_per_step);
    tcase_add_test(t, masked_steps_count_nothing);
    tcase_add_test(t, epoch_means_over_counted_rows);
    tcase_add_test(t, copy_task_trains);
    tcase_add_test(t, per_step_data_into_a_last_step_model);
    tcase_add_test(t, sequence_data_into_a_dense_model);
    tcase_add_test(t, per_step_width_mismatch);
    tcase_add_test(t, zero_length_refused);
    int rc = tu_run(s);
    gs_registry_free(reg);
    return rc;
}
