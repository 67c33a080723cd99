/*
 * Step decay as torch.optim.lr_scheduler.StepLR stepped once per epoch:
 * factor = gamma ^ floor(epoch / step_size).
 */
#include <math.h>
#include "sched_warmup.h"

enum { P_STEP_SIZE, P_GAMMA, P_WARMUP_STEPS };

static double step_factor(const gs_value *p, uint64_t t, uint64_t total,
                          uint64_t steps_per_epoch)
{
    const uint64_t drops = sched_epoch(t, steps_per_epoch) / (uint64_t)p[P_STEP_SIZE].i;
    return pow(p[P_GAMMA].f, (double)drops) * sched_warmup(p[P_WARMUP_STEPS].i, t);
}

static const gs_param_spec step_params[] = {
    {.name = "step_size", .type = GS_P_INT, .def = {.i = 10}, .min = 1.0, .max = 9.0e15,
     .doc = "epochs between two decays"},
    {.name = "gamma", .type = GS_P_FLOAT, .def = {.f = 0.1}, .min = 0.0, .max = HUGE_VAL,
     .doc = "multiplier applied every step_size epochs"},
    SCHED_WARMUP_PARAM,
    {0}};

static const gs_schedule_ops step_ops = {
    .size = sizeof(gs_schedule_ops),
    .factor = step_factor,
};

static const gs_component step_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_SCHEDULE,
    .name = "step",
    .doc = "Multiply the rate by gamma every step_size epochs (torch StepLR)",
    .params = step_params,
    .ops = &step_ops,
}};

static const gs_plugin_desc step_desc = {
    GS_PLUGIN_HEADER,
    .name = "sched_step",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Step-decay learning-rate schedule",
    .n_components = 1,
    .components = step_components,
};

GS_PLUGIN_DEFINE(step_desc)
