/*
 * Exponential decay as torch.optim.lr_scheduler.ExponentialLR stepped once
 * per epoch: factor = gamma ^ epoch.
 */
#include <math.h>
#include "sched_warmup.h"

enum { P_GAMMA, P_WARMUP_STEPS };

static double exponential_factor(const gs_value *p, uint64_t t, uint64_t total,
                                 uint64_t steps_per_epoch)
{
    const double epoch = (double)sched_epoch(t, steps_per_epoch);
    return pow(p[P_GAMMA].f, epoch) * sched_warmup(p[P_WARMUP_STEPS].i, t);
}

static const gs_param_spec exponential_params[] = {
    {.name = "gamma", .type = GS_P_FLOAT, .def = {.f = 0.95}, .min = 0.0, .max = HUGE_VAL,
     .doc = "multiplier applied every epoch"},
    SCHED_WARMUP_PARAM,
    {0}};

static const gs_schedule_ops exponential_ops = {
    .size = sizeof(gs_schedule_ops),
    .factor = exponential_factor,
};

static const gs_component exponential_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_SCHEDULE,
    .name = "exponential",
    .doc = "Multiply the rate by gamma every epoch (torch ExponentialLR)",
    .params = exponential_params,
    .ops = &exponential_ops,
}};

static const gs_plugin_desc exponential_desc = {
    GS_PLUGIN_HEADER,
    .name = "sched_exponential",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Exponential-decay learning-rate schedule",
    .n_components = 1,
    .components = exponential_components,
};

GS_PLUGIN_DEFINE(exponential_desc)
