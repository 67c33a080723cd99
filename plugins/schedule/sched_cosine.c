/*
 * Cosine annealing over the whole run as torch CosineAnnealingLR with
 * T_max = total steps, stepped every step:
 * factor = f_min + (1 - f_min) (1 + cos(pi t / total)) / 2.
 */
#include <math.h>
#include "sched_warmup.h"

enum { P_ETA_MIN_FACTOR, P_WARMUP_STEPS };

static const double pi = 3.14159265358979323846; /* M_PI is not C11 */

static double cosine_factor(const gs_value *p, uint64_t t, uint64_t total,
                            uint64_t steps_per_epoch)
{
    const double f_min = p[P_ETA_MIN_FACTOR].f;
    /* Past T_max torch's cosine rises again; a run never goes there. */
    const double frac = total ? (double)(t < total ? t : total) / (double)total : 0.0;
    const double cosine = f_min + (1.0 - f_min) * 0.5 * (1.0 + cos(pi * frac));
    return cosine * sched_warmup(p[P_WARMUP_STEPS].i, t);
}

static const gs_param_spec cosine_params[] = {
    {.name = "eta_min_factor", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = 1.0,
     .doc = "final rate as a fraction of the base rate (torch eta_min / lr)"},
    SCHED_WARMUP_PARAM,
    {0}};

static const gs_schedule_ops cosine_ops = {
    .size = sizeof(gs_schedule_ops),
    .factor = cosine_factor,
};

static const gs_component cosine_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_SCHEDULE,
    .name = "cosine",
    .doc = "Cosine annealing from the base rate to eta_min_factor over the run",
    .params = cosine_params,
    .ops = &cosine_ops,
}};

static const gs_plugin_desc cosine_desc = {
    GS_PLUGIN_HEADER,
    .name = "sched_cosine",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Cosine-annealing learning-rate schedule",
    .n_components = 1,
    .components = cosine_components,
};

GS_PLUGIN_DEFINE(cosine_desc)
