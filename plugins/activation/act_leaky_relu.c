/*
 * Leaky ReLU: f(x) = x for x > 0, s*x otherwise, as torch.nn.LeakyReLU;
 * a fixed negative slope keeps a gradient flowing through negative units.
 */
#include "gradscope/activation.h"

enum { P_SLOPE };

/* As max(0, x) + s*min(0, x) with selects that hold no arithmetic: GCC
   will not if-convert a floating-point operation inside a branch (it
   might trap), and a branch blocks vectorization. */
GS_ELEMENTWISE_ACTIVATION(leaky, const T s = GS_C(c->p[P_SLOPE].f);,
                          (x > 0 ? x : GS_C(0)) + s * (x > 0 ? GS_C(0) : x),
                          (x > 0 ? dy : GS_C(0)) + s * (x > 0 ? GS_C(0) : dy))

/* torch.nn.init.calculate_gain("leaky_relu", s) */
static double leaky_gain(const gs_value *p)
{
    const double s = p[P_SLOPE].f;
    return sqrt(2.0 / (1.0 + s * s));
}

static const gs_param_spec leaky_params[] = {
    {.name = "negative_slope", .type = GS_P_FLOAT, .def = {.f = 0.01}, .min = GS_ANY,
     .doc = "slope s for x <= 0 (torch default 0.01)"},
    {0}};

static const gs_activation_ops leaky_ops = GS_ACTIVATION_OPS(leaky, leaky_gain, 0.0);

static const gs_component leaky_components[] = {
    GS_ACTIVATION_COMPONENT("leaky_relu", "leaky ReLU, slope s below zero (torch.nn.LeakyReLU)",
                            leaky_params, leaky_ops),
};

static const gs_plugin_desc leaky_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_leaky_relu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Leaky ReLU activation",
    .n_components = 1,
    .components = leaky_components,
};

GS_PLUGIN_DEFINE(leaky_desc)
