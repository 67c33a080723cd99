/*
 * gradscope new-plugin KIND NAME [DIR]: writes DIR/NAME.c, a skeleton plugin
 * of that kind, and DIR/Makefile, which builds it against the installed SDK
 * through pkg-config.  A skeleton's math is a correct placeholder, so that
 * it builds, passes check-plugin and runs from the start; TODO marks each
 * place where the real math goes.  The templates are compiled in: the
 * installed program needs no data files.
 */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "gradscope/gradscope.h"
#include "cli.h"


/* @NAME@ is the component name, also the C prefix and the file name;
   @KIND@ the kind's name. */
static const char tpl_activation[] =
    "/*\n"
    " * @NAME@: an activation plugin for gradscope, made by `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   GRADSCOPE_PLUGIN_PATH=$PWD gradscope run my.cfg --set model.layers.[0].activation=@NAME@\n"
    " *\n"
    " * <gradscope/activation.h> turns the two expressions below into the float\n"
    " * and double kernels.  For learnable parameters (n_params, init_params and\n"
    " * a dtheta in backward) see the pswish walkthrough in PLUGINS.md and\n"
    " * examples/plugins/pswish in the documentation directory.\n"
    " */\n"
    "#include <gradscope/activation.h>\n"
    "\n"
    "enum { P_SCALE };\n"
    "\n"
    "/*\n"
    " * SETUP, FWD (y from x) and BWD (dL/dx from x, y and dy), each compiled with\n"
    " * T = float and T = double; write constants as GS_C(v).\n"
    " */\n"
    "GS_ELEMENTWISE_ACTIVATION(@NAME@, const T scale = GS_C(c->p[P_SCALE].f);,\n"
    "                          /* TODO: y = f(x); the placeholder is scale * x */\n"
    "                          scale * x,\n"
    "                          /* TODO: dL/dx = f'(x) * dy */\n"
    "                          scale * dy)\n"
    "\n"
    "/* Recommended gain of the initializers' gain = \"auto\" (torch calculate_gain). */\n"
    "static double @NAME@_gain(const gs_value *p)\n"
    "{\n"
    "    (void)p;\n"
    "    return 1.0; /* TODO */\n"
    "}\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_SCALE] = {.name = \"scale\", .type = GS_P_FLOAT, .def.f = 1.0, .min = GS_ANY,\n"
    "                 .doc = \"slope of the placeholder f(x) = scale * x\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "/* The last argument: units whose |f'(x)| falls below it count as saturated\n"
    "   (sigmoid, tanh); 0 for a non-saturating activation. */\n"
    "static const gs_activation_ops @NAME@_ops = GS_ACTIVATION_OPS(@NAME@, @NAME@_gain, 0.0);\n"
    "\n"
    "static const gs_component @NAME@_components[] = {\n"
    "    GS_ACTIVATION_COMPONENT(\"@NAME@\", \"@NAME@ activation\", @NAME@_params, @NAME@_ops),\n"
    "};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ activation\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_initializer[] =
    "/*\n"
    " * @NAME@: an initializer plugin for gradscope, made by `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   GRADSCOPE_PLUGIN_PATH=$PWD gradscope run my.cfg --set model.init=@NAME@\n"
    " */\n"
    "#include <math.h>\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_GAIN };\n"
    "\n"
    "/*\n"
    " * Fills the numel(dims) values of one parameter tensor.  Random numbers come\n"
    " * only from c->rng through the host, so a run is fixed by its seed.  Also at\n"
    " * hand: c->fan_in, c->fan_out, and c->activation_gain, the gain recommended\n"
    " * by the activation that follows the layer.\n"
    " */\n"
    "static int @NAME@_fill(const gs_init_call *c, double *out)\n"
    "{\n"
    "    size_t n = 1;\n"
    "    for (int d = 0; d < c->ndim; d++)\n"
    "        n *= c->dims[d];\n"
    "    /* TODO: the distribution; the placeholder is N(0, gain^2 / fan_in) */\n"
    "    const double std = c->p[P_GAIN].f / sqrt((double)(c->fan_in ? c->fan_in : 1));\n"
    "    for (size_t k = 0; k < n; k++)\n"
    "        out[k] = std * c->host->rng_normal(c->rng);\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_GAIN] = {.name = \"gain\", .type = GS_P_FLOAT, .def.f = 1.0, .min = 0.0, .max = HUGE_VAL,\n"
    "                .doc = \"scale of the placeholder std gain / sqrt(fan_in)\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "static const gs_initializer_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_initializer_ops),\n"
    "    .fill = @NAME@_fill,\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_INITIALIZER,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ initializer\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ initializer\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_optimizer[] =
    "/*\n"
    " * @NAME@: an optimizer plugin for gradscope, made by `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   GRADSCOPE_PLUGIN_PATH=$PWD gradscope run my.cfg --set optimizer=@NAME@\n"
    " *\n"
    " * The core reads the parameters named lr (the base learning rate, which the\n"
    " * schedule scales into c->lr) and weight_decay (applied per parameter group\n"
    " * as the training settings say, passed as c->weight_decay).\n"
    " */\n"
    "#include <math.h>\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_LR, P_WEIGHT_DECAY };\n"
    "\n"
    "/* Floats of state per parameter element (Adam: 2); the state starts at 0. */\n"
    "static size_t @NAME@_state_slots(const gs_value *p)\n"
    "{\n"
    "    (void)p;\n"
    "    return 0; /* TODO */\n"
    "}\n"
    "\n"
    "/* One step over n elements of a tensor; c->t is 1 on the first step and\n"
    "   slot k of element i is state[k*c->stride + i]. */\n"
    "static void @NAME@_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,\n"
    "                        float *state)\n"
    "{\n"
    "    (void)state;\n"
    "    const float lr = (float)c->lr, wd = (float)c->weight_decay;\n"
    "    /* TODO: the update; the placeholder is plain SGD with L2 decay */\n"
    "    for (size_t i = 0; i < n; i++)\n"
    "        theta[i] -= lr * (grad[i] + wd * theta[i]);\n"
    "}\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_LR] = {.name = \"lr\", .type = GS_P_FLOAT, .def.f = 0.01, .min = 0.0, .max = HUGE_VAL,\n"
    "              .doc = \"base learning rate\"},\n"
    "    [P_WEIGHT_DECAY] = {.name = \"weight_decay\", .type = GS_P_FLOAT, .def.f = 0.0, .min = 0.0,\n"
    "                        .max = HUGE_VAL, .doc = \"L2 penalty added to the gradient\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "static const gs_optimizer_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_optimizer_ops),\n"
    "    .state_slots = @NAME@_state_slots,\n"
    "    .step = @NAME@_step,\n"
    "    /* element i's update reads element i alone: the core may step ranges of a\n"
    "       tensor on several threads (clear it for a rule that uses a whole tensor,\n"
    "       such as its norm; check-plugin tests the claim) */\n"
    "    .elementwise = 1,\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_OPTIMIZER,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ optimizer\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ optimizer\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_layer[] =
    "/*\n"
    " * @NAME@: an architecture block (layer) plugin for gradscope, made by\n"
    " * `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   in an experiment:                 { type = \"@NAME@\"; units = 64; }\n"
    " *\n"
    " * The block owns one dense child F built through the host; add parameters\n"
    " * (host->add_param), work buffers (host->add_buffer) and more children the\n"
    " * same way (<gradscope/layer.h> has chains of children, norms and scalar\n"
    " * gains).  Tensors are GS_F32 in training and GS_F64 when gradients are\n"
    " * checked (supports_f64; without it the check runs in float32, looser);\n"
    " * host->gemm, axpy, add_row_vector and sum_rows handle both.  The input's\n"
    " * layout (in->layout: vector, image or sequence) says where its channels\n"
    " * are; set out->layout for the output (zero is a vector).\n"
    " */\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_UNITS, P_ACTIVATION, P_INIT };\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_UNITS] = {.name = \"units\", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1 << 20,\n"
    "                 .doc = \"output width; 0 keeps the input width\"},\n"
    "    [P_ACTIVATION] = {.name = \"activation\", .type = GS_P_COMPONENT, .def.s = \"relu\",\n"
    "                      .component_kind = GS_KIND_ACTIVATION, .min = GS_ANY,\n"
    "                      .doc = \"activation of the dense child\"},\n"
    "    [P_INIT] = {.name = \"init\", .type = GS_P_COMPONENT, .def.s = \"he\",\n"
    "                .component_kind = GS_KIND_INITIALIZER, .min = GS_ANY,\n"
    "                .doc = \"initializer of the dense child's weight\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "typedef struct @NAME@_state {\n"
    "    const gs_host *host;\n"
    "    gs_module *f; /* the dense child */\n"
    "} @NAME@_state;\n"
    "\n"
    "static int @NAME@_build(gs_module *m, const gs_value *p, const gs_shape *in, gs_shape *out)\n"
    "{\n"
    "    const gs_host *h = gs_host_of(m);\n"
    "    @NAME@_state *s = h->zalloc(sizeof *s);\n"
    "    h->set_state(m, s);\n"
    "    s->host = h;\n"
    "    size_t units = p[P_UNITS].i ? (size_t)p[P_UNITS].i : gs_shape_numel(in);\n"
    "    gs_ref *dense = h->ref_new(m, GS_KIND_LAYER, \"dense\");\n"
    "    if (!dense || h->ref_set_int(dense, \"units\", (int64_t)units) < 0 ||\n"
    "        h->ref_set_ref(dense, \"activation\", p[P_ACTIVATION].ref) < 0 ||\n"
    "        h->ref_set_ref(dense, \"init\", p[P_INIT].ref) < 0)\n"
    "        return -1;\n"
    "    s->f = h->add_child(m, \"f\", dense, in, out);\n"
    "    return s->f ? 0 : -1;\n"
    "}\n"
    "\n"
    "static void @NAME@_forward(gs_module *m, const gs_tensor *x, gs_tensor *y, int training)\n"
    "{\n"
    "    @NAME@_state *s = gs_host_of(m)->get_state(m);\n"
    "    /* TODO: the block's forward; the placeholder is y = F(x) */\n"
    "    s->host->forward(s->f, x, y, training);\n"
    "}\n"
    "\n"
    "/* Accumulates parameter gradients and, when dx != NULL, writes dx = dL/dx. */\n"
    "static void @NAME@_backward(gs_module *m, const gs_tensor *x, const gs_tensor *y,\n"
    "                            const gs_tensor *dy, gs_tensor *dx)\n"
    "{\n"
    "    @NAME@_state *s = gs_host_of(m)->get_state(m);\n"
    "    /* TODO: the block's backward; the placeholder back-propagates through F */\n"
    "    s->host->backward(s->f, x, y, dy, dx);\n"
    "}\n"
    "\n"
    "static void @NAME@_destroy(gs_module *m)\n"
    "{\n"
    "    const gs_host *h = gs_host_of(m);\n"
    "    h->free(h->get_state(m));\n"
    "}\n"
    "\n"
    "static const gs_layer_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_layer_ops),\n"
    "    .build = @NAME@_build,\n"
    "    .forward = @NAME@_forward,\n"
    "    .backward = @NAME@_backward,\n"
    "    .destroy = @NAME@_destroy,\n"
    "    .supports_f64 = 1,\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_LAYER,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ block\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ block\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_loss[] =
    "/*\n"
    " * @NAME@: a loss plugin for gradscope, made by `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   GRADSCOPE_PLUGIN_PATH=$PWD gradscope run my.cfg --set loss=@NAME@\n"
    " *\n"
    " * The outputs are rows of `width`: n examples of c->steps rows each (1, or\n"
    " * T for a sequence), gs_loss_rows(c) in all; a classification loss\n"
    " * (needs_labels = 1) reads a label per row from c->labels, a regression\n"
    " * loss a row of c->targets, in the outputs' type.  Rows whose c->mask is 0\n"
    " * are padding: no loss, no gradient.\n"
    " */\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_WEIGHT };\n"
    "\n"
    "/* The mean loss over the counted rows and, when d != NULL, d(mean loss)/d(out). */\n"
    "#define @NAME@_EVAL(T, sfx)                                                    \\\n"
    "    static double @NAME@_eval_##sfx(const gs_loss_call *c, const T *out, T *d)  \\\n"
    "    {                                                                           \\\n"
    "        const T *target = c->targets;                                           \\\n"
    "        const double w = c->p[P_WEIGHT].f;                                      \\\n"
    "        const size_t rows = gs_loss_rows(c), counted = gs_loss_counted(c);      \\\n"
    "        const double inv = counted ? 1.0 / (double)counted : 0.0;               \\\n"
    "        double sum = 0;                                                         \\\n"
    "        /* TODO: the loss; the placeholder is w/2 |out - target|^2 per row */    \\\n"
    "        for (size_t r = 0; r < rows; r++) {                                     \\\n"
    "            const int on = !c->mask || c->mask[r];                              \\\n"
    "            for (size_t i = r * c->width; i < (r + 1) * c->width; i++) {        \\\n"
    "                const double e = on ? (double)out[i] - (double)target[i] : 0.0; \\\n"
    "                sum += 0.5 * w * e * e;                                         \\\n"
    "                if (d)                                                          \\\n"
    "                    d[i] = (T)(w * e * inv);                                    \\\n"
    "            }                                                                   \\\n"
    "        }                                                                       \\\n"
    "        return sum * inv;                                                       \\\n"
    "    }\n"
    "\n"
    "@NAME@_EVAL(float, f32)\n"
    "@NAME@_EVAL(double, f64)\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_WEIGHT] = {.name = \"weight\", .type = GS_P_FLOAT, .def.f = 1.0, .min = 0.0, .max = 1e6,\n"
    "                  .doc = \"factor of the placeholder loss\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "static const gs_loss_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_loss_ops),\n"
    "    .eval_f32 = @NAME@_eval_f32,\n"
    "    .eval_f64 = @NAME@_eval_f64,\n"
    "    .needs_labels = 0,\n"
    "    .per_step = 1, /* honours c->steps and c->mask */\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_LOSS,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ loss\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ loss\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_dataset[] =
    "/*\n"
    " * @NAME@: a data set plugin for gradscope, made by `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   in an experiment:                 data = { type = \"@NAME@\"; samples = 2000; };\n"
    " *\n"
    " * Files named in parameters of type GS_P_PATH arrive resolved against the\n"
    " * experiment file.  Random numbers come only from c->rng.\n"
    " */\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_SAMPLES, P_TEST_SAMPLES, P_FEATURES };\n"
    "\n"
    "/* Allocates and fills one split: count examples of `features` floats. */\n"
    "static void @NAME@_split(const gs_data_call *c, size_t count, size_t features, gs_split *s)\n"
    "{\n"
    "    s->count = count;\n"
    "    s->x = c->host->alloc((count * features + 1) * sizeof *s->x);\n"
    "    s->labels = c->host->alloc((count + 1) * sizeof *s->labels);\n"
    "    /* TODO: the examples; the placeholder is N(0, 1) features, label 1 where their sum > 0 */\n"
    "    for (size_t i = 0; i < count; i++) {\n"
    "        double sum = 0;\n"
    "        for (size_t j = 0; j < features; j++) {\n"
    "            const double v = c->host->rng_normal(c->rng);\n"
    "            s->x[i * features + j] = (float)v;\n"
    "            sum += v;\n"
    "        }\n"
    "        s->labels[i] = sum > 0;\n"
    "    }\n"
    "}\n"
    "\n"
    "static int @NAME@_load(const gs_data_call *c, gs_dataset *out)\n"
    "{\n"
    "    const size_t features = (size_t)c->p[P_FEATURES].i;\n"
    "    out->shape = (gs_shape){.layout = GS_LAYOUT_VECTOR, .ndim = 1, .dims = {features}};\n"
    "    out->classes = 2;\n"
    "    @NAME@_split(c, (size_t)c->p[P_SAMPLES].i, features, &out->train);\n"
    "    @NAME@_split(c, (size_t)c->p[P_TEST_SAMPLES].i, features, &out->test);\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_SAMPLES] = {.name = \"samples\", .type = GS_P_INT, .def.i = 1000, .min = 1, .max = 1e8,\n"
    "                   .doc = \"training examples\"},\n"
    "    [P_TEST_SAMPLES] = {.name = \"test_samples\", .type = GS_P_INT, .def.i = 200, .min = 0,\n"
    "                        .max = 1e8, .doc = \"test examples\"},\n"
    "    [P_FEATURES] = {.name = \"features\", .type = GS_P_INT, .def.i = 8, .min = 1, .max = 1e6,\n"
    "                    .doc = \"features per example\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "static const gs_dataset_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_dataset_ops),\n"
    "    .load = @NAME@_load,\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_DATASET,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ data set\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ data set\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_schedule[] =
    "/*\n"
    " * @NAME@: a learning-rate schedule plugin for gradscope, made by\n"
    " * `gradscope new-plugin`.\n"
    " *\n"
    " *   make                              builds @NAME@.so against the installed SDK\n"
    " *   make check                        gradscope check-plugin ./@NAME@.so\n"
    " *   GRADSCOPE_PLUGIN_PATH=$PWD gradscope run my.cfg --set schedule=@NAME@\n"
    " */\n"
    "#include <gradscope/plugin.h>\n"
    "\n"
    "enum { P_FACTOR };\n"
    "\n"
    "/* The multiplier of the base learning rate at step t (0-based) of `total`. */\n"
    "static double @NAME@_factor(const gs_value *p, uint64_t t, uint64_t total,\n"
    "                            uint64_t steps_per_epoch)\n"
    "{\n"
    "    (void)t;\n"
    "    (void)total;\n"
    "    (void)steps_per_epoch;\n"
    "    /* TODO: the schedule; the placeholder is a constant factor */\n"
    "    return p[P_FACTOR].f;\n"
    "}\n"
    "\n"
    "static const gs_param_spec @NAME@_params[] = {\n"
    "    [P_FACTOR] = {.name = \"factor\", .type = GS_P_FLOAT, .def.f = 1.0, .min = 0.0, .max = 1e6,\n"
    "                  .doc = \"the placeholder's constant factor\"},\n"
    "    {0},\n"
    "};\n"
    "\n"
    "static const gs_schedule_ops @NAME@_ops = {\n"
    "    .size = sizeof(gs_schedule_ops),\n"
    "    .factor = @NAME@_factor,\n"
    "};\n"
    "\n"
    "static const gs_component @NAME@_components[] = {{\n"
    "    .size = sizeof(gs_component),\n"
    "    .kind = GS_KIND_SCHEDULE,\n"
    "    .name = \"@NAME@\",\n"
    "    .doc = \"@NAME@ learning-rate schedule\",\n"
    "    .params = @NAME@_params,\n"
    "    .ops = &@NAME@_ops,\n"
    "}};\n"
    "\n"
    "static const gs_plugin_desc @NAME@_desc = {\n"
    "    GS_PLUGIN_HEADER,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .license = \"MIT\",\n"
    "    .description = \"@NAME@ learning-rate schedule\",\n"
    "    .n_components = 1,\n"
    "    .components = @NAME@_components,\n"
    "};\n"
    "\n"
    "GS_PLUGIN_DEFINE(@NAME@_desc)\n";

static const char tpl_makefile[] =
    "# Builds @NAME@.so, a gradscope @KIND@ plugin, against the installed SDK.\n"
    "PKG_CONFIG ?= pkg-config\n"
    "GRADSCOPE ?= gradscope\n"
    "CFLAGS ?= -O2 -Wall -Wextra\n"
    "\n"
    "@NAME@.so: @NAME@.c\n"
    "\t$(CC) $(CFLAGS) -shared -fPIC -fvisibility=hidden $$($(PKG_CONFIG) --cflags gradscope) -o $@ @NAME@.c -lm\n"
    "\n"
    "check: @NAME@.so\n"
    "\t$(GRADSCOPE) check-plugin ./@NAME@.so\n"
    "\n"
    "clean:\n"
    "\trm -f @NAME@.so\n"
    "\n"
    ".PHONY: check clean\n";

static const struct {
    const char *kind, *alias;
    const char *source;
} kinds[] = {
    {"activation", NULL, tpl_activation},
    {"initializer", NULL, tpl_initializer},
    {"optimizer", NULL, tpl_optimizer},
    {"layer", "block", tpl_layer},
    {"loss", NULL, tpl_loss},
    {"dataset", NULL, tpl_dataset},
    {"schedule", NULL, tpl_schedule},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])
#define MAX_NAME 48

static void usage_new_plugin(FILE *f)
{
    fprintf(f, "Usage: gradscope new-plugin KIND NAME [DIR]\n"
               "\n"
               "Writes DIR/NAME.c, a skeleton plugin of KIND (activation, initializer,\n"
               "optimizer, layer or block, loss, dataset, schedule) with its parameter schema,\n"
               "and DIR/Makefile, which builds NAME.so with `pkg-config --cflags gradscope`.\n"
               "The skeleton's math is a working placeholder marked TODO; `make check` runs\n"
               "gradscope check-plugin on it.  NAME: a lower-case letter, then lower-case\n"
               "letters, digits or '_'.  DIR defaults to ./NAME; existing files are never\n"
               "overwritten.\n");
}

static int valid_name(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z') || strlen(s) > MAX_NAME)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char *path = strdup(dir);
    int rc = 0;
    if (!path)
        return -1;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char keep = *p;
        *p = '\0';
        struct stat st;
        if (stat(path, &st) != 0) {
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                rc = -1;
                break;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            rc = -1;
            break;
        }
        *p = keep;
        if (!keep)
            break;
    }
    free(path);
    return rc;
}

/* Writes tpl to path with @NAME@ and @KIND@ replaced; 0 or -1 (errno set). */
static int write_template(const char *path, const char *tpl, const char *name, const char *kind)
{
    errno = 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (const char *p = tpl; *p;) {
        if (!strncmp(p, "@NAME@", 6)) {
            fputs(name, f);
            p += 6;
        } else if (!strncmp(p, "@KIND@", 6)) {
            fputs(kind, f);
            p += 6;
        } else {
            fputc(*p++, f);
        }
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* A stock name gets a warning, not a refusal: replacing a stock component
   with one's own copy is a fair thing to want. */
static void warn_if_stock(const char *kind, const char *name, const char *dir)
{
    gs_kind k;
    gs_error err;
    if (gs_kind_from_name(kind, &k) < 0)
        return;
    gs_registry *reg = cli_registry(NULL, 0, &err);
    if (!reg)
        return; /* a broken search path is for the commands that search it to report */
    const gs_component_info *ci = gs_registry_find(reg, k, name);
    if (ci)
        fprintf(stderr,
                "gradscope: warning: there is already a stock %s '%s' (%s); the new one "
                "shadows it wherever %s comes first on the plugin search path "
                "(--plugin-path, GRADSCOPE_PLUGIN_PATH), and is shadowed by it elsewhere\n",
                kind, name, ci->file, dir);
    gs_registry_free(reg);
}

int cmd_new_plugin(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *pos[3];
    int n_pos = 0, o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
        if (o == 'h') {
            usage_new_plugin(stdout);
            return GS_EXIT_OK;
        }
        if (o != 1 || n_pos == 3) {
            fprintf(stderr, "gradscope: unexpected argument '%s'\n", argv[optind - 1]);
            usage_new_plugin(stderr);
            return GS_EXIT_INPUT;
        }
        pos[n_pos++] = optarg;
    }
    if (n_pos < 2) {
        usage_new_plugin(stderr);
        return GS_EXIT_INPUT;
    }
    size_t k = 0;
    while (k < N_KINDS && strcmp(pos[0], kinds[k].kind) != 0 &&
           !(kinds[k].alias && strcmp(pos[0], kinds[k].alias) == 0))
        k++;
    if (k == N_KINDS) {
        fprintf(stderr,
                "gradscope: unknown kind '%s' (valid: activation, initializer, optimizer, "
                "layer, block, loss, dataset, schedule)\n",
                pos[0]);
        return GS_EXIT_INPUT;
    }
    const char *name = pos[1];
    if (!valid_name(name)) {
        fprintf(stderr,
                "gradscope: invalid plugin name '%s': it names the component, the C prefix and "
                "the file, so use a lower-case letter, then lower-case letters, digits or '_' "
                "(at most %d)\n",
                name, MAX_NAME);
        return GS_EXIT_INPUT;
    }
    const char *dir = n_pos < 3 ? name : pos[2][0] ? pos[2] : ".";
    size_t len = strlen(dir) + strlen(name) + 16;
    char *source = malloc(len), *makefile = malloc(len);
    if (!source || !makefile) {
        free(source);
        free(makefile);
        fprintf(stderr, "gradscope: out of memory\n");
        return GS_EXIT_RUNTIME;
    }
    snprintf(source, len, "%s/%s.c", dir, name);
    snprintf(makefile, len, "%s/Makefile", dir);
    int rc = GS_EXIT_OK;
    struct stat st;
    const char *exists = stat(source, &st) == 0 ? source : stat(makefile, &st) == 0 ? makefile : NULL;
    if (exists) {
        fprintf(stderr, "gradscope: %s already exists; not overwriting it\n", exists);
        rc = GS_EXIT_INPUT;
    } else if (make_dirs(dir) != 0) {
        fprintf(stderr, "gradscope: %s: %s\n", dir, strerror(errno));
        rc = GS_EXIT_RUNTIME;
    } else if (write_template(source, kinds[k].source, name, kinds[k].kind) != 0 ||
               write_template(makefile, tpl_makefile, name, kinds[k].kind) != 0) {
        fprintf(stderr, "gradscope: cannot write into %s: %s\n", dir, strerror(errno));
        rc = GS_EXIT_RUNTIME;
    } else {
        warn_if_stock(kinds[k].kind, name, dir);
        printf("wrote %s and %s\n"
               "next: cd %s && make && make check    (the TODO comments mark the math)\n",
               source, makefile, dir);
    }
    free(source);
    free(makefile);
    return rc;
}
