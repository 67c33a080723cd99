/*
 * PReLU (He et al. 2015): f(x) = max(0, x) + a*min(0, x) with a learnable
 * slope a, one per channel or one shared, as torch.nn.PReLU.
 * df/dx = 1 for x > 0, a otherwise; df/da = x for x <= 0, 0 otherwise.
 *
 * The slope of an element is that of its channel, which the call's layout
 * places: channel-major in images, innermost in vectors and sequences
 * (gs_act_call).  theta holds the slopes in the kernel's element type.
 */
#include "gradscope/activation.h"

enum { P_SHARED, P_INIT };

/*
 * Three loop shapes: one slope for everything (a flat loop), per-channel
 * slopes with channels innermost (vectors and sequences: rows of C values,
 * vectorized across channels), and per-channel slopes on channel-major
 * images (one slope per run of H*W positions).
 * Slope gradients of a run are summed in double before touching dtheta.
 * Values are written POS(v, x) + a*NEG(v, x), selects that hold no
 * arithmetic, so that GCC can if-convert and vectorize: it keeps a
 * floating-point operation that might trap inside its branch.
 */
#define POS(v, x) ((x) > 0 ? (v) : 0) /* v where x > 0, else 0 */
#define NEG(v, x) ((x) > 0 ? 0 : (v)) /* v where x <= 0, else 0 */

#define PRELU_KERNELS(T, sfx)                                                   \
    static void prelu_forward_##sfx(const gs_act_call *c, const T *x, T *y)      \
    {                                                                           \
        const T *a = c->theta;                                                  \
        const size_t C = c->channels, S = c->positions;                             \
        if (c->p[P_SHARED].b) {                                                 \
            const T a0 = a[0];                                                  \
            GS_SIMD                                                             \
            for (size_t k = 0; k < c->n * C * S; k++)                           \
                y[k] = POS(x[k], x[k]) + a0 * NEG(x[k], x[k]);                  \
        } else if (S == 1 || c->layout != GS_LAYOUT_IMAGE) {                    \
            for (size_t i = 0; i < c->n * S; i++) {                             \
                const T *xi = x + i * C;                                        \
                T *yi = y + i * C;                                              \
                GS_SIMD                                                         \
                for (size_t ch = 0; ch < C; ch++)                               \
                    yi[ch] = POS(xi[ch], xi[ch]) + a[ch] * NEG(xi[ch], xi[ch]); \
            }                                                                   \
        } else {                                                                \
            for (size_t r = 0; r < c->n * C; r++) {                             \
                const T ar = a[r % C];                                          \
                GS_SIMD                                                         \
                for (size_t k = r * S; k < (r + 1) * S; k++)                    \
                    y[k] = POS(x[k], x[k]) + ar * NEG(x[k], x[k]);              \
            }                                                                   \
        }                                                                       \
    }                                                                           \
    static void prelu_backward_##sfx(const gs_act_call *c, const T *x, const T *y, \
                                     const T *dy, T *dx, T *dtheta)             \
    {                                                                           \
        (void)y;                                                                \
        const T *a = c->theta;                                                  \
        const size_t C = c->channels, S = c->positions;                             \
        if (c->p[P_SHARED].b) {                                                 \
            const T a0 = a[0];                                                  \
            double acc = 0;                                                     \
            for (size_t k = 0; k < c->n * C * S; k++) {                         \
                const T g = dy[k];                                              \
                acc += (double)NEG(x[k], x[k]) * (double)g;                     \
                dx[k] = POS(g, x[k]) + a0 * NEG(g, x[k]);                       \
            }                                                                   \
            if (dtheta)                                                         \
                dtheta[0] += (T)acc;                                            \
        } else if (S == 1 || c->layout != GS_LAYOUT_IMAGE) {                    \
            for (size_t i = 0; i < c->n * S; i++) {                             \
                const T *xi = x + i * C, *gi = dy + i * C;                      \
                T *dxi = dx + i * C;                                            \
                if (dtheta) {                                                   \
                    GS_SIMD                                                     \
                    for (size_t ch = 0; ch < C; ch++)                           \
                        dtheta[ch] += NEG(xi[ch], xi[ch]) * gi[ch];             \
                }                                                               \
                GS_SIMD                                                         \
                for (size_t ch = 0; ch < C; ch++)                               \
                    dxi[ch] = POS(gi[ch], xi[ch]) + a[ch] * NEG(gi[ch], xi[ch]); \
            }                                                                   \
        } else {                                                                \
            for (size_t r = 0; r < c->n * C; r++) {                             \
                const T ar = a[r % C];                                          \
                double acc = 0;                                                 \
                for (size_t k = r * S; k < (r + 1) * S; k++) {                  \
                    const T g = dy[k];                                          \
                    acc += (double)NEG(x[k], x[k]) * (double)g;                 \
                    dx[k] = POS(g, x[k]) + ar * NEG(g, x[k]);                   \
                }                                                               \
                if (dtheta)                                                     \
                    dtheta[r % C] += (T)acc;                                    \
            }                                                                   \
        }                                                                       \
    }

PRELU_KERNELS(float, f32)
PRELU_KERNELS(double, f64)

static size_t prelu_n_params(const gs_value *p, size_t channels)
{
    return p[P_SHARED].b ? 1 : channels;
}

static void prelu_init_params(const gs_value *p, size_t count, double *theta)
{
    for (size_t k = 0; k < count; k++)
        theta[k] = p[P_INIT].f;
}

/* calculate_gain("leaky_relu", a) at the initial slope */
static double prelu_gain(const gs_value *p)
{
    const double a = p[P_INIT].f;
    return sqrt(2.0 / (1.0 + a * a));
}

static const gs_param_spec prelu_params[] = {
    {.name = "shared", .type = GS_P_BOOL, .def = {.b = 0},
     .doc = "one slope for the whole layer instead of one per channel"},
    {.name = "init", .type = GS_P_FLOAT, .def = {.f = 0.25}, .min = GS_ANY,
     .doc = "initial slope a (torch default 0.25)"},
    {0}};

static const gs_activation_ops prelu_ops = {
    .size = sizeof(gs_activation_ops),
    .forward_f32 = prelu_forward_f32,
    .backward_f32 = prelu_backward_f32,
    .forward_f64 = prelu_forward_f64,
    .backward_f64 = prelu_backward_f64,
    .gain = prelu_gain,
    .n_params = prelu_n_params,
    .init_params = prelu_init_params,
    .param_name = "slope",
    .saturation_threshold = 0.0,
};

static const gs_component prelu_components[] = {
    GS_ACTIVATION_COMPONENT("prelu", "parametric ReLU with learnable slopes (torch.nn.PReLU)",
                            prelu_params, prelu_ops),
};

static const gs_plugin_desc prelu_desc = {
    GS_PLUGIN_HEADER,
    .name = "act_prelu",
    .version = "1.0.0",
    .license = "MIT",
    .description = "PReLU activation with learnable negative slopes",
    .n_components = 1,
    .components = prelu_components,
};

GS_PLUGIN_DEFINE(prelu_desc)
