/*
 * One optimizer step over one tensor.
 *
 * An element-wise optimizer (gs_optimizer_ops.elementwise) is
 * called on ranges of OPT_CHUNK elements, on the run's threads when the
 * tensor is long: every element meets the same arithmetic whichever range
 * holds it, so neither the ranges nor the thread count change a bit.  Other
 * optimizers get the whole tensor at once.
 *
 * When the monitor asks for the size of the update, ranges are stepped
 * MEASURE elements at a time from a copy on the stack, and the squared
 * distances of those pieces are added in order: no copy of a whole tensor
 * is ever made (it used to be the largest tensor's size in peak memory).
 *
 * GS_STEP_CLEAR_GRAD zeroes each range of the gradient right after its
 * step, while it is still in cache, so that the next backward pass needs
 * no separate pass over the whole gradient arena to zero it.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/optstep.h"
#include "base/util.h"
#include "kernels/kernels.h"

enum {
    MEASURE = 4096,                   /* floats copied at a time: 16 KiB on the stack */
    OPT_CHUNK = 4 * MEASURE,          /* elements per range */
    OPT_PARALLEL_MIN = 4 * OPT_CHUNK, /* shorter tensors stay on the calling thread */
};

int gs_optimizer_elementwise(const gs_optimizer_ops *ops)
{
    return ops->elementwise;
}

typedef struct step_job {
    const gs_optimizer_ops *ops;
    const gs_opt_call *c;
    size_t n;
    float *theta;
    float *grad;
    float *state;
    int clear;    /* zero each range of grad after its step */
    int stateful; /* 0: no state slots (and `state` one float long) */
    double *part; /* per MEASURE piece when measuring, else NULL */
} step_job;

/* The state of element i: an optimizer without state gets no offsets. */
static float *state_at(const step_job *j, size_t i)
{
    return j->stateful ? j->state + i : j->state;
}

static void step_range(void *arg, size_t r0, size_t r1)
{
    const step_job *j = arg;
    size_t b = r0 * OPT_CHUNK, e = r1 * OPT_CHUNK < j->n ? r1 * OPT_CHUNK : j->n;
    if (!j->part) {
        j->ops->step(j->c, e - b, j->theta + b, j->grad + b, state_at(j, b));
        if (j->clear)
            memset(j->grad + b, 0, (e - b) * sizeof(float));
        return;
    }
    float before[MEASURE];
    for (size_t s = b; s < e; s += MEASURE) {
        size_t len = e - s < MEASURE ? e - s : MEASURE;
        memcpy(before, j->theta + s, len * sizeof(float));
        j->ops->step(j->c, len, j->theta + s, j->grad + s, state_at(j, s));
        j->part[s / MEASURE] = gs_sqdist_f32(len, j->theta + s, before);
        if (j->clear)
            memset(j->grad + s, 0, len * sizeof(float));
    }
}

double gs_optimizer_step(const gs_optimizer_ops *ops, gs_opt_call c, size_t n, size_t slots,
                         float *theta, float *grad, float *state, int flags)
{
    int measure = (flags & GS_STEP_MEASURE) != 0, clear = (flags & GS_STEP_CLEAR_GRAD) != 0;
    c.stride = n;
    if (!gs_optimizer_elementwise(ops)) {
        float *before = measure ? gs_xmalloc((n ? n : 1) * sizeof(float)) : NULL;
        if (before)
            memcpy(before, theta, n * sizeof(float));
        ops->step(&c, n, theta, grad, state);
        double sq = before ? gs_sqdist_f32(n, theta, before) : NAN;
        free(before);
        if (clear)
            gs_zero(n * sizeof(float), grad);
        return sq;
    }
    size_t pieces = (n + MEASURE - 1) / MEASURE, ranges = (n + OPT_CHUNK - 1) / OPT_CHUNK;
    double stack[64], *part = NULL;
    if (measure)
        part = pieces <= 64 ? stack : gs_xmalloc(pieces * sizeof(double));
    step_job j = {ops, &c, n, theta, grad, state, clear, slots > 0, part};
    if (n >= OPT_PARALLEL_MIN && gs_get_threads() > 1)
        gs_parallel_for(ranges, 1, step_range, &j);
    else if (n)
        step_range(&j, 0, ranges);
    if (!measure)
        return NAN;
    double sq = 0;
    for (size_t k = 0; k < pieces; k++)
        sq += part[k];
    if (part != stack)
        free(part);
    return sq;
}
