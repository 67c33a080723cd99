/* The mean-field prediction chi (Poole 2016, Schoenholz 2017) for the
   longest stack of alike dense layers of square weights, or of conv2d layers
   that keep their image's shape (Xiao et al. 2018), beside the measured
   factor. */
#ifndef GS_ENGINE_THEORY_H
#define GS_ENGINE_THEORY_H

#include "engine/model.h"


typedef struct gs_theory {
    int valid;
    size_t first, last; /* the stack of alike dense or conv2d layers */
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
/* theory.csv: t's row with the stack's kind (GS_THEORY_STACK), or, when t
   holds no stack and the model works on images, a row that says in
   GS_THEORY_NOTE why the theory does not apply to its convolutions; the
   header alone otherwise. */
int gs_theory_write(const char *dir, const gs_model *m, const gs_theory *t, gs_error *err);

/* On a monitored step: for every recurrent layer (rnn, lstm, gru), rho and
   sigma_max (engine/spectral.h) of each H x H gate block of each
   weight_hh_l<k>, recorded for paths.csv under the keys of rundir/format.h
   (GS_PATHS_RHO, GS_PATHS_SIGMA_MAX). */
void gs_theory_spectral_record(gs_model *m);

#endif
