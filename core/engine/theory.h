/* The mean-field prediction chi (Poole 2016, Schoenholz 2017) for the
   longest stack of equal-width dense layers, beside the measured factor. */
#ifndef GS_ENGINE_THEORY_H
#define GS_ENGINE_THEORY_H

#include "engine/model.h"


typedef struct gs_theory {
    int valid;
    size_t first, last; /* the stack of equal-width dense layers */
    char activation[64];
    double sigma_w2, sigma_b2, q_star, chi_predicted, chi_measured;
    /* the prediction along this network's own variance path from its input
       (finite depth: the fixed point may not be reached yet) */
    double q_in, chi_path;
} gs_theory;

/* first_input_grad: ||dL/dx|| of every layer over the global batch.  With
   comm (NULL: one process), every rank calls it; the input variance is then
   summed across ranks, so that the table does not depend on their count. */
void gs_theory_compute(const gs_model *m, const double *first_input_grad, const gs_comm *comm,
                       gs_theory *t);
int gs_theory_write(const char *dir, const gs_theory *t, gs_error *err);

#endif
