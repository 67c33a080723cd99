/* The mean-field prediction chi (Poole 2016, Schoenholz 2017) for the
   longest stack of alike dense layers of square weights, or of conv2d layers
   that keep their image's shape (Xiao et al. 2018), beside the measured
   factor. */
#ifndef GS_ENGINE_THEORY_H
#define GS_ENGINE_THEORY_H

#include "engine/model.h"
#include "rundir/csv.h"


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
/* theory.csv's step-0 row (rundir/format.h): t with its stack's kind, or,
   when t holds no stack and the model works on images, a row whose note
   says why the theory does not apply to its convolutions; no row
   otherwise. */
void gs_theory_log_init(gs_csv *log, const gs_model *m, const gs_theory *t);

/* rho and sigma_max (engine/spectral.h) of one H x H gate block of a
   recurrent layer's weight_hh_l<k>. */
typedef struct gs_spectral {
    size_t layer, param, gate; /* the block: gate `gate` of m->params[param] */
    char weight[64]; /* "weight_hh_l0", or with the gate: "weight_hh_l0.f" */
    double rho, sigma_max;
} gs_spectral;

/* Every gate block of every recurrent layer (rnn, lstm, gru) of m, into
   *out (grown as needed, *cap its capacity); returns how many.  Taken on
   a monitored step before the update. */
size_t gs_theory_spectral(const gs_model *m, gs_spectral **out, size_t *cap);
/* Their theory.csv rows of step `step`. */
void gs_theory_log_spectral(gs_csv *log, const gs_spectral *s, size_t n, uint64_t step);

#endif
