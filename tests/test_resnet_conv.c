/*
 * The resnet block on images (issue 21): basic and bottleneck branches,
 * post-, pre-activation and mlp forms, shortcuts identity, projection
 * (option B), pad (option A) and none, against PyTorch on the same weights
 * and batches (tests/fixtures/resnet_reference.txt, written by
 * tests/reference/resnet_reference.py), against finite differences in
 * double beyond those cases, through check-plugin, at 1 to 4 threads; the
 * recorded shortcut/branch norms, output shapes and parameter counts, the
 * new shortcuts on vectors, and bad configurations.
 */
#include <math.h>
#include <stdio.h>
#include "reference.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

static gs_shape vec(size_t c) { return (gs_shape){.ndim = 1, .dims = {c}}; }

static gs_test_model *build_layers(const char *const *types, const char *const *params,
                                   size_t n, gs_shape in, size_t batch, gs_dtype dt,
                                   uint64_t seed)
{
    return tu_build_layers(reg, types, params, n, in, batch, dt, seed);
}

static gs_test_model *build(const char *params, gs_shape in, size_t batch, gs_dtype dt,
                            uint64_t seed)
{
    const char *type = "resnet";
    return build_layers(&type, &params, 1, in, batch, dt, seed);
}

static double record(gs_test_model *t, const char *key)
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

static double norm2(const gs_tensor *t)
{
    double s = 0;
    for (size_t i = 0; i < gs_tensor_numel(t); i++)
        s += tu_get(t, i) * tu_get(t, i);
    return sqrt(s);
}

/* ---- the PyTorch reference ---- */

static ref_set refs;

static void load_reference(void)
{
    static const char *const text_keys[] = {"params", "shape", NULL};
    ref_load(&refs, "resnet_reference.txt", text_keys);
    ck_assert_uint_ge(refs.n, 8);
}

/* Runs case c in dtype dt, its errors into w. */
static void run_case(const ref_case *c, gs_dtype dt, ref_worst *w)
{
    size_t N, C, H, W;
    ck_assert_int_eq(sscanf(ref_text(c, "shape"), "%zu %zu %zu %zu", &N, &C, &H, &W), 4);
    gs_test_model *t = build(ref_text(c, "params"), tu_image(C, H, W), N, dt, 1);
    /* every learnable tensor of the block has its reference, and the other way round */
    ref_set_params(t, c);
    size_t learnable = 0, in_ref = 0;
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        learnable += gs_test_param(t, i)->role != GS_ROLE_BUFFER;
    for (size_t i = 0; i < c->nt; i++)
        in_ref += strncmp(c->t[i].name, "grad_", 5) == 0 && strcmp(c->t[i].name, "grad_x");
    ck_assert_msg(learnable == in_ref, "%s: %zu learnable tensors, %zu in the reference",
                  c->name, learnable, in_ref);
    ref_step(t, c, w);
    ref_compare_params(t, c, w);
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

/* ---- finite differences ---- */

typedef struct fd_case {
    const char *params;
    gs_shape in;
    int training;
} fd_case;

#define I3(c, h, w) {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {c, h, w}}
#define V(c) {.ndim = 1, .dims = {c}}
static const fd_case fd_cases[] = {
    /* identity shortcut, each form, without norm (fused activations, biases) */
    {"", I3(2, 4, 4), 1},
    {"form = \"post\";", I3(2, 4, 3), 1},
    {"form = \"mlp\"; activation = \"tanh\"; depth = 3;", I3(2, 3, 3), 1},
    /* option B with norms, stride 2 on an odd size, and scaled */
    {"units = 4; stride = 2; form = \"post\"; norm = \"batchnorm\";", I3(2, 5, 5), 1},
    {"units = 3; stride = 2; shortcut_scale = 0.6; norm = \"layernorm\";", I3(2, 4, 5), 1},
    {"units = 4; norm = \"batchnorm\"; form = \"mlp\";", I3(3, 3, 3), 1},
    {"units = 4; stride = 3; form = \"post\"; norm = \"batchnorm\";", I3(2, 5, 4), 0},
    /* option A: stride, extra channels, lambda */
    {"units = 4; stride = 2; shortcut = \"pad\"; form = \"post\"; norm = \"batchnorm\";",
     I3(2, 5, 5), 1},
    {"units = 3; shortcut = \"pad\"; shortcut_scale = 1.3; activation = \"elu\";", I3(2, 3, 4),
     1},
    {"stride = 2; shortcut = \"pad\"; form = \"mlp\";", I3(2, 4, 4), 1},
    /* no shortcut */
    {"units = 3; stride = 2; shortcut = \"none\"; form = \"post\"; norm = \"batchnorm\";",
     I3(2, 4, 4), 1},
    /* bottleneck */
    {"units = 4; branch = \"bottleneck\"; form = \"post\"; norm = \"batchnorm\";", I3(4, 3, 3),
     1},
    {"units = 8; stride = 2; branch = \"bottleneck\"; norm = \"batchnorm\"; shortcut_scale = "
     "0.8;",
     I3(2, 4, 4), 1},
    {"units = 4; branch = \"bottleneck\"; shortcut = \"pad\"; init = \"xavier\";", I3(2, 3, 3),
     1},
    /* the new shortcuts on vectors */
    {"units = 7; shortcut = \"pad\";", V(5), 1},
    {"units = 7; shortcut = \"pad\"; form = \"post\"; norm = \"batchnorm\"; shortcut_scale = "
     "0.5;",
     V(5), 1},
    {"units = 3; shortcut = \"none\"; form = \"mlp\";", V(5), 1},
};
#undef I3
#undef V

START_TEST(backward_matches_finite_differences)
{
    const fd_case *c = &fd_cases[_i];
    gs_test_model *t = build(c->params, c->in, 3, GS_F64, 100 + (uint64_t)_i);
    char label[256];
    snprintf(label, sizeof label, "resnet { %s }", c->params);
    tu_fd_case(t, _i, c->training, label);
}
END_TEST

/* A small ResNet: stem, a stage with a projection, one with option A, a
   bottleneck, pooling and a classifier head. */
START_TEST(a_small_network_matches_finite_differences)
{
    const char *types[] = {"conv2d", "batchnorm", "relu", "resnet", "resnet", "resnet",
                           "global_avgpool", "dense"};
    const char *params[] = {"channels = 2; kernel = 3; padding = 1; bias = false;", "", "",
                            "units = 4; stride = 2; form = \"post\"; norm = \"batchnorm\";",
                            "units = 4; shortcut = \"pad\"; form = \"post\"; norm = "
                            "\"batchnorm\";",
                            "branch = \"bottleneck\"; norm = \"batchnorm\";", "", "units = 3;"};
    gs_test_model *t = build_layers(types, params, 8, tu_image(1, 6, 6), 3, GS_F64, 11);
    tu_fill(gs_test_input(t), 12, 0.0, 1.0);
    tu_nudge(t, 13, 0.2);
    double err;
    char what[256];
    ck_assert_msg(gs_test_gradcheck(t, 1, &err, what, sizeof what) == 1,
                  "max relative error %.3e at %s", err, what);
    gs_test_model_free(t);
}
END_TEST

/* check-plugin on the image form: a stride refuses vectors and sequences,
   so the check builds the block on its (2, 5, 5) image. */
static const char *const check_params[] = {
    "stride = 2; form = \"post\"; norm = \"batchnorm\";",
    "stride = 2; units = 4; shortcut = \"pad\";",
    "stride = 2; units = 4; branch = \"bottleneck\"; norm = \"batchnorm\";",
};

START_TEST(check_plugin_passes_on_images)
{
    gs_error err;
    gs_ref *r = gs_ref_parse(reg, GS_KIND_LAYER, "resnet", check_params[_i], &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    gs_check_result res;
    ck_assert_msg(gs_check_ref(reg, r, &res) == 1, "%s: %s", res.component, res.detail);
    ck_assert_msg(strstr(res.detail, "(C, H, W) = (2, 5, 5)") != NULL, "%s", res.detail);
    gs_ref_free(r);
}
END_TEST

/* ---- determinism ---- */

/* Output, input gradient, every parameter gradient and the path norms of one batch. */
static double *run_once(const void *arg, size_t *n)
{
    (void)arg;
    const char *types[] = {"resnet", "resnet", "resnet", "resnet"};
    const char *params[] = {"units = 8; stride = 2; form = \"post\"; norm = \"batchnorm\";",
                            "units = 16; stride = 2; shortcut = \"pad\"; norm = \"batchnorm\";",
                            "units = 16; branch = \"bottleneck\"; norm = \"batchnorm\"; "
                            "shortcut_scale = 0.8;",
                            "units = 12; shortcut = \"none\"; form = \"mlp\";"};
    gs_test_model *t = build_layers(types, params, 4, tu_image(3, 12, 11), 13, GS_F32, 5);
    gs_test_set_monitoring(t, 1);
    double *v = tu_step_values(t, n);
    ck_assert_uint_eq(gs_test_n_records(t), 8);
    gs_test_model_free(t);
    return v;
}

START_TEST(same_bits_at_any_thread_count)
{
    tu_same_bits_at_threads(run_once, NULL, 4, "resnet");
}
END_TEST

/* ---- monitoring ---- */

/* Runs one monitored step with dy from `seed`; the caller reads the records. */
static void step(gs_test_model *t, uint64_t seed)
{
    gs_test_set_monitoring(t, 1);
    tu_fill(gs_test_input(t), seed, 0.1, 1.0);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), seed + 1, 0.0, 1.0);
    gs_test_backward(t);
}

/* The two recorded norms are the parts of dL/dx: the branch's equals dL/dx
   of the same block without a shortcut (same weights), the shortcut's the
   norm of the difference; for option A it is lambda times dy on the
   channels and positions the shortcut keeps. */
START_TEST(records_shortcut_and_residual_norms)
{
    static const char *const with[] = {
        "units = 4; stride = 2; norm = \"batchnorm\"; shortcut_scale = 0.7;",
        "units = 4; stride = 2; shortcut = \"pad\"; norm = \"batchnorm\"; shortcut_scale = 0.7;",
        "units = 2; norm = \"batchnorm\"; shortcut_scale = 0.7;"};
    const size_t N = 3;
    for (size_t v = 0; v < 3; v++) {
        gs_test_model *t = build(with[v], tu_image(2, 5, 5), N, GS_F64, 21);
        char none[200];
        snprintf(none, sizeof none, "%s shortcut = \"none\";",
                 v == 1 ? "units = 4; stride = 2; norm = \"batchnorm\";" : with[v]);
        gs_test_model *u = build(none, tu_image(2, 5, 5), N, GS_F64, 21);
        /* the branch's weights are the same tensors by name */
        for (size_t i = 0; i < gs_test_n_params(u); i++) {
            gs_param *q = gs_test_param(u, i), *p = tu_param_named(t, ref_local_name(q));
            memcpy(q->value.data, p->value.data, gs_tensor_bytes(&p->value));
        }
        step(t, 30);
        step(u, 30);
        const gs_tensor *dx = gs_test_input_grad(t), *dxb = gs_test_input_grad(u);
        double res = record(t, "residual_grad_norm"), sc = record(t, "shortcut_grad_norm");
        double diff = 0;
        for (size_t i = 0; i < gs_tensor_numel(dx); i++)
            diff += (tu_get(dx, i) - tu_get(dxb, i)) * (tu_get(dx, i) - tu_get(dxb, i));
        ck_assert_msg(fabs(res - norm2(dxb)) <= 1e-12 * norm2(dxb), "%s: branch %.15g, want %.15g",
                      with[v], res, norm2(dxb));
        ck_assert_msg(fabs(sc - sqrt(diff)) <= 1e-12 * sqrt(diff), "%s: shortcut %.15g, want %.15g",
                      with[v], sc, sqrt(diff));
        ck_assert_double_eq(record(u, "shortcut_grad_norm"), 0.0);
        ck_assert_double_eq_tol(record(u, "residual_grad_norm"), norm2(dxb), 1e-12 * norm2(dxb));
        if (v == 1) { /* option A, pre form: dy on channels 0, 1 */
            const gs_tensor *dy = gs_test_output_grad(t);
            double s = 0;
            for (size_t i = 0; i < N; i++)
                for (size_t k = 0; k < 2 * 9; k++) {
                    double g = tu_get(dy, i * 4 * 9 + k);
                    s += g * g;
                }
            ck_assert_msg(fabs(sc - 0.7 * sqrt(s)) <= 1e-12 * sc, "pad: %.15g vs %.15g", sc,
                          0.7 * sqrt(s));
        }
        gs_test_model_free(t);
        gs_test_model_free(u);
    }
}
END_TEST

/* ---- shapes and parameter counts ---- */

typedef struct shape_case {
    const char *params;
    size_t c, h, w;
    size_t oc, oh, ow, params_total;
} shape_case;

static const shape_case shape_cases[] = {
    /* two 3x3 convs 3->3 with bias, identity shortcut */
    {"", 3, 8, 8, 3, 8, 8, 2 * (81 + 3)},
    /* post, batchnorm: conv 3->8 s2, bn, conv 8->8, bn (no biases); projection 1x1 + bn */
    {"units = 8; stride = 2; form = \"post\"; norm = \"batchnorm\";", 3, 7, 7, 8, 4, 4,
     216 + 16 + 576 + 16 + 24 + 16},
    /* option A has no parameters; ceil(28 / 2) = 14 */
    {"units = 32; stride = 2; shortcut = \"pad\"; norm = \"batchnorm\";", 16, 28, 28, 32, 14, 14,
     32 + 16 * 32 * 9 + 64 + 32 * 32 * 9 + 32},
    /* none: a plain block, stride 2 on odd sizes: floor((9 + 2 - 3) / 2) + 1 = 5 */
    {"units = 4; stride = 2; shortcut = \"none\"; form = \"post\"; norm = \"batchnorm\";", 2, 9,
     8, 4, 5, 4, 72 + 8 + 144 + 8},
    /* bottleneck 16 -> 4 -> 4 -> 16, bn after each, identity shortcut */
    {"units = 16; branch = \"bottleneck\"; form = \"post\"; norm = \"batchnorm\";", 16, 4, 4,
     16, 4, 4, 64 + 8 + 144 + 8 + 64 + 32},
    /* pre bottleneck with stride and projection: the last conv keeps its bias */
    {"units = 8; stride = 2; branch = \"bottleneck\"; norm = \"batchnorm\";", 4, 6, 6, 8, 3, 3,
     8 + 8 + 4 + 36 + 4 + (16 + 8) + 32 + 16},
    /* depth 3, no norm: biases everywhere, a biased 1x1 projection */
    {"units = 2; depth = 3;", 1, 3, 3, 2, 3, 3, (18 + 2) + 2 * (36 + 2) + 2 + 2},
};

START_TEST(output_shapes_and_parameter_counts)
{
    const shape_case *c = &shape_cases[_i];
    gs_test_model *t = build(c->params, tu_image(c->c, c->h, c->w), 2, GS_F32, 1);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_int_eq(out.layout, GS_LAYOUT_IMAGE);
    ck_assert_msg(out.dims[0] == c->oc && out.dims[1] == c->oh && out.dims[2] == c->ow,
                  "%s: (%zu, %zu, %zu), want (%zu, %zu, %zu)", c->params, out.dims[0],
                  out.dims[1], out.dims[2], c->oc, c->oh, c->ow);
    ck_assert_msg(gs_test_param_count(t) == c->params_total, "%s: %zu parameters, want %zu",
                  c->params, gs_test_param_count(t), c->params_total);
    gs_test_model_free(t);
}
END_TEST

/* Option A by definition: y = x[:, :, ::2, ::2] padded with zero channels
   + F(x), in the mlp form without norm. */
START_TEST(pad_shortcut_subsamples_and_appends_zero_channels)
{
    gs_test_model *t = build("units = 3; stride = 2; shortcut = \"pad\"; form = \"mlp\";",
                             tu_image(2, 5, 4), 2, GS_F64, 3);
    gs_test_model *u = build("units = 3; stride = 2; shortcut = \"none\"; form = \"mlp\";",
                             tu_image(2, 5, 4), 2, GS_F64, 3);
    for (size_t i = 0; i < gs_test_n_params(u); i++)
        memcpy(gs_test_param(u, i)->value.data, gs_test_param(t, i)->value.data,
               gs_tensor_bytes(&gs_test_param(t, i)->value));
    tu_fill(gs_test_input(t), 4, 0.0, 1.0);
    memcpy(gs_test_input(u)->data, gs_test_input(t)->data, gs_tensor_bytes(gs_test_input(t)));
    gs_test_forward(t, 1);
    gs_test_forward(u, 1);
    const gs_tensor *x = gs_test_input(t), *y = gs_test_output(t), *f = gs_test_output(u);
    for (size_t n = 0; n < 2; n++)
        for (size_t c = 0; c < 3; c++)
            for (size_t r = 0; r < 3; r++)
                for (size_t q = 0; q < 2; q++) {
                    size_t o = ((n * 3 + c) * 3 + r) * 2 + q;
                    double s = c < 2 ? tu_get(x, ((n * 2 + c) * 5 + 2 * r) * 4 + 2 * q) : 0;
                    ck_assert_double_eq_tol(tu_get(y, o), tu_get(f, o) + s, 1e-14);
                }
    gs_test_model_free(t);
    gs_test_model_free(u);
}
END_TEST

/* zero_init_residual (Goyal et al. 2017): the branch's last batch norm
   starts with gamma = 0, the others with 1, so the post block starts as
   relu(s(x)); after a step the zero gamma learns like any other. */
START_TEST(zero_init_residual_starts_the_block_as_its_shortcut)
{
    gs_test_model *t =
        build("units = 4; form = \"post\"; norm = \"batchnorm\"; zero_init_residual = true;",
              tu_image(4, 3, 3), 2, GS_F64, 5);
    const gs_tensor *g_last = &tu_param_named(t, "norm1.weight")->value;
    const gs_tensor *g_first = &tu_param_named(t, "norm0.weight")->value;
    for (size_t i = 0; i < 4; i++) {
        ck_assert_double_eq(tu_get(g_last, i), 0.0);
        ck_assert_double_eq(tu_get(g_first, i), 1.0);
    }
    tu_fill(gs_test_input(t), 6, 0.0, 1.0);
    gs_test_forward(t, 1);
    const gs_tensor *x = gs_test_input(t), *y = gs_test_output(t);
    for (size_t i = 0; i < gs_tensor_numel(y); i++)
        ck_assert_double_eq_tol(tu_get(y, i), fmax(tu_get(x, i), 0.0), 1e-15);
    /* gamma's own gradient is not zero: the branch can grow */
    tu_fill(gs_test_output_grad(t), 7, 0.0, 1.0);
    gs_test_backward(t);
    ck_assert_double_gt(norm2(&tu_param_named(t, "norm1.weight")->grad), 0.0);
    gs_test_model_free(t);
    /* without the key every gamma starts at 1 */
    t = build("units = 4; form = \"post\"; norm = \"batchnorm\";", tu_image(4, 3, 3), 2,
              GS_F64, 5);
    ck_assert_double_eq(tu_get(&tu_param_named(t, "norm1.weight")->value, 0), 1.0);
    gs_test_model_free(t);
}
END_TEST

/* ---- bad inputs ---- */

static void refused(const char *params, gs_shape in, const char *const *want, size_t n_want)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    ck_assert_msg(gs_test_model_add(t, "resnet", params, &err) != 0, "resnet { %s } was accepted",
                  params);
    for (size_t i = 0; i < n_want; i++)
        ck_assert_msg(strstr(err.msg, want[i]) != NULL, "resnet { %s }: '%s' lacks '%s'", params,
                      err.msg, want[i]);
    gs_test_model_free(t);
}

START_TEST(bad_configurations_are_refused)
{
    const char *stride[] = {"resnet: stride needs an image input", "a vector (C) = (6)"};
    refused("stride = 2;", vec(6), stride, 2);
    const char *bneck[] = {"branch = \"bottleneck\" needs an image input", "a vector (C) = (6)"};
    refused("branch = \"bottleneck\"; units = 8;", vec(6), bneck, 2);
    const char *div[] = {"divisible by 4", "got 6"};
    refused("branch = \"bottleneck\"; units = 6;", tu_image(2, 4, 4), div, 2);
    refused("branch = \"bottleneck\";", tu_image(6, 4, 4), div, 2); /* units 0 keeps 6 channels */
    const char *depth[] = {"depth = 3 applies to the basic branch only"};
    refused("branch = \"bottleneck\"; depth = 3;", tu_image(8, 4, 4), depth, 1);
    const char *shrink[] = {"shortcut = \"pad\" cannot drop channels",
                            "an image (C, H, W) = (8, 6, 6)", "an image (C, H, W) = (4, 3, 3)"};
    refused("units = 4; stride = 2; shortcut = \"pad\";", tu_image(8, 6, 6), shrink, 3);
    const char *shrink_v[] = {"cannot drop channels", "a vector (C) = (6)", "a vector (C) = (4)"};
    refused("units = 4; shortcut = \"pad\";", vec(6), shrink_v, 3);
    const char *bad[] = {"shortcut"};
    refused("shortcut = \"B\";", tu_image(2, 4, 4), bad, 1);
    const char *bad_branch[] = {"branch"};
    refused("branch = \"wide\";", tu_image(2, 4, 4), bad_branch, 1);
    const char *zero[] = {"stride"};
    refused("stride = 0;", tu_image(2, 4, 4), zero, 1);
    /* zero_init_residual needs a batch norm that ends F */
    const char *zi_pre[] = {"zero_init_residual needs F to end in a batch norm",
                            "form = \"pre\", norm = \"batchnorm\""};
    refused("norm = \"batchnorm\"; zero_init_residual = true;", tu_image(2, 4, 4), zi_pre, 2);
    const char *zi_ln[] = {"zero_init_residual", "norm = \"layernorm\""};
    refused("form = \"post\"; norm = \"layernorm\"; zero_init_residual = true;",
            tu_image(2, 4, 4), zi_ln, 2);
    /* a sequence is neither a vector nor an image */
    const char *seq[] = {"needs an image input", "a sequence (T, C) = (3, 4)"};
    refused("stride = 2;", (gs_shape){.layout = GS_LAYOUT_SEQUENCE, .ndim = 2, .dims = {3, 4}},
            seq, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resnet_conv");
    TCase *tc = tu_tcase(s, "reference", setup, teardown, 0);
    tcase_add_test(tc, matches_pytorch_in_double);
    tcase_add_test(tc, matches_pytorch_in_float);
    tc = tu_tcase(s, "gradients", setup, teardown, 60);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, TU_COUNT(fd_cases));
    tcase_add_test(tc, a_small_network_matches_finite_differences);
    tcase_add_loop_test(tc, check_plugin_passes_on_images, 0, TU_COUNT(check_params));
    tcase_add_test(tc, same_bits_at_any_thread_count);
    tc = tu_tcase(s, "semantics", setup, teardown, 0);
    tcase_add_test(tc, records_shortcut_and_residual_norms);
    tcase_add_loop_test(tc, output_shapes_and_parameter_counts, 0, TU_COUNT(shape_cases));
    tcase_add_test(tc, pad_shortcut_subsamples_and_appends_zero_channels);
    tcase_add_test(tc, zero_init_residual_starts_the_block_as_its_shortcut);
    tcase_add_test(tc, bad_configurations_are_refused);
    return tu_run(s);
}
