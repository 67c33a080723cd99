/*
 * LeCun et al. (1998) initialization: variance 1/fan_in, keeping the
 * forward signal's variance constant through linear units.  Drawn from an
 * untruncated normal (std 1/sqrt(fan_in)) or a uniform with the same
 * variance (bound sqrt(3/fan_in)); Keras's lecun_normal truncates instead.
 */
#include <math.h>
#include <string.h>
#include "gradscope/plugin.h"

enum { P_DISTRIBUTION };

static int lecun_fill(const gs_init_call *c, double *out)
{
    if (c->fan_in == 0) {
        c->host->error("lecun: fan_in is 0");
        return -1;
    }
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++)
        n *= c->dims[d];
    const double std = 1.0 / sqrt((double)c->fan_in);
    if (strcmp(c->p[P_DISTRIBUTION].s, "uniform") == 0) {
        const double bound = sqrt(3.0) * std;
        for (size_t k = 0; k < n; k++)
            out[k] = bound * (2.0 * c->host->rng_uniform(c->rng) - 1.0);
    } else {
        for (size_t k = 0; k < n; k++)
            out[k] = std * c->host->rng_normal(c->rng);
    }
    return 0;
}

static const gs_param_spec lecun_params[] = {
    {.name = "distribution", .type = GS_P_STRING, .def = {.s = "normal"},
     .choices = "normal|uniform", .doc = "normal with std 1/sqrt(fan_in), or uniform of equal variance"},
    {0}};

static const gs_initializer_ops lecun_ops = {
    .size = sizeof(gs_initializer_ops),
    .fill = lecun_fill,
};

static const gs_component lecun_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_INITIALIZER,
    .name = "lecun",
    .doc = "LeCun init, variance 1/fan_in (normal or uniform)",
    .params = lecun_params,
    .ops = &lecun_ops,
}};

static const gs_plugin_desc lecun_desc = {
    GS_PLUGIN_HEADER,
    .name = "init_lecun",
    .version = "1.0.0",
    .license = "MIT",
    .description = "LeCun initializer",
    .n_components = 1,
    .components = lecun_components,
};

GS_PLUGIN_DEFINE(lecun_desc)
