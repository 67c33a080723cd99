/*
 * Architecture blocks (resnet, densenet, transition, batchnorm, layernorm,
 * dropout): backward against finite differences for configurations beyond
 * the defaults, output widths and parameter counts from the formulas, the
 * float kernels against the double ones, batch-norm running statistics and
 * dropout masks recomputed here, the path norms the blocks record, and the
 * depth-50 regression: a residual stack keeps its gradient, a plain sigmoid
 * stack loses it.
 */
#include <math.h>
#include <signal.h>
#include "gradscope/testing.h"
#include "testutil.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

/* ---- helpers ---- */

static gs_test_model *build_layers(const char *const *types, const char *const *params,
                                   size_t n, const gs_shape *in, size_t batch, gs_dtype dt,
                                   uint64_t seed)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, dt, seed, in);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(gs_test_model_add(t, types[i], params[i], &err) == 0, "%s { %s }: %s",
                      types[i], params[i], err.msg);
    ck_assert_msg(gs_test_model_finalize(t, batch, &err) == 0, "%s", err.msg);
    return t;
}

static gs_test_model *build(const char *type, const char *params, const gs_shape *in,
                            size_t batch, gs_dtype dt, uint64_t seed)
{
    return build_layers(&type, &params, 1, in, batch, dt, seed);
}

static gs_shape vec(size_t c) { return (gs_shape){.ndim = 1, .dims = {c}}; }

static double *f64(gs_tensor *t)
{
    ck_assert_int_eq(t->dtype, GS_F64);
    return t->data;
}

/* Writes mean + std * N(0, 1) draws into a double or float tensor. */
static void fill(gs_tensor *t, uint64_t seed, double mean, double std)
{
    const gs_host *h = gs_host_table();
    gs_rng *r = gs_rng_new(seed, 99);
    size_t n = gs_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        double v = mean + std * h->rng_normal(r);
        if (t->dtype == GS_F64)
            ((double *)t->data)[i] = v;
        else
            ((float *)t->data)[i] = (float)v;
    }
    gs_rng_free(r);
}

/* Moves every parameter off its initial value: zero biases, unit gammas
   and symmetric weights hide mistakes. */
static void nudge(gs_test_model *t, uint64_t seed)
{
    const gs_host *h = gs_host_table();
    gs_rng *r = gs_rng_new(seed, 7);
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        gs_param *p = gs_test_param(t, i);
        if (p->role == GS_ROLE_BUFFER)
            continue; /* running statistics keep their definition */
        size_t n = gs_tensor_numel(&p->value);
        for (size_t k = 0; k < n; k++) {
            double d = 0.2 * h->rng_normal(r);
            if (p->value.dtype == GS_F64)
                ((double *)p->value.data)[k] += d;
            else
                ((float *)p->value.data)[k] += (float)d;
        }
    }
    gs_rng_free(r);
}

static gs_param *param_named(gs_test_model *t, const char *name)
{
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        if (strcmp(gs_test_param(t, i)->name, name) == 0)
            return gs_test_param(t, i);
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

static double record(const gs_test_model *t, const char *key)
{
    for (size_t i = 0; i < gs_test_n_records(t); i++) {
        const char *k;
        double v;
        gs_test_record(t, i, NULL, &k, &v);
        if (strcmp(k, key) == 0)
            return v;
    }
    ck_abort_msg("nothing recorded under %s", key);
    return NAN;
}

static double norm2(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

static void assert_close(double got, double want, double rel, const char *what)
{
    double scale = fmax(fabs(want), 1e-12);
    ck_assert_msg(fabs(got - want) <= rel * scale, "%s: got %.12g, want %.12g", what, got, want);
}

/* ---- finite differences ---- */

typedef struct fd_case {
    const char *type, *params;
    gs_shape in;
    int training;
} fd_case;

#define V(c) {.ndim = 1, .dims = {c}}
static const fd_case fd_cases[] = {
    {"resnet", "units = 7;", V(5), 1},                      /* projection shortcut, widening */
    {"resnet", "units = 3; shortcut_scale = 1.7;", V(5), 1}, /* projection, narrowing */
    {"resnet", "form = \"post\";", V(5), 1},
    {"resnet", "form = \"post\"; units = 6; depth = 3;", V(5), 1},
    {"resnet", "form = \"mlp\"; activation = \"tanh\";", V(5), 1},
    {"resnet", "norm = \"batchnorm\";", V(5), 1},
    {"resnet", "norm = \"batchnorm\"; form = \"post\"; units = 4;", V(5), 1},
    {"resnet", "norm = \"batchnorm\"; form = \"mlp\";", V(5), 1},
    {"resnet", "norm = \"layernorm\"; depth = 3; activation = \"prelu\";", V(5), 1},
    {"resnet", "norm = \"batchnorm\";", V(5), 0}, /* evaluation: running statistics */
    {"resnet", "depth = 1; shortcut_scale = 0.5; activation = \"sigmoid\"; init = \"xavier\";",
     V(5), 1},
    {"resnet", "units = 4;", {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 2, 2}}, 1}, /* flattened (C, H, W) */
    {"densenet", "layers = 3; growth = 4; bottleneck = 6;", V(5), 1},
    {"densenet", "layers = 3; growth = 4; bottleneck = 6; norm = \"batchnorm\";", V(5), 1},
    {"densenet", "layers = 2; growth = 3; norm = \"layernorm\"; activation = \"tanh\";", V(4), 1},
    {"transition", "compression = 0.6; norm = \"batchnorm\";", V(5), 1},
    {"transition", "norm = \"layernorm\"; activation = \"sigmoid\"; compression = 1.0;", V(4), 1},
    {"batchnorm", "", {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 3, 2}}, 1},
    {"batchnorm", "affine = false;", V(4), 1},
    {"batchnorm", "", {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 3, 2}}, 0},
    {"layernorm", "", {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 3, 2}}, 1},
    {"layernorm", "elementwise_affine = false; eps = 0.01;", V(6), 1},
    {"dropout", "p = 0.3;", V(6), 1}, /* the same mask replayed in every evaluation */
    {"dropout", "p = 0.3;", V(6), 0},
};
#undef V

START_TEST(backward_matches_finite_differences)
{
    const fd_case *c = &fd_cases[_i];
    gs_test_model *t = build(c->type, c->params, &c->in, 4, GS_F64, 100 + (uint64_t)_i);
    fill(gs_test_input(t), 200 + (uint64_t)_i, 0.3, 1.0);
    nudge(t, 300 + (uint64_t)_i);
    if (!c->training)
        for (int k = 0; k < 3; k++) /* move the running statistics off (0, 1) */
            gs_test_forward(t, 1);
    double err;
    char what[256];
    int ok = gs_test_gradcheck(t, c->training, &err, what, sizeof what);
    ck_assert_msg(ok == 1, "%s { %s } (%s): max relative error %.3e at %s", c->type, c->params,
                  c->training ? "training" : "evaluation", err, what);
    gs_test_model_free(t);
}
END_TEST

START_TEST(stacked_blocks_with_dropout_match_finite_differences)
{
    const char *types[] = {"dense", "dropout", "resnet", "densenet", "transition", "batchnorm"};
    const char *params[] = {"units = 6; activation = \"tanh\";", "p = 0.4;",
                            "form = \"post\"; norm = \"layernorm\";",
                            "layers = 2; growth = 3; bottleneck = 4;", "compression = 0.5;", ""};
    gs_shape in = vec(4);
    gs_test_model *t = build_layers(types, params, 6, &in, 5, GS_F64, 41);
    /* 6 + 2 * 3 = 12 features into the transition, 6 out of it */
    ck_assert_uint_eq(gs_test_output_shape(t).dims[0], 6);
    fill(gs_test_input(t), 42, 0.0, 1.0);
    nudge(t, 43);
    double err;
    char what[256];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err, what, sizeof what) == 1,
                  "max relative error %.3e at %s", err, what);
    gs_test_model_free(t);
}
END_TEST

/* ---- shapes and parameter counts ---- */

typedef struct count_case {
    const char *type, *params;
    size_t in, out, params_total;
} count_case;

static const count_case count_cases[] = {
    /* two dense 5x5 + bias */
    {"resnet", "", 5, 5, 2 * (25 + 5)},
    /* fc0 5->7, fc1 7->7, projection 7x5 without bias */
    {"resnet", "units = 7;", 5, 7, (35 + 7) + (49 + 7) + 35},
    /* pre: norm0 on 5, fc0, norm1 on 5, fc1; gamma and beta per feature */
    {"resnet", "norm = \"batchnorm\";", 5, 5, 10 + 30 + 10 + 30},
    /* post: fc0 5->7, norm0 on 7, fc1, norm1 on 7, projection */
    {"resnet", "form = \"post\"; norm = \"layernorm\"; units = 7;", 5, 7,
     42 + 14 + 56 + 14 + 35},
    /* mlp: like post without the last norm */
    {"resnet", "form = \"mlp\"; norm = \"batchnorm\"; depth = 3;", 5, 5, 3 * 30 + 2 * 10},
    /* widths 5, 9, 13: weights 4 * 27, biases 3 * 4; output 5 + 3 * 4 */
    {"densenet", "layers = 3; growth = 4;", 5, 17, 4 * 27 + 12},
    /* bottleneck 6: dense(w_i -> 6) then dense(6 -> 4) per layer */
    {"densenet", "layers = 3; growth = 4; bottleneck = 6;", 5, 17, (6 * 27 + 18) + 3 * 28},
    /* plus norms on w_i and on the 6 bottleneck units */
    {"densenet", "layers = 3; growth = 4; bottleneck = 6; norm = \"batchnorm\";", 5, 17,
     (6 * 27 + 18) + 3 * 28 + 2 * 27 + 3 * 12},
    /* floor(0.5 * 10) = 5 */
    {"transition", "", 10, 5, 50 + 5},
    /* floor(0.3 * 10) = 3 (not 2 through rounding), plus a batch norm on 10 */
    {"transition", "compression = 0.3; norm = \"batchnorm\";", 10, 3, 20 + 30 + 3},
    {"batchnorm", "", 7, 7, 14},
    {"batchnorm", "affine = false;", 7, 7, 0},
    {"layernorm", "", 7, 7, 14},
    {"dropout", "", 7, 7, 0},
};

START_TEST(output_widths_and_parameter_counts)
{
    const count_case *c = &count_cases[_i];
    gs_shape in = vec(c->in);
    gs_test_model *t = build(c->type, c->params, &in, 2, GS_F32, 1);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_msg(out.ndim == 1 && out.dims[0] == c->out, "%s { %s }: width %zu, want %zu",
                  c->type, c->params, out.dims[0], c->out);
    ck_assert_msg(gs_test_param_count(t) == c->params_total, "%s { %s }: %zu parameters, want %zu",
                  c->type, c->params, gs_test_param_count(t), c->params_total);
    gs_test_model_free(t);
}
END_TEST

START_TEST(invalid_configurations_are_refused)
{
    gs_error err;
    gs_shape in = vec(3);
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    /* floor(0.2 * 3) = 0 units */
    ck_assert_int_ne(gs_test_model_add(t, "transition", "compression = 0.2;", &err), 0);
    ck_assert_msg(strstr(err.msg, "no units") != NULL, "%s", err.msg);
    ck_assert_int_ne(gs_test_model_add(t, "dropout", "p = 1.0;", &err), 0);
    ck_assert_int_ne(gs_test_model_add(t, "resnet", "form = \"sideways\";", &err), 0);
    ck_assert_int_ne(gs_test_model_add(t, "resnet", "norm = \"groupnorm\";", &err), 0);
    gs_test_model_free(t);
}
END_TEST

/* ---- float kernels against double ones ---- */

static const char *const precision_cases[][2] = {
    {"resnet", "norm = \"batchnorm\"; form = \"post\"; units = 6;"},
    {"resnet", "norm = \"layernorm\"; units = 3; shortcut_scale = 0.8;"},
    {"densenet", "layers = 3; growth = 4; bottleneck = 5; norm = \"batchnorm\";"},
    {"transition", "norm = \"layernorm\";"},
    {"batchnorm", ""},
    {"layernorm", ""},
    {"dropout", "p = 0.25;"},
};

START_TEST(float_matches_double)
{
    const char *type = precision_cases[_i][0], *params = precision_cases[_i][1];
    gs_shape in = vec(5);
    gs_test_model *td = build(type, params, &in, 6, GS_F64, 5);
    gs_test_model *tf = build(type, params, &in, 6, GS_F32, 5);
    fill(gs_test_input(td), 6, 0.2, 1.0);
    fill(gs_test_input(tf), 6, 0.2, 1.0);
    gs_test_forward(td, 1);
    gs_test_forward(tf, 1);
    fill(gs_test_output_grad(td), 8, 0.0, 1.0);
    fill(gs_test_output_grad(tf), 8, 0.0, 1.0);
    gs_test_backward(td);
    gs_test_backward(tf);
    struct {
        gs_tensor *a, *b;
        const char *what;
    } pairs[] = {{gs_test_output(td), gs_test_output(tf), "output"},
                 {gs_test_input_grad(td), gs_test_input_grad(tf), "dL/dx"}};
    for (size_t k = 0; k < 2; k++) {
        size_t n = gs_tensor_numel(pairs[k].a);
        const double *a = pairs[k].a->data;
        const float *b = pairs[k].b->data;
        double scale = norm2(a, n) / sqrt((double)n);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(a[i] - b[i]) <= 1e-4 * (scale + fabs(a[i])),
                          "%s { %s } %s[%zu]: double %.9g, float %.9g", type, params,
                          pairs[k].what, i, a[i], (double)b[i]);
    }
    /* Float rounding scales with the gradients flowing through the block, so
       a tensor whose exact gradient is zero (a bias feeding a batch norm) is
       compared against the typical gradient of the whole model. */
    ck_assert_uint_eq(gs_test_n_params(td), gs_test_n_params(tf));
    double total_sq = 0;
    for (size_t p = 0; p < gs_test_n_params(td); p++) {
        const gs_tensor *ga = &gs_test_param(td, p)->grad;
        double norm = norm2(ga->data, gs_tensor_numel(ga));
        total_sq += norm * norm;
    }
    double typical = sqrt(total_sq / (double)gs_test_param_count(td));
    for (size_t p = 0; p < gs_test_n_params(td); p++) {
        const gs_tensor *ga = &gs_test_param(td, p)->grad, *gb = &gs_test_param(tf, p)->grad;
        size_t n = gs_tensor_numel(ga);
        const double *a = ga->data;
        const float *b = gb->data;
        double scale = fmax(norm2(a, n) / sqrt((double)n), typical);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(a[i] - b[i]) <= 1e-4 * (scale + fabs(a[i])),
                          "%s { %s } grad %s[%zu]: double %.9g, float %.9g", type, params,
                          gs_test_param(td, p)->name, i, a[i], (double)b[i]);
    }
    gs_test_model_free(td);
    gs_test_model_free(tf);
}
END_TEST

/* ---- batch normalization ---- */

/* Per-channel batch statistics of x (N, C, inner): mean and biased variance. */
static void channel_stats(const double *x, size_t n, size_t c, size_t inner, size_t ch,
                          double *mean, double *var)
{
    double s = 0, s2 = 0, m = (double)(n * inner);
    for (size_t e = 0; e < n; e++)
        for (size_t j = 0; j < inner; j++)
            s += x[(e * c + ch) * inner + j];
    *mean = s / m;
    for (size_t e = 0; e < n; e++)
        for (size_t j = 0; j < inner; j++) {
            double d = x[(e * c + ch) * inner + j] - *mean;
            s2 += d * d;
        }
    *var = s2 / m;
}

START_TEST(batchnorm_training_then_running_statistics)
{
    enum { N = 8, C = 3, H = 2, W = 2, INNER = H * W, E = N * C * INNER };
    const double eps = 1e-3, mom = 0.2;
    gs_shape in = {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {C, H, W}};
    gs_test_model *t = build("batchnorm", "eps = 0.001; momentum = 0.2;", &in, N, GS_F64, 3);
    nudge(t, 4);
    const double *gamma = f64(&param_named(t, "0.weight")->value);
    const double *beta = f64(&param_named(t, "0.bias")->value);
    double run_mean[C] = {0, 0, 0}, run_var[C] = {1, 1, 1};
    double *x = f64(gs_test_input(t)), *y = f64(gs_test_output(t));
    for (int step = 0; step < 4; step++) {
        fill(gs_test_input(t), 10 + (uint64_t)step, 2.0, 3.0);
        gs_test_forward(t, 1);
        for (size_t ch = 0; ch < C; ch++) {
            double mean, var;
            channel_stats(x, N, C, INNER, ch, &mean, &var);
            for (size_t e = 0; e < N; e++)
                for (size_t j = 0; j < INNER; j++) {
                    size_t i = (e * C + ch) * INNER + j;
                    double want = (x[i] - mean) / sqrt(var + eps) * gamma[ch] + beta[ch];
                    assert_close(y[i], want, 1e-12, "training output");
                }
            double m = N * INNER;
            run_mean[ch] = (1 - mom) * run_mean[ch] + mom * mean;
            run_var[ch] = (1 - mom) * run_var[ch] + mom * var * m / (m - 1);
        }
    }
    /* the running statistics are model buffers, checkpointed with the weights */
    gs_param *rm = param_named(t, "0.running_mean"), *rv = param_named(t, "0.running_var");
    ck_assert(rm->role == GS_ROLE_BUFFER && rv->role == GS_ROLE_BUFFER);
    for (size_t ch = 0; ch < C; ch++) {
        assert_close(f64(&rm->value)[ch], run_mean[ch], 1e-12, "running mean");
        assert_close(f64(&rv->value)[ch], run_var[ch], 1e-12, "running var");
    }
    fill(gs_test_input(t), 50, -1.0, 2.0);
    gs_test_forward(t, 0);
    for (size_t i = 0; i < E; i++) {
        size_t ch = (i / INNER) % C;
        double want = (x[i] - run_mean[ch]) / sqrt(run_var[ch] + eps) * gamma[ch] + beta[ch];
        assert_close(y[i], want, 1e-12, "evaluation output");
    }
    /* evaluation is a per-channel affine map: dx = gamma / sqrt(running_var + eps) dy */
    fill(gs_test_output_grad(t), 51, 0.0, 1.0);
    gs_test_backward(t);
    const double *dy = f64(gs_test_output_grad(t)), *dx = f64(gs_test_input_grad(t));
    for (size_t i = 0; i < E; i++) {
        size_t ch = (i / INNER) % C;
        assert_close(dx[i], gamma[ch] / sqrt(run_var[ch] + eps) * dy[i], 1e-12, "evaluation dx");
    }
    gs_test_model_free(t);
}
END_TEST

/* A sequence (N, T, C) is normalized per channel over N*T, its channels
   innermost: value (e, t, c) at (e*T + t)*C + c. */
START_TEST(batchnorm_on_sequences_uses_the_channel_axis)
{
    enum { N = 5, T = 4, C = 3, E = N * T * C };
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {T, C}};
    gs_test_model *t = build("batchnorm", "affine = false;", &in, N, GS_F64, 3);
    ck_assert_uint_eq(param_named(t, "0.running_mean")->value.dims[0], C);
    double *x = f64(gs_test_input(t)), *y = f64(gs_test_output(t));
    /* channel c has mean 10 c: a channel-major reading would mix them */
    fill(gs_test_input(t), 21, 0.0, 1.0);
    for (size_t i = 0; i < E; i++)
        x[i] += 10.0 * (double)(i % C);
    gs_test_forward(t, 1);
    for (size_t c = 0; c < C; c++) {
        double s = 0, s2 = 0, ys = 0, ys2 = 0;
        for (size_t r = 0; r < N * T; r++) {
            s += x[r * C + c];
            ys += y[r * C + c];
        }
        double mean = s / (N * T);
        for (size_t r = 0; r < N * T; r++) {
            s2 += (x[r * C + c] - mean) * (x[r * C + c] - mean);
            ys2 += y[r * C + c] * y[r * C + c];
        }
        double var = s2 / (N * T);
        for (size_t r = 0; r < N * T; r++)
            assert_close(y[r * C + c], (x[r * C + c] - mean) / sqrt(var + 1e-5), 1e-12,
                         "sequence output");
        ck_assert(fabs(ys) < 1e-9);
        assert_close(ys2 / (N * T), var / (var + 1e-5), 1e-9, "unit variance");
    }
    ck_assert_int_eq(gs_test_output(t)->layout, GS_LAYOUT_SEQUENCE);
    double err;
    char what[128];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err, what, sizeof what) == 1, "%s: %g", what, err);
    gs_test_model_free(t);
}
END_TEST

/* Layouts travel through the model: each layer's output tensor has the
   layout its build set, and a shape the layout does not have is refused. */
START_TEST(layouts_propagate_and_are_checked)
{
    gs_shape img = {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 3, 2}};
    const char *types[] = {"batchnorm", "dropout", "dense"};
    const char *params[] = {"", "p = 0.1;", "units = 4;"};
    gs_test_model *t = build_layers(types, params, 3, &img, 2, GS_F64, 1);
    ck_assert_int_eq(gs_test_input(t)->layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(gs_test_output(t)->layout, GS_LAYOUT_VECTOR); /* dense flattens */
    ck_assert_int_eq(gs_test_output_shape(t).ndim, 1);
    gs_test_model_free(t);
    t = build("dropout", "", &img, 2, GS_F64, 1);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_int_eq(out.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(gs_test_output(t)->layout, GS_LAYOUT_IMAGE);
    gs_test_model_free(t);
    /* (T, C) declared as an image: refused, naming the layout */
    gs_shape bad = {.layout = GS_LAYOUT_IMAGE, .ndim = 2, .dims = {4, 3}};
    gs_error err;
    t = gs_test_model_new(reg, GS_F64, 1, &bad);
    ck_assert_int_eq(gs_test_model_add(t, "dropout", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "image (C, H, W)") != NULL, "%s", err.msg);
    gs_test_model_free(t);
}
END_TEST

/* Strided views read a time slice or an image plane in place, and feed
   host->gemm through its leading dimensions. */
START_TEST(views_read_slices_in_place)
{
    enum { N = 2, T = 3, C = 4 };
    double seq[N * T * C];
    for (size_t i = 0; i < N * T * C; i++)
        seq[i] = (double)i;
    gs_tensor x = {.dtype = GS_F64, .layout = GS_LAYOUT_SEQUENCE, .ndim = 3, .dims = {N, T, C},
                   .data = seq};
    gs_axes ax = gs_tensor_axes(&x);
    ck_assert_uint_eq(ax.channels, C);
    ck_assert_uint_eq(ax.positions, T);
    ck_assert_uint_eq(ax.cstride, 1);
    ck_assert_uint_eq(ax.pstride, C);
    gs_view v = gs_view_step(&x, 1);
    ck_assert_uint_eq(v.rows, N);
    ck_assert_uint_eq(v.cols, C);
    ck_assert_uint_eq(v.ld, T * C);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            ck_assert(((double *)gs_view_row(&v, n))[c] == seq[(n * T + 1) * C + c]);
    /* y = x_1 W^T for W = I (C x C): the slice comes out of gemm as it is */
    double w[C * C] = {0}, y[N * C];
    for (size_t c = 0; c < C; c++)
        w[c * C + c] = 1;
    gs_host_table()->gemm(GS_F64, 0, 1, v.rows, C, v.cols, 1.0, v.data, v.ld, w, C, 0.0, y, C);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            ck_assert(y[n * C + c] == seq[(n * T + 1) * C + c]);
    /* plane (1, 2) of an (N, C, H, W) = (2, 3, 2, 2) image */
    double img[2 * 3 * 2 * 2];
    for (size_t i = 0; i < 24; i++)
        img[i] = (double)i;
    gs_tensor im = {.dtype = GS_F64, .layout = GS_LAYOUT_IMAGE, .ndim = 4, .dims = {2, 3, 2, 2},
                    .data = img};
    gs_view p = gs_view_plane(&im, 1, 2);
    ck_assert_uint_eq(p.rows, 2);
    ck_assert_uint_eq(p.ld, 2);
    ck_assert(((double *)gs_view_row(&p, 1))[0] == img[(1 * 3 + 2) * 4 + 2]);
    gs_axes ia = gs_tensor_axes(&im);
    ck_assert_uint_eq(ia.cstride, 4);
    ck_assert_uint_eq(ia.pstride, 1);
    gs_view b = gs_view_batch(&im);
    ck_assert_uint_eq(b.rows, 2);
    ck_assert_uint_eq(b.cols, 12);
}
END_TEST

/* ---- the float32-only fixture: a gain layer using <gradscope/layer.h> ---- */

static gs_registry *fixture_registry(void)
{
    gs_registry *r = tu_registry();
    gs_error err;
    char *path = tu_fixture("f32only");
    ck_assert_msg(gs_registry_load_file(r, path, &err) == 0, "%s", err.msg);
    free(path);
    return r;
}

/* A block's gain is learned (gradient checked), never decayed; activation
   parameters follow decay_slopes, the rest their own groups. */
START_TEST(gain_is_learned_and_never_decayed)
{
    gs_registry *r = fixture_registry();
    gs_shape in = vec(3);
    gs_test_model *t = gs_test_model_new(r, GS_F32, 2, &in);
    gs_error err;
    ck_assert_msg(gs_test_model_add(t, "fx_gain", NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_test_model_finalize(t, 4, &err) == 0, "%s", err.msg);
    gs_param *g = gs_test_param(t, 0);
    ck_assert_str_eq(g->name, "0.gain");
    ck_assert_int_eq(g->role, GS_ROLE_GAIN);
    ck_assert(*(float *)g->value.data == 1.0f);
    fill(gs_test_input(t), 3, 0.0, 1.0);
    double e;
    char what[128];
    ck_assert_msg(gs_test_gradcheck(t, 1, &e, what, sizeof what) == 1, "%s: %g", what, e);
    gs_test_model_free(t);
    for (int on = 0; on <= 1; on++) {
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_GAIN, on, on, on, on), 0);
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_BUFFER, on, on, on, on), 0);
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_ACTIVATION, !on, !on, on, !on), on);
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_WEIGHT, on, !on, !on, !on), on);
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_BIAS, !on, on, !on, !on), on);
        ck_assert_int_eq(gs_test_role_decays(GS_ROLE_NORM, !on, !on, !on, on), on);
    }
    gs_registry_free(r);
}
END_TEST

/* Components without double kernels: refused in a double model, checked
   by check-plugin in float32 at the documented tolerance, which still
   catches a wrong derivative. */
START_TEST(float32_only_components_are_checked_in_float)
{
    gs_registry *r = fixture_registry();
    gs_shape in = vec(3);
    gs_test_model *t = gs_test_model_new(r, GS_F64, 2, &in);
    gs_error err;
    ck_assert_int_eq(gs_test_model_add(t, "fx_gain", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "no double-precision kernels") != NULL, "%s", err.msg);
    gs_test_model_free(t);
    const char *names[][2] = {{"layer", "fx_gain"}, {"activation", "fx_double"},
                              {"loss", "fx_mse32"}};
    for (size_t i = 0; i < 3; i++) {
        gs_kind k;
        ck_assert_int_eq(gs_kind_from_name(names[i][0], &k), 0);
        const gs_component_info *ci = gs_registry_find(r, k, names[i][1]);
        ck_assert_ptr_nonnull(ci);
        gs_check_result res;
        ck_assert_msg(gs_check_component(r, ci, &res) == 1, "%s: %s", res.component, res.detail);
        ck_assert_msg(strstr(res.detail, "checked in float32, tolerance 1e-2") != NULL, "%s",
                      res.detail);
        ck_assert(res.max_rel_err <= 1e-2);
    }
    gs_registry_free(r);
}
END_TEST

/* Series: recorded on monitored steps only, named after the module's path,
   one value per channel. */
START_TEST(series_recorded_while_monitoring)
{
    gs_registry *r = fixture_registry();
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {2, 3}};
    gs_test_model *t = gs_test_model_new(r, GS_F32, 2, &in);
    gs_error err;
    ck_assert_msg(gs_test_model_add(t, "fx_gain", NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_test_model_finalize(t, 2, &err) == 0, "%s", err.msg);
    float *x = gs_test_input(t)->data;
    for (size_t i = 0; i < 12; i++)
        x[i] = (float)(i % 3) + 1.0f; /* channel c holds c + 1 */
    gs_test_forward(t, 1);
    ck_assert_uint_eq(gs_test_n_series(t), 0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    ck_assert_uint_eq(gs_test_n_series(t), 1);
    int layer;
    const char *name;
    gs_axis axis;
    const double *v;
    size_t n;
    ck_assert_int_eq(gs_test_series(t, 0, &layer, &name, &axis, &v, &n), 0);
    ck_assert_int_eq(layer, 0);
    ck_assert_str_eq(name, "mean_abs");
    ck_assert_int_eq(axis, GS_AXIS_CHANNEL);
    ck_assert_uint_eq(n, 3);
    for (size_t c = 0; c < 3; c++)
        ck_assert_msg(v[c] == (double)c + 1.0, "channel %zu: %g", c, v[c]);
    gs_test_model_free(t);
    gs_registry_free(r);
}
END_TEST

static const char *series_cfg =
    "seed = 5;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; classes = 3; samples = 240; "
    "test_samples = 0; };\n"
    "model = { layers = ( { type = \"dense\"; units = 6; activation = \"tanh\"; },\n"
    "                     { type = \"fx_gain\"; interrupt_after = 0; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"adam\"; lr = 0.01; };\n"
    "training = { epochs = 3; batch_size = 16; };\n"
    "monitor = { every = 4; };\n"
    "checkpoint = { every = 5; };\n";

static char *slurp(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    char *text = tu_read(p, NULL);
    free(p);
    return text;
}

/* series.csv: a row per value on monitored steps, created by the first
   series, and the same bytes after a run is interrupted and resumed. */
START_TEST(series_csv_written_and_resumed_byte_exactly)
{
    gs_registry *r = fixture_registry();
    char *dir = tu_tempdir();
    gs_error err;
    /* the reference, never stopped */
    char *ref = tu_train(r, dir, series_cfg, "ref", NULL, 0);
    char *series = slurp(ref, "series.csv");
    ck_assert_ptr_nonnull(series);
    ck_assert_msg(strncmp(series, "step,layer,name,axis,index,value\n", 33) == 0, "%.60s", series);
    ck_assert_msg(strstr(series, "\n0,1,mean_abs,channel,0,") != NULL, "%.200s", series);
    ck_assert_msg(strstr(series, "\n4,1,mean_abs,channel,5,") != NULL, "%.200s", series);
    ck_assert_ptr_null(strstr(series, "\n1,1,")); /* step 1 is not monitored */
    /* interrupted in its 23rd step (SIGINT from the fixture), then resumed */
    char cut_cfg[1024];
    const char *at = strstr(series_cfg, "interrupt_after = 0;");
    ck_assert_ptr_nonnull(at);
    snprintf(cut_cfg, sizeof cut_cfg, "%.*sinterrupt_after = 23;%s", (int)(at - series_cfg),
             series_cfg, at + strlen("interrupt_after = 0;"));
    char *path = tu_path(dir, "cut.cfg");
    tu_write(path, cut_cfg);
    char *out = tu_path(dir, "cut");
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(r, path, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_experiment_run(e, &opt, &err), 128 + SIGINT);
    gs_experiment_free(e);
    char *partial = slurp(out, "series.csv");
    ck_assert_ptr_nonnull(partial);
    ck_assert_uint_lt(strlen(partial), strlen(series));
    gs_run_options again = {.seed = -1, .quiet = 1};
    ck_assert_msg(gs_resume(r, out, &again, &err) == 0, "%s", err.msg);
    char *resumed = slurp(out, "series.csv");
    ck_assert_ptr_nonnull(resumed);
    ck_assert_msg(strcmp(resumed, series) == 0, "series.csv differs after resume");
    char *p1 = slurp(ref, "paths.csv"), *p2 = slurp(out, "paths.csv");
    ck_assert_str_eq(p1, p2);
    free(p1);
    free(p2);
    free(resumed);
    free(partial);
    free(out);
    free(path);
    free(series);
    free(ref);
    tu_rmrf(dir);
    free(dir);
    gs_registry_free(r);
}
END_TEST

START_TEST(layernorm_normalizes_each_example)
{
    enum { N = 4, D = 6 };
    gs_shape in = vec(D);
    gs_test_model *t = build("layernorm", "", &in, N, GS_F64, 3);
    nudge(t, 5);
    const double *gamma = f64(&param_named(t, "0.weight")->value);
    const double *beta = f64(&param_named(t, "0.bias")->value);
    fill(gs_test_input(t), 6, 3.0, 2.0);
    const double *x = f64(gs_test_input(t)), *y = f64(gs_test_output(t));
    for (int training = 0; training <= 1; training++) {
        gs_test_forward(t, training);
        for (size_t e = 0; e < N; e++) {
            double mean, var;
            channel_stats(x + e * D, 1, 1, D, 0, &mean, &var);
            for (size_t j = 0; j < D; j++) {
                double want = (x[e * D + j] - mean) / sqrt(var + 1e-5) * gamma[j] + beta[j];
                assert_close(y[e * D + j], want, 1e-12, "layernorm output");
            }
        }
    }
    gs_test_model_free(t);
}
END_TEST

/* ---- dropout ---- */

START_TEST(dropout_zeroes_about_p_and_scales_the_rest)
{
    enum { N = 10, C = 1000, E = N * C };
    const double p = 0.3;
    gs_shape in = vec(C);
    gs_test_model *t = build("dropout", "p = 0.3;", &in, N, GS_F64, 9);
    fill(gs_test_input(t), 1, 0.0, 1.0);
    const double *x = f64(gs_test_input(t)), *y = f64(gs_test_output(t));
    gs_test_forward(t, 1);
    size_t zeros = 0;
    for (size_t i = 0; i < E; i++) {
        if (y[i] == 0)
            zeros++;
        else
            assert_close(y[i], x[i] / (1 - p), 1e-15, "kept value");
    }
    /* binomial(10000, 0.3): standard deviation 46 */
    ck_assert_msg(fabs((double)zeros - p * E) < 6 * sqrt(E * p * (1 - p)), "%zu of %d zeroed",
                  zeros, E);
    fill(gs_test_output_grad(t), 2, 0.0, 1.0);
    gs_test_backward(t);
    const double *dy = f64(gs_test_output_grad(t)), *dx = f64(gs_test_input_grad(t));
    for (size_t i = 0; i < E; i++)
        assert_close(dx[i], y[i] == 0 ? 0.0 : dy[i] / (1 - p), 1e-15, "dx through the mask");
    /* a new draw every step */
    double *first = malloc(E * sizeof *first);
    memcpy(first, y, E * sizeof *first);
    gs_test_forward(t, 1);
    size_t differ = 0;
    for (size_t i = 0; i < E; i++)
        differ += (first[i] == 0) != (y[i] == 0);
    ck_assert_msg(differ > E / 10, "the mask did not change (%zu differ)", differ);
    free(first);
    /* evaluation is the identity, forward and backward */
    gs_test_forward(t, 0);
    for (size_t i = 0; i < E; i++)
        ck_assert(y[i] == x[i]);
    gs_test_backward(t);
    for (size_t i = 0; i < E; i++)
        ck_assert(dx[i] == dy[i]);
    gs_test_model_free(t);
    /* p = 0 keeps everything in training too */
    t = build("dropout", "p = 0.0;", &in, N, GS_F64, 9);
    fill(gs_test_input(t), 1, 0.0, 1.0);
    x = f64(gs_test_input(t));
    y = f64(gs_test_output(t));
    gs_test_forward(t, 1);
    for (size_t i = 0; i < E; i++)
        ck_assert(y[i] == x[i]);
    gs_test_model_free(t);
}
END_TEST

/* ---- path statistics ---- */

START_TEST(resnet_records_shortcut_and_residual_norms)
{
    enum { N = 3, C = 5, U = 4 };
    const double lambda = 0.7;
    /* identity shortcut: dx = lambda dy + (branch part) */
    gs_shape in = vec(C);
    gs_test_model *t = build("resnet", "shortcut_scale = 0.7;", &in, N, GS_F64, 1);
    nudge(t, 2);
    fill(gs_test_input(t), 3, 0.0, 1.0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    fill(gs_test_output_grad(t), 4, 0.0, 1.0);
    gs_test_backward(t);
    const double *dy = f64(gs_test_output_grad(t)), *dx = f64(gs_test_input_grad(t));
    double branch[N * C];
    for (size_t i = 0; i < N * C; i++)
        branch[i] = dx[i] - lambda * dy[i];
    assert_close(record(t, "shortcut_grad_norm"), lambda * norm2(dy, N * C), 1e-12, "shortcut");
    assert_close(record(t, "residual_grad_norm"), norm2(branch, N * C), 1e-12, "residual");
    gs_test_model_free(t);

    /* projection: the shortcut part of dx is lambda dy P */
    t = build("resnet", "units = 4; shortcut_scale = 0.7;", &in, N, GS_F64, 1);
    nudge(t, 2);
    fill(gs_test_input(t), 3, 0.0, 1.0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    fill(gs_test_output_grad(t), 4, 0.0, 1.0);
    gs_test_backward(t);
    dy = f64(gs_test_output_grad(t));
    dx = f64(gs_test_input_grad(t));
    const double *proj = f64(&param_named(t, "0.projection")->value);
    double shortcut[N * C];
    for (size_t e = 0; e < N; e++)
        for (size_t j = 0; j < C; j++) {
            double s = 0;
            for (size_t u = 0; u < U; u++)
                s += dy[e * U + u] * proj[u * C + j];
            shortcut[e * C + j] = lambda * s;
            branch[e * C + j] = dx[e * C + j] - lambda * s;
        }
    assert_close(record(t, "shortcut_grad_norm"), norm2(shortcut, N * C), 1e-12,
                 "projected shortcut");
    assert_close(record(t, "residual_grad_norm"), norm2(branch, N * C), 1e-12, "residual");
    /* nothing is recorded when nobody monitors */
    gs_test_set_monitoring(t, 0);
    gs_test_forward(t, 1);
    gs_test_backward(t);
    ck_assert_uint_eq(gs_test_n_records(t), 0);
    gs_test_model_free(t);
}
END_TEST

/*
 * The total gradient of h_1 in a two-layer dense block is its direct share
 * of dL/dy plus what layer 2 sends back through its input [x, h_1].  The
 * second share is computed with a separate one-layer block given layer 2's
 * weights, its input and only the h_2 part of dL/dy.
 */
START_TEST(densenet_records_each_layers_total_gradient)
{
    enum { N = 3, C = 4, K = 2, W = C + 2 * K, W2 = C + K };
    gs_shape in = vec(C), in2 = vec(W2);
    const char *params = "layers = 2; growth = 2; activation = \"tanh\";";
    gs_test_model *t = build("densenet", params, &in, N, GS_F64, 1);
    nudge(t, 2);
    fill(gs_test_input(t), 3, 0.0, 1.0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    fill(gs_test_output_grad(t), 4, 0.0, 1.0);
    gs_test_backward(t);
    const double *y = f64(gs_test_output(t)), *dy = f64(gs_test_output_grad(t));

    gs_test_model *t2 =
        build("densenet", "layers = 1; growth = 2; activation = \"tanh\";", &in2, N, GS_F64, 1);
    const char *names[][2] = {{"0.l2.fc.weight", "0.l1.fc.weight"},
                              {"0.l2.fc.bias", "0.l1.fc.bias"}};
    for (size_t k = 0; k < 2; k++) {
        gs_param *a = param_named(t, names[k][0]), *b = param_named(t2, names[k][1]);
        memcpy(b->value.data, a->value.data, gs_tensor_numel(&a->value) * sizeof(double));
    }
    double *x2 = f64(gs_test_input(t2)), *dy2 = f64(gs_test_output_grad(t2));
    for (size_t e = 0; e < N; e++) {
        memcpy(x2 + e * W2, y + e * W, W2 * sizeof(double)); /* [x, h_1] */
        for (size_t j = 0; j < W2 + K; j++)
            dy2[e * (W2 + K) + j] = j < W2 ? 0.0 : dy[e * W + j];
    }
    gs_test_forward(t2, 1);
    gs_test_backward(t2);
    const double *dx2 = f64(gs_test_input_grad(t2));
    double g1[N * K], g2[N * K];
    for (size_t e = 0; e < N; e++)
        for (size_t j = 0; j < K; j++) {
            g1[e * K + j] = dy[e * W + C + j] + dx2[e * W2 + C + j];
            g2[e * K + j] = dy[e * W + C + K + j];
        }
    assert_close(record(t, "layer2_grad_norm"), norm2(g2, N * K), 1e-12, "layer 2");
    assert_close(record(t, "layer1_grad_norm"), norm2(g1, N * K), 1e-12, "layer 1");
    gs_test_model_free(t);
    gs_test_model_free(t2);
}
END_TEST

/* ---- depth-50 regression through a real run ---- */

static const char *depth_cfg =
    "name = \"depth\";\n"
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 16; classes = 4; "
    "samples = 256; test_samples = 0; };\n"
    "model = { layers = (\n"
    "  { type = \"dense\"; units = 32; },\n"
    "  { type = \"resnet\"; repeat = 50; activation = \"sigmoid\"; init = \"standard\"; },\n"
    "  { type = \"dense\"; units = 4; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
    "training = { epochs = 3; batch_size = 32; };\n"
    "monitor = { every = 1; };\n"
    "variants = ( { name = \"residual\"; },\n"
    "  { name = \"plain\"; set = ( \"model.layers.[1].type = dense\", "
    "\"model.layers.[1].units = 32\" ); } );\n";

/* grad_norm of the first weight tensor of `layer` at step 0 in gradients.csv. */
static double step0_weight_grad(const char *csv, int layer)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "\n0,%d,", layer);
    for (const char *p = strstr(csv, prefix); p; p = strstr(p + 1, prefix)) {
        const char *tensor = p + strlen(prefix);
        const char *comma = strchr(tensor, ',');
        ck_assert_ptr_nonnull(comma);
        if (comma - tensor >= 6 && strncmp(comma - 6, "weight", 6) == 0)
            return strtod(comma + 1, NULL);
    }
    ck_abort_msg("no weight of layer %d at step 0", layer);
    return NAN;
}

START_TEST(residual_stack_keeps_the_gradient_plain_sigmoid_loses_it)
{
    char *dir = tu_tempdir(), *cfg = tu_path(dir, "depth.cfg"), *out = tu_path(dir, "run");
    tu_write(cfg, depth_cfg);
    const char *sets[] = {"training.epochs=1"};
    gs_run_options opt = {.out_dir = out, .sets = sets, .n_sets = 1, .seed = -1, .quiet = 1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, cfg, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_msg(gs_experiment_run(e, &opt, &err) == GS_EXIT_OK, "%s", err.msg);
    gs_experiment_free(e);

    char *res_dir = tu_path(out, "residual"), *plain_dir = tu_path(out, "plain");
    char *res_csv_path = tu_path(res_dir, "gradients.csv");
    char *plain_csv_path = tu_path(plain_dir, "gradients.csv");
    char *paths_path = tu_path(res_dir, "paths.csv");
    char *res_csv = tu_read(res_csv_path, NULL), *plain_csv = tu_read(plain_csv_path, NULL);
    char *paths = tu_read(paths_path, NULL);
    ck_assert_ptr_nonnull(res_csv);
    ck_assert_ptr_nonnull(plain_csv);
    ck_assert_ptr_nonnull(paths);
    /* layers 1..50 are the stack */
    double res_ratio = step0_weight_grad(res_csv, 1) / step0_weight_grad(res_csv, 50);
    double plain_ratio = step0_weight_grad(plain_csv, 1) / step0_weight_grad(plain_csv, 50);
    ck_assert_msg(res_ratio > 0.1 && res_ratio < 10, "residual first/last %.3g", res_ratio);
    ck_assert_msg(plain_ratio < 0.1, "plain sigmoid first/last %.3g", plain_ratio);
    /* every block recorded both paths at step 0 */
    ck_assert_ptr_nonnull(strstr(paths, "\n0,1,shortcut_grad_norm,"));
    ck_assert_ptr_nonnull(strstr(paths, "\n0,50,residual_grad_norm,"));
    free(res_csv);
    free(plain_csv);
    free(paths);
    free(res_csv_path);
    free(plain_csv_path);
    free(paths_path);
    free(res_dir);
    free(plain_dir);
    tu_rmrf(dir);
    free(cfg);
    free(out);
    free(dir);
}
END_TEST

/* ---- the generic check ---- */

static const char *const block_names[] = {"resnet",    "densenet",  "transition",
                                          "batchnorm", "layernorm", "dropout"};

START_TEST(check_plugin_passes_with_defaults)
{
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_LAYER, block_names[_i]);
    ck_assert_msg(ci != NULL, "%s is not installed", block_names[_i]);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, ci, &res) == 1, "%s: %s", res.component, res.detail);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tu_tcase(s, "gradients", setup, teardown, 0);
    tcase_add_loop_test(tc, check_plugin_passes_with_defaults, 0, TU_COUNT(block_names));
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, TU_COUNT(fd_cases));
    tcase_add_test(tc, stacked_blocks_with_dropout_match_finite_differences);
    tcase_add_loop_test(tc, float_matches_double, 0, TU_COUNT(precision_cases));
    tc = tu_tcase(s, "semantics", setup, teardown, 0);
    tcase_add_loop_test(tc, output_widths_and_parameter_counts, 0, TU_COUNT(count_cases));
    tcase_add_test(tc, invalid_configurations_are_refused);
    tcase_add_test(tc, batchnorm_training_then_running_statistics);
    tcase_add_test(tc, layernorm_normalizes_each_example);
    tcase_add_test(tc, dropout_zeroes_about_p_and_scales_the_rest);
    tcase_add_test(tc, resnet_records_shortcut_and_residual_norms);
    tcase_add_test(tc, densenet_records_each_layers_total_gradient);
    tcase_add_test(tc, batchnorm_on_sequences_uses_the_channel_axis);
    tcase_add_test(tc, layouts_propagate_and_are_checked);
    tcase_add_test(tc, views_read_slices_in_place);
    tcase_add_test(tc, gain_is_learned_and_never_decayed);
    tcase_add_test(tc, float32_only_components_are_checked_in_float);
    tcase_add_test(tc, series_recorded_while_monitoring);
    tcase_add_test(tc, series_csv_written_and_resumed_byte_exactly);
    tc = tu_tcase(s, "depth", setup, teardown, 0);
    tcase_add_test(tc, residual_stack_keeps_the_gradient_plain_sigmoid_loses_it);
    return tu_run(s);
}
