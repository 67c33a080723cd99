/*
 * libgradscope's test API: build a small model from layer references and
 * drive it step by step - set inputs and parameters, run forward and
 * backward, read gradients and recorded path statistics, compare backward
 * with finite differences.  The block tests use it for configurations that
 * `gradscope check-plugin` (which checks defaults only) does not reach.
 *
 * Not part of the stable API: it may change with any release.
 */
#ifndef GRADSCOPE_TESTING_H
#define GRADSCOPE_TESTING_H

#include "gradscope/gradscope.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gs_test_model gs_test_model;

/* An empty model taking examples of shape `in`; weights are seeded from `seed`. */
GS_API gs_test_model *gs_test_model_new(const gs_registry *reg, gs_dtype dtype, uint64_t seed,
                                        const gs_shape *in);
/* Appends a top-level layer (or activation) `type` with parameters in
   libconfig syntax ("units = 8; form = \"post\";", NULL for defaults). */
GS_API int gs_test_model_add(gs_test_model *t, const char *type, const char *params,
                             gs_error *err);
/* Allocates and initializes everything for batches of `batch` examples. */
GS_API int gs_test_model_finalize(gs_test_model *t, size_t batch, gs_error *err);
GS_API void gs_test_model_free(gs_test_model *t);

/* The batch tensors (valid after finalize): input x, output y, and their
   gradients dL/dx (filled by backward) and dL/dy (set it before backward). */
GS_API gs_tensor *gs_test_input(gs_test_model *t);
GS_API gs_tensor *gs_test_output(gs_test_model *t);
GS_API gs_tensor *gs_test_input_grad(gs_test_model *t);
GS_API gs_tensor *gs_test_output_grad(gs_test_model *t);
GS_API gs_shape gs_test_output_shape(const gs_test_model *t);

/* Learnable tensors in declaration order; names are "LAYER.path.name". */
GS_API size_t gs_test_n_params(const gs_test_model *t);
GS_API gs_param *gs_test_param(gs_test_model *t, size_t i);
/* Total learnable elements. */
GS_API size_t gs_test_param_count(const gs_test_model *t);

GS_API void gs_test_forward(gs_test_model *t, int training);
/* Zeroes and accumulates parameter gradients and fills dL/dx. */
GS_API void gs_test_backward(gs_test_model *t);

/* Threads of the kernels (host->gemm, parallel_for) in every model from
   now on, as a run's `threads`: results must not depend on it. */
GS_API void gs_test_set_threads(int n);

/* While on, blocks record path statistics (host->record) and series
   (host->record_series); each forward clears the records of the previous
   step. */
GS_API void gs_test_set_monitoring(gs_test_model *t, int on);
GS_API size_t gs_test_n_records(const gs_test_model *t);
/* Record i: its top-level layer, key ("shortcut_grad_norm", "f.layer1_grad_norm") and value. */
GS_API int gs_test_record(const gs_test_model *t, size_t i, int *layer, const char **key,
                          double *value);

/* Series i: its top-level layer, name ("f.gate_by_step"), axis and n values. */
GS_API size_t gs_test_n_series(const gs_test_model *t);
GS_API int gs_test_series(const gs_test_model *t, size_t i, int *layer, const char **name,
                          gs_axis *axis, const double **values, size_t *n);

/* The trainer's weight-decay rule: 1 when weight decay applies to a tensor
   of `role` under the groups training.decay_weights, decay_biases,
   decay_slopes and decay_norm. */
GS_API int gs_test_role_decays(gs_role role, int decay_weights, int decay_biases,
                               int decay_slopes, int decay_norm);

/*
 * Compares backward with central finite differences of forward (mode
 * `training`) for every input and parameter element, at the current inputs
 * and parameters, for L = sum(r * y) with a random r.  Random modules
 * (dropout) replay the same draws in every evaluation.  Errors are relative
 * to the larger of the two values, or to a floor when both are smaller
 * (rounding noise of the differences).  A double model is differenced with
 * step 1e-6, floor 1e-4 max(1, sum|r y|) and tolerance 1e-5; a float model
 * (components without double kernels) with step 3e-3 max(1, |v|), floor
 * 1e-2 max(1, sum|r y|) and tolerance 1e-2.  Returns 1 when every error is
 * within the tolerance, 0 otherwise; *max_rel_err gets the largest error and
 * `what` (if not NULL) names where it occurred.
 */
GS_API int gs_test_gradcheck(gs_test_model *t, int training, double *max_rel_err, char *what,
                             size_t what_len);

#ifdef __cplusplus
}
#endif
#endif
