/*
 * How far back the gradient reaches (plugins/layer/rnn_util.h): on a
 * detailed step each recurrent layer records, per weight, the norm of its
 * gradient's contribution from each band of time steps
 * ("weight_hh_l0.band_grad_norm", axis band).  The values against a tanh
 * RNN written out here in double; the gradient itself bit for bit the same
 * with and without them, for rnn, lstm and gru.
 */
#include <math.h>
#include <stdio.h>
#include "gradscope/testing.h"
#include "testutil.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

static gs_test_model *build(const char *type, const char *params, size_t T, size_t C,
                            size_t batch, gs_dtype dt)
{
    gs_error err;
    gs_shape in = {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {T, C}};
    gs_test_model *t = gs_test_model_new(reg, dt, 7, &in);
    ck_assert_msg(gs_test_model_add(t, type, params, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_test_model_finalize(t, batch, &err) == 0, "%s", err.msg);
    return t;
}

static void fill(gs_tensor *t, uint64_t seed)
{
    const gs_host *h = gs_host_table();
    gs_rng *r = gs_rng_new(seed, 99);
    for (size_t i = 0; i < gs_tensor_numel(t); i++) {
        double v = h->rng_normal(r);
        if (t->dtype == GS_F64)
            ((double *)t->data)[i] = v;
        else
            ((float *)t->data)[i] = (float)v;
    }
    gs_rng_free(r);
}

static const double *param(gs_test_model *t, const char *name, int grad)
{
    for (size_t i = 0; i < gs_test_n_params(t); i++) {
        gs_param *p = gs_test_param(t, i);
        const char *dot = strchr(p->name, '.');
        if (!strcmp(dot ? dot + 1 : p->name, name))
            return grad ? p->grad.data : p->value.data;
    }
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

static const double *series(gs_test_model *t, const char *want, size_t *n)
{
    for (size_t i = 0; i < gs_test_n_series(t); i++) {
        int layer;
        const char *name;
        gs_axis axis;
        const double *v;
        ck_assert_int_eq(gs_test_series(t, i, &layer, &name, &axis, &v, n), 0);
        if (!strcmp(name, want)) {
            ck_assert_int_eq(axis, GS_AXIS_BAND);
            return v;
        }
    }
    ck_abort_msg("no series %s", want);
    return NULL;
}

/* T = 23: bands of w = 3 steps, the 8th of 2 (t = 21, 22); band 0 holds
   t = 0, whose h_{-1} = 0 gives weight_hh nothing. */
START_TEST(bands_match_a_tanh_rnn_by_hand)
{
    enum { N = 3, T = 23, C = 2, H = 5, W = 3, NB = 8 };
    gs_test_model *t = build("rnn", "units = 5; return = \"sequence\";", T, C, N, GS_F64);
    fill(gs_test_input(t), 1);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    fill(gs_test_output_grad(t), 2);
    gs_test_backward(t);
    const double *x = gs_test_input(t)->data, *y = gs_test_output(t)->data;
    const double *dy = gs_test_output_grad(t)->data;
    const double *whh = param(t, "weight_hh_l0", 0), *ghh = param(t, "weight_hh_l0", 1);
    /* backward by hand: delta_t = (dy_t + W_hhᵀ delta_{t+1}) * (1 - h_t^2) */
    static double hh[NB][H * H], ih[NB][H * C], full[H * H];
    memset(hh, 0, sizeof hh);
    memset(ih, 0, sizeof ih);
    memset(full, 0, sizeof full);
    for (size_t i = 0; i < N; i++) {
        double carry[H] = {0}, delta[H];
        for (size_t s = T; s-- > 0;) {
            const double *h = y + (i * T + s) * H, *hp = s ? h - H : NULL;
            for (size_t j = 0; j < H; j++)
                delta[j] = (dy[(i * T + s) * H + j] + carry[j]) * (1 - h[j] * h[j]);
            for (size_t k = 0; k < H; k++) {
                carry[k] = 0;
                for (size_t j = 0; j < H; j++)
                    carry[k] += whh[j * H + k] * delta[j];
            }
            for (size_t j = 0; j < H; j++) {
                for (size_t k = 0; hp && k < H; k++) {
                    hh[s / W][j * H + k] += delta[j] * hp[k];
                    full[j * H + k] += delta[j] * hp[k];
                }
                for (size_t c = 0; c < C; c++)
                    ih[s / W][j * C + c] += delta[j] * x[(i * T + s) * C + c];
            }
        }
    }
    for (size_t k = 0; k < H * H; k++) /* the hand-written backward is the layer's */
        ck_assert_msg(fabs(full[k] - ghh[k]) <= 1e-12 * (1 + fabs(ghh[k])), "%zu", k);
    size_t n;
    const double *bh = series(t, "weight_hh_l0.band_grad_norm", &n);
    ck_assert_uint_eq(n, NB);
    const double *bi = series(t, "weight_ih_l0.band_grad_norm", &n);
    ck_assert_uint_eq(n, NB);
    for (size_t b = 0; b < NB; b++) {
        double sh = 0, si = 0;
        for (size_t k = 0; k < H * H; k++)
            sh += hh[b][k] * hh[b][k];
        for (size_t k = 0; k < H * C; k++)
            si += ih[b][k] * ih[b][k];
        ck_assert_msg(fabs(bh[b] - sqrt(sh)) <= 1e-9 * sqrt(sh),
                      "hh band %zu: %.17g, want %.17g", b, bh[b], sqrt(sh));
        ck_assert_msg(fabs(bi[b] - sqrt(si)) <= 1e-9 * sqrt(si), "ih band %zu: %.17g, want %.17g",
                      b, bi[b], sqrt(si));
    }
    /* band 0 is t = 0 .. 2: t = 1 and 2 give weight_hh something */
    ck_assert(bh[0] > 0);
    gs_test_model_free(t);
}
END_TEST

/* Fewer steps than bands: one step a band, band 0 (t = 0) zero for
   weight_hh; and a stacked layer's names. */
START_TEST(short_sequences_have_a_band_per_step)
{
    gs_test_model *t = build("gru", "units = 3; layers = 2;", 4, 2, 2, GS_F64);
    fill(gs_test_input(t), 3);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    fill(gs_test_output_grad(t), 4);
    gs_test_backward(t);
    size_t n;
    const double *v = series(t, "weight_hh_l1.band_grad_norm", &n);
    ck_assert_uint_eq(n, 4);
    ck_assert(v[0] == 0.0 && v[3] > 0);
    v = series(t, "weight_ih_l0.band_grad_norm", &n);
    ck_assert_uint_eq(n, 4);
    ck_assert(v[3] > 0);
    gs_test_model_free(t);
}
END_TEST

/* The bands read the gradient and never write it: the same bits with and
   without them, in float, for each cell. */
START_TEST(bands_leave_the_gradient_bit_for_bit)
{
    static const char *const types[] = {"rnn", "lstm", "gru"};
    for (int k = 0; k < 3; k++) {
        float *grads[2];
        size_t total = 0;
        for (int mon = 0; mon < 2; mon++) {
            gs_test_model *t = build(types[k], "units = 16; layers = 2;", 37, 3, 5, GS_F32);
            fill(gs_test_input(t), 5);
            gs_test_set_monitoring(t, mon);
            gs_test_forward(t, 1);
            fill(gs_test_output_grad(t), 6);
            gs_test_backward(t);
            ck_assert_uint_eq(gs_test_n_series(t), mon ? 6u : 0u);
            total = 0;
            for (size_t i = 0; i < gs_test_n_params(t); i++)
                total += gs_tensor_numel(&gs_test_param(t, i)->grad);
            grads[mon] = malloc(total * sizeof(float));
            size_t off = 0;
            for (size_t i = 0; i < gs_test_n_params(t); i++) {
                const gs_tensor *g = &gs_test_param(t, i)->grad;
                memcpy(grads[mon] + off, g->data, gs_tensor_numel(g) * sizeof(float));
                off += gs_tensor_numel(g);
            }
            gs_test_model_free(t);
        }
        ck_assert_msg(memcmp(grads[0], grads[1], total * sizeof(float)) == 0, "%s", types[k]);
        free(grads[0]);
        free(grads[1]);
    }
}
END_TEST

/* The lines of a run's file that contain `needle`. */
static size_t count_lines(const char *dir, const char *file, const char *needle)
{
    char *p = tu_path(dir, file), *text = tu_read(p, NULL);
    size_t n = 0;
    for (const char *q = text; q && (q = strstr(q, needle)); q++)
        n++;
    free(text);
    free(p);
    return n;
}

/* A run end to end: band series on detailed steps only (every = 1,
   detail_every = 2 over 4 steps: 0, 2 and the last, 3), rho and sigma_max
   of weight_hh at every monitored step in theory.csv, per gate for an
   lstm. */
START_TEST(a_run_records_bands_and_spectra)
{
    static const char *const types[] = {"rnn", "lstm"};
    char *dir = tu_tempdir();
    for (int k = 0; k < 2; k++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "seed = 2;\n"
                 "data = { type = \"adding\"; length = 12; samples = 64; test_samples = 0; };\n"
                 "model = { layers = ( { type = \"%s\"; units = 6; }, "
                 "{ type = \"dense\"; units = 1; } ); };\n"
                 "loss = \"mse\";\n"
                 "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
                 "training = { epochs = 1; batch_size = 16; validation = 0; };\n"
                 "monitor = { every = 1; detail_every = 2; };\n",
                 types[k]);
        char *out = tu_train(reg, dir, cfg, types[k], NULL, 0);
        /* T = 12: w = 2, 6 bands a tensor and detailed step */
        ck_assert_uint_eq(count_lines(out, "series.csv", "weight_hh_l0.band_grad_norm,band,"),
                          18);
        ck_assert_uint_eq(count_lines(out, "series.csv", "weight_ih_l0.band_grad_norm,band,5,"),
                          3);
        ck_assert_uint_eq(count_lines(out, "series.csv", "\n1,0,weight_"), 0);
        /* theory.csv: one row per gate block and monitored step (0 to 3),
           none in paths.csv */
        if (k == 0) {
            ck_assert_uint_eq(count_lines(out, "theory.csv", ",recurrent,,"), 4);
            ck_assert_uint_eq(count_lines(out, "theory.csv", ",recurrent,,3,weight_hh_l0,"), 1);
        } else {
            for (const char *g = "ifgo"; *g; g++) {
                char key[48];
                snprintf(key, sizeof key, ",recurrent,,0,weight_hh_l0.%c,", *g);
                ck_assert_uint_eq(count_lines(out, "theory.csv", key), 1);
            }
            ck_assert_uint_eq(count_lines(out, "theory.csv", ",recurrent,,"), 16);
            ck_assert_uint_eq(count_lines(out, "theory.csv", ",weight_hh_l0,"), 0);
        }
        ck_assert_uint_eq(count_lines(out, "paths.csv", "rho"), 0);
        free(out);
    }
    tu_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn_bands");
    TCase *tc = tcase_create("rnn_bands");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bands_match_a_tanh_rnn_by_hand);
    tcase_add_test(tc, short_sequences_have_a_band_per_step);
    tcase_add_test(tc, bands_leave_the_gradient_bit_for_bit);
    tcase_add_test(tc, a_run_records_bands_and_spectra);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
