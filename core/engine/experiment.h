/* A validated experiment: one resolved configuration per variant. */
#ifndef GS_EXPERIMENT_H
#define GS_EXPERIMENT_H

#include "base/util.h"
#include "plugin/schema.h"


enum { T_EPOCHS, T_BATCH, T_THREADS, T_VALIDATION, T_CLIP_NORM, T_CLIP_VALUE, T_DECAY_WEIGHTS,
       T_DECAY_BIASES, T_DECAY_SLOPES, T_DECAY_NORM, T_FLUSH_DENORMALS, T_COUNT };
enum { M_EVERY, M_DUMP, M_DETAIL_EVERY, M_COUNT };
enum { O_DIR, O_COUNT };
enum { C_EVERY, C_COUNT };
enum { A_CROP_PADDING, A_FLIP, A_COUNT };

typedef struct gs_layer_spec {
    gs_ref *ref;
    int64_t repeat;
    char where[256]; /* "FILE:LINE" of its group, for errors of building it */
} gs_layer_spec;

typedef struct gs_variant {
    char *label; /* variant name, "" without variants */
    char *name;  /* experiment name (with the variant's) */
    int64_t seed;
    gs_ref *data, *loss, *optimizer, *schedule;
    gs_layer_spec *layers;
    size_t n_layers;
    gs_value training[T_COUNT];
    gs_value monitor[M_COUNT];
    gs_value output[O_COUNT];
    gs_value checkpoint[C_COUNT];
    gs_value augment[A_COUNT]; /* data.augment */
    gs_pool pool;
} gs_variant;

struct gs_experiment {
    char *path;
    char *name;
    gs_variant *variants;
    size_t n_variants;
    int has_variants;
    int has_sweep; /* a sweep section, which `gradscope sweep` reads */
};

extern const gs_param_spec gs_training_schema[];
extern const gs_param_spec gs_monitor_schema[];
extern const gs_param_spec gs_output_schema[];
extern const gs_param_spec gs_checkpoint_schema[];
extern const gs_param_spec gs_augment_schema[];

/* Writes a variant as a complete libconfig experiment. */
void gs_variant_write(const gs_variant *v, FILE *f);
/* Value of the optimizer's parameter `key` (lr, weight_decay), or dflt. */
double gs_optimizer_param(const gs_ref *opt, const char *key, double dflt);

#endif
