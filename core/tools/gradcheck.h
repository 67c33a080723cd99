/* A whole model's backward pass against central finite differences, shared
   by `gradscope check-plugin` and the test suite (gradscope/testing.h). */
#ifndef GS_TOOLS_GRADCHECK_H
#define GS_TOOLS_GRADCHECK_H

#include <stddef.h>
#include "engine/model.h"

/*
 * The checks' documented precision (docs/PLUGINS.md).  Double-precision
 * kernels are compared with differences of step 1e-6 and must agree to
 * GS_FD_TOL_F64; components without them are checked in float32 with
 * steps of GS_FD_STEP_F32 (times max(1, |v|)) at the looser GS_FD_TOL_F32,
 * what float rounding of the objective allows.
 */
#define GS_FD_TOL_F64 1e-5
#define GS_FD_TOL_F32 1e-2
#define GS_FD_STEP_F32 3e-3

/* Compares up to max_params parameter elements (0: all) and the input
   gradient of a double or a float model; returns 1 when every relative
   error is within tol, else 0, with the worst in *max_err and its name in
   `what`. */
int gs_model_gradcheck(gs_model *m, int training, gs_rng *rng, double tol, size_t max_params,
                       double *max_err, char *what, size_t what_len);

#endif
