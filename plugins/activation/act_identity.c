/*
 * Identity f(x) = x: the linear network of Saxe et al. and Glorot &
 * Bengio's linear-regime analysis, and a layer with no activation.
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(identity, , x, dy)

static const gs_param_spec identity_params[] = {{0}};

/* calculate_gain("linear") is 1, the ops default */
static const gs_activation_ops identity_ops = GS_ACTIVATION_OPS(identity, NULL, 0.0);

static const gs_component identity_components[] = {
    GS_ACTIVATION_COMPONENT("identity", "identity f(x) = x (torch.nn.Identity)", identity_params,
                            identity_ops),
};

static const gs_plugin_desc identity_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_identity",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Identity (linear) activation",
    .n_components = 1,
    .components = identity_components,
};

GS_PLUGIN_DEFINE(identity_desc)
