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
#include "kernels/kernels.h"

void gs_trainer_gather(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n)
{
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->in);
    gs_gather_rows(n, width, s->x, idx, m->acts[0].data);
    /* an example's targets: `steps` rows of `w` values, out = steps * w */
    size_t out = gs_shape_numel(&m->out), steps = t->steps, w = out / steps;
    const uint8_t *mask = s == &t->data.test ? t->data.test_mask : t->data.train_mask;
    for (size_t i = 0; i < n; i++) {
        if (s->labels)
            memcpy(t->batch_labels + i * steps, s->labels + idx[i] * steps,
                   steps * sizeof(int32_t));
        if (t->batch_mask) {
            if (mask)
                memcpy(t->batch_mask + i * steps, mask + idx[i] * steps, steps);
            else
                memset(t->batch_mask + i * steps, 1, steps);
        }
        if (!t->loss->needs_labels) {
            if (s->targets)
                memcpy(t->batch_targets + i * out, s->targets + idx[i] * out,
                       out * sizeof(float));
            else /* one-hot class targets for mse/bce on a classification set */
                for (size_t r = 0; r < steps; r++)
                    for (size_t j = 0; j < w; j++)
                        t->batch_targets[(i * steps + r) * w + j] =
                            (size_t)s->labels[idx[i] * steps + r] == j ? 1.0f : 0.0f;
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

/* Rows counted of the n gathered examples' n * steps. */
static size_t counted_rows(const gs_trainer *t, size_t n)
{
    size_t rows = n * t->steps, k = 0;
    if (!t->batch_mask)
        return rows;
    for (size_t r = 0; r < rows; r++)
        k += t->batch_mask[r] != 0;
    return k;
}

/* Counted rows whose largest output is the label. */
static size_t right_rows(const gs_trainer *t, size_t n, const float *out, size_t width)
{
    size_t ok = 0;
    for (size_t r = 0; r < n * t->steps; r++) {
        if (t->batch_mask && !t->batch_mask[r])
            continue;
        size_t best = 0;
        for (size_t j = 1; j < width; j++)
            if (out[r * width + j] > out[r * width + best])
                best = j;
        ok += best == (size_t)t->batch_labels[r];
    }
    return ok;
}

double gs_trainer_loss(gs_trainer *t, size_t n, float *dout, double *correct)
{
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->out) / t->steps;
    gs_loss_call c = {.host = gs_host_table(),
                      .p = t->loss_p,
                      .n = n,
                      .width = width,
                      .labels = t->loss->needs_labels ? t->batch_labels : NULL,
                      .targets = t->loss->needs_labels ? NULL : t->batch_targets,
                      .steps = t->steps,
                      .mask = t->batch_mask};
    const float *out = m->acts[m->n_layers].data;
    double loss = t->loss->eval_f32(&c, out, dout);
    if (correct) {
        *correct = 0;
        if (t->data.classes)
            *correct = (double)right_rows(t, n, out, width);
    }
    return loss;
}

void gs_trainer_evaluate(gs_trainer *t, const gs_split *s, const size_t *idx, size_t n,
                         double *loss, double *acc)
{
    /* means over the counted rows of the whole split: rows are examples,
       or their counted steps for per-step targets */
    size_t batch = t->model->max_batch;
    size_t width = gs_shape_numel(&t->model->out) / t->steps;
    double total = 0, correct = 0, rows = 0;
    for (size_t b = 0; b < n; b += batch) {
        size_t k = b + batch < n ? batch : n - b;
        gs_trainer_gather(t, s, idx + b, k);
        gs_model_forward(t->model, 0);
        double counted = (double)counted_rows(t, k);
        total += gs_trainer_loss(t, k, NULL, NULL) * counted;
        rows += counted;
        if (t->data.classes)
            correct += (double)right_rows(t, k, t->model->acts[t->model->n_layers].data, width);
    }
    *loss = rows > 0 ? total / rows : NAN;
    *acc = rows > 0 && t->data.classes ? correct / rows : NAN;
}
