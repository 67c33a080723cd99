/*
 * Glorot & Bengio's (2010) "standard" initialization U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), the heuristic their normalized init was compared with;
 * also the default weight init of torch.nn.Linear and Conv
 * (kaiming_uniform_ with a = sqrt(5) reduces to it).
 */
#include <math.h>
#include "gradscope/plugin.h"

static int standard_fill(const gs_init_call *c, double *out)
{
    if (c->fan_in == 0) {
        c->host->error("standard: fan_in is 0");
        return -1;
    }
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double bound = 1.0 / sqrt((double)c->fan_in);
    for (size_t k = 0; k < n; k++)
        out[k] = bound * (2.0 * c->host->rng_uniform(c->rng) - 1.0);
    return 0;
}

static const gs_param_spec standard_params[] = {{0}};

static const gs_initializer_ops standard_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = standard_fill,
};

static const gs_component standard_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "standard",
    .doc = "U(+-1/sqrt(fan_in)): Glorot's standard init, torch.nn.Linear's default",
    .params = standard_params,
    .ops = &standard_ops,
}};

static const gs_plugin_desc standard_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_standard",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Glorot's standard uniform initializer",
    .n_components = 1,
    .components = standard_components,
};

GS_PLUGIN_DEFINE(standard_desc)
