/*
 * Recurrent layers (rnn, lstm, gru): outputs and every gradient against
 * PyTorch's nn.RNN / nn.LSTM / nn.GRU on the same weights and sequences
 * (tests/fixtures/rnn_reference.txt, written by
 * tests/reference/rnn_reference.py), full and truncated BPTT; backward
 * against finite differences beyond the defaults; check-plugin; the same
 * bits at 1 to 4 threads, also where the steps' products are threaded;
 * truncated BPTT by hand; the ||dL/dh_t||
 * series and bptt.csv; PyTorch's initialization and parameter names; bad inputs.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include "gradscope/testing.h"
#include "reference.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

static gs_shape seq(size_t t, size_t c)
{
    return (gs_shape){.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {t, c}};
}

static gs_test_model *build(const char *type, const char *params, gs_shape in, size_t batch,
                            gs_dtype dt, uint64_t seed)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, dt, seed, &in);
    ck_assert_msg(gs_test_model_add(t, type, params, &err) == 0, "%s { %s }: %s", type, params,
                  err.msg);
    ck_assert_msg(gs_test_model_finalize(t, batch, &err) == 0, "%s", err.msg);
    return t;
}

/* ---- the PyTorch reference ---- */

/* One case of the fixture: "case NAME CELL ACT LAYERS RETURN BPTT N T C H". */
typedef struct rnn_case {
    const ref_case *ref;
    const char *name;
    char cell[8], act[8], ret[16];
    int layers, bptt;
    size_t N, T, C, H;
} rnn_case;

static ref_set refs;
static rnn_case *cases;
static size_t n_cases;

static void load_reference(void)
{
    if (n_cases)
        return;
    ref_load(&refs, "rnn_reference.txt", NULL);
    cases = calloc(refs.n, sizeof *cases);
    for (size_t i = 0; i < refs.n; i++) {
        rnn_case *c = &cases[i];
        c->ref = &refs.c[i];
        c->name = c->ref->name;
        ck_assert_int_eq(sscanf(c->ref->head, "%7s %7s %d %15s %d %zu %zu %zu %zu", c->cell,
                                c->act, &c->layers, c->ret, &c->bptt, &c->N, &c->T, &c->C, &c->H),
                         9);
    }
    n_cases = refs.n;
    ck_assert_uint_ge(n_cases, 12);
}

static gs_test_model *build_case(const rnn_case *c, gs_dtype dt)
{
    char params[256];
    snprintf(params, sizeof params, "units = %zu; layers = %d; return = \"%s\"; bptt = %d;%s%s%s",
             c->H, c->layers, c->ret, c->bptt, c->act[0] != '-' ? " activation = \"" : "",
             c->act[0] != '-' ? c->act : "", c->act[0] != '-' ? "\";" : "");
    return build(c->cell, params, seq(c->T, c->C), c->N, dt, 1);
}

static const char *const pnames[] = {"weight_ih_l%d", "weight_hh_l%d", "bias_ih_l%d",
                                     "bias_hh_l%d"};

/* Runs case c in dtype dt, its errors into w. */
static void run_case(const ref_case *rc, gs_dtype dt, ref_worst *w)
{
    const rnn_case *c = &cases[rc - refs.c]; /* its parsed head */
    gs_test_model *t = build_case(c, dt);
    ck_assert_uint_eq(gs_test_n_params(t), 4 * (size_t)c->layers);
    ref_set_params(t, rc);
    ref_step(t, rc, w);
    ref_compare_params(t, rc, w);
    gs_test_model_free(t);
}

START_TEST(matches_pytorch_in_double)
{
    load_reference();
    ref_check_all(&refs, run_case, GS_F64, 1e-13);
}
END_TEST

START_TEST(matches_pytorch_in_float)
{
    load_reference();
    ref_check_all(&refs, run_case, GS_F32, 1e-5);
}
END_TEST

/* ---- finite differences ---- */

typedef struct fd_case {
    const char *type, *params;
    size_t T, C;
} fd_case;

static const fd_case fd_cases[] = {
    {"rnn", "units = 4;", 5, 3},
    {"rnn", "units = 4; activation = \"relu\"; return = \"sequence\";", 5, 3},
    {"rnn", "units = 3; layers = 3; return = \"sequence\";", 4, 2},
    {"rnn", "units = 4; activation = \"relu\"; recurrent_init = { type = \"identity\"; };", 6, 2},
    {"rnn", "units = 4; init = \"orthogonal\"; recurrent_init = \"orthogonal\";", 5, 4},
    {"rnn", "units = 4; bptt = 5;", 5, 3}, /* bptt >= T is full BPTT */
    /* the linear RNN (not a torch option), stacked so the gradient passes an
       identity cell's input as well as its recurrence */
    {"rnn", "units = 4; layers = 2; activation = \"identity\"; "
            "recurrent_init = { type = \"orthogonal\"; gain = 1.1; }; return = \"sequence\";", 5, 3},
    {"lstm", "units = 4;", 5, 3},
    {"lstm", "units = 3; layers = 2; return = \"sequence\"; forget_bias = 1.0;", 5, 3},
    {"lstm", "units = 5; recurrent_init = \"orthogonal\"; bias_init = \"zeros\";", 4, 2},
    {"gru", "units = 4;", 5, 3},
    {"gru", "units = 3; layers = 2; return = \"sequence\";", 5, 3},
    {"gru", "units = 4; init = \"xavier\"; recurrent_init = \"orthogonal\";", 3, 5},
    {"gru", "units = 4;", 1, 3}, /* one step */
};

START_TEST(backward_matches_finite_differences)
{
    const fd_case *c = &fd_cases[_i];
    gs_test_model *t = build(c->type, c->params, seq(c->T, c->C), 3, GS_F64, 100 + (uint64_t)_i);
    tu_fill(gs_test_input(t), 200 + (uint64_t)_i, 0.2, 1.0);
    tu_nudge(t, 300 + (uint64_t)_i, 0.3);
    double err;
    char what[256];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err, what, sizeof what) == 1,
                  "%s { %s }: max relative error %.3e at %s", c->type, c->params, err, what);
    gs_test_model_free(t);
}
END_TEST

static const char *const names[] = {"rnn", "lstm", "gru"};

START_TEST(check_plugin_passes)
{
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_LAYER, names[_i]);
    ck_assert_msg(ci != NULL, "%s is not installed", names[_i]);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, ci, &res) == 1, "%s: %s", res.component, res.detail);
    ck_assert_msg(strstr(res.detail, "(T, C) = (4, 5)") != NULL, "%s", res.detail);
    ci = gs_registry_find(reg, GS_KIND_INITIALIZER, "identity");
    ck_assert_ptr_nonnull(ci);
    ck_assert_msg(gs_check_component(reg, ci, &res) == 1, "%s: %s", res.component, res.detail);
}
END_TEST

/* ---- determinism ---- */

/* Output, input gradient and every parameter gradient of one batch of 13
   sequences of 9 steps of 7 features. */
static double *run_once(const char *type, const char *params, size_t *n)
{
    return tu_net_step_values(&(tu_net){reg, &type, &params, 1, seq(9, 7), 13}, n);
}

static const char *const det_params[] = {
    "units = 40; layers = 2; return = \"sequence\";",
    "units = 33; layers = 2; bptt = 4;",
    "units = 37; return = \"sequence\";",
};

START_TEST(same_bits_at_any_thread_count)
{
    tu_net net = {reg, &names[_i], &det_params[_i], 1, seq(9, 7), 13};
    tu_same_bits_at_threads(tu_net_step_values, &net, 3, names[_i]);
}
END_TEST

/* Steps whose products the GEMM shares among threads (over 192K
   multiply-adds: batch x G H x H) and whose gate loops run in several
   chunks, at 1 to 4 threads. */
static const char *const wide_params[] = {
    "units = 96; return = \"sequence\";",
    "units = 48; forget_bias = 1.0;",
    "units = 56; layers = 2;",
};

START_TEST(same_bits_at_any_thread_count_in_wide_steps)
{
    tu_net net = {reg, &names[_i], &wide_params[_i], 1, seq(5, 6), 24};
    tu_same_bits_at_threads(tu_net_step_values, &net, 4, names[_i]);
}
END_TEST

/* ---- truncated BPTT ---- */

/* bptt >= T is full BPTT, to the bit; bptt < T changes the recurrent gradients. */
START_TEST(truncation_at_or_beyond_t_is_full_bptt)
{
    size_t n0, n1, n2;
    char p[128];
    snprintf(p, sizeof p, "units = 8; layers = 2;");
    double *full = run_once(names[_i], p, &n0);
    snprintf(p, sizeof p, "units = 8; layers = 2; bptt = 9;");
    double *same = run_once(names[_i], p, &n1);
    snprintf(p, sizeof p, "units = 8; layers = 2; bptt = 3;");
    double *cut = run_once(names[_i], p, &n2);
    ck_assert_uint_eq(n0, n1);
    ck_assert(memcmp(full, same, n0 * sizeof *full) == 0);
    ck_assert(memcmp(full, cut, n0 * sizeof *full) != 0);
    free(full);
    free(same);
    free(cut);
}
END_TEST

/*
 * bptt = 1 on a tanh rnn returning every step: no gradient crosses a step,
 * so dL/dh_t = dy_t, the pre-activation gradient is g_t = dy_t (1 - h_t^2)
 * and dL/dW_hh = sum_t g_t^T h_{t-1}, dL/dW_ih = sum_t g_t^T x_t.
 */
START_TEST(truncation_to_one_step_by_hand)
{
    enum { N = 2, T = 4, C = 3, H = 3 };
    gs_test_model *t = build("rnn", "units = 3; return = \"sequence\"; bptt = 1;", seq(T, C), N,
                             GS_F64, 8);
    tu_fill(gs_test_input(t), 9, 0.0, 1.0);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), 10, 0.0, 1.0);
    gs_test_backward(t);
    const double *x = gs_test_input(t)->data, *y = gs_test_output(t)->data,
                 *dy = gs_test_output_grad(t)->data;
    const double *gih = tu_param_named(t, "weight_ih_l0")->grad.data,
                 *ghh = tu_param_named(t, "weight_hh_l0")->grad.data,
                 *gb = tu_param_named(t, "bias_hh_l0")->grad.data;
    for (size_t a = 0; a < H; a++) {
        double b = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t s = 0; s < T; s++) {
                size_t r = (i * T + s) * H + a;
                b += dy[r] * (1 - y[r] * y[r]);
            }
        ck_assert(fabs(gb[a] - b) <= 1e-12 * fmax(1, fabs(b)));
        for (size_t j = 0; j < H; j++) {
            double w = 0;
            for (size_t i = 0; i < N; i++)
                for (size_t s = 1; s < T; s++) {
                    size_t r = (i * T + s) * H + a;
                    w += dy[r] * (1 - y[r] * y[r]) * y[(i * T + s - 1) * H + j];
                }
            ck_assert_msg(fabs(ghh[a * H + j] - w) <= 1e-12 * fmax(1, fabs(w)),
                          "dW_hh[%zu][%zu] = %g, by hand %g", a, j, ghh[a * H + j], w);
        }
        for (size_t j = 0; j < C; j++) {
            double w = 0;
            for (size_t i = 0; i < N; i++)
                for (size_t s = 0; s < T; s++) {
                    size_t r = (i * T + s) * H + a;
                    w += dy[r] * (1 - y[r] * y[r]) * x[(i * T + s) * C + j];
                }
            ck_assert(fabs(gih[a * C + j] - w) <= 1e-12 * fmax(1, fabs(w)));
        }
    }
    gs_test_model_free(t);
}
END_TEST

/* ---- the dL/dh_t series ---- */

/*
 * A relu rnn with weight_ih = I and every pre-activation positive has
 * dL/dx_t = dL/dh_t, so the recorded norms are those of the input gradient
 * over the batch at each t; recorded only on monitored steps.
 */
START_TEST(series_holds_the_norm_of_dl_dh_per_step)
{
    enum { N = 3, T = 6, H = 4 };
    gs_test_model *t =
        build("rnn",
              "units = 4; activation = \"relu\"; init = \"identity\"; bias_init = \"zeros\";"
              "recurrent_init = { type = \"uniform\"; a = 0.0; b = 0.3; };",
              seq(T, H), N, GS_F64, 3);
    tu_fill(gs_test_input(t), 4, 0.0, 1.0);
    double *x = gs_test_input(t)->data;
    for (size_t i = 0; i < N * T * H; i++)
        x[i] = 1.0 + fabs(x[i]);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), 5, 0.0, 1.0);
    gs_test_backward(t);
    ck_assert_uint_eq(gs_test_n_series(t), 0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    gs_test_backward(t);
    /* dL/dh, then (a detailed step) weight_hh's and weight_ih's bands */
    ck_assert_uint_eq(gs_test_n_series(t), 3);
    int layer;
    const char *name;
    gs_axis axis;
    const double *v;
    size_t n;
    ck_assert_int_eq(gs_test_series(t, 0, &layer, &name, &axis, &v, &n), 0);
    ck_assert_str_eq(name, "dL/dh"); /* the name the monitor writes to bptt.csv */
    ck_assert_int_eq(axis, GS_AXIS_TIME);
    ck_assert_uint_eq(n, T);
    const double *dx = gs_test_input_grad(t)->data, *dy = gs_test_output_grad(t)->data;
    for (size_t s = 0; s < T; s++) {
        double sq = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < H; j++)
                sq += dx[(i * T + s) * H + j] * dx[(i * T + s) * H + j];
        ck_assert_msg(fabs(v[s] - sqrt(sq)) <= 1e-12 * sqrt(sq), "t = %zu: %g, want %g", s, v[s],
                      sqrt(sq));
    }
    /* the last step's gradient is dy itself */
    double sq = 0;
    for (size_t i = 0; i < N * H; i++)
        sq += dy[i] * dy[i];
    ck_assert(fabs(v[T - 1] - sqrt(sq)) <= 1e-12 * sqrt(sq));
    gs_test_model_free(t);
    /* one series per stacked layer: the top one's (the output sequence's)
       for bptt.csv, the ones below for series.csv */
    t = build("lstm", "units = 3; layers = 2; return = \"sequence\";", seq(T, 2), N, GS_F32, 3);
    gs_test_set_monitoring(t, 1);
    tu_fill(gs_test_input(t), 4, 0.0, 1.0);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), 5, 0.0, 1.0);
    gs_test_backward(t);
    ck_assert_uint_eq(gs_test_n_series(t), 6); /* 3 per stacked layer, the top one's first */
    ck_assert_int_eq(gs_test_series(t, 0, &layer, &name, &axis, &v, &n), 0);
    ck_assert_str_eq(name, "dL/dh");
    ck_assert_int_eq(gs_test_series(t, 3, &layer, &name, &axis, &v, &n), 0);
    ck_assert_str_eq(name, "dL/dh_l0");
    ck_assert_uint_eq(n, T);
    gs_test_model_free(t);
}
END_TEST

/* ---- parameters and initialization ---- */

/* PyTorch's names and shapes, U(+-1/sqrt(H)) for all four tensors. */
START_TEST(parameters_follow_pytorch)
{
    static const size_t gates[] = {1, 4, 3};
    enum { H = 50, C = 7 };
    gs_test_model *t = build(names[_i], "units = 50; layers = 2;", seq(3, C), 2, GS_F64, 11);
    ck_assert_uint_eq(gs_test_n_params(t), 8);
    const double bound = 1 / sqrt((double)H);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < 4; k++) {
            char name[32];
            snprintf(name, sizeof name, pnames[k], l);
            gs_param *p = tu_param_named(t, name);
            ck_assert_uint_eq(p->value.dims[0], gates[_i] * H);
            if (k < 2)
                ck_assert_uint_eq(p->value.dims[1], k == 0 && l == 0 ? C : H);
            ck_assert_int_eq(p->role, k < 2 ? GS_ROLE_WEIGHT : GS_ROLE_BIAS);
            double mx = 0;
            for (size_t i = 0; i < gs_tensor_numel(&p->value); i++)
                mx = fmax(mx, fabs(tu_get(&p->value, i)));
            ck_assert_msg(mx <= bound && mx > 0.9 * bound, "%s: max |w| %g, bound %g", name, mx,
                          bound);
        }
    ck_assert_uint_eq(gs_test_output_shape(t).ndim, 1);
    ck_assert_uint_eq(gs_test_output_shape(t).dims[0], H);
    gs_test_model_free(t);
}
END_TEST

/* forget_bias shifts bias_ih's forget slice once, at the first forward. */
START_TEST(forget_bias_shifts_the_forget_slice_once)
{
    enum { H = 5 };
    gs_test_model *a = build("lstm", "units = 5;", seq(3, 2), 2, GS_F64, 4);
    gs_test_model *b = build("lstm", "units = 5; forget_bias = 1.0;", seq(3, 2), 2, GS_F64, 4);
    for (int k = 0; k < 3; k++)
        gs_test_forward(b, 1);
    gs_test_forward(a, 1);
    const double *ba = tu_param_named(a, "bias_ih_l0")->value.data,
                 *bb = tu_param_named(b, "bias_ih_l0")->value.data;
    for (size_t j = 0; j < 4 * H; j++)
        ck_assert_msg(bb[j] == ba[j] + (j >= H && j < 2 * H ? 1.0 : 0.0), "bias_ih[%zu]", j);
    const double *ha = tu_param_named(a, "bias_hh_l0")->value.data,
                 *hb = tu_param_named(b, "bias_hh_l0")->value.data;
    ck_assert(memcmp(ha, hb, 4 * H * sizeof *ha) == 0);
    gs_test_model_free(a);
    gs_test_model_free(b);
}
END_TEST

/* identity with a gain: the IRNN recurrence. */
START_TEST(identity_recurrent_init)
{
    gs_test_model *t = build("rnn",
                             "units = 4; activation = \"relu\";"
                             "recurrent_init = { type = \"identity\"; gain = 0.5; };",
                             seq(3, 2), 2, GS_F64, 4);
    const double *w = tu_param_named(t, "weight_hh_l0")->value.data;
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            ck_assert(w[i * 4 + j] == (i == j ? 0.5 : 0.0));
    gs_test_model_free(t);
}
END_TEST

/* activation "identity" is a linear RNN: with zero biases, twice the input
   gives exactly twice every output (doubling is exact in floating point),
   which no tanh or relu cell does for these signed inputs. */
START_TEST(identity_activation_is_linear)
{
    gs_test_model *t = build("rnn",
                             "units = 3; layers = 2; activation = \"identity\";"
                             "bias_init = \"zeros\"; return = \"sequence\";",
                             seq(4, 2), 2, GS_F64, 6);
    gs_tensor *x = gs_test_input(t);
    tu_fill(x, 7, 0.0, 1.0);
    gs_test_forward(t, 0);
    const gs_tensor *y = gs_test_output(t);
    const size_t n = gs_tensor_numel(y);
    double first[2 * 4 * 3];
    ck_assert_uint_eq(n, 2 * 4 * 3);
    for (size_t i = 0; i < n; i++)
        first[i] = tu_get(y, i);
    for (size_t i = 0; i < gs_tensor_numel(x); i++)
        ((double *)x->data)[i] *= 2;
    gs_test_forward(t, 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(tu_get(y, i) == 2 * first[i], "output %zu: %.17g, twice %.17g", i,
                      tu_get(y, i), first[i]);
    gs_test_model_free(t);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_inputs_are_refused_with_both_shapes)
{
    gs_error err;
    gs_shape v = {.ndim = 1, .dims = {5}};
    gs_test_model *t = gs_test_model_new(reg, GS_F64, 1, &v);
    ck_assert_int_eq(gs_test_model_add(t, names[_i], "units = 4;", &err), -1);
    ck_assert_msg(strstr(err.msg, "needs a sequence input (T, C)") != NULL &&
                      strstr(err.msg, "a vector (C) = (5)") != NULL,
                  "%s", err.msg);
    gs_test_model_free(t);
    gs_shape img = {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {2, 3, 4}};
    t = gs_test_model_new(reg, GS_F64, 1, &img);
    ck_assert_int_eq(gs_test_model_add(t, names[_i], "units = 4;", &err), -1);
    ck_assert_msg(strstr(err.msg, "an image (C, H, W) = (2, 3, 4)") != NULL, "%s", err.msg);
    gs_test_model_free(t);
    gs_shape empty = seq(0, 3);
    t = gs_test_model_new(reg, GS_F64, 1, &empty);
    ck_assert_int_eq(gs_test_model_add(t, names[_i], "units = 4;", &err), -1);
    ck_assert_msg(strstr(err.msg, "(0 elements)") != NULL, "%s", err.msg); /* by the host */
    gs_test_model_free(t);
    /* a stack that feeds a last-step output to a recurrent layer */
    gs_shape s = seq(4, 3);
    t = gs_test_model_new(reg, GS_F64, 1, &s);
    ck_assert_int_eq(gs_test_model_add(t, names[_i], "units = 4;", &err), 0);
    ck_assert_int_eq(gs_test_model_add(t, names[_i], "units = 4;", &err), -1);
    ck_assert_msg(strstr(err.msg, "a vector (C) = (4)") != NULL, "%s", err.msg);
    gs_test_model_free(t);
}
END_TEST

/* Vector data into a recurrent model: GS_EXIT_INPUT naming both shapes,
   and no run directory. */
START_TEST(vector_data_into_a_recurrent_model_writes_nothing)
{
    static const char *cfg =
        "seed = 5;\n"
        "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; classes = 3; "
        "samples = 60; test_samples = 0; };\n"
        "model = { layers = ( { type = \"gru\"; units = 6; }, { type = \"dense\"; units = 3; } ); };\n"
        "optimizer = { type = \"sgd\"; lr = 0.1; };\n"
        "training = { epochs = 1; batch_size = 16; };\n";
    char *dir = tu_tempdir(), *path = tu_path(dir, "bad.cfg"), *out = tu_path(dir, "out");
    tu_write(path, cfg);
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    int rc = e ? gs_experiment_run(e, &opt, &err) : GS_EXIT_INPUT;
    ck_assert_int_eq(rc, GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "layer 0 (gru)") != NULL &&
                      strstr(err.msg, "needs a sequence input (T, C); got a vector (C) = (4)"),
                  "%s", err.msg);
    ck_assert(!tu_exists(out));
    gs_experiment_free(e);
    tu_rmrf(dir);
    free(out);
    free(path);
    free(dir);
}
END_TEST

/* ---- bptt.csv ---- */

static char *slurp(const char *dir, const char *name)
{
    char *p = tu_path(dir, name);
    char *text = tu_read(p, NULL);
    free(p);
    return text;
}

/* The rows of series.csv whose name is `name`, as bptt.csv writes them:
   "step,layer,index,value\n" each. */
static char *series_as_bptt(const char *series, const char *name)
{
    size_t cap = strlen(series) + 1, len = 0;
    char *out = calloc(cap, 1);
    char step[32], layer[32], nm[64], axis[16], index[32], value[64];
    const char *line = strchr(series, '\n') + 1; /* past the header */
    while (*line) {
        ck_assert_int_eq(sscanf(line, "%31[^,],%31[^,],%63[^,],%15[^,],%31[^,],%63[^\n]", step,
                                layer, nm, axis, index, value),
                         6);
        if (strcmp(nm, name) == 0)
            len += (size_t)snprintf(out + len, cap - len, "%s,%s,%s,%s\n", step, layer, index,
                                    value);
        line = strchr(line, '\n') + 1;
    }
    return out;
}

/*
 * No data set has sequences yet, so a recurrent layer cannot train end to
 * end; the fixture layer fx_gain records its series twice with bptt = 1,
 * as "mean_abs" (axis channel, into series.csv) and as the recurrent
 * layers' "dL/dh" (axis time), which must reach bptt.csv as the same
 * values: step,layer,t,grad_norm, on monitored steps only, and the same
 * bytes after the run is interrupted and resumed.
 */
static const char *bptt_cfg =
    "seed = 5;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; classes = 3; samples = 240; "
    "test_samples = 0; };\n"
    "model = { layers = ( { type = \"dense\"; units = 6; activation = \"tanh\"; },\n"
    "                     { type = \"fx_gain\"; bptt = 1; interrupt_after = 0; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"adam\"; lr = 0.01; };\n"
    "training = { epochs = 3; batch_size = 16; };\n"
    "monitor = { every = 4; };\n"
    "checkpoint = { every = 5; };\n";

START_TEST(dl_dh_goes_to_bptt_csv_and_survives_resume)
{
    gs_registry *r = tu_registry();
    gs_error err;
    char *fx = tu_fixture("f32only");
    ck_assert_msg(gs_registry_load_file(r, fx, &err) == 0, "%s", err.msg);
    free(fx);
    char *dir = tu_tempdir();
    char *ref = tu_train(r, dir, bptt_cfg, "ref", NULL, 0);
    char *bptt = slurp(ref, "bptt.csv"), *series = slurp(ref, "series.csv");
    ck_assert_ptr_nonnull(bptt);
    ck_assert_ptr_nonnull(series);
    ck_assert_msg(strncmp(bptt, "step,layer,t,grad_norm\n", 23) == 0, "%.60s", bptt);
    ck_assert_msg(strstr(bptt, "\n0,1,0,") != NULL && strstr(bptt, "\n4,1,5,") != NULL,
                  "%.200s", bptt);
    ck_assert_ptr_null(strstr(bptt, "\n1,1,")); /* step 1 is not monitored */
    ck_assert_ptr_null(strstr(series, "dL/dh")); /* routed, not duplicated */
    char *want = series_as_bptt(series, "mean_abs");
    ck_assert_uint_gt(strlen(want), 0);
    ck_assert_str_eq(bptt + 23, want);
    /* a run without the series has no bptt.csv */
    char *plain = tu_train(r, dir, "seed = 5;\n"
                                   "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; "
                                   "classes = 3; samples = 48; test_samples = 0; };\n"
                                   "model = { layers = ( { type = \"fx_gain\"; },\n"
                                   "                     { type = \"dense\"; units = 3; } ); };\n"
                                   "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
                                   "training = { epochs = 1; batch_size = 16; };\n",
                           "plain", NULL, 0);
    char *none = tu_path(plain, "bptt.csv");
    ck_assert(!tu_exists(none));
    /* interrupted in its 23rd step (SIGINT from the fixture), then resumed */
    char cut_cfg[1024];
    const char *at = strstr(bptt_cfg, "interrupt_after = 0;");
    snprintf(cut_cfg, sizeof cut_cfg, "%.*sinterrupt_after = 23;%s", (int)(at - bptt_cfg),
             bptt_cfg, at + strlen("interrupt_after = 0;"));
    char *path = tu_path(dir, "cut.cfg");
    tu_write(path, cut_cfg);
    char *out = tu_path(dir, "cut");
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(r, path, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_experiment_run(e, &opt, &err), 128 + SIGINT);
    gs_experiment_free(e);
    char *partial = slurp(out, "bptt.csv");
    ck_assert_ptr_nonnull(partial);
    ck_assert_uint_lt(strlen(partial), strlen(bptt));
    gs_run_options again = {.seed = -1, .quiet = 1};
    ck_assert_msg(gs_resume(r, out, &again, &err) == 0, "%s", err.msg);
    char *resumed = slurp(out, "bptt.csv");
    ck_assert_ptr_nonnull(resumed);
    ck_assert_msg(strcmp(resumed, bptt) == 0, "bptt.csv differs after resume");
    free(resumed);
    free(partial);
    free(out);
    free(path);
    free(none);
    free(plain);
    free(want);
    free(series);
    free(bptt);
    free(ref);
    tu_rmrf(dir);
    free(dir);
    gs_registry_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tu_tcase(s, "reference", setup, teardown, 0);
    tcase_add_test(tc, matches_pytorch_in_double);
    tcase_add_test(tc, matches_pytorch_in_float);
    tc = tu_tcase(s, "gradients", setup, teardown, 0);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, TU_COUNT(fd_cases));
    tcase_add_loop_test(tc, check_plugin_passes, 0, TU_COUNT(names));
    tcase_add_loop_test(tc, same_bits_at_any_thread_count, 0, TU_COUNT(names));
    tcase_add_loop_test(tc, same_bits_at_any_thread_count_in_wide_steps, 0, TU_COUNT(names));
    tcase_add_loop_test(tc, truncation_at_or_beyond_t_is_full_bptt, 0, TU_COUNT(names));
    tcase_add_test(tc, truncation_to_one_step_by_hand);
    tc = tu_tcase(s, "semantics", setup, teardown, 0);
    tcase_add_test(tc, series_holds_the_norm_of_dl_dh_per_step);
    tcase_add_loop_test(tc, parameters_follow_pytorch, 0, TU_COUNT(names));
    tcase_add_test(tc, forget_bias_shifts_the_forget_slice_once);
    tcase_add_test(tc, identity_recurrent_init);
    tcase_add_test(tc, identity_activation_is_linear);
    tcase_add_loop_test(tc, bad_inputs_are_refused_with_both_shapes, 0, TU_COUNT(names));
    tcase_add_test(tc, vector_data_into_a_recurrent_model_writes_nothing);
    tcase_add_test(tc, dl_dh_goes_to_bptt_csv_and_survives_resume);
    return tu_run(s);
}
