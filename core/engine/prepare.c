/*
 * A variant made ready to train: its data loaded and split, its model
 * built, its optimizer state initialized.  Everything here can fail
 * because of the input, and all of it runs before anything is written.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "base/rng.h"
#include "base/util.h"
#include "engine/trainer.h"
#include "kernels/kernels.h"
#include "plugin/registry.h"

static void free_dataset(gs_dataset *d)
{
    free(d->train.x);
    free(d->train.labels);
    free(d->train.targets);
    free(d->test.x);
    free(d->test.labels);
    free(d->test.targets);
    free(d->train_mask);
    free(d->test_mask);
    memset(d, 0, sizeof *d);
}

static int load_data(gs_trainer *t, gs_error *err)
{
    const gs_variant *v = t->v;
    const gs_dataset_ops *ops = v->data->info->component->ops;
    gs_rng rng;
    gs_rng_seed(&rng, (uint64_t)v->seed, gs_hash_string("data"));
    gs_data_call call = {.host = gs_host_table(), .p = v->data->values, .rng = &rng};
    gs_clear_error();
    if (ops->load(&call, &t->data) != 0) {
        gs_err_set(err, "%s", gs_last_error()[0] ? gs_last_error() : "data: loading failed");
        return -1;
    }
    gs_dataset *d = &t->data;
    if (d->train.count == 0 || !d->train.x || gs_shape_numel(&d->shape) == 0) {
        gs_err_set(err, "data '%s': the training set is empty", v->data->info->component->name);
        return -1;
    }
    if (d->classes && !d->train.labels) {
        gs_err_set(err, "data '%s': classification set without labels",
                   v->data->info->component->name);
        return -1;
    }
    /* Hold out a seeded validation split from the training set. */
    double val = v->training[T_VALIDATION].f;
    size_t n_val = val < 1.0 ? (size_t)llround(val * (double)d->train.count) : (size_t)val;
    if (n_val >= d->train.count) {
        gs_err_set(err, "training.validation = %g leaves no training examples (%zu in the set)",
                   val, d->train.count);
        return -1;
    }
    size_t n = d->train.count;
    size_t *perm = gs_xmalloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    gs_rng_seed(&rng, (uint64_t)v->seed, gs_hash_string("split"));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)gs_rng_below(&rng, i);
        size_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    t->n_val = n_val;
    t->n_train = n - n_val;
    t->val_idx = gs_xmalloc((n_val ? n_val : 1) * sizeof(size_t));
    t->train_idx = gs_xmalloc(t->n_train * sizeof(size_t));
    memcpy(t->val_idx, perm, n_val * sizeof(size_t));
    memcpy(t->train_idx, perm + n_val, t->n_train * sizeof(size_t));
    free(perm);
    t->test_idx = gs_xmalloc((d->test.count + 1) * sizeof(size_t));
    for (size_t i = 0; i < d->test.count; i++)
        t->test_idx[i] = i;
    return 0;
}

/* "a sequence (T, C) = (28, 28)", "a vector (C) = (10)", ... */
static void shape_text(const gs_shape *s, char *buf, size_t len)
{
    switch (s->layout) {
    case GS_LAYOUT_SEQUENCE:
        snprintf(buf, len, "a sequence (T, C) = (%zu, %zu)", s->dims[0], s->dims[1]);
        break;
    case GS_LAYOUT_IMAGE:
        snprintf(buf, len, "an image (C, H, W) = (%zu, %zu, %zu)", s->dims[0], s->dims[1],
                 s->dims[2]);
        break;
    default: snprintf(buf, len, "a vector (C) = (%zu)", gs_shape_numel(s)); break;
    }
}

/*
 * Per-step targets need a model whose output is a sequence of as many
 * steps (a recurrent layer with return = "sequence", then dense layers
 * with per_step = true), and a loss that honours steps; one target per
 * example needs an output that is not a sequence, and sequences need a
 * first layer that reads them as such.  Errors name the layer's line and
 * both shapes.
 */
static int check_steps(gs_trainer *t, size_t *width, gs_error *err)
{
    const gs_variant *v = t->v;
    const gs_dataset *d = &t->data;
    const gs_shape *out = &t->model->out;
    const char *data = v->data->info->component->name;
    const char *where = v->n_layers ? v->layers[v->n_layers - 1].where : "model";
    char have[96];
    shape_text(out, have, sizeof have);
    size_t steps = d->steps > 1 ? d->steps : 1;
    size_t tw = d->classes ? d->classes : d->target_width;
    const gs_model *m = t->model;
    if (d->shape.layout == GS_LAYOUT_SEQUENCE && m->n_layers &&
        strcmp(gs_module_type(m->layers[0]), "dense") == 0 &&
        m->layers[0]->out.layout != GS_LAYOUT_SEQUENCE) {
        /* a dense layer takes anything as flat features, which for a
           sequence is seldom meant; a flatten layer first says it is */
        char in[96], first[96];
        shape_text(&d->shape, in, sizeof in);
        shape_text(&m->layers[0]->out, first, sizeof first);
        gs_err_set(err,
                   "%s: model: data '%s' gives %s, but layer 0 (dense) reads it as %zu flat "
                   "features to give %s: read sequences with a recurrent layer (rnn, lstm, "
                   "gru), give dense per_step = true, or put a flatten layer first",
                   v->layers[0].where, data, in, gs_shape_numel(&d->shape), first);
        return -1;
    }
    if (steps == 1) {
        if (out->layout == GS_LAYOUT_SEQUENCE) {
            gs_err_set(err,
                       "%s: model: the output is %s, but data '%s' has one target per "
                       "example (%zu wide): read the sequence with a recurrent layer (rnn, lstm, "
                       "gru) whose return = \"last\"",
                       where, have, data, tw);
            return -1;
        }
        return 0;
    }
    if (out->layout != GS_LAYOUT_SEQUENCE || out->ndim != 2 || out->dims[0] != steps) {
        gs_err_set(err,
                   "%s: model: data '%s' has a target at every step, (T, %zu) = (%zu, %zu), "
                   "but the output is %s: give the recurrent layer return = \"sequence\" and "
                   "the dense layers after it per_step = true",
                   where, data, tw, steps, tw, have);
        return -1;
    }
    if (!t->loss->per_step) {
        gs_err_set(err, "loss '%s' has no per-step form, which data '%s' (a target at every step) "
                        "needs",
                   v->loss->info->component->name, data);
        return -1;
    }
    *width = out->dims[1];
    return 0;
}

static int check_compat(gs_trainer *t, gs_error *err)
{
    const gs_variant *v = t->v;
    const gs_dataset *d = &t->data;
    size_t width = gs_shape_numel(&t->model->out);
    if (check_steps(t, &width, err) < 0)
        return -1;
    const char *where = v->n_layers ? v->layers[v->n_layers - 1].where : "model";
    size_t rows = d->steps > 1 ? d->steps : 1;
    if (t->loss->needs_labels) {
        if (!d->classes) {
            gs_err_set(err, "loss '%s' needs class labels but data '%s' has regression targets",
                       v->loss->info->component->name, v->data->info->component->name);
            return -1;
        }
        if (width != d->classes) {
            gs_err_set(err,
                       "%s: model: the output width is %zu but the data has %zu classes (set "
                       "the last layer's units to %zu)",
                       where, width, d->classes, d->classes);
            return -1;
        }
        const gs_split *splits[2] = {&d->train, &d->test};
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < splits[s]->count * rows; i++)
                if (splits[s]->labels[i] < 0 || (size_t)splits[s]->labels[i] >= d->classes) {
                    gs_err_set(err, "data: label %d of %s example %zu is out of range [0, %zu)",
                               splits[s]->labels[i], s ? "test" : "training", i / rows,
                               d->classes);
                    return -1;
                }
    } else {
        size_t tw = d->classes ? d->classes : d->target_width;
        if (width != tw) {
            gs_err_set(err, "%s: model: the output width is %zu but the data has %zu targets",
                       where, width, tw);
            return -1;
        }
    }
    return 0;
}

/*
 * A model whose arenas would not fit in this machine's memory is an input
 * error, reported before anything is allocated: parameters, gradients,
 * optimizer state, and the activations and work buffers of one batch.
 */
static int check_memory(const gs_model *m, size_t batch, size_t slots, gs_error *err)
{
    double per_example = 0, widest = 0;
    for (size_t l = 0; l <= m->n_layers; l++) {
        double n = (double)gs_shape_numel(l ? &m->layers[l - 1]->out : &m->in);
        per_example += n; /* each layer's output */
        widest = n > widest ? n : widest;
    }
    /* activation gradients (two buffers in turn) and the host's scratch */
    per_example += 3.0 * widest;
    for (size_t i = 0; i < m->n_buffers; i++)
        per_example += (double)m->buffer_numel[i];
    double bytes = 4.0 * ((double)m->total * (2.0 + (double)slots) + per_example * (double)batch);
    double ram = gs_machine_memory();
    if (ram > 0 && bytes > 0.9 * ram) {
        gs_err_set(err,
                   "model: %zu parameters and batch %zu need %.1f GiB, more than this machine's "
                   "%.1f GiB",
                   m->total, batch, bytes / 1073741824.0, ram / 1073741824.0);
        return -1;
    }
    return 0;
}

/* Everything that can fail because of the input, before anything is written. */
int gs_trainer_prepare(gs_trainer *t, const gs_variant *v, gs_error *err)
{
    memset(t, 0, sizeof *t);
    t->v = v;
    t->loss = v->loss->info->component->ops;
    t->loss_p = v->loss->values;
    t->opt = v->optimizer->info->component->ops;
    t->opt_p = v->optimizer->values;
    t->sched = v->schedule->info->component->ops;
    t->base_lr = gs_optimizer_param(v->optimizer, "lr", 0.01);
    t->weight_decay = gs_optimizer_param(v->optimizer, "weight_decay", 0.0);
    int threads = (int)v->training[T_THREADS].i;
#ifdef _OPENMP
    if (threads == 0)
        threads = omp_get_num_procs();
#endif
    gs_set_threads(threads);
    /* Off by default: denormals cost little on current x86 and they are the
       smallest gradients this tool exists to see (docs/PERFORMANCE.md). */
    gs_set_flush_denormals(v->training[T_FLUSH_DENORMALS].b);
    if (load_data(t, err) < 0 || gs_trainer_check_augment(t, err) < 0)
        return -1;
    size_t batch = (size_t)v->training[T_BATCH].i;
    t->model = gs_model_new(v->data->reg, GS_F32, (uint64_t)v->seed, &t->data.shape);
    for (size_t i = 0; i < v->n_layers; i++)
        for (int64_t r = 0; r < v->layers[i].repeat; r++)
            if (gs_model_add_layer(t->model, v->layers[i].ref, err) < 0) {
                gs_err_prefix(err, "%s: model: ", v->layers[i].where);
                return -1;
            }
    if (check_memory(t->model, batch, t->opt->state_slots(t->opt_p), err) < 0 ||
        gs_model_finalize(t->model, batch, err) < 0)
        return -1;
    if (check_compat(t, err) < 0)
        return -1;
    t->slots = t->opt->state_slots(t->opt_p);
    size_t total = t->model->total;
    t->opt_state = gs_xcalloc(total * t->slots + 1, sizeof(float));
    for (size_t i = 0; i < t->model->n_params; i++) {
        gs_param_rec *p = t->model->params[i];
        for (size_t k = 0; k < t->slots && t->opt->state_init; k++) {
            float v0 = (float)t->opt->state_init(t->opt_p, k);
            float *s = t->opt_state + p->offset * t->slots + k * p->numel;
            for (size_t e = 0; e < p->numel; e++)
                s[e] = v0;
        }
    }
    t->steps = t->data.steps > 1 ? t->data.steps : 1;
    t->batch_labels = gs_xcalloc(batch * t->steps, sizeof(int32_t));
    t->batch_targets = gs_xcalloc(batch * gs_shape_numel(&t->model->out), sizeof(float));
    if (t->data.train_mask || t->data.test_mask)
        t->batch_mask = gs_xcalloc(batch * t->steps, 1);
    return 0;
}

void gs_trainer_free(gs_trainer *t)
{
    gs_model_free(t->model);
    free_dataset(&t->data);
    free(t->train_idx);
    free(t->val_idx);
    free(t->test_idx);
    free(t->opt_state);
    free(t->batch_labels);
    free(t->batch_targets);
    free(t->batch_mask);
}
