/*
 * Softplus: f(x) = log(1 + exp(beta*x))/beta, as torch.nn.Softplus, which
 * switches to the identity where beta*x > threshold (there the two differ by
 * less than exp(-threshold)/beta and exp would overflow sooner or later).
 * f'(x) = sigmoid(beta*x), or 1 in the linear region.
 */
#include "gradscope/activation.h"

enum { P_BETA, P_THRESHOLD };

GS_ELEMENTWISE_ACTIVATION(softplus,
                          const T beta = GS_C(c->p[P_BETA].f);
                          const T threshold = GS_C(c->p[P_THRESHOLD].f);,
                          beta * x > threshold ? x : log1p(exp(beta * x)) / beta,
                          beta * x > threshold ? dy : dy * gs_sigmoid(beta * x))

static const gs_param_spec softplus_params[] = {
    {.name = "beta", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = 1e-300, .max = HUGE_VAL,
     .doc = "sharpness beta > 0 (torch default 1)"},
    {.name = "threshold", .type = GS_P_FLOAT, .def = {.f = 20.0}, .min = GS_ANY,
     .doc = "linear where beta*x exceeds it (torch default 20)"},
    {0}};

static const gs_activation_ops softplus_ops = GS_ACTIVATION_OPS(softplus, NULL, 0.0);

static const gs_component softplus_components[] = {
    GS_ACTIVATION_COMPONENT("softplus", "smooth ReLU log(1 + exp(beta*x))/beta (torch.nn.Softplus)",
                            softplus_params, softplus_ops),
};

static const gs_plugin_desc softplus_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_softplus",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Softplus activation",
    .n_components = 1,
    .components = softplus_components,
};

GS_PLUGIN_DEFINE(softplus_desc)
