/*
 * Hyperbolic tangent, as torch.nn.Tanh, computed by gs_tanh (in float a
 * form that vectorizes; gradscope/activation.h); f' = 1 - y^2 from the
 * output, as PyTorch's backward.
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(tanh_act, ,
                          gs_tanh(x),
                          dy * (GS_C(1) - y * y))

/* torch.nn.init.calculate_gain("tanh") */
static double tanh_gain(const gs_value *p)
{
    (void)p;
    return 5.0 / 3.0;
}

static const gs_param_spec tanh_params[] = {{0}};

/* |f'| < 0.01 once |x| > 3 */
static const gs_activation_ops tanh_ops = GS_ACTIVATION_OPS(tanh_act, tanh_gain, 0.01);

static const gs_component tanh_components[] = {
    GS_ACTIVATION_COMPONENT("tanh", "hyperbolic tangent (torch.nn.Tanh)", tanh_params, tanh_ops),
};

static const gs_plugin_desc tanh_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_tanh",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Tanh activation",
    .n_components = 1,
    .components = tanh_components,
};

GS_PLUGIN_DEFINE(tanh_desc)
