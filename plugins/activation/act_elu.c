/*
 * ELU: f(x) = x for x > 0, alpha*(exp(x) - 1) otherwise, as torch.nn.ELU.
 * The derivative below zero is computed as alpha*exp(x) from the input, as
 * PyTorch does, rather than y + alpha, which cancels to 0 far below zero
 * where the small gradients this tool measures live.
 */
#include "gradscope/activation.h"

enum { P_ALPHA };

GS_ELEMENTWISE_ACTIVATION(elu, const T alpha = GS_C(c->p[P_ALPHA].f);,
                          x > 0 ? x : alpha * expm1(x),
                          x > 0 ? dy : dy * alpha * exp(x))

static const gs_param_spec elu_params[] = {
    {.name = "alpha", .type = GS_P_FLOAT, .def = {.f = 1.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "value approached as x -> -inf is -alpha (torch default 1)"},
    {0}};

static const gs_activation_ops elu_ops = GS_ACTIVATION_OPS(elu, NULL, 0.0);

static const gs_component elu_components[] = {
    GS_ACTIVATION_COMPONENT("elu", "exponential linear unit (torch.nn.ELU)", elu_params,
                            elu_ops),
};

static const gs_plugin_desc elu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_elu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "ELU activation",
    .n_components = 1,
    .components = elu_components,
};

GS_PLUGIN_DEFINE(elu_desc)
