/*
 * Adagrad exactly as torch.optim.Adagrad: the accumulated squared gradient
 * (starting from initial_accumulator_value) normalises each step, and the
 * rate decays as lr / (1 + (t-1) lr_decay).
 */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_LR, P_LR_DECAY, P_WEIGHT_DECAY, P_INITIAL_ACCUMULATOR_VALUE, P_EPS };

static size_t adagrad_state_slots(const gs_value *p)
{
    return 1; /* the running sum of squared gradients */
}

static double adagrad_state_init(const gs_value *p, size_t slot)
{
    return p[P_INITIAL_ACCUMULATOR_VALUE].f;
}

static void adagrad_step(const gs_opt_call *c, size_t n, float *restrict theta,
                         const float *restrict grad, float *restrict sum)
{
    const float clr =
        (float)(c->lr / (1.0 + (double)(c->t - 1) * c->p[P_LR_DECAY].f));
    const float wd = (float)c->weight_decay;
    const float eps = (float)c->p[P_EPS].f;
    /* omp simd: at -O2 gcc's cheap cost model would leave this scalar. */
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i] + wd * theta[i];
        sum[i] += g * g;
        theta[i] -= clr * g / (sqrtf(sum[i]) + eps);
    }
}

static const gs_param_spec adagrad_params[] = {
    {.name = "lr", .type = GS_P_FLOAT, .def = {.f = 1e-2}, .min = 0.0, .max = HUGE_VAL,
     .doc = "base learning rate"},
    {.name = "lr_decay", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "step t uses lr / (1 + (t-1) lr_decay)"},
    {.name = "weight_decay", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "L2 penalty added to the gradient (applied per group by the core)"},
    {.name = "initial_accumulator_value", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0,
     .max = HUGE_VAL, .doc = "starting value of the squared-gradient sum"},
    {.name = "eps", .type = GS_P_FLOAT, .def = {.f = 1e-10}, .min = 0.0, .max = HUGE_VAL,
     .doc = "added to the root of the sum (outside the square root)"},
    {0}};

static const gs_optimizer_ops adagrad_ops = {
    .size = sizeof(gs_optimizer_ops),
    .state_slots = adagrad_state_slots,
    .state_init = adagrad_state_init,
    .step = adagrad_step,
    .elementwise = 1,
};

static const gs_component adagrad_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_OPTIMIZER,
    .name = "adagrad",
    .doc = "Adagrad with lr decay and initial accumulator (torch.optim.Adagrad)",
    .params = adagrad_params,
    .ops = &adagrad_ops,
}};

static const gs_plugin_desc adagrad_desc = {
    GS_PLUGIN_HEADER,
    .name = "opt_adagrad",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Adagrad optimizer",
    .n_components = 1,
    .components = adagrad_components,
};

GS_PLUGIN_DEFINE(adagrad_desc)
