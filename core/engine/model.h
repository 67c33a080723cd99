/* The model: a sequence of top-level layers, each a tree of modules, with
   every learnable tensor in one parameter arena and one gradient arena. */
#ifndef GS_MODEL_H
#define GS_MODEL_H

#include "base/rng.h"
#include "base/util.h"
#include "plugin/registry.h"
#include "plugin/schema.h"


typedef struct gs_model gs_model;

/* One learnable tensor: the public view plus what the core needs. */
typedef struct gs_param_rec {
    gs_param pub;
    gs_module *owner;
    const gs_ref *init;      /* NULL: zeros, unless an activation provides values */
    const gs_ref *gain_from; /* activation whose gain "auto" uses */
    size_t offset, numel;    /* into the arenas, in elements */
    int layer;               /* top-level layer index */
    char *local_name;        /* name within its top-level layer: "f0.weight" */
} gs_param_rec;

/* Activation statistics of one top-level layer on a monitored step. */
typedef struct gs_act_stats {
    double dead, units;          /* units with f' = 0 for the whole batch */
    double saturated, elements;  /* values with |f'| below the activation's threshold */
} gs_act_stats;

/* A scalar a module recorded on a monitored step (host->record). */
typedef struct gs_stat_rec {
    int layer;
    char *key; /* "<path>.<key>", owned */
    double value;
} gs_stat_rec;

/* A statistic over an axis a module recorded on a monitored step
   (host->record_series). */
typedef struct gs_series_rec {
    int layer;
    char *name; /* "<path>.<name>", owned */
    gs_axis axis;
    double *values; /* owned */
    size_t n;
} gs_series_rec;

struct gs_module {
    gs_module_head head; /* must stay first: plugins read the host from it */
    gs_model *model;
    gs_module *parent;
    char *path; /* within its top-level layer: "" for the layer itself, "act", "f0.act" */
    const gs_component_info *info;
    const gs_ref *ref;
    int is_activation;
    int built; /* its layer's build ran: destroy is owed */
    gs_shape in, out;
    void *state;
    int layer;
    gs_param_rec *theta; /* an activation's learnable parameters */
    gs_rng rng;
};

struct gs_model {
    const gs_registry *reg;
    gs_dtype dtype;
    uint64_t seed;
    gs_shape in, out;
    gs_module **layers;
    size_t n_layers;
    gs_module **modules; /* every module, for freeing */
    size_t n_modules;
    gs_param_rec **params;
    size_t n_params;
    size_t total; /* elements in each arena */
    void *values, *grads;
    int grads_zero; /* grads are all zero (the trainer cleared them in the optimizer step) */
    gs_tensor **buffers;
    size_t *buffer_numel; /* per example */
    size_t n_buffers;
    size_t max_batch;
    gs_tensor *acts;  /* n_layers + 1: acts[0] is the input batch */
    gs_tensor *dacts; /* gradients w.r.t. acts: dacts[l] shares dact_buf[l % 2] */
    void *dact_buf[2];
    double *dact_sumsq; /* after a monitored backward: sum of dacts[l]^2 (NaN: not computed) */
    int lacks_f64;  /* a double model met a module without double kernels */
    int monitoring; /* blocks record their path statistics (host->monitoring) */
    int detailed;   /* activations record dead and saturated units */
    gs_act_stats *act_stats; /* per layer, reset by each monitored forward */
    gs_stat_rec *stats;
    size_t n_stats, cap_stats;
    gs_series_rec *series;
    size_t n_series, cap_series;
    /* host->scratch_get's stack: level d is the buffer handed out at depth
       d, kept (and grown) for the next call that reaches that depth. */
    struct gs_scratch_level {
        void *ptr;
        size_t cap;
    } *scratch;
    size_t scratch_depth, scratch_levels;
    gs_pool pool;
};

gs_model *gs_model_new(const gs_registry *reg, gs_dtype dtype, uint64_t seed,
                       const gs_shape *in);
/* Builds one top-level layer from a layer (or activation) reference. */
int gs_model_add_layer(gs_model *m, const gs_ref *ref, gs_error *err);
/* Allocates arenas and buffers for batches up to max_batch; initializes weights. */
int gs_model_finalize(gs_model *m, size_t max_batch, gs_error *err);
void gs_model_free(gs_model *m);
/* Whether the trainer's weight decay applies to a tensor of `role`, given
   its groups (training.decay_weights, decay_biases, decay_slopes,
   decay_norm): activation parameters follow decay_slopes; a block's gain
   and buffers never decay. */
int gs_role_decays(gs_role role, int weights, int biases, int slopes, int norm);
/* Drops the step's recorded statistics and series (the monitor has
   written them, or a test has read them). */
void gs_model_clear_records(gs_model *m);
/* host->record and host->record_series: kept while m->monitoring. */
void gs_model_record(gs_module *mod, const char *key, double value);
void gs_model_record_series(gs_module *mod, const char *name, gs_axis axis,
                            const double *values, size_t n);
/* host->scratch_get and scratch_put. */
void *gs_model_scratch_get(gs_module *mod, size_t bytes);
void gs_model_scratch_put(gs_module *mod, void *ptr);

/* Sets the batch size of every activation and buffer tensor. */
void gs_model_set_batch(gs_model *m, size_t n);
/* acts[0] must hold the batch; leaves the output in acts[n_layers]. */
void gs_model_forward(gs_model *m, int training);
/* dacts[n_layers] must hold dL/dout.  Zeroes (unless grads_zero says they
   are) and accumulates gradients.
   With input_grad, dacts[0] receives dL/dx too.  Only dacts[0] and
   dacts[1] stay valid after it (the buffers alternate); when monitoring,
   dact_sumsq keeps every layer's. */
void gs_model_backward(gs_model *m, int input_grad);
size_t gs_model_param_count(const gs_model *m);

/* What the host table's building and running services do. */
gs_param_rec *gs_model_declare_param(gs_module *mod, const char *name, int ndim,
                                     const size_t *dims, gs_role role, size_t fan_in,
                                     size_t fan_out, const gs_ref *init,
                                     const gs_ref *gain_from);
gs_tensor *gs_model_declare_buffer(gs_module *mod, const char *name, const gs_shape *shape);
gs_module *gs_model_add_child(gs_module *parent, const char *name, const gs_ref *spec,
                              const gs_shape *in, gs_shape *out);
void gs_module_forward(gs_module *mod, const gs_tensor *x, gs_tensor *y, int training);
void gs_module_backward(gs_module *mod, const gs_tensor *x, const gs_tensor *y,
                        const gs_tensor *dy, gs_tensor *dx);
const char *gs_module_type(const gs_module *mod);

#endif
