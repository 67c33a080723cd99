/*
 * Softsign: f(x) = x/(1 + |x|), as torch.nn.Softsign; f'(x) = 1/(1 + |x|)^2,
 * which decays polynomially rather than exponentially like tanh's.
 */
#include "gradscope/activation.h"

GS_ELEMENTWISE_ACTIVATION(softsign, ,
                          x / (GS_C(1) + fabs(x)),
                          dy / ((GS_C(1) + fabs(x)) * (GS_C(1) + fabs(x))))

static const gs_param_spec softsign_params[] = {{0}};

/* |f'| < 0.01 once |x| > 9 */
static const gs_activation_ops softsign_ops = GS_ACTIVATION_OPS(softsign, NULL, 0.01);

static const gs_component softsign_components[] = {
    GS_ACTIVATION_COMPONENT("softsign", "softsign x/(1 + |x|) (torch.nn.Softsign)",
                            softsign_params, softsign_ops),
};

static const gs_plugin_desc softsign_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_softsign",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Softsign activation",
    .n_components = 1,
    .components = softsign_components,
};

GS_PLUGIN_DEFINE(softsign_desc)
