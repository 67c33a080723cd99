/*
 * AdamW exactly as torch.optim.AdamW: Adam whose weight decay shrinks the
 * parameters directly, theta *= 1 - lr*wd, before the Adam step, instead of
 * entering the moment estimates.
 */
#include "opt_adam_impl.h"

static void adamw_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                       float *state)
{
    adam_update(c, n, theta, grad, state, 1);
}

static const gs_param_spec adamw_params[] = {
    ADAM_PARAMS(1e-2, "decoupled decay: theta *= 1 - lr*wd (applied per group by the core)")};

static const gs_optimizer_ops adamw_ops = {
    .size = sizeof(gs_optimizer_ops),
    .state_slots = adam_state_slots,
    .state_init = NULL,
    .step = adamw_step,
    .elementwise = 1,
};

static const gs_component adamw_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_OPTIMIZER,
    .name = "adamw",
    .doc = "Adam with decoupled weight decay and optional AMSGrad (torch.optim.AdamW)",
    .params = adamw_params,
    .ops = &adamw_ops,
}};

static const gs_plugin_desc adamw_desc = {
    GS_PLUGIN_HEADER,
    .name = "opt_adamw",
    .version = "1.0.0",
    .license = "MIT",
    .description = "AdamW optimizer",
    .n_components = 1,
    .components = adamw_components,
};

GS_PLUGIN_DEFINE(adamw_desc)
