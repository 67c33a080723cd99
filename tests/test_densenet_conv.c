/*
 * The `densenet` block and the `transition` layer on images (issue 21):
 * output, dL/dx, every parameter gradient and the batch norms' running
 * statistics against a PyTorch model written as torchvision's DenseNet
 * (tests/fixtures/densenet_reference.txt, written by
 * tests/reference/densenet_reference.py); backward against finite
 * differences in double; check-plugin; the same bits at 1 to 4
 * threads; shapes and parameter counts; the per-layer records and the
 * children's rows in a real run's gradients.csv; bad inputs.
 */
#include <math.h>
#include <stdio.h>
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

static ref_set cases;

/* "case NAME TYPE", "params ...", "shape N C H W", tensors, "end". */
static void load_reference(void)
{
    static const char *const text_keys[] = {"params", "shape", NULL};
    ref_load(&cases, "densenet_reference.txt", text_keys);
    ck_assert_uint_ge(cases.n, 7);
}

/* Runs case c in dtype dt, its errors into w.  Every learnable tensor and
   every running statistic must have its reference. */
static void run_case(const ref_case *c, gs_dtype dt, ref_worst *w)
{
    size_t N, C, H, W;
    ck_assert_int_eq(sscanf(ref_text(c, "shape"), "%zu %zu %zu %zu", &N, &C, &H, &W), 4);
    gs_test_model *t = build(c->head, ref_text(c, "params"), tu_image(C, H, W), N, dt, 1);
    ref_set_params(t, c);
    ref_step(t, c, w);
    ref_compare_params(t, c, w);
    /* and nothing of the reference is left unused: 4 batch tensors, and
       2 per learnable tensor or 1 per running statistic */
    size_t want = 4;
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        want += gs_test_param(t, i)->role == GS_ROLE_BUFFER ? 1 : 2;
    ck_assert_msg(c->nt == want, "%s: %zu reference tensors, the model uses %zu", c->name, c->nt,
                  want);
    gs_test_model_free(t);
}

START_TEST(matches_pytorch_in_double)
{
    load_reference();
    ref_check_all(&cases, run_case, GS_F64, 1e-12);
}
END_TEST

START_TEST(matches_pytorch_in_float)
{
    load_reference();
    ref_check_all(&cases, run_case, GS_F32, 1e-5);
}
END_TEST

/* ---- finite differences ---- */

typedef struct fd_case {
    const char *types[3], *params[3];
    gs_shape in;
    int training;
} fd_case;

#define I3(c, h, w) {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {c, h, w}}
static const fd_case fd_cases[] = {
    {{"densenet"}, {"layers = 2; growth = 3; norm = \"batchnorm\";"}, I3(2, 4, 4), 1},
    {{"densenet"}, {"layers = 3; growth = 2; bottleneck = 4; norm = \"batchnorm\";"},
     I3(3, 3, 3), 1},
    {{"densenet"}, {"layers = 2; growth = 3; bottleneck = 4; activation = \"tanh\";"},
     I3(2, 3, 4), 1},
    {{"densenet"}, {"layers = 2; growth = 2; norm = \"layernorm\"; activation = \"elu\";"},
     I3(2, 3, 3), 1},
    {{"densenet"}, {"layers = 2; growth = 3; norm = \"batchnorm\";"}, I3(2, 4, 3), 0},
    {{"transition"}, {"compression = 0.5; norm = \"batchnorm\";"}, I3(4, 4, 4), 1},
    {{"transition"}, {"compression = 0.5; norm = \"batchnorm\";"}, I3(5, 5, 3), 1},
    {{"transition"}, {"compression = 1.0; pool = 0; activation = \"tanh\";"}, I3(3, 3, 3), 1},
    {{"transition"}, {"compression = 0.7; pool = 3; norm = \"layernorm\";"}, I3(4, 7, 6), 1},
    /* a DenseNet-BC in small: block, transition, block */
    {{"densenet", "transition", "densenet"},
     {"layers = 2; growth = 2; bottleneck = 8; norm = \"batchnorm\";",
      "compression = 0.5; norm = \"batchnorm\";", "layers = 1; growth = 2; norm = \"batchnorm\";"},
     I3(2, 5, 4), 1},
};
#undef I3

START_TEST(backward_matches_finite_differences)
{
    const fd_case *c = &fd_cases[_i];
    size_t n = 0;
    while (n < 3 && c->types[n])
        n++;
    gs_test_model *t = build_layers(c->types, c->params, n, c->in, 3, GS_F64,
                                    100 + (uint64_t)_i);
    char label[256];
    snprintf(label, sizeof label, "%s { %s }...", c->types[0], c->params[0]);
    tu_fd_case(t, _i, c->training, label);
}
END_TEST

/* ---- determinism ---- */

/* Output, input gradient and every parameter gradient of one batch. */
START_TEST(same_bits_at_any_thread_count)
{
    const char *types[] = {"densenet", "transition", "densenet"};
    const char *params[] = {"layers = 3; growth = 8; bottleneck = 32; norm = \"batchnorm\";",
                            "compression = 0.5; norm = \"batchnorm\";",
                            "layers = 2; growth = 8; norm = \"batchnorm\";"};
    /* 13 examples: three full groups of the conv's gradient sums and a
       partial one */
    tu_net net = {reg, types, params, 3, tu_image(5, 9, 10), 13};
    tu_same_bits_at_threads(tu_net_step_values, &net, 4, "densenet");
}
END_TEST

/* ---- shapes and parameter counts ---- */

typedef struct shape_case {
    const char *type, *params;
    size_t c, h, w, oc, oh, ow, params_total;
} shape_case;

static const shape_case shape_cases[] = {
    /* 3 + 4 * 12 channels; conv weights 12 (3 + 12 i) 9, no bias */
    {"densenet", "layers = 4; growth = 12;", 3, 8, 8, 51, 8, 8, 12 * 9 * (12 + 12 * 6)},
    /* batch norms 2 (3 + 12 i) */
    {"densenet", "layers = 4; growth = 12; norm = \"batchnorm\";", 3, 8, 8, 51, 8, 8,
     12 * 9 * (12 + 12 * 6) + 2 * (12 + 12 * 6)},
    /* DenseNet-B: per layer 1x1 (3 + 12 i) -> 48, norm 48, 3x3 48 -> 12 */
    {"densenet", "layers = 2; growth = 12; bottleneck = 48; norm = \"batchnorm\";", 3, 5, 7, 27,
     5, 7, 48 * (3 + 15) + 2 * (3 + 15) + 2 * (2 * 48 + 48 * 12 * 9)},
    /* floor(0.5 * 24) = 12; 2x2 pooling floors 7 to 3 */
    {"transition", "compression = 0.5; norm = \"batchnorm\";", 24, 7, 8, 12, 3, 4,
     12 * 24 + 2 * 24},
    {"transition", "compression = 1.0;", 24, 8, 8, 24, 4, 4, 24 * 24},
    {"transition", "compression = 0.5; pool = 0;", 5, 3, 3, 2, 3, 3, 10},
    {"transition", "compression = 0.3; pool = 3;", 10, 9, 10, 3, 3, 3, 30},
};

START_TEST(output_shapes_and_parameter_counts)
{
    const shape_case *c = &shape_cases[_i];
    gs_test_model *t = build(c->type, c->params, tu_image(c->c, c->h, c->w), 2, GS_F32, 1);
    gs_shape out = gs_test_output_shape(t);
    ck_assert_int_eq(out.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(out.ndim, 3);
    ck_assert_msg(out.dims[0] == c->oc && out.dims[1] == c->oh && out.dims[2] == c->ow,
                  "%s { %s }: (%zu, %zu, %zu), want (%zu, %zu, %zu)", c->type, c->params,
                  out.dims[0], out.dims[1], out.dims[2], c->oc, c->oh, c->ow);
    ck_assert_uint_eq(gs_test_param_count(t), c->params_total);
    /* no convolution inside has a bias */
    for (size_t i = 0; i < gs_test_n_params(t); i++)
        ck_assert_int_ne(gs_test_param(t, i)->role, GS_ROLE_BIAS);
    gs_test_model_free(t);
}
END_TEST

/* The block's output holds x and then each layer's k channels: the first
   C channels of every example are x itself, and layer i's channels are
   what a lone conv with the same weights makes of [x, h_1..h_{i-1}]. */
START_TEST(output_is_the_channel_concatenation)
{
    enum { N = 2, C = 2, H = 3, W = 4, K = 3, P = H * W };
    gs_test_model *t = build("densenet", "layers = 2; growth = 3; activation = \"identity\";",
                             tu_image(C, H, W), N, GS_F64, 3);
    tu_fill(gs_test_input(t), 4, 0.0, 1.0);
    gs_test_forward(t, 1);
    const double *x = gs_test_input(t)->data, *y = gs_test_output(t)->data;
    const double *w1 = tu_param_named(t, "l1.conv.weight")->value.data;
    const double *w2 = tu_param_named(t, "l2.conv.weight")->value.data;
    size_t Y = (C + 2 * K) * P;
    for (size_t e = 0; e < N; e++) {
        for (size_t i = 0; i < C * P; i++)
            ck_assert_double_eq(y[e * Y + i], x[e * C * P + i]);
        /* both layers by definition from y's own channels */
        for (size_t layer = 0; layer < 2; layer++) {
            size_t cin = C + layer * K;
            const double *wt = layer ? w2 : w1;
            for (size_t o = 0; o < K; o++)
                for (size_t r = 0; r < H; r++)
                    for (size_t q = 0; q < W; q++) {
                        double s = 0;
                        for (size_t c = 0; c < cin; c++)
                            for (size_t a = 0; a < 3; a++)
                                for (size_t b = 0; b < 3; b++) {
                                    long rr = (long)(r + a) - 1, qq = (long)(q + b) - 1;
                                    if (rr >= 0 && rr < H && qq >= 0 && qq < W)
                                        s += wt[((o * cin + c) * 3 + a) * 3 + b] *
                                             y[e * Y + c * P + (size_t)rr * W + (size_t)qq];
                                }
                        double got = y[e * Y + (cin + o) * P + r * W + q];
                        ck_assert_msg(fabs(got - s) <= 1e-13 * fmax(1, fabs(s)),
                                      "layer %zu: %g vs %g", layer + 1, got, s);
                    }
        }
    }
    gs_test_model_free(t);
}
END_TEST

/* layerI_grad_norm is the norm of everything that reaches h_i: its slot of
   dL/dy plus what the later layers send back.  The last layer gets only
   its slot; the first, checked through a one-layer block on [x, h_1]. */
START_TEST(records_each_layers_total_gradient)
{
    enum { N = 2, C = 2, H = 3, W = 3, K = 2, P = H * W, Y = (C + 2 * K) * P };
    gs_test_model *t = build("densenet", "layers = 2; growth = 2; norm = \"batchnorm\";",
                             tu_image(C, H, W), N, GS_F64, 1);
    tu_nudge(t, 2, 0.2);
    tu_fill(gs_test_input(t), 3, 0.0, 1.0);
    gs_test_set_monitoring(t, 1);
    gs_test_forward(t, 1);
    tu_fill(gs_test_output_grad(t), 4, 0.0, 1.0);
    gs_test_backward(t);
    const double *dy = gs_test_output_grad(t)->data;
    double want2 = 0, got1 = NAN, got2 = NAN;
    for (size_t e = 0; e < N; e++)
        for (size_t j = 0; j < K * P; j++)
            want2 += dy[e * Y + (C + K) * P + j] * dy[e * Y + (C + K) * P + j];
    for (size_t i = 0; i < gs_test_n_records(t); i++) {
        int layer;
        const char *key;
        double v;
        ck_assert_int_eq(gs_test_record(t, i, &layer, &key, &v), 0);
        if (strcmp(key, "layer1_grad_norm") == 0)
            got1 = v;
        else if (strcmp(key, "layer2_grad_norm") == 0)
            got2 = v;
    }
    ck_assert_msg(fabs(got2 - sqrt(want2)) <= 1e-12 * sqrt(want2), "layer 2: %g vs %g", got2,
                  sqrt(want2));
    /* layer 1's total exceeds its own slot of dy: layer 2 sends to it */
    double slot1 = 0;
    for (size_t e = 0; e < N; e++)
        for (size_t j = 0; j < K * P; j++)
            slot1 += dy[e * Y + C * P + j] * dy[e * Y + C * P + j];
    ck_assert(isfinite(got1));
    ck_assert_msg(fabs(got1 - sqrt(slot1)) > 1e-6, "layer 1 saw only its slot");
    gs_test_model_free(t);
}
END_TEST

/* ---- a real run: the children's rows in gradients.csv ---- */

static const char *run_cfg =
    "name = \"dn\";\n"
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"images\"; classes = 3; image_size = 8; "
    "samples = 48; test_samples = 0; };\n"
    "model = { layers = (\n"
    "  { type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; bias = false; },\n"
    "  { type = \"densenet\"; layers = 2; growth = 2; bottleneck = 8; norm = \"batchnorm\"; },\n"
    "  { type = \"transition\"; compression = 0.5; norm = \"batchnorm\"; },\n"
    "  { type = \"global_avgpool\"; },\n"
    "  { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.05; };\n"
    "training = { epochs = 1; batch_size = 16; };\n"
    "monitor = { every = 1; };\n";

START_TEST(children_are_monitored_in_a_run)
{
    char *dir = tu_tempdir(), *cfg = tu_path(dir, "dn.cfg"), *out = tu_path(dir, "run");
    tu_write(cfg, run_cfg);
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, cfg, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_msg(gs_experiment_run(e, &opt, &err) == GS_EXIT_OK, "%s", err.msg);
    gs_experiment_free(e);
    char *grads_path = tu_path(out, "gradients.csv"), *paths_path = tu_path(out, "paths.csv");
    char *grads = tu_read(grads_path, NULL), *paths = tu_read(paths_path, NULL);
    ck_assert_ptr_nonnull(grads);
    ck_assert_ptr_nonnull(paths);
    static const char *const rows[] = {
        "\n0,1,l1.norm.weight,",   "\n0,1,l1.bottleneck.weight,", "\n0,1,l1.norm2.weight,",
        "\n0,1,l1.conv.weight,",   "\n0,1,l2.conv.weight,",       "\n2,1,l2.bottleneck.weight,",
        "\n0,2,norm.weight,",      "\n0,2,conv.weight,",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(strstr(grads, rows[i]) != NULL, "gradients.csv lacks '%s'", rows[i] + 1);
    ck_assert_ptr_nonnull(strstr(paths, "\n0,1,layer1_grad_norm,"));
    ck_assert_ptr_nonnull(strstr(paths, "\n2,1,layer2_grad_norm,"));
    free(grads);
    free(paths);
    free(grads_path);
    free(paths_path);
    tu_rmrf(dir);
    free(cfg);
    free(out);
    free(dir);
}
END_TEST

/* ---- the generic check, on images ---- */

static const char *const names[] = {"densenet", "transition"};

START_TEST(check_plugin_passes)
{
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_LAYER, names[_i]);
    ck_assert_msg(ci != NULL, "%s is not installed", names[_i]);
    gs_check_result res;
    ck_assert_msg(gs_check_component(reg, ci, &res) == 1, "%s: %s", res.component, res.detail);
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
    const char *pool_vec[] = {"transition: pool = 3 needs an image input",
                              "a vector (C) = (12)"};
    refused("transition", "pool = 3;", vec, pool_vec, 2);
    const char *small[] = {"transition: 2x2 pooling needs H, W >= 2",
                           "an image (C, H, W) = (4, 1, 5)"};
    refused("transition", "", tu_image(4, 1, 5), small, 2);
    const char *none[] = {"compression 0.2 of 4 channels leaves no channels"};
    refused("transition", "compression = 0.2;", tu_image(4, 3, 3), none, 1);
    /* a conv after the block that expects other channels names both */
    gs_error err;
    gs_shape in = tu_image(3, 4, 4);
    gs_test_model *t = gs_test_model_new(reg, GS_F32, 1, &in);
    ck_assert_int_eq(gs_test_model_add(t, "densenet", "layers = 2; growth = 4;", &err), 0);
    ck_assert_int_ne(
        gs_test_model_add(t, "conv2d", "channels = 2; kernel = 1; in_channels = 3;", &err), 0);
    ck_assert_msg(strstr(err.msg, "in_channels = 3") && strstr(err.msg, "(11, 4, 4)"), "%s",
                  err.msg);
    gs_test_model_free(t);
    /* the vector forms still take vectors: pool is left alone there */
    t = gs_test_model_new(reg, GS_F32, 1, &vec);
    ck_assert_msg(gs_test_model_add(t, "transition", "pool = 0;", &err) == 0, "%s", err.msg);
    gs_test_model_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("densenet_conv");
    TCase *tc = tu_tcase(s, "reference", setup, teardown, 0);
    tcase_add_test(tc, matches_pytorch_in_double);
    tcase_add_test(tc, matches_pytorch_in_float);
    tc = tu_tcase(s, "gradients", setup, teardown, 0);
    tcase_add_loop_test(tc, backward_matches_finite_differences, 0, TU_COUNT(fd_cases));
    tcase_add_loop_test(tc, check_plugin_passes, 0, TU_COUNT(names));
    tcase_add_test(tc, same_bits_at_any_thread_count);
    tc = tu_tcase(s, "semantics", setup, teardown, 0);
    tcase_add_loop_test(tc, output_shapes_and_parameter_counts, 0, TU_COUNT(shape_cases));
    tcase_add_test(tc, output_is_the_channel_concatenation);
    tcase_add_test(tc, records_each_layers_total_gradient);
    tcase_add_test(tc, children_are_monitored_in_a_run);
    tcase_add_test(tc, bad_inputs_are_refused_with_both_shapes);
    return tu_run(s);
}
