/* One optimizer step over a tensor, in ranges on the threads when the
   optimizer is element-wise. */
#ifndef GS_ENGINE_OPTSTEP_H
#define GS_ENGINE_OPTSTEP_H

#include <stddef.h>
#include "gradscope/plugin.h"

/* Whether the optimizer may be stepped on ranges of a tensor. */
int gs_optimizer_elementwise(const gs_optimizer_ops *ops);
/* One step of `ops` over a tensor of n elements with `slots` floats of
   state each (c.stride is set here); returns ||theta after - theta
   before||^2 with GS_STEP_MEASURE, else NaN.  GS_STEP_CLEAR_GRAD leaves
   grad zeroed. */
enum { GS_STEP_MEASURE = 1, GS_STEP_CLEAR_GRAD = 2 };
double gs_optimizer_step(const gs_optimizer_ops *ops, gs_opt_call c, size_t n, size_t slots,
                         float *theta, float *grad, float *state, int flags);

#endif
