/*
 * SELU: f(x) = scale * (x for x > 0, alpha*(exp(x) - 1) otherwise), with
 * the self-normalizing constants of Klambauer et al. (2017) exactly as
 * torch.nn.SELU spells them.
 */
#include "gradscope/activation.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

GS_ELEMENTWISE_ACTIVATION(selu, ,
                          x > 0 ? GS_C(SELU_SCALE) * x
                                : GS_C(SELU_SCALE * SELU_ALPHA) * expm1(x),
                          x > 0 ? GS_C(SELU_SCALE) * dy
                                : dy * GS_C(SELU_SCALE * SELU_ALPHA) * exp(x))

/* torch.nn.init.calculate_gain("selu"): 3/4 trades the self-normalizing
   fixed point (weight variance 1/fan_in, lecun) for steadier gradients. */
static double selu_gain(const gs_value *p)
{
    (void)p;
    return 0.75;
}

static const gs_param_spec selu_params[] = {{0}};

static const gs_activation_ops selu_ops = GS_ACTIVATION_OPS(selu, selu_gain, 0.0);

static const gs_component selu_components[] = {
    GS_ACTIVATION_COMPONENT("selu",
                            "scaled ELU with the self-normalizing constants (torch.nn.SELU); "
                            "self-normalizes with lecun init, not he (auto: gain 3/4)",
                            selu_params, selu_ops),
};

static const gs_plugin_desc selu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_selu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "SELU activation",
    .n_components = 1,
    .components = selu_components,
};

GS_PLUGIN_DEFINE(selu_desc)
