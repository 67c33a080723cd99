/*
 * ReLU: f(x) = max(0, x), as torch.nn.ReLU.  f'(0) is taken as 0, like
 * PyTorch; NaN inputs propagate instead of being clamped away.
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(relu, ,
                          x < 0 ? GS_C(0) : x,
                          x > 0 ? dy : GS_C(0))

static double relu_gain(const gs_value *p)
{
    (void)p;
    return sqrt(2.0);
}

static const gs_param_spec relu_params[] = {{0}};

/* Dead units are detected by the core from f' = 0 over a batch. */
static const gs_activation_ops relu_ops = GS_ACTIVATION_OPS(relu, relu_gain, 0.0);

static const gs_component relu_components[] = {
    GS_ACTIVATION_COMPONENT("relu", "rectified linear unit max(0, x) (torch.nn.ReLU)",
                            relu_params, relu_ops),
};

static const gs_plugin_desc relu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_relu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "ReLU activation",
    .n_components = 1,
    .components = relu_components,
};

GS_PLUGIN_DEFINE(relu_desc)
