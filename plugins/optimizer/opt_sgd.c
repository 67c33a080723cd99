/*
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum
 * and L2 weight decay, exactly as torch.optim.SGD.
 */
#include <math.h>
#include "gradscope/plugin.h"

enum { P_LR, P_MOMENTUM, P_DAMPENING, P_NESTEROV, P_WEIGHT_DECAY };

static size_t sgd_state_slots(const gs_value *p)
{
    /* Plain SGD keeps no state; the momentum buffer exists only when used. */
    return p[P_MOMENTUM].f > 0.0 ? 1 : 0;
}

/* Called with constant flags so each variant compiles to its own
   branch-free loop. */
static inline __attribute__((always_inline)) void
sgd_momentum_loop(size_t n, float *restrict theta, const float *restrict grad,
                  float *restrict buf, float lr, float wd, float mu, float keep,
                  const int first, const int nesterov)
{
    /* omp simd: at -O2 gcc's cheap cost model would leave this scalar. */
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i] + wd * theta[i];
        /* torch seeds the buffer with the first gradient, undamped. */
        buf[i] = first ? g : mu * buf[i] + keep * g;
        theta[i] -= lr * (nesterov ? g + mu * buf[i] : buf[i]);
    }
}

static void sgd_step(const gs_opt_call *c, size_t n, float *restrict theta,
                     const float *restrict grad, float *restrict state)
{
    const float lr = (float)c->lr;
    const float wd = (float)c->weight_decay;
    const float mu = (float)c->p[P_MOMENTUM].f;
    const float keep = (float)(1.0 - c->p[P_DAMPENING].f);
    const int first = c->t <= 1;

    if (c->p[P_MOMENTUM].f <= 0.0) {
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            theta[i] -= lr * (grad[i] + wd * theta[i]);
    } else if (c->p[P_NESTEROV].b) {
        if (first)
            sgd_momentum_loop(n, theta, grad, state, lr, wd, mu, keep, 1, 1);
        else
            sgd_momentum_loop(n, theta, grad, state, lr, wd, mu, keep, 0, 1);
    } else {
        if (first)
            sgd_momentum_loop(n, theta, grad, state, lr, wd, mu, keep, 1, 0);
        else
            sgd_momentum_loop(n, theta, grad, state, lr, wd, mu, keep, 0, 0);
    }
}

static const gs_param_spec sgd_params[] = {
    {.name = "lr", .type = GS_P_FLOAT, .def = {.f = 0.01}, .min = 0.0, .max = HUGE_VAL,
     .doc = "base learning rate (torch has no default; 0.01 here)"},
    {.name = "momentum", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "momentum factor mu; 0 disables the buffer"},
    {.name = "dampening", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = GS_ANY,
     .doc = "dampening of the gradient added to the momentum buffer"},
    {.name = "nesterov", .type = GS_P_BOOL, .def = {.b = 0},
     .doc = "Nesterov momentum: step along g + mu*buf"},
    {.name = "weight_decay", .type = GS_P_FLOAT, .def = {.f = 0.0}, .min = 0.0, .max = HUGE_VAL,
     .doc = "L2 penalty added to the gradient (applied per group by the core)"},
    {0}};

/* torch.optim.SGD refuses the same combination. */
static int sgd_validate(const gs_value *p, const gs_host *host)
{
    if (p[P_NESTEROV].b && (p[P_MOMENTUM].f <= 0.0 || p[P_DAMPENING].f != 0.0)) {
        host->error("nesterov = true requires momentum > 0 and dampening = 0 (as torch.optim.SGD)");
        return -1;
    }
    return 0;
}

static const gs_optimizer_ops sgd_ops = {
    .size = sizeof(gs_optimizer_ops),
    .state_slots = sgd_state_slots,
    .state_init = NULL,
    .step = sgd_step,
    .elementwise = 1,
};

static const gs_component sgd_components[] = {{
    .size = sizeof(gs_component),
    .kind = GS_KIND_OPTIMIZER,
    .name = "sgd",
    .doc = "SGD with momentum, dampening, Nesterov and L2 decay (torch.optim.SGD)",
    .params = sgd_params,
    .ops = &sgd_ops,
    .validate = sgd_validate,
}};

static const gs_plugin_desc sgd_desc = {
    GS_PLUGIN_HEADER,
    .name = "opt_sgd",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Stochastic gradient descent optimizer",
    .n_components = 1,
    .components = sgd_components,
};

GS_PLUGIN_DEFINE(sgd_desc)
