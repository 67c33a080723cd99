/*
 * pswish: parametric swish y = x * sigmoid(beta * x) with a learnable beta,
 * one per channel or one shared by the layer (Ramachandran et al. 2017).
 * With s = sigmoid(beta * x):
 *   dy/dx    = s + beta * x * s * (1 - s)
 *   dy/dbeta = x^2 * s * (1 - s)
 * beta = 1 is SiLU; beta -> 0 tends to x/2 and beta -> inf to ReLU, so the
 * network can learn how close to linear each unit is.
 *
 * Elements are laid out (n, channels, inner): element (i, ch, s) sits at
 * (i*channels + ch)*inner + s, and its beta is theta[ch] (theta[0] when
 * shared).  theta is in the kernel's element type.
 */
#include <gradscope/activation.h>

enum { P_SHARED, P_BETA };

/* One kernel body per element type; each run of `inner` elements shares a
   beta, and its beta gradient is summed in double before touching dtheta. */
#define PSWISH_KERNELS(T, sfx)                                                  \
    static void pswish_forward_##sfx(const gs_act_call *c, const T *x, T *y)     \
    {                                                                           \
        const T *beta = c->theta;                                               \
        const size_t C = c->channels, S = c->inner;                             \
        for (size_t r = 0; r < c->n * C; r++) {                                 \
            const T b = beta[c->p[P_SHARED].b ? 0 : r % C];                     \
            for (size_t k = r * S; k < (r + 1) * S; k++)                        \
                y[k] = x[k] * gs_sigmoid(b * x[k]);                             \
        }                                                                       \
    }                                                                           \
    static void pswish_backward_##sfx(const gs_act_call *c, const T *x, const T *y, \
                                      const T *dy, T *dx, T *dtheta)            \
    {                                                                           \
        (void)y;                                                                \
        const T *beta = c->theta;                                               \
        const size_t C = c->channels, S = c->inner;                             \
        for (size_t r = 0; r < c->n * C; r++) {                                 \
            const size_t j = c->p[P_SHARED].b ? 0 : r % C;                      \
            const T b = beta[j];                                                \
            double acc = 0;                                                     \
            for (size_t k = r * S; k < (r + 1) * S; k++) {                      \
                const T s = gs_sigmoid(b * x[k]), ds = s * (1 - s), g = dy[k];  \
                acc += (double)(x[k] * x[k] * ds) * (double)g;                  \
                dx[k] = g * (s + b * x[k] * ds);                                \
            }                                                                   \
            if (dtheta)                                                         \
                dtheta[j] += (T)acc;                                            \
        }                                                                       \
    }

PSWISH_KERNELS(float, f32)
PSWISH_KERNELS(double, f64)

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

static const gs_activation_ops pswish_ops = {
    .size = sizeof(gs_activation_ops),
    .forward_f32 = pswish_forward_f32,
    .forward_f64 = pswish_forward_f64,
    .backward_f32 = pswish_backward_f32,
    .backward_f64 = pswish_backward_f64,
    .gain = NULL, /* no PyTorch gain for swish: 1, as for SiLU */
    .n_params = pswish_n_params,
    .init_params = pswish_init_params,
    .saturation_threshold = 0.0,
};

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
