/*
 * SiLU: f(x) = x*sigmoid(x), as torch.nn.SiLU; registered twice, as "silu"
 * and under its other name "swish" (Ramachandran et al. 2017, beta = 1).
 * f'(x) = s*(1 + x*(1 - s)) with s = sigmoid(x).
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(silu, ,
                          x * gs_sigmoid(x),
                          dy * gs_sigmoid(x) * (GS_C(1) + x * (GS_C(1) - gs_sigmoid(x))))

static const gs_param_spec silu_params[] = {{0}};

static const gs_activation_ops silu_ops = GS_ACTIVATION_OPS(silu, NULL, 0.0);

static const gs_component silu_components[] = {
    GS_ACTIVATION_COMPONENT("silu", "sigmoid-weighted linear unit x*sigmoid(x) (torch.nn.SiLU)",
                            silu_params, silu_ops),
    GS_ACTIVATION_COMPONENT("swish", "swish, another name of silu: x*sigmoid(x)", silu_params,
                            silu_ops),
};

static const gs_plugin_desc silu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_silu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "SiLU activation, also named swish",
    .n_components = 2,
    .components = silu_components,
};

GS_PLUGIN_DEFINE(silu_desc)
