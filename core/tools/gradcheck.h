/* A whole model's backward pass against central finite differences, shared
   by `gradscope check-plugin` and the test suite (gradscope/testing.h). */
#ifndef GS_TOOLS_GRADCHECK_H
#define GS_TOOLS_GRADCHECK_H

#include <stddef.h>
#include "engine/model.h"

/* Compares up to max_params parameter elements (and the input gradient);
   returns 0 when every relative error is below tol, else 1 with the worst
   in *max_err and its name in `what`. */
int gs_model_gradcheck(gs_model *m, int training, gs_rng *rng, double tol, size_t max_params,
                       double *max_err, char *what, size_t what_len);

#endif
