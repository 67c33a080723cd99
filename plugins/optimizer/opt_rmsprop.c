/*
 * RMSprop exactly as torch.optim.RMSprop: eps is added outside the square
 * root (TensorFlow adds it inside), optional centring by the running mean
 * gradient and optional momentum on the normalised step.
 */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_LR, P_ALPHA, P_EPS, P_MOMENTUM, P_CENTERED, P_WEIGHT_DECAY };

/* State: slot 0 square average, then the mean gradient when centred, then
   the momentum buffer when momentum > 0. */
static size_t rmsprop_state_slots(const gs_value *p)
{
    return 1 + (p[P_CENTERED].b ? 1 : 0) + (p[P_MOMENTUM].f > 0.0 ? 1 : 0);
}

/* Called with constant flags so each variant compiles to its own
   branch-free, vectorisable loop. */
static inline __attribute__((always_inline)) void
rmsprop_loop(size_t n, float *restrict theta, const float *restrict grad,
             float *restrict sq, float *restrict gavg, float *restrict buf, float lr,
             float wd, float alpha, float beta, float eps, float mu, const int centered,
             const int momentum)
{
    /* omp simd: at -O2 gcc's cheap cost model would leave this scalar. */
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i] + wd * theta[i];
        sq[i] = alpha * sq[i] + beta * g * g;
        float avg = sq[i];
        if (centered) {
            gavg[i] = alpha * gavg[i] + beta * g;
            avg -= gavg[i] * gavg[i];
        }
        const float step = g / (sqrtf(avg) + eps);
        if (momentum) {
            buf[i] = mu * buf[i] + step;
            theta[i] -= lr * buf[i];
        } else {
            theta[i] -= lr * step;
        }
    }
}

static void rmsprop_step(const gs_opt_call *c, size_t n, float *theta, const float *grad,
                         float *state)
{
    const float lr = (float)c->lr, wd = (float)c->weight_decay;
    const float alpha = (float)c->p[P_ALPHA].f, eps = (float)c->p[P_EPS].f;
    /* 1 - alpha in double from the configured alpha, as torch: 1 - (float)alpha
       is off by 6.8e-4 relative at alpha = 0.99999. */
    const float beta = (float)(1.0 - c->p[P_ALPHA].f);
    const float mu = (float)c->p[P_MOMENTUM].f;
    const int centered = c->p[P_CENTERED].b != 0;
    const int momentum = c->p[P_MOMENTUM].f > 0.0;
    float *sq = state;
    float *gavg = centered ? state + c->stride : NULL;
    float *buf = momentum ? state + (centered ? 2 : 1) * c->stride : NULL;

    if (centered && momentum)
        rmsprop_loop(n, theta, grad, sq, gavg, buf, lr, wd, alpha, beta, eps, mu, 1, 1);
    else if (centered)
        rmsprop_loop(n, theta, grad, sq, gavg, buf, lr, wd, alpha, beta, eps, mu, 1, 0);
    else if (momentum)
        rmsprop_loop(n, theta, grad, sq, gavg, buf, lr, wd, alpha, beta, eps, mu, 0, 1);
    else
        rmsprop_loop(n, theta, grad, sq, gavg, buf, lr, wd, alpha, beta, eps, mu, 0, 0);
}

static const gs_param_spec rmsprop_params[] = {
    {.name = "lr", .type = GS_P_FLOAT, .def = {.f = 1e-2}, .min = 0.0, .max = HUGE_VAL,
     .doc = "base learning rate"},
    {.name = "alpha", .type = GS_P_FLOAT, .def = {.f = 0.99}, .min = 0.0, .max = 1.0,
     .doc = "smoothing constant of the squared-gradient average"},
    {.name = "eps", .type = GS_P_FLOAT, .def = {.f = 1e-8}, .min = 0.0, .max = HUGE_VAL,
     .doc = "added to the root of the average (outside the square root)"},
    {.name = "momentum", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "momentum on the normalised step; 0 disables the buffer"},
    {.name = "centered", .type = GS_P_BOOL, .def = {.b = 0},
     .doc = "normalise by the estimated variance (subtract the squared mean gradient)"},
    {.name = "weight_decay", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "L2 penalty added to the gradient (applied per group by the core)"},
    {0}};

static const gs_optimizer_ops rmsprop_ops = {
    .size = sizeof(gs_optimizer_ops),
    .state_slots = rmsprop_state_slots,
    .state_init = NULL,
    .step = rmsprop_step,
    .elementwise = 1,
};

static const gs_component rmsprop_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_OPTIMIZER,
    .name = "rmsprop",
    .doc = "RMSprop with centring, momentum and L2 decay (torch.optim.RMSprop)",
    .params = rmsprop_params,
    .ops = &rmsprop_ops,
}};

static const gs_plugin_desc rmsprop_desc = {
    GS_PLUGIN_HEADER,
    .name = "opt_rmsprop",
    .version = "1.0.0",
    .license = "MIT",
    .description = "RMSprop optimizer",
    .n_components = 1,
    .components = rmsprop_components,
};

GS_PLUGIN_DEFINE(rmsprop_desc)
