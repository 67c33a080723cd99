/*
 * pswish: parametric swish y = x * sigmoid(beta * x) with a learnable beta,
 * one per channel or one shared by the layer (Ramachandran et al. 2017).
 * With s = sigmoid(beta * x):
 *   dy/dx    = s + beta * x * s * (1 - s)
 *   dy/dbeta = x^2 * s * (1 - s)
 * beta = 1 is SiLU; beta -> 0 tends to x/2 and beta -> inf to ReLU, so the
 * network can learn how close to linear each unit is.
 *
 * GS_PARAM_ACTIVATION (gradscope/activation.h) expands the three
 * expressions below into float and double kernels that give each element
 * the beta of its channel, wherever the layout puts the channel (vectors,
 * images, sequences), and sum dL/dbeta over the batch.  theta[0] is the
 * layer's beta when it is shared.
 */
#include <gradscope/activation.h>

enum { P_SHARED, P_BETA };

GS_PARAM_ACTIVATION(pswish, ,
                    x * gs_sigmoid(a * x),
                    dy * gs_sigmoid(a * x) * (1 + a * x * (1 - gs_sigmoid(a * x))),
                    dy * x * x * gs_sigmoid(a * x) * (1 - gs_sigmoid(a * x)))

static size_t pswish_n_params(const gs_value *p, size_t channels)
{
    return p[P_SHARED].b ? 1 : channels;
}

static void pswish_init_params(const gs_value *p, size_t count, double *theta)
{
    for (size_t k = 0; k < count; k++)
        theta[k] = p[P_BETA].f;
}

static const gs_param_spec pswish_params[] = {
    [P_SHARED] = {.name = "shared", .type = GS_P_BOOL, .def.b = 0,
                  .doc = "one beta for the whole layer instead of one per channel"},
    [P_BETA] = {.name = "beta", .type = GS_P_FLOAT, .def.f = 1.0, .min = -10.0, .max = 10.0,
                .doc = "initial beta (1: SiLU)"},
    {0},
};

/* No PyTorch gain for swish: 1 (NULL), as for SiLU. */
static const gs_activation_ops pswish_ops =
    GS_PARAM_ACTIVATION_OPS(pswish, NULL, 0.0, pswish_n_params, pswish_init_params, "beta");

static const gs_component pswish_components[] = {
    GS_ACTIVATION_COMPONENT("pswish", "parametric swish x*sigmoid(beta*x) with a learnable beta",
                            pswish_params, pswish_ops),
};

static const gs_plugin_desc pswish_desc = {
    GS_PLUGIN_HEADER,
    .name = "pswish",
    .version = "1.0.0",
    .license = "MIT",
    .description = "parametric swish activation (example plugin)",
    .n_components = 1,
    .components = pswish_components,
};

GS_PLUGIN_DEFINE(pswish_desc)
