/*
 * Adam exactly as torch.optim.Adam: bias-corrected moments, eps outside the
 * root, weight decay as an L2 term added to the gradient, optional AMSGrad.
 */
#include "opt_adam_impl.h"

static void adam_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                      float *state)
{
    adam_update(c, n, theta, grad, state, 0);
}

static const gs_param_spec adam_params[] = {
    ADAM_PARAMS(0.0, "L2 penalty added to the gradient (applied per group by the core)")};

static const gs_optimizer_ops adam_ops = {
    .size = sizeof(gs_optimizer_ops),
    .state_slots = adam_state_slots,
    .state_init = NULL,
    .step = adam_step,
    .elementwise = 1,
};

static const gs_component adam_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_OPTIMIZER,
    .name = "adam",
    .doc = "Adam with L2 decay and optional AMSGrad (torch.optim.Adam)",
    .params = adam_params,
    .ops = &adam_ops,
}};

static const gs_plugin_desc adam_desc = {
    GS_PLUGIN_HEADER,
    .name = "opt_adam",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Adam optimizer",
    .n_components = 1,
    .components = adam_components,
};

GS_PLUGIN_DEFINE(adam_desc)
