/*
 * Logistic sigmoid f(x) = 1/(1 + exp(-x)), as torch.nn.Sigmoid, evaluated
 * from exp(-|x|) so that it neither overflows nor rounds small outputs to
 * zero.  f' = y*(1 - y) from the output, as PyTorch's backward.
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(sigmoid, ,
                          gs_sigmoid(x),
                          dy * y * (GS_C(1) - y))

static const gs_param_spec sigmoid_params[] = {{0}};

/* f' peaks at 0.25; below 0.01 once |x| > 4.6 */
static const gs_activation_ops sigmoid_ops = GS_ACTIVATION_OPS(sigmoid, NULL, 0.01);

static const gs_component sigmoid_components[] = {
    GS_ACTIVATION_COMPONENT("sigmoid", "logistic sigmoid 1/(1 + exp(-x)) (torch.nn.Sigmoid)",
                            sigmoid_params, sigmoid_ops),
};

static const gs_plugin_desc sigmoid_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_sigmoid",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Logistic sigmoid activation",
    .n_components = 1,
    .components = sigmoid_components,
};

GS_PLUGIN_DEFINE(sigmoid_desc)
