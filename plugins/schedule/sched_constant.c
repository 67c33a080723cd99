/* A constant learning rate (after the optional linear warm-up). */
#include "sched_warmup.h"

enum { P_WARMUP_STEPS };

static double constant_factor(const gs_value *p, uint64_t t, uint64_t total,
                              uint64_t steps_per_epoch)
{
    return sched_warmup(p[P_WARMUP_STEPS].i, t);
}

static const gs_param_spec constant_params[] = {SCHED_WARMUP_PARAM, {0}};

static const gs_schedule_ops constant_ops = {
    .size = sizeof(gs_schedule_ops),
    .factor = constant_factor,
};

static const gs_component constant_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_SCHEDULE,
    .name = "constant",
    .doc = "Constant learning rate with optional linear warm-up",
    .params = constant_params,
    .ops = &constant_ops,
}};

static const gs_plugin_desc constant_desc = {
    GS_PLUGIN_HEADER,
    .name = "sched_constant",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Constant learning-rate schedule",
    .n_components = 1,
    .components = constant_components,
};

GS_PLUGIN_DEFINE(constant_desc)
