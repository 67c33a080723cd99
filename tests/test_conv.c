/*
 * Image layers (conv2d, maxpool, avgpool, global_avgpool, flatten, and
 * batchnorm on images): outputs and every gradient against PyTorch's
 * nn.Conv2d / MaxPool2d / AvgPool2d / AdaptiveAvgPool2d / BatchNorm2d on
 * the same weights and batches (tests/fixtures/conv_reference.txt, written
 * by tests/reference/conv_reference.py), max-pool ties included; backward
 * against finite differences beyond the defaults, with layernorm, dropout
 * and activations on images too; check-plugin; the same bits at 1 to 4
 * threads; output shapes, fans and nn.Conv2d's initialization; bad inputs.
 */
#include <math.h>
#include <stdio.h>
#include "gradscope/testing.h"
#include "reference.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

static gs_test_model *build_layers(const char *const *types, const char *const *params,
                                   size_t n, gs_shape in, size_t batch, gs_dtype dt,
                                   uint64_t seed)
{
    return tu_build_layers(reg, types, params, n, in, batch, dt, seed);
}

static gs_test_model *build(const char *type, const char *params, gs_shape in, size_t batch,
                            gs_dtype dt, uint64_t seed)
{
    return build_layers(&type, &params, 1, in, batch, dt, seed);
}

/* ---- the PyTorch reference ---- */

/* One case of the fixture: "case NAME TYPE", "params ...", "shape N C H W". */
typedef struct conv_case {
    const ref_case *ref;
    const char *name, *type, *params;
    size_t N, C, H, W;
} conv_case;

static ref_set refs;
static conv_case *cases;
static size_t n_cases;

static void load_reference(void)
{
    if (n_cases)
        return;
    static const char *const text[] = {"params", "shape", NULL};
    ref_load(&refs, "conv_reference.txt", text);
    cases = calloc(refs.n, sizeof *cases);
    for (size_t i = 0; i < refs.n; i++) {
        conv_case *c = &cases[i];
        c->ref = &refs.c[i];
        c->name = c->ref->name;
        c->type = c->ref->head;
        c->params = ref_text(c->ref, "params");
        ck_assert_int_eq(sscanf(ref_text(c->ref, "shape"), "%zu %zu %zu %zu", &c->N, &c->C,
                                &c->H, &c->W),
                         4);
    }
    n_cases = refs.n;
    ck_assert_uint_ge(n_cases, 14);
}

/* Runs case c in dtype dt, its errors into w. */
static void run_case(const ref_case *rc, gs_dtype dt, ref_worst *w)
{
    const conv_case *c = &cases[rc - refs.c]; /* its parsed head */
    gs_test_model *t = build(c->type, c->params, tu_image(c->C, c->H, c->W), c->N, dt, 1);
    static const char *const pnames[] = {"weight", "bias"};
    size_t loaded = 0;
    for (size_t k = 0; k < 2; k++)
        if (ref_find(rc, pnames[k])) {
            ref_copy(&tu_param_named(t, pnames[k])->value, ref_get(rc, pnames[k]));
            loaded++;
        }
    /* every learnable tensor has its reference */
    size_t learnable = 0;
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        learnable += gs_test_param(t, i)->role != GS_ROLE_BUFFER;
    ck_assert_uint_eq(learnable, loaded);
    ref_step(t, rc, w);
    char gname[64];
    for (size_t k = 0; k < 2; k++)
        if (ref_find(rc, pnames[k])) {
            snprintf(gname, sizeof gname, "grad_%s", pnames[k]);
            ref_compare(w, &tu_param_named(t, pnames[k])->grad, rc, gname);
        }
    static const char *const buffers[] = {"running_mean", "running_var"};
    for (size_t k = 0; k < 2; k++)
        if (ref_find(rc, buffers[k]))
            ref_compare(w, &tu_param_named(t, buffers[k])->value, rc, buffers[k]);
    gs_test_model_free(t);
}

START_TEST(matches_pytorch_in_double)
{
    load_reference();
    ref_check_all(&refs, run_case, GS_F64, 1e-12);
}
END_TEST

START_TEST(matches_pytorch_in_float)
{
    load_reference();
    ref_check_all(&refs, run_case, GS_F32, 1e-5);
}
END_TEST

/* The tie cases do have ties, and the gradient goes to the first maximum:
   every window's gradient lands on one input, the first largest in
   row-major order (checked here directly, not only through PyTorch's
   numbers). */
START_TEST(maxpool_ties_go_to_the_first_maximum)
{
    load_reference();
    size_t ties = 0;
    for (size_t i = 0; i < n_cases; i++) {
        const conv_case *c = &cases[i];
        if (strcmp(c->type, "maxpool") != 0 || strcmp(c->params, "kernel = 2;") != 0)
            continue;
        gs_test_model *t = build(c->type, c->params, tu_image(c->C, c->H, c->W), c->N, GS_F64, 1);
        ref_copy(gs_test_input(t), ref_get(c->ref, "x"));
        gs_test_forward(t, 1);
        gs_tensor *dy = gs_test_output_grad(t);
        for (size_t k = 0; k < gs_tensor_numel(dy); k++)
            tu_put(dy, k, 1.0 + (double)k); /* tells the windows apart */
        gs_test_backward(t);
        const double *x = gs_test_input(t)->data, *dx = gs_test_input_grad(t)->data;
        size_t Ho = c->H / 2, Wo = c->W / 2;
        for (size_t p = 0; p < c->N * c->C; p++)
            for (size_t r = 0; r < Ho; r++)
                for (size_t q = 0; q < Wo; q++) {
                    const double *xp = x + p * c->H * c->W;
                    size_t best = 2 * r * c->W + 2 * q, equal = 0;
                    for (size_t a = 0; a < 2; a++)
                        for (size_t b = 0; b < 2; b++) {
                            size_t o = (2 * r + a) * c->W + 2 * q + b;
                            if (xp[o] > xp[best])
                                best = o;
                        }
                    for (size_t a = 0; a < 2; a++)
                        for (size_t b = 0; b < 2; b++) {
                            size_t o = (2 * r + a) * c->W + 2 * q + b;
                            equal += xp[o] == xp[best];
                            double want = o == best ? 1.0 + (double)((p * Ho + r) * Wo + q) : 0;
                            ck_assert_double_eq(dx[p * c->H * c->W + o], want);
                        }
                    ties += equal > 1;
                }
        gs_test_model_free(t);
    }
    ck_assert_msg(ties >= 10, "only %zu windows with ties", ties);
}
END_TEST

/* ---- finite differences ---- */

typedef struct fd_case {
    const char *types[6], *params[6];
    gs_shape in;
    int training;
} fd_case;

#define I3(c, h, w) {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {c, h, w}}
static const fd_case fd_cases[] = {
    {{"conv2d"}, {"channels = 3; kernel = 3;"}, I3(2, 5, 5), 1},
    {{"conv2d"}, {"channels = 2; kernel = 3; stride = 2; padding = 1;"}, I3(3, 6, 5), 1},
    {{"conv2d"}, {"channels = 4; kernel = 2; padding = 1; bias = false;"}, I3(1, 4, 3), 1},
    {{"conv2d"}, {"channels = 2; kernel = 4; stride = 3; activation = \"tanh\";"}, I3(2, 7, 8), 1},
    {{"conv2d"}, {"channels = 3; kernel = 1; activation = \"prelu\"; init = \"he\";"}, I3(2, 3, 3), 1},
    {{"conv2d"}, {"channels = 2; kernel = 3; padding = 2; in_channels = 2;"}, I3(2, 2, 2), 1},
    {{"maxpool"}, {"kernel = 2;"}, I3(2, 4, 5), 1},
    {{"maxpool"}, {"kernel = 3; stride = 2; padding = 1;"}, I3(2, 5, 5), 1},
    {{"maxpool"}, {"kernel = 2; stride = 1;"}, I3(1, 3, 4), 1},
    {{"avgpool"}, {"kernel = 2;"}, I3(2, 5, 4), 1},
    {{"avgpool"}, {"kernel = 3; stride = 2; padding = 1;"}, I3(2, 5, 6), 1},
    {{"global_avgpool"}, {""}, I3(3, 3, 4), 1},
    {{"flatten"}, {""}, I3(2, 3, 2), 1},
    {{"flatten"}, {""}, {.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {3, 2}}, 1},
    /* the layers that already took any layout, on images */
    {{"batchnorm"}, {"momentum = 0.3;"}, I3(3, 2, 3), 1},
    {{"layernorm"}, {""}, I3(2, 3, 3), 1},
    {{"dropout"}, {"p = 0.4;"}, I3(2, 3, 3), 1},
    {{"prelu"}, {""}, I3(3, 2, 2), 1},
    {{"elu"}, {""}, I3(2, 3, 2), 1},
    {{"sigmoid"}, {""}, I3(2, 3, 2), 1},
    /* a small network: conv, batch norm, relu, pool, conv, global pool, dense */
    {{"conv2d", "batchnorm", "relu", "maxpool", "conv2d", "global_avgpool"},
     {"channels = 3; kernel = 3; padding = 1;", "", "", "kernel = 2;",
      "channels = 4; kernel = 2; activation = \"tanh\";", ""},
     I3(2, 6, 6), 1},
    {{"conv2d", "avgpool", "flatten", "dense"},
     {"channels = 2; kernel = 3; stride = 2; activation = \"elu\";", "kernel = 2; stride = 1;", "",
      "units = 3;"},
     I3(1, 7, 7), 1},
    {{"conv2d", "batchnorm", "maxpool"}, {"channels = 2; kernel = 3;", "", "kernel = 2;"},
     I3(2, 5, 5), 0},
};
#undef I3

START_TEST(backward_matches_finite_differences)
{
    const fd_case *c = &fd_cases[_i];
    size_t n = 0;
    while (n < 6 && c->types[n])
        n++;
    gs_test_model *t = build_layers(c->types, c->params, n, c->in, 3, GS_F64,
                                    100 + (uint64_t)_i);
    char label[256];
    snprintf(label, sizeof label, "%s { %s }...", c->types[0], c->params[0]);
    tu_fd_case(t, _i, c->training, label);
}
END_TEST

static const char *const names[] = {"conv2d", "maxpool", "avgpool", "global_avgpool", "flatten"};

START_TEST(check_plugin_passes)
{
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_LAYER, names[_i]);
    ck_assert_msg(ci != NULL, "%s is not installed", names[_i]);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, ci, &res) == 1, "%s: %s", res.component, res.detail);
    /* on an image, or for flatten the sequence that comes first in the list */
    ck_assert_msg(strstr(res.detail, _i == 4 ? "(T, C)" : "(C, H, W) = (2, 5, 5)") != NULL, "%s",
                  res.detail);
}
END_TEST

/* ---- determinism ---- */

/* Output, input gradient and every parameter gradient of one batch. */
START_TEST(same_bits_at_any_thread_count)
{
    /* 13 examples: three full groups of the weight-gradient sum and a
       partial one; wide enough layers that the GEMMs split across threads */
    const char *types[] = {"conv2d", "batchnorm", "maxpool", "conv2d", "avgpool", "global_avgpool"};
    const char *params[] = {"channels = 24; kernel = 3; padding = 1; activation = \"relu\";", "",
                            "kernel = 3; stride = 2; padding = 1;",
                            "channels = 40; kernel = 3; stride = 2;", "kernel = 2; stride = 1;", ""};
    tu_net net = {reg, types, params, 6, tu_image(3, 12, 11), 13};
    tu_same_bits_at_threads(tu_net_step_values, &net, 4, "conv");
}
END_TEST

/* ---- shapes, fans and initialization ---- */

typedef struct shape_case {
    const char *type, *params;
    size_t c, h, w;
    gs_layout out_layout;
    size_t oc, oh, ow, params_total;
} shape_case;

static const shape_case shape_cases[] = {
    /* floor((28 - 5) / 1) + 1 = 24; 6 * 1 * 25 + 6 */
    {"conv2d", "channels = 6; kernel = 5;", 1, 28, 28, GS_LAYOUT_IMAGE, 6, 24, 24, 156},
    /* floor((32 + 2 - 3) / 2) + 1 = 16; no bias */
    {"conv2d", "channels = 8; kernel = 3; stride = 2; padding = 1; bias = false;", 3, 32, 32,
     GS_LAYOUT_IMAGE, 8, 16, 16, 216},
    /* floor((7 - 3) / 3) + 1 = 2 rows, floor((9 - 3) / 3) + 1 = 3 columns */
    {"conv2d", "channels = 2; kernel = 3; stride = 3;", 4, 7, 9, GS_LAYOUT_IMAGE, 2, 2, 3, 74},
    /* the kernel as large as the padded input: one output */
    {"conv2d", "channels = 1; kernel = 5; padding = 1;", 1, 3, 3, GS_LAYOUT_IMAGE, 1, 1, 1, 26},
    /* stride defaults to the kernel: floor(7 / 2) = 3 */
    {"maxpool", "kernel = 2;", 3, 7, 8, GS_LAYOUT_IMAGE, 3, 3, 4, 0},
    {"maxpool", "kernel = 3; stride = 2; padding = 1;", 2, 8, 8, GS_LAYOUT_IMAGE, 2, 4, 4, 0},
    {"avgpool", "kernel = 3; stride = 1; padding = 1;", 2, 5, 6, GS_LAYOUT_IMAGE, 2, 5, 6, 0},
    {"global_avgpool", "", 5, 3, 4, GS_LAYOUT_VECTOR, 5, 0, 0, 0},
    {"flatten", "", 2, 3, 4, GS_LAYOUT_VECTOR, 24, 0, 0, 0},
};

START_TEST(output_shapes_and_parameter_counts)
{
    const shape_case *c = &shape_cases[_i];
    gs_test_model *t = build(c->type, c->params, tu_image(c->c, c->h, c->w), 2, GS_F32, 1);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_int_eq(out.layout, c->out_layout);
    if (c->out_layout == GS_LAYOUT_IMAGE) {
        ck_assert_int_eq(out.ndim, 3);
        ck_assert_msg(out.dims[0] == c->oc && out.dims[1] == c->oh && out.dims[2] == c->ow,
                      "%s { %s }: (%zu, %zu, %zu), want (%zu, %zu, %zu)", c->type, c->params,
                      out.dims[0], out.dims[1], out.dims[2], c->oc, c->oh, c->ow);
    } else {
        ck_assert_int_eq(out.ndim, 1);
        ck_assert_uint_eq(out.dims[0], c->oc);
    }
    ck_assert_uint_eq(gs_test_param_count(t), c->params_total);
    gs_test_model_free(t);
}
END_TEST

/* Fans are PyTorch's for a (O, C, k, k) weight, C k k and O k k, and the
   default initialization is nn.Conv2d's: weight and bias U(+-1/sqrt(C k k)). */
START_TEST(fans_and_default_init_follow_pytorch)
{
    gs_test_model *t = build("conv2d", "channels = 64; kernel = 3;", tu_image(5, 6, 6), 1, GS_F64, 3);
    gs_param *w = tu_param_named(t, "weight"), *b = tu_param_named(t, "bias");
    ck_assert_int_eq(w->value.ndim, 4);
    ck_assert_uint_eq(w->value.dims[0], 64);
    ck_assert_uint_eq(w->value.dims[1], 5);
    ck_assert_uint_eq(w->value.dims[2], 3);
    ck_assert_uint_eq(w->value.dims[3], 3);
    ck_assert_uint_eq(w->fan_in, 45);
    ck_assert_uint_eq(w->fan_out, 576);
    ck_assert_uint_eq(b->fan_in, 45);
    double bound = 1.0 / sqrt(45.0);
    const gs_param *ps[] = {w, b};
    for (size_t k = 0; k < 2; k++) {
        size_t n = gs_tensor_numel(&ps[k]->value);
        double top = 0, sum_sq = 0;
        for (size_t i = 0; i < n; i++) {
            double v = tu_get(&ps[k]->value, i);
            top = fmax(top, fabs(v));
            sum_sq += v * v;
        }
        ck_assert_msg(top <= bound, "%s: |v| up to %g, bound %g", ps[k]->name, top, bound);
        ck_assert_msg(top >= 0.9 * bound, "%s: |v| only up to %g, bound %g", ps[k]->name, top,
                      bound);
        if (k == 0) { /* U(-a, a) has variance a^2 / 3; 2880 draws */
            double var = sum_sq / (double)n;
            ck_assert_msg(fabs(var - bound * bound / 3) < 0.1 * bound * bound / 3,
                          "variance %g, want %g", var, bound * bound / 3);
        }
    }
    gs_test_model_free(t);
    /* he (fan_in, relu gain): std sqrt(2 / (C k k)) */
    t = build("conv2d", "channels = 128; kernel = 3; init = \"he\";", tu_image(8, 5, 5), 1, GS_F64, 4);
    w = tu_param_named(t, "weight");
    double sq = 0;
    size_t n = gs_tensor_numel(&w->value);
    for (size_t i = 0; i < n; i++)
        sq += tu_get(&w->value, i) * tu_get(&w->value, i);
    double want = 2.0 / 72.0;
    ck_assert_msg(fabs(sq / (double)n - want) < 0.05 * want, "he variance %g, want %g",
                  sq / (double)n, want);
    gs_test_model_free(t);
}
END_TEST

/* Convolution by definition, on a batch with every case of padding: the
   im2col path against the plain sum, in double. */
START_TEST(conv_is_the_cross_correlation)
{
    enum { N = 2, C = 2, H = 5, W = 4, O = 3, K = 3, S = 2, P = 1 };
    gs_test_model *t = build("conv2d", "channels = 3; kernel = 3; stride = 2; padding = 1;",
                             tu_image(C, H, W), N, GS_F64, 9);
    tu_fill(gs_test_input(t), 10, 0.0, 1.0);
    gs_test_forward(t, 1);
    const double *x = gs_test_input(t)->data, *y = gs_test_output(t)->data;
    const double *w = tu_param_named(t, "weight")->value.data;
    const double *b = tu_param_named(t, "bias")->value.data;
    size_t Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < O; o++)
            for (size_t r = 0; r < Ho; r++)
                for (size_t q = 0; q < Wo; q++) {
                    double s = b[o];
                    for (size_t c = 0; c < C; c++)
                        for (size_t i = 0; i < K; i++)
                            for (size_t j = 0; j < K; j++) {
                                long yy = (long)(r * S + i) - P, xx = (long)(q * S + j) - P;
                                if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                    s += w[((o * C + c) * K + i) * K + j] *
                                         x[((n * C + c) * H + (size_t)yy) * W + (size_t)xx];
                            }
                    double got = y[((n * O + o) * Ho + r) * Wo + q];
                    ck_assert_msg(fabs(got - s) <= 1e-13 * fmax(1, fabs(s)), "%g vs %g", got, s);
                }
    gs_test_model_free(t);
}
END_TEST

/* ---- bad inputs ---- */

static void refused(const char *type, const char *params, gs_shape in, const char *const *want,
                    size_t n_want)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    ck_assert_msg(gs_test_model_add(t, type, params, &err) != 0, "%s { %s } was accepted", type,
                  params);
    for (size_t i = 0; i < n_want; i++)
        ck_assert_msg(strstr(err.msg, want[i]) != NULL, "%s { %s }: '%s' lacks '%s'", type,
                      params, err.msg, want[i]);
    gs_test_model_free(t);
}

START_TEST(bad_inputs_are_refused_with_both_shapes)
{
    gs_shape vec = {.ndim = 1, .dims = {12}};
    const char *vector[] = {"needs an image input (C, H, W)", "a vector (C) = (12)"};
    refused("conv2d", "channels = 2; kernel = 3;", vec, vector, 2);
    refused("maxpool", "kernel = 2;", vec, vector, 2);
    refused("avgpool", "kernel = 2;", vec, vector, 2);
    refused("global_avgpool", "", vec, vector, 2);
    const char *flat[] = {"flatten: needs an image (C, H, W) or a sequence (T, C)",
                          "a vector (C) = (12)"};
    refused("flatten", "", vec, flat, 2);
    const char *big[] = {"conv2d: kernel 5x5 is larger than the input",
                         "an image (C, H, W) = (1, 3, 4)", "padded to 3x4"};
    refused("conv2d", "channels = 2; kernel = 5;", tu_image(1, 3, 4), big, 3);
    const char *big_pad[] = {"kernel 7x7", "padded to 5x6 (padding 1)"};
    refused("conv2d", "channels = 2; kernel = 7; padding = 1;", tu_image(1, 3, 4), big_pad, 2);
    const char *big_pool[] = {"maxpool: kernel 4x4", "(2, 3, 5)", "padded to 3x5"};
    refused("maxpool", "kernel = 4;", tu_image(2, 3, 5), big_pool, 3);
    const char *pad[] = {"avgpool: padding 2 is more than half the kernel 3"};
    refused("avgpool", "kernel = 3; padding = 2;", tu_image(2, 8, 8), pad, 1);
    const char *channels[] = {"conv2d: in_channels = 3",
                              "the input an image (C, H, W) = (1, 28, 28) has 1 channel"};
    refused("conv2d", "channels = 8; kernel = 3; in_channels = 3;", tu_image(1, 28, 28), channels, 2);
    const char *stride[] = {"stride"};
    refused("conv2d", "channels = 2; kernel = 3; stride = 0;", tu_image(1, 5, 5), stride, 1);
    /* a vector after global pooling where a conv needs an image */
    gs_error err;
    gs_shape in = tu_image(2, 4, 4);
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    ck_assert_int_eq(gs_test_model_add(t, "global_avgpool", "", &err), 0);
    ck_assert_int_ne(gs_test_model_add(t, "conv2d", "channels = 2; kernel = 1;", &err), 0);
    ck_assert_msg(strstr(err.msg, "a vector (C) = (2)") != NULL, "%s", err.msg);
    gs_test_model_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tu_tcase(s, "reference", setup, teardown, 0);
    tcase_add_test(tc, matches_pytorch_in_double);
    tcase_add_test(tc, matches_pytorch_in_float);
    tcase_add_test(tc, maxpool_ties_go_to_the_first_maximum);
    tc = tu_tcase(s, "gradients", setup, teardown, 0);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, TU_COUNT(fd_cases));
    tcase_add_loop_test(tc, check_plugin_passes, 0, TU_COUNT(names));
    tcase_add_test(tc, same_bits_at_any_thread_count);
    tc = tu_tcase(s, "semantics", setup, teardown, 0);
    tcase_add_loop_test(tc, output_shapes_and_parameter_counts, 0, TU_COUNT(shape_cases));
    tcase_add_test(tc, fans_and_default_init_follow_pytorch);
    tcase_add_test(tc, conv_is_the_cross_correlation);
    tcase_add_test(tc, bad_inputs_are_refused_with_both_shapes);
    return tu_run(s);
}
