/*
 * Batches through the model: examples gathered from a split, the training
 * batches' augmentation, the loss of the model's output, and evaluation
 * over a whole split.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "engine/trainer.h"
#include "kernels/augment.h"

void gs_trainer_gather(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n)
{
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->in);
    float *x = m->acts[0].data;
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * width, s->x + idx[i] * width, width * sizeof(float));
    size_t out = gs_shape_numel(&m->out);
    for (size_t i = 0; i < n; i++) {
        if (s->labels)
            t->batch_labels[i] = s->labels[idx[i]];
        if (!t->loss->needs_labels) {
            if (s->targets)
                memcpy(t->batch_targets + i * out, s->targets + idx[i] * out,
                       out * sizeof(float));
            else /* one-hot class targets for mse/bce on a classification set */
                for (size_t j = 0; j < out; j++)
                    t->batch_targets[i * out + j] = (size_t)s->labels[idx[i]] == j ? 1.0f : 0.0f;
        }
    }
    gs_model_set_batch(m, n);
}

int gs_trainer_check_augment(const gs_trainer *t, gs_error *err)
{
    const gs_value *a = t->v->augment;
    const gs_shape *s = &t->data.shape;
    if ((a[A_CROP_PADDING].i || a[A_FLIP].b) && s->layout != GS_LAYOUT_IMAGE) {
        char dims[96] = "";
        for (int i = 0, k = 0; i < s->ndim && k < (int)sizeof dims; i++)
            k += snprintf(dims + k, sizeof dims - (size_t)k, "%s%zu", i ? ", " : "",
                          s->dims[i]);
        gs_err_set(err,
                   "data.augment: crop_padding and flip need images (C, H, W), but data '%s' "
                   "gives %s (%s); turn augment off or use an image data set",
                   t->v->data->info->component->name,
                   s->layout == GS_LAYOUT_SEQUENCE ? "sequences" : "vectors", dims);
        return -1;
    }
    return 0;
}

void gs_trainer_augment(gs_trainer *t, const size_t *idx, size_t n, uint64_t epoch)
{
    const gs_value *a = t->v->augment;
    size_t pad = (size_t)a[A_CROP_PADDING].i;
    int flip = a[A_FLIP].b;
    if (!pad && !flip)
        return;
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->in);
    float *x = m->acts[0].data;
    float *scratch = gs_xmalloc(width * sizeof(float));
    for (size_t i = 0; i < n; i++)
        gs_augment_image(x + i * width, &m->in, pad, flip, (uint64_t)t->v->seed, epoch,
                         idx[i], scratch);
    free(scratch);
}

double gs_trainer_loss(gs_trainer *t, size_t n, float *dout, size_t *correct)
{
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->out);
    gs_loss_call c = {.host = gs_host_table(),
                      .p = t->loss_p,
                      .n = n,
                      .width = width,
                      .labels = t->loss->needs_labels ? t->batch_labels : NULL,
                      .targets = t->loss->needs_labels ? NULL : t->batch_targets,
                      .steps = 1};
    const float *out = m->acts[m->n_layers].data;
    double loss = t->loss->eval_f32(&c, out, dout);
    if (correct) {
        size_t ok = 0;
        if (t->data.classes)
            for (size_t i = 0; i < n; i++) {
                size_t best = 0;
                for (size_t j = 1; j < width; j++)
                    if (out[i * width + j] > out[i * width + best])
                        best = j;
                ok += best == (size_t)t->batch_labels[i];
            }
        *correct = ok;
    }
    return loss;
}

void gs_trainer_evaluate(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n,
                         double *loss, double *acc)
{
    size_t batch = t->model->max_batch;
    double total = 0, correct = 0;
    for (size_t b = 0; b < n; b += batch) {
        size_t k = b + batch < n ? batch : n - b;
        gs_trainer_gather(t, s, idx + b, k);
        gs_model_forward(t->model, 0);
        size_t ok;
        total += gs_trainer_loss(t, k, NULL, &ok) * (double)k;
        correct += (double)ok;
    }
    *loss = n ? total / (double)n : NAN;
    *acc = n && t->data.classes ? correct / (double)n : NAN;
}
