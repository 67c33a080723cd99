/* The gradient-flow statistics: histograms, update ratios, dead and saturated
   units, the mean-field prediction beside the measurement, NumPy dumps. */
#include <math.h>
#include "testutil.h"

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

static char *run(const char *cfg, const char *name, const char *const *sets, size_t n)
{
    return tu_train(reg, dir, cfg, name, sets, n);
}

/* Value of column `col` in the first data row whose first `nkey` fields are `key`. */
static double csv_lookup(const char *run_dir, const char *file, const char *key, const char *col)
{
    char *p = tu_path(run_dir, file);
    char *text = tu_read(p, NULL);
    ck_assert_msg(text != NULL, "missing %s", p);
    char header[512];
    sscanf(text, "%511[^\n]", header);
    int idx = -1, i = 0;
    for (char *tok = strtok(header, ","); tok; tok = strtok(NULL, ","), i++)
        if (!strcmp(tok, col))
            idx = i;
    ck_assert_msg(idx >= 0, "no column %s in %s", col, file);
    double v = NAN;
    size_t klen = strlen(key);
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        if (strncmp(line + 1, key, klen) != 0 || line[1 + klen] != ',')
            continue;
        char *f = line + 1;
        for (int k = 0; k < idx; k++)
            f = strchr(f, ',') + 1;
        v = strtod(f, NULL);
        break;
    }
    free(text);
    free(p);
    return v;
}

static const char *base =
    "seed = 5;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 32; classes = 4; samples = 512; "
    "test_samples = 0; };\n"
    "training = { epochs = 1; batch_size = 64; validation = 0; };\n"
    "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
    "monitor = { every = 1; };\n";

static char *cfg_with(const char *model)
{
    size_t n = strlen(base) + strlen(model) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s", base, model);
    return s;
}

START_TEST(histogram_counts_every_element)
{
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 8; activation = \"tanh\"; },"
                         " { type = \"dense\"; units = 4; } ); };\n");
    char *out = run(cfg, "h", NULL, 0);
    char *p = tu_path(out, "histograms.csv");
    char *text = tu_read(p, NULL);
    long total[2][2] = {{0, 0}, {0, 0}}; /* layer x (weight, bias) at step 0 */
    for (char *line = strtok(strchr(text, '\n') + 1, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long step;
        int layer;
        char tensor[64];
        if (sscanf(line, "%llu,%d,%63[^,],", &step, &layer, tensor) != 3 || step != 0)
            continue;
        total[layer][strcmp(tensor, "weight") != 0] += strtol(strrchr(line, ',') + 1, NULL, 10);
    }
    free(text);
    text = tu_read(p, NULL);
    ck_assert_int_eq(total[0][0], 8 * 32);
    ck_assert_int_eq(total[0][1], 8);
    ck_assert_int_eq(total[1][0], 4 * 8);
    ck_assert_int_eq(total[1][1], 4);
    /* the decade of the largest |g| holds it: 10^lo <= max < 10^hi */
    double gmax = csv_lookup(out, "gradients.csv", "0,0,weight", "grad_max_abs");
    ck_assert(gmax > 0);
    char want[64];
    snprintf(want, sizeof want, "\n0,0,weight,%d,%d,", (int)floor(log10(gmax)),
             (int)floor(log10(gmax)) + 1);
    ck_assert_msg(strstr(text, want) != NULL, "no bin %s", want);
    free(text);
    free(p);
    free(out);
    free(cfg);
}
END_TEST

/* The steps at which FILE has rows, as a bit set (steps < 64). */
static uint64_t steps_in(const char *run_dir, const char *file)
{
    char *p = tu_path(run_dir, file);
    char *text = tu_read(p, NULL);
    uint64_t set = 0;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
        set |= 1ull << strtoul(line + 1, NULL, 10);
    free(text);
    free(p);
    return set;
}

/* Cell `col` (0-based) of the row of FILE starting with `key`: "" if empty. */
static void cell(const char *run_dir, const char *file, const char *key, int col, char *out,
                 size_t n)
{
    char *p = tu_path(run_dir, file);
    char *text = tu_read(p, NULL);
    char k[96];
    snprintf(k, sizeof k, "\n%s,", key);
    char *row = strstr(text, k);
    ck_assert_msg(row != NULL, "%s: no row %s", file, key);
    row++;
    for (int c = 0; c < col; c++)
        row = strchr(row, ',') + 1;
    size_t len = strcspn(row, ",\n");
    snprintf(out, n, "%.*s", (int)len, row);
    free(text);
    free(p);
}

START_TEST(detail_every_sets_the_detailed_steps)
{
    /* 512 examples in batches of 64: steps 0..7; detailed 0, 3, 6 and the last */
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 8; activation = \"relu\"; },"
                         " { type = \"dense\"; units = 4; } ); };\n");
    const char *sets[] = {"monitor.detail_every=3"};
    char *out = run(cfg, "d", sets, 1);
    const uint64_t detailed = 1 | 1 << 3 | 1 << 6 | 1 << 7;
    ck_assert_uint_eq(steps_in(out, "gradients.csv"), 0xff);
    ck_assert_uint_eq(steps_in(out, "layers.csv"), 0xff);
    ck_assert_uint_eq(steps_in(out, "histograms.csv"), detailed);
    for (int step = 0; step < 8; step++) {
        char key[32], v[64];
        int want = (int)(detailed >> step & 1);
        snprintf(key, sizeof key, "%d,0,weight", step);
        cell(out, "gradients.csv", key, 6, v, sizeof v);
        ck_assert_msg((v[0] != 0) == want, "step %d: update_ratio '%s'", step, v);
        if (want)
            ck_assert(strtod(v, NULL) > 0);
        for (int col = 4; col <= 5; col++) { /* weight_norm, grad_max_abs */
            cell(out, "gradients.csv", key, col, v, sizeof v);
            ck_assert_msg((v[0] != 0) == want, "step %d: gradients.csv column %d '%s'", step, col, v);
        }
        cell(out, "gradients.csv", key, 3, v, sizeof v); /* grad_norm: every step */
        ck_assert_msg(strtod(v, NULL) > 0, "step %d: grad_norm '%s'", step, v);
        snprintf(key, sizeof key, "%d,1,dense", step);
        for (int col = 4; col <= 7; col++) { /* act_mean ... saturated_fraction */
            cell(out, "layers.csv", key, col, v, sizeof v);
            ck_assert_msg((v[0] != 0) == want, "step %d: layers.csv column %d '%s'", step, col, v);
        }
        /* the data's gradient (layer 0's input) on detailed steps only */
        snprintf(key, sizeof key, "%d,0,dense", step);
        cell(out, "layers.csv", key, 3, v, sizeof v);
        ck_assert_msg((v[0] != 0) == want, "step %d: layer 0 input_grad_norm '%s'", step, v);
        snprintf(key, sizeof key, "%d,1,dense", step);
        cell(out, "layers.csv", key, 3, v, sizeof v);
        ck_assert_msg(strtod(v, NULL) > 0, "step %d: layer 1 input_grad_norm '%s'", step, v);
    }
    free(out);
    free(cfg);
}
END_TEST

/* The global gradient norm drives clipping; monitored or not, it must be
   the same bits, so the monitor's settings cannot change training. */
START_TEST(monitoring_does_not_change_training)
{
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 8; activation = \"tanh\"; },"
                         " { type = \"dense\"; units = 4; } ); };\n");
    const char *every[] = {"training.epochs=2", "training.clip_grad_norm=0.05",
                           "monitor.every=1", "monitor.detail_every=1"};
    const char *sparse[] = {"training.epochs=2", "training.clip_grad_norm=0.05",
                            "monitor.every=5", "monitor.detail_every=1000"};
    char *a = run(cfg, "all", every, 4), *b = run(cfg, "sparse", sparse, 4);
    for (int col = 3; col <= 6; col++) {
        char va[64], vb[64];
        cell(a, "gradients.csv", "15,1,weight", col, va, sizeof va);
        cell(b, "gradients.csv", "15,1,weight", col, vb, sizeof vb);
        ck_assert_msg(!strcmp(va, vb) && va[0], "last step, column %d: %s vs %s", col, va, vb);
    }
    char gnorm[64];
    cell(b, "metrics.csv", "15,1", 5, gnorm, sizeof gnorm);
    ck_assert_msg(strtod(gnorm, NULL) > 0.05, "clipping was not active: norm %s", gnorm);
    free(a);
    free(b);
    free(cfg);
}
END_TEST

START_TEST(update_ratio_matches_sgd)
{
    /* plain SGD: |dtheta| = lr |g|, so update_ratio = lr * grad_norm / weight_norm */
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 4; } ); };\n");
    char *out = run(cfg, "u", NULL, 0);
    double g = csv_lookup(out, "gradients.csv", "0,0,weight", "grad_norm");
    double w = csv_lookup(out, "gradients.csv", "0,0,weight", "weight_norm");
    double r = csv_lookup(out, "gradients.csv", "0,0,weight", "update_ratio");
    ck_assert_msg(fabs(r - 0.01 * g / w) < 1e-4 * r, "update ratio %g, expected %g", r,
                  0.01 * g / w);
    free(out);
    free(cfg);
}
END_TEST

START_TEST(dead_relu_units_are_counted)
{
    /* a bias of -100 kills every ReLU unit of the first layer */
    char *cfg = cfg_with(
        "model = { layers = ( { type = \"dense\"; units = 16; activation = \"relu\"; "
        "bias_init = { type = \"constant\"; value = -100.0; }; },"
        " { type = \"dense\"; units = 16; activation = \"relu\"; init = \"he\"; },"
        " { type = \"dense\"; units = 4; } ); };\n");
    char *out = run(cfg, "d", NULL, 0);
    ck_assert_double_eq(csv_lookup(out, "layers.csv", "0,0", "dead_fraction"), 1.0);
    /* the second layer sees zeros: f'(b) for its bias alone decides, no unit dead for sure */
    double second = csv_lookup(out, "layers.csv", "0,1", "dead_fraction");
    ck_assert(second >= 0.0 && second <= 1.0);
    ck_assert(isnan(csv_lookup(out, "layers.csv", "0,0", "saturated_fraction")));
    free(out);
    free(cfg);
}
END_TEST

START_TEST(saturated_sigmoid_units_are_counted)
{
    char *cfg = cfg_with(
        "model = { layers = ( { type = \"dense\"; units = 16; activation = \"sigmoid\"; "
        "init = { type = \"normal\"; std = 30.0; }; },"
        " { type = \"dense\"; units = 16; activation = \"sigmoid\"; "
        "init = { type = \"normal\"; std = 0.001; }; },"
        " { type = \"dense\"; units = 4; } ); };\n");
    char *out = run(cfg, "s", NULL, 0);
    double big = csv_lookup(out, "layers.csv", "0,0", "saturated_fraction");
    double small = csv_lookup(out, "layers.csv", "0,1", "saturated_fraction");
    ck_assert_msg(big > 0.8, "huge weights: saturated fraction %g", big);
    ck_assert_msg(small == 0.0, "tiny weights: saturated fraction %g", small);
    ck_assert_double_eq(csv_lookup(out, "layers.csv", "0,1", "dead_fraction"), 0.0);
    free(out);
    free(cfg);
}
END_TEST

static void theory_case(const char *act, double std, double chi, double tol)
{
    char model[1024];
    snprintf(model, sizeof model,
             "model = { layers = ( { type = \"dense\"; units = 256; activation = \"%s\"; "
             "init = { type = \"normal\"; std = %.17g; }; repeat = 12; },"
             " { type = \"dense\"; units = 4; } ); };\n",
             act, std);
    char *cfg = cfg_with(model);
    char *out = run(cfg, act, NULL, 0);
    double pred = csv_lookup(out, "theory.csv", "1", "chi_predicted");
    double meas = csv_lookup(out, "theory.csv", "1", "chi_measured");
    double path = csv_lookup(out, "theory.csv", "1", "chi_path");
    double sw2 = csv_lookup(out, "theory.csv", "1", "sigma_w2");
    ck_assert_msg(fabs(sw2 - std * std * 256) < 0.05 * std * std * 256, "sigma_w2 %g", sw2);
    ck_assert_msg(fabs(pred - chi) < tol, "%s: predicted chi %g, expected %g", act, pred, chi);
    /* at finite depth the measurement follows the variance path from the input */
    ck_assert_msg(fabs(meas - path) < 0.1 * path, "%s: measured chi %g vs predicted %g", act,
                  meas, path);
    free(out);
    free(cfg);
}

START_TEST(mean_field_relu_is_critical_at_two)
{
    theory_case("relu", sqrt(2.0 / 256), 1.0, 0.03);
}
END_TEST

START_TEST(mean_field_tanh_is_critical_at_one)
{
    theory_case("tanh", sqrt(1.0 / 256), 1.0, 0.01);
}
END_TEST

START_TEST(mean_field_relu_subcritical)
{
    theory_case("relu", sqrt(1.5 / 256), 0.75, 0.03);
}
END_TEST

/* theory.csv's row of a stack of 6 dense layers of width 64. */
static char *theory_run(const char *name, const char *layer)
{
    char model[1024];
    snprintf(model, sizeof model,
             "model = { layers = ( { %s repeat = 6; units = 64; type = \"dense\"; },"
             " { type = \"dense\"; units = 4; } ); };\n",
             layer);
    char *cfg = cfg_with(model);
    char *out = run(cfg, name, NULL, 0);
    free(cfg);
    return out;
}

static double theo(const char *out, const char *col) { return csv_lookup(out, "theory.csv", "1", col); }

/* A kink at 0 is integrated side by side: chi = sigma_w^2 E[f'^2] exactly
   where E[f'^2] has a closed form (it was 7e-4 off for ReLU). */
START_TEST(mean_field_kinked_activations_are_exact)
{
    char *out = theory_run("relu", "activation = \"relu\"; init = \"he\";");
    double sw2 = theo(out, "sigma_w2");
    ck_assert_msg(fabs(theo(out, "chi_predicted") - sw2 / 2) < 1e-9 * sw2, "relu chi %.12g",
                  theo(out, "chi_predicted"));
    free(out);
    out = theory_run("leaky", "activation = { type = \"leaky_relu\"; negative_slope = 0.2; }; "
                              "init = { type = \"normal\"; std = 0.17025130615174972; };");
    sw2 = theo(out, "sigma_w2");
    double want = sw2 * (1 + 0.04) / 2; /* critical at sigma_w^2 = 2 / (1 + slope^2) */
    ck_assert_msg(fabs(theo(out, "chi_predicted") - want) < 1e-9 * want, "leaky chi %.12g, %.12g",
                  theo(out, "chi_predicted"), want);
    ck_assert_msg(fabs(want - 1) < 0.05, "not near criticality: %g", want);
    free(out);
    /* SELU with LeCun: E[selu'(sqrt(q) z)^2] = lambda^2 (1/2 + alpha^2 e^{2q} Phi(-2 sqrt q)) */
    out = theory_run("selu", "activation = \"selu\"; init = \"lecun\"; bias = false;");
    const double lambda = 1.0507009873554805, alpha = 1.6732632423543772;
    double q = theo(out, "q_star");
    sw2 = theo(out, "sigma_w2");
    ck_assert_msg(fabs(q - 1) < 0.1, "selu q* %g", q);
    want = sw2 * lambda * lambda * (0.5 + alpha * alpha * exp(2 * q) * 0.5 * erfc(sqrt(2 * q)));
    ck_assert_msg(fabs(theo(out, "chi_predicted") - want) < 1e-9 * want, "selu chi %.12g, %.12g",
                  theo(out, "chi_predicted"), want);
    /* and q* is its fixed point: E[selu^2] in closed form too */
    double e2 = lambda * lambda *
                (q / 2 + alpha * alpha *
                             (exp(2 * q) * 0.5 * erfc(sqrt(2 * q)) -
                              2 * exp(q / 2) * 0.5 * erfc(sqrt(q / 2)) + 0.5));
    ck_assert_msg(fabs(sw2 * e2 - q) < 1e-9 * q, "selu q* %.12g maps to %.12g", q, sw2 * e2);
    free(out);
}
END_TEST

/* E[f(sqrt(q) z)^2] and E[f'(sqrt(q) z)^2] for tanh, by a plain midpoint rule. */
static void tanh_moments(double q, double *e2, double *d2)
{
    const int n = 400000;
    const double h = 24.0 / n;
    *e2 = *d2 = 0;
    for (int i = 0; i < n; i++) {
        double z = -12 + h * (i + 0.5), w = h * exp(-z * z / 2) / sqrt(2 * M_PI);
        double t = tanh(sqrt(q) * z);
        *e2 += w * t * t;
        *d2 += w * (1 - t * t) * (1 - t * t);
    }
}

/* tanh just above criticality without biases: q* is small but not 0 and
   approached very slowly; q* and chi must both be the fixed point's
   (q* was reported 0 while chi was taken at the 5000th iterate). */
START_TEST(mean_field_tanh_just_above_one_is_consistent)
{
    char *out = theory_run("tanh", "activation = \"tanh\"; bias = false; "
                                   "init = { type = \"orthogonal\"; gain = 1.0009995003746877; };");
    double sw2 = theo(out, "sigma_w2"), q = theo(out, "q_star"), e2, d2;
    ck_assert_msg(fabs(sw2 - 1.002) < 1e-5, "sigma_w2 %g", sw2);
    ck_assert_msg(q > 1e-4 && q < 1e-2, "q* %g", q);
    tanh_moments(q, &e2, &d2);
    ck_assert_msg(fabs(sw2 * e2 - q) < 1e-7 * q, "q* %.12g maps to %.12g", q, sw2 * e2);
    ck_assert_msg(fabs(theo(out, "chi_predicted") - sw2 * d2) < 1e-9, "chi %.12g, %.12g",
                  theo(out, "chi_predicted"), sw2 * d2);
    free(out);
}
END_TEST

/* summary.json of a run of model, as text. */
static char *summary_of(const char *name, const char *model, const char *lr)
{
    char *cfg = cfg_with(model);
    const char *sets[] = {lr};
    char *out = run(cfg, name, sets, 1);
    char *p = tu_path(out, "summary.json");
    char *text = tu_read(p, NULL);
    ck_assert(text != NULL);
    free(p);
    free(out);
    free(cfg);
    return text;
}

/* ReLU at sigma_w^2 = 3: ||dL/dx||^2 grows by 1.5 a layer towards the input,
   which the weight-gradient ratio does not see (forward growth cancels it). */
START_TEST(verdict_sees_a_growing_backward_signal)
{
    char *text = summary_of("relu3",
                            "model = { layers = ( { type = \"dense\"; units = 128; activation = "
                            "\"relu\"; init = { type = \"normal\"; std = 0.15309310892394862; }; "
                            "repeat = 30; }, { type = \"dense\"; units = 4; } ); };\n",
                            "optimizer.lr=1e-9");
    ck_assert_msg(strstr(text, "\"verdict\": \"exploding\""), "%s", text);
    ck_assert_msg(strstr(text, "\"verdict_layer\": 0,") || strstr(text, "\"verdict_layer\": 1,"),
                  "%s", text);
    ck_assert_msg(strstr(text, "input gradient is"), "%s", text);
    /* never the last layer against itself */
    ck_assert_msg(!strstr(text, "layer 30's"), "%s", text);
    free(text);
}
END_TEST

/* Small weights shrink the signal both ways by the same factor a layer, so
   every weight gradient is equally tiny (no ratio across depth sees it) and
   the back-propagated signal vanishes too: the tiny test names it first. */
START_TEST(verdict_flags_gradients_tiny_everywhere)
{
    char *text = summary_of("tiny",
                            "model = { layers = ( { type = \"dense\"; units = 64; activation = "
                            "\"tanh\"; init = { type = \"normal\"; std = 0.01; }; "
                            "repeat = 12; }, { type = \"dense\"; units = 4; } ); };\n",
                            "optimizer.lr=1e-9");
    ck_assert_msg(strstr(text, "\"verdict\": \"vanishing\""), "%s", text);
    ck_assert_msg(strstr(text, "\"verdict_step\": 0,"), "%s", text);
    ck_assert_msg(strstr(text, "every layer's weight gradient is tiny"), "%s", text);
    free(text);
}
END_TEST

/* Through time: the fixture layer fx_gain records each channel's mean |y|
   as a recurrent layer's ||dL/dh_t|| (bptt.csv), so CSV features scaled by
   10^(2 (c - 5)), c = 0..5, make it fall 1e-10-fold from the last time step
   back to the first, past 1e-3 first at t = 3: "vanishing through time
   from t = 3"; scaled the other way, exploding.  No dense stack to judge
   by depth, so without the time test both are healthy. */
static char *through_time(const char *name, int sign)
{
    char *csv = tu_path(dir, name), buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "f0,f1,f2,f3,f4,f5,label\n");
    for (int i = 0; i < 64; i++) {
        for (int c = 0; c < 6; c++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%.6g,",
                                  pow(10, sign * 2 * (c - 5)) * (1 + (i % 7) / 7.0));
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d\n", i % 2);
    }
    tu_write(csv, buf);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "seed = 5;\n"
             "data = { type = \"csv\"; train = \"%s\"; classes = 2; };\n"
             "model = { layers = ( { type = \"fx_gain\"; bptt = 1; },\n"
             "                     { type = \"dense\"; units = 2; } ); };\n"
             "training = { epochs = 1; batch_size = 16; validation = 0; };\n"
             "optimizer = { type = \"sgd\"; lr = 1e-9; };\n"
             "monitor = { every = 1; };\n",
             csv);
    gs_error err;
    char *fx = tu_fixture("f32only");
    ck_assert_msg(gs_registry_load_file(reg, fx, &err) == 0, "%s", err.msg);
    free(fx);
    char run_name[64];
    snprintf(run_name, sizeof run_name, "%s_run", name);
    char *out = run(cfg, run_name, NULL, 0);
    char *p = tu_path(out, "summary.json");
    char *text = tu_read(p, NULL);
    ck_assert(text != NULL);
    free(p);
    free(out);
    free(csv);
    return text;
}

START_TEST(verdict_through_time)
{
    char *text = through_time("vanish.csv", 1);
    ck_assert_msg(strstr(text, "\"verdict\": \"vanishing\""), "%s", text);
    ck_assert_msg(strstr(text, "vanishing through time from t = 3 (from step 0)"), "%s", text);
    ck_assert_msg(strstr(text, "\"verdict_layer\": 0,"), "%s", text);
    free(text);
    text = through_time("explode.csv", -1);
    ck_assert_msg(strstr(text, "\"verdict\": \"exploding\""), "%s", text);
    ck_assert_msg(strstr(text, "exploding through time from t = 3"), "%s", text);
    free(text);
}
END_TEST

/* The layer a weight-gradient verdict names is the most extreme one at the
   step it names, and its ratio is that layer's. */
START_TEST(verdict_names_the_worst_layer)
{
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 64; activation = "
                         "\"sigmoid\"; init = { type = \"normal\"; std = 0.1; }; "
                         "repeat = 10; }, { type = \"dense\"; units = 4; } ); };\n");
    const char *sets[] = {"optimizer.lr=1e-9"};
    char *out = run(cfg, "worst", sets, 1);
    char *p = tu_path(out, "summary.json");
    char *text = tu_read(p, NULL);
    ck_assert_msg(strstr(text, "\"verdict\": \"vanishing\""), "%s", text);
    const char *vl = strstr(text, "\"verdict_layer\": ");
    const char *vs = strstr(text, "\"verdict_step\": ");
    ck_assert(vl && vs);
    long layer = strtol(vl + 17, NULL, 10), step = strtol(vs + 16, NULL, 10);
    double worst = INFINITY, last = NAN;
    long worst_layer = -1;
    for (long l = 0; l <= 10; l++) {
        char key[64];
        snprintf(key, sizeof key, "%ld,%ld,weight", step, l);
        double g = csv_lookup(out, "gradients.csv", key, "grad_norm");
        if (l == 10)
            last = g;
        else if (g < worst)
            worst = g, worst_layer = l;
    }
    ck_assert_msg(layer == worst_layer, "named layer %ld, smallest is %ld\n%s", layer,
                  worst_layer, text);
    char ratio[64];
    snprintf(ratio, sizeof ratio, "layer %ld's weight gradient is %.3g times", layer,
             worst / last);
    ck_assert_msg(strstr(text, ratio), "no \"%s\" in %s", ratio, text);
    free(text);
    free(p);
    free(out);
    free(cfg);
}
END_TEST

START_TEST(npy_dump_reads_back)
{
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 4; } ); };\n");
    const char *sets[] = {"monitor.dump=true", "monitor.every=1000"};
    char *out = run(cfg, "npy", sets, 2);
    char *idx = tu_path(out, "dump/index.csv");
    char *index = tu_read(idx, NULL);
    ck_assert_msg(index && strstr(index, "0,0,weight,value,dump/step_00000000/0.weight.value.npy,4x32"),
                  "%s", index ? index : "(none)");
    char *f = tu_path(out, "dump/step_00000000/0.weight.value.npy");
    size_t len;
    char *data = tu_read(f, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert(memcmp(data, "\x93NUMPY\x01\x00", 8) == 0);
    unsigned hlen = (unsigned char)data[8] | (unsigned)(unsigned char)data[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_msg(strstr(data + 10, "'descr': '<f4'") && strstr(data + 10, "'shape': (4, 32)"),
                  "%.*s", (int)hlen, data + 10);
    ck_assert_uint_eq(len, 10 + hlen + 4 * 32 * 4);
    const float *w = (const float *)(data + 10 + hlen);
    double ss = 0;
    for (size_t i = 0; i < 128; i++)
        ss += (double)w[i] * w[i];
    /* the dumped values before the step are the weights whose norm was logged */
    double logged = csv_lookup(out, "gradients.csv", "0,0,weight", "weight_norm");
    ck_assert_msg(fabs(sqrt(ss) - logged) < 1e-6 * logged, "%g vs %g", sqrt(ss), logged);
    free(data);
    free(f);
    free(index);
    free(idx);
    free(out);
    free(cfg);
}
END_TEST

/* ---- convolutional layers ---- */

/* 6 x 6 one-channel images, 64 examples, one monitored and detailed step
   (batch 64), tensors dumped. */
static char *conv_cfg(const char *layers)
{
    static const char *head =
        "seed = 3;\n"
        "data = { type = \"synthetic\"; set = \"images\"; channels = 1; image_size = 6; "
        "classes = 2; samples = 64; test_samples = 0; };\n"
        "training = { epochs = 1; batch_size = 64; validation = 0; };\n"
        "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
        "monitor = { every = 1; dump = true; };\n";
    size_t n = strlen(head) + strlen(layers) + 64;
    char *s = malloc(n);
    snprintf(s, n, "%smodel = { layers = ( %s ); };\n", head, layers);
    return s;
}

/* The float32 values of a dumped .npy file (header checked), and their count. */
static float *npy_floats(const char *run_dir, const char *rel, size_t *n)
{
    char *path = tu_path(run_dir, rel);
    size_t len;
    char *data = tu_read(path, &len);
    ck_assert_msg(data != NULL, "no %s", path);
    ck_assert(memcmp(data, "\x93NUMPY\x01\x00", 8) == 0);
    ck_assert_msg(strstr(data + 10, "'descr': '<f4'") != NULL, "%s: not float32", rel);
    size_t hlen = (unsigned char)data[8] | (size_t)(unsigned char)data[9] << 8;
    *n = (len - 10 - hlen) / 4;
    float *v = malloc(*n * sizeof *v + 1);
    memcpy(v, data + 10 + hlen, *n * sizeof *v);
    free(data);
    free(path);
    return v;
}

/* The values of series NAME of LAYER at step 0 in series.csv, by index. */
static size_t series_values(const char *run_dir, int layer, const char *name, double *v, size_t cap)
{
    char *p = tu_path(run_dir, "series.csv");
    char *text = tu_read(p, NULL);
    ck_assert_msg(text != NULL, "no series.csv");
    ck_assert_msg(strncmp(text, "step,layer,name,axis,index,value\n", 33) == 0, "%.40s", text);
    size_t n = 0;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        unsigned long long step;
        int l;
        char nm[128], axis[16];
        size_t idx;
        double val;
        if (sscanf(line + 1, "%llu,%d,%127[^,],%15[^,],%zu,%lf", &step, &l, nm, axis, &idx,
                   &val) != 6 ||
            step != 0 || l != layer || strcmp(nm, name) != 0)
            continue;
        ck_assert_str_eq(axis, "channel");
        ck_assert_uint_eq(idx, n);
        ck_assert_uint_lt(n, cap);
        v[n++] = val;
    }
    free(text);
    free(p);
    return n;
}

/*
 * Every statistic of a dense layer exists for a conv layer, with the right
 * values: the gradient norms of weight and bias (against the dumped
 * gradients), histograms that count every element, the input-gradient norm,
 * activation mean and std, and a dead fraction per channel.  Layer 0 puts
 * out about 5 everywhere (tiny weights, bias 5); layer 1 (weights 1, bias
 * -150, padding 1) sums 4 channels of 3 x 3 neighbours, 9 of them inside
 * (about 180 - 150 > 0) but 6 on an edge and 4 in a corner (< 0): every
 * channel is alive inside and dead on the border, so none is dead (counted
 * per position, 20 of 36 would be).
 */
START_TEST(conv_layers_have_the_dense_statistics)
{
    char *cfg = conv_cfg(
        "{ type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"relu\"; "
        "init = { type = \"normal\"; std = 0.001; }; "
        "bias_init = { type = \"constant\"; value = 5.0; }; },"
        " { type = \"conv2d\"; channels = 3; kernel = 3; padding = 1; activation = \"relu\"; "
        "init = { type = \"constant\"; value = 1.0; }; "
        "bias_init = { type = \"constant\"; value = -150.0; }; },"
        " { type = \"conv2d\"; channels = 2; kernel = 3; activation = \"tanh\"; },"
        " { type = \"flatten\"; }, { type = \"dense\"; units = 2; }");
    char *out = run(cfg, "conv", NULL, 0);
    ck_assert_double_eq(csv_lookup(out, "layers.csv", "0,0", "dead_fraction"), 0.0);
    ck_assert_double_eq(csv_lookup(out, "layers.csv", "0,1", "dead_fraction"), 0.0);
    /* layer 0 puts out 5 + O(0.001): mean 5, std small */
    ck_assert_msg(fabs(csv_lookup(out, "layers.csv", "0,0", "act_mean") - 5) < 0.05, "mean");
    ck_assert(csv_lookup(out, "layers.csv", "0,0", "act_std") < 0.05);
    /* layer 1 is 0 on the border, 4 x 4 of 6 x 6 alive */
    double m1 = csv_lookup(out, "layers.csv", "0,1", "act_mean");
    ck_assert_msg(m1 > 0 && fabs(m1 - 30.0 * 16 / 36) < 1, "layer 1 mean %g", m1);
    for (int l = 0; l < 3; l++) {
        char key[16];
        snprintf(key, sizeof key, "0,%d", l);
        double ig = csv_lookup(out, "layers.csv", key, "input_grad_norm");
        ck_assert_msg(isfinite(ig) && ig >= 0, "layer %d input_grad_norm %g", l, ig);
    }
    /* layer 1's weight and bias: logged norms, per-channel series and
       histograms against the dumped gradients */
    static const char *const tensors[] = {"weight", "bias"};
    for (int k = 0; k < 2; k++) {
        char rel[96], key[32];
        snprintf(rel, sizeof rel, "dump/step_00000000/1.%s.grad.npy", tensors[k]);
        size_t n;
        float *g = npy_floats(out, rel, &n);
        ck_assert_uint_eq(n, k == 0 ? 3 * 4 * 9 : 3);
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += (double)g[i] * g[i];
        snprintf(key, sizeof key, "0,1,%s", tensors[k]);
        double logged = csv_lookup(out, "gradients.csv", key, "grad_norm");
        ck_assert_msg(sqrt(ss) > 0 && fabs(logged - sqrt(ss)) <= 1e-6 * sqrt(ss),
                      "%s grad_norm %g, dumped %g", tensors[k], logged, sqrt(ss));
        if (k == 0) {
            double ch[8];
            ck_assert_uint_eq(series_values(out, 1, "weight.grad_norm", ch, 8), 3);
            for (size_t o = 0; o < 3; o++) {
                double so = 0;
                for (size_t i = 0; i < 36; i++)
                    so += (double)g[o * 36 + i] * g[o * 36 + i];
                ck_assert_msg(fabs(ch[o] - sqrt(so)) <= 1e-6 * sqrt(ss),
                              "channel %zu: %g, dumped %g", o, ch[o], sqrt(so));
            }
        }
        free(g);
    }
    char *p = tu_path(out, "histograms.csv");
    char *text = tu_read(p, NULL);
    long count[3] = {0, 0, 0};
    for (char *line = strtok(strchr(text, '\n') + 1, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long step;
        int layer;
        char tensor[64];
        if (sscanf(line, "%llu,%d,%63[^,],", &step, &layer, tensor) == 3 && step == 0 &&
            layer < 3 && !strcmp(tensor, "weight"))
            count[layer] += strtol(strrchr(line, ',') + 1, NULL, 10);
    }
    ck_assert_int_eq(count[0], 4 * 1 * 9);
    ck_assert_int_eq(count[1], 3 * 4 * 9);
    ck_assert_int_eq(count[2], 2 * 3 * 9);
    free(text);
    free(p);
    /* act_std per channel: layer 1's channels are alike (weights 1), about
       180 - 150 = 30 at the 16 inner pixels and 0 at the 20 on the border;
       the flatten's output is no image, so it has none */
    double sd[8], want_sd = sqrt(16.0 / 36 * 20.0 / 36) * 30.0;
    ck_assert_uint_eq(series_values(out, 1, "act_std", sd, 8), 3);
    for (int c = 0; c < 3; c++)
        ck_assert_msg(fabs(sd[c] - want_sd) < 0.1 * want_sd, "act_std[%d] %g, about %g", c,
                      sd[c], want_sd);
    ck_assert_uint_eq(series_values(out, 0, "act_std", sd, 8), 4);
    ck_assert_uint_eq(series_values(out, 2, "act_std", sd, 8), 2);
    ck_assert_uint_eq(series_values(out, 3, "act_std", sd, 8), 0);
    free(out);
    free(cfg);
}
END_TEST

/* The per-channel series come on detailed steps only; a conv layer whose
   bias of -1000 outweighs any input is dead in every channel. */
START_TEST(conv_channel_series_on_detailed_steps_only)
{
    char *cfg = conv_cfg("{ type = \"conv2d\"; channels = 2; kernel = 3; activation = \"relu\"; "
                         "bias_init = { type = \"constant\"; value = -1000.0; }; },"
                         " { type = \"flatten\"; }, { type = \"dense\"; units = 2; }");
    const char *sets[] = {"training.batch_size=16", "monitor.detail_every=3",
                          "monitor.dump=false"};
    char *out = run(cfg, "detail", sets, 3);
    uint64_t steps = steps_in(out, "series.csv");
    ck_assert_msg(steps == ((1u << 0) | (1u << 3)), "series.csv at steps %#llx",
                  (unsigned long long)steps);
    ck_assert_double_eq(csv_lookup(out, "layers.csv", "0,0", "dead_fraction"), 1.0);
    double sd[4];
    ck_assert_uint_eq(series_values(out, 0, "act_std", sd, 4), 2);
    ck_assert_double_eq(sd[0], 0.0);
    ck_assert_double_eq(sd[1], 0.0);
    free(out);
    free(cfg);
}
END_TEST

/* theory.csv's row (its one data line) of a run, "" when it has none. */
static char *theory_row(const char *out)
{
    char *p = tu_path(out, "theory.csv");
    char *text = tu_read(p, NULL);
    ck_assert_msg(text != NULL, "no theory.csv");
    free(p);
    char *nl = strchr(text, '\n');
    ck_assert_ptr_nonnull(nl);
    memmove(text, nl + 1, strlen(nl + 1) + 1);
    return text;
}

/*
 * Xiao et al. 2018: a stack of conv2d layers that keep the image's shape is
 * covered with fan-in C k k: He's init gives sigma_w^2 = 2, ReLU's chi is
 * sigma_w^2 / 2 = 1 exactly, and the measured factor follows the path.
 */
START_TEST(mean_field_covers_a_stack_of_convolutions)
{
    char *cfg = conv_cfg(
        "{ type = \"conv2d\"; channels = 32; kernel = 3; padding = 1; activation = \"relu\"; "
        "init = \"he\"; bias = false; },"
        " { type = \"conv2d\"; channels = 32; kernel = 3; padding = 1; activation = \"relu\"; "
        "init = { type = \"normal\"; std = 0.08333333333333333; }; bias = false; repeat = 6; },"
        " { type = \"flatten\"; }, { type = \"dense\"; units = 2; }");
    const char *sets[] = {"data.image_size=12", "training.batch_size=16", "data.samples=16",
                          "monitor.dump=false"};
    char *out = run(cfg, "xiao", sets, 4);
    char *row = theory_row(out);
    /* layers 1..6 alike; layer 0 changes the channels, layer 7 is the
       flatten after the stack (the measurement needs the layer after) */
    ck_assert_msg(strncmp(row, "1,6,relu,", 9) == 0, "%s", row);
    ck_assert_msg(strstr(row, ",conv2d,,0,,,\n") != NULL, "%s", row);
    /* std 1/12: sigma_w^2 = 288 / 144 = 2 */
    double sw2 = theo(out, "sigma_w2");
    ck_assert_msg(fabs(sw2 - 2) < 0.1, "sigma_w2 %g, fan-in C k k = 288", sw2);
    ck_assert_msg(fabs(theo(out, "chi_predicted") - sw2 / 2) < 1e-9, "chi %.12g",
                  theo(out, "chi_predicted"));
    double meas = theo(out, "chi_measured"), path = theo(out, "chi_path");
    ck_assert_msg(fabs(meas - path) < 0.2 * path, "measured chi %g vs the path's %g", meas, path);
    free(row);
    free(out);
    free(cfg);
}
END_TEST

/* Where the convolutions do not form such a stack, theory.csv says why. */
START_TEST(mean_field_says_why_it_does_not_apply_to_convolutions)
{
    static const struct {
        const char *layers, *why;
    } cases[] = {
        {"{ type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"relu\"; },"
         " { type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"relu\"; },"
         " { type = \"maxpool\"; kernel = 2; }, { type = \"conv2d\"; channels = 4; kernel = 3; "
         "padding = 1; activation = \"relu\"; }, { type = \"flatten\"; }, "
         "{ type = \"dense\"; units = 2; }",
         /* layer 0 changes the channels (1 -> 4); 1 keeps the shape, then a pool */
         "layer 1 (conv2d) is followed by layer 2 (maxpool)"},
        {"{ type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"relu\"; },"
         " { type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"relu\"; },"
         " { type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; activation = \"tanh\"; },"
         " { type = \"flatten\"; }, { type = \"dense\"; units = 2; }",
         "layers 1 and 2 (conv2d) differ in activation"},
        {"{ type = \"conv2d\"; channels = 4; kernel = 3; stride = 2; activation = \"relu\"; },"
         " { type = \"flatten\"; }, { type = \"dense\"; units = 2; }",
         "no conv2d layer keeps its input's shape (layer 0 maps (1x6x6) to (4x2x2))"},
    };
    const char *sets[] = {"monitor.dump=false"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *cfg = conv_cfg(cases[i].layers);
        char name[16];
        snprintf(name, sizeof name, "why%zu", i);
        char *out = run(cfg, name, sets, 1);
        char *row = theory_row(out);
        ck_assert_msg(strncmp(row, ",,,,,,,,,,,", 11) == 0 && strstr(row, cases[i].why),
                      "case %zu: %s", i, row);
        /* the note, then step 0 and the recurrent columns, empty */
        const char *tail = strstr(row + 11, ",0,,,\n");
        ck_assert_msg(tail && strchr(row + 11, ',') == tail, "a comma in the note: %s", row);
        free(row);
        free(out);
        free(cfg);
    }
    /* a dense model without a stack keeps the header alone */
    char *cfg = cfg_with("model = { layers = ( { type = \"dense\"; units = 4; } ); };\n");
    char *out = run(cfg, "plain", NULL, 0);
    char *row = theory_row(out);
    ck_assert_str_eq(row, "");
    free(row);
    free(out);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc = tcase_create("monitor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, histogram_counts_every_element);
    tcase_add_test(tc, update_ratio_matches_sgd);
    tcase_add_test(tc, detail_every_sets_the_detailed_steps);
    tcase_add_test(tc, monitoring_does_not_change_training);
    tcase_add_test(tc, dead_relu_units_are_counted);
    tcase_add_test(tc, saturated_sigmoid_units_are_counted);
    tcase_add_test(tc, mean_field_relu_is_critical_at_two);
    tcase_add_test(tc, mean_field_tanh_is_critical_at_one);
    tcase_add_test(tc, mean_field_relu_subcritical);
    tcase_add_test(tc, npy_dump_reads_back);
    tcase_add_test(tc, mean_field_kinked_activations_are_exact);
    tcase_add_test(tc, mean_field_tanh_just_above_one_is_consistent);
    tcase_add_test(tc, verdict_sees_a_growing_backward_signal);
    tcase_add_test(tc, verdict_flags_gradients_tiny_everywhere);
    tcase_add_test(tc, verdict_names_the_worst_layer);
    tcase_add_test(tc, verdict_through_time);
    tcase_add_test(tc, conv_layers_have_the_dense_statistics);
    tcase_add_test(tc, conv_channel_series_on_detailed_steps_only);
    tcase_add_test(tc, mean_field_covers_a_stack_of_convolutions);
    tcase_add_test(tc, mean_field_says_why_it_does_not_apply_to_convolutions);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
