/*
 * One training step: forward and loss (with several ranks, each on its
 * shard, then the sums across ranks), backward, the gradient norm, the
 * non-finite checks, clipping, the optimizer, and the monitor's two phases
 * around the optimizer.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "engine/optstep.h"
#include "engine/trainer.h"
#include "kernels/kernels.h"

static double group_decay(const gs_trainer *t, gs_role role)
{
    const gs_value *tr = t->v->training;
    int on = gs_role_decays(role, tr[T_DECAY_WEIGHTS].b, tr[T_DECAY_BIASES].b,
                            tr[T_DECAY_SLOPES].b, tr[T_DECAY_NORM].b);
    return on ? t->weight_decay : 0.0;
}

/* Where a non-finite value first appears: forward outputs in layer order,
   then gradients in backward order. */
static long locate_nonfinite(const gs_model *m, int in_loss, char *buf, size_t n)
{
    if (in_loss) {
        for (size_t l = 0; l < m->n_layers; l++) {
            const gs_tensor *y = &m->acts[l + 1];
            if (!gs_all_finite(m->dtype, gs_tensor_numel(y), y->data)) {
                snprintf(buf, n, "output of layer %zu (%s)", l, gs_module_type(m->layers[l]));
                return (long)l;
            }
        }
        snprintf(buf, n, "loss");
        return (long)m->n_layers - 1;
    }
    for (size_t i = m->n_params; i-- > 0;) {
        const gs_param_rec *p = m->params[i];
        if (!gs_all_finite(m->dtype, p->numel, p->pub.grad.data)) {
            snprintf(buf, n, "gradient of layer %d tensor %s", p->layer, p->local_name);
            return p->layer;
        }
    }
    snprintf(buf, n, "gradients");
    return (long)m->n_layers - 1;
}

/* The run diverged at this step: where, for the summary. */
static gs_step_outcome diverged(gs_run *run, int in_loss, size_t step)
{
    char where[256];
    run->bad_layer = locate_nonfinite(run->t->model, in_loss, where, sizeof where);
    snprintf(run->detail, sizeof run->detail, "non-finite %s at step %zu (first in the %s)",
             in_loss ? "loss" : "gradient", step, where);
    return GS_STEP_DIVERGED;
}

/* dL/dx of every layer at initialization (over the global batch: forward
   sums dact_sumsq across ranks), for the mean-field comparison. */
static void theory_at_init(const gs_model *m, const gs_comm *comm, gs_theory *t)
{
    double *ig = gs_xcalloc(m->n_layers + 1, sizeof *ig);
    for (size_t l = 0; l < m->n_layers; l++)
        ig[l] = sqrt(m->dact_sumsq[l]);
    gs_theory_compute(m, ig, comm, t);
    free(ig);
}

size_t gs_trainer_weight(const gs_trainer *t, const size_t *idx, size_t n)
{
    const uint8_t *mask = t->data.train_mask;
    if (!mask || t->steps < 2)
        return n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < t->steps; r++)
            k += mask[idx[i] * t->steps + r] != 0;
    return k;
}

/*
 * Forward and loss over examples [b, b + n) of the epoch's order.  With
 * several ranks, each takes its shard, runs backward too, and the ranks
 * sum gradients, loss, accuracy and whether any was asked to stop: the
 * gradient of the global batch's mean loss, the same on every rank.
 * right: the rows classified right (examples, or counted steps).
 */
static int forward(gs_run *run, size_t b, size_t n, int detailed, double *loss, double *right,
                   gs_error *err)
{
    gs_trainer *t = run->t;
    const gs_comm *comm = t->comm;
    gs_model *m = t->model;
    size_t off = 0, cnt = n;
    if (comm)
        gs_dp_shard(n, comm->rank, comm->size, &off, &cnt);
    float *dout = m->dacts[m->n_layers].data;
    *loss = 0;
    *right = 0;
    if (cnt) {
        gs_trainer_gather(t, &t->data.train, t->train_idx + b + off, cnt);
        gs_trainer_augment(t, t->train_idx + b + off, cnt, run->pos.epoch);
        gs_model_forward(m, 1);
        *loss = gs_trainer_loss(t, cnt, dout, right);
    }
    if (!comm)
        return 0;
    /* Each rank's gradient of its shard's mean loss, weighted by its share
       of the global batch's counted rows (its examples without a mask),
       summed in rank order.  Every rank holds the data, the mask and the
       epoch's order, so the counts need no exchange. */
    size_t mine = gs_trainer_weight(t, t->train_idx + b + off, cnt);
    size_t all = gs_trainer_weight(t, t->train_idx + b, n);
    if (cnt) {
        float share = all ? (float)((double)mine / (double)all) : 0.0f;
        for (size_t i = 0; i < cnt * gs_shape_numel(&m->out); i++)
            dout[i] *= share;
        gs_model_backward(m, detailed);
    } else {
        /* an empty shard: its activations (read by the theory at step 0)
           hold no examples, not the zeros of the last full batch */
        gs_model_set_batch(m, 0);
        if (!m->grads_zero)
            memset(m->grads, 0, m->total * sizeof(float));
    }
    double sums[3] = {mine ? *loss * (double)mine : 0.0, *right, gs_stop_signal() ? 1.0 : 0.0};
    m->grads_zero = 0; /* the sum below writes them */
    /* The monitor's input-gradient norms, over the global batch too: the
       shards' rows of dL/dx are disjoint, so their squares add up. */
    if (m->monitoring && !cnt)
        memset(m->dact_sumsq, 0, m->n_layers * sizeof *m->dact_sumsq);
    if (gs_dp_sum_f32(comm, m->grads, m->total) < 0 || gs_dp_sum_f64(comm, sums, 3) < 0 ||
        (m->monitoring && gs_dp_sum_f64(comm, m->dact_sumsq, m->n_layers) < 0)) {
        gs_err_set(err, "data-parallel: exchanging gradients between ranks failed");
        return -1;
    }
    /* a global batch of padding alone has loss 0, as one process gives */
    *loss = all ? sums[0] / (double)all : 0.0;
    *right = sums[1];
    run->stop = sums[2] > 0;
    return 0;
}

/* Clipping by value, then by the global norm, in place.  gnorm is the raw
   gradients' norm (metrics.csv's grad_norm); as torch's clip_grad_value_
   then clip_grad_norm_, the norm clip measures the clamped gradients, so
   it is recomputed, per tensor in gnorm's order, after a value clip. */
static void clip(const gs_trainer *t, double gnorm)
{
    gs_model *m = t->model;
    double clip_norm = t->v->training[T_CLIP_NORM].f;
    double clip_value = t->v->training[T_CLIP_VALUE].f;
    float *g = m->grads;
    if (clip_value > 0) {
        float c = (float)clip_value;
        for (size_t i = 0; i < m->total; i++)
            g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
        if (clip_norm > 0) {
            double gsq = 0;
            for (size_t i = 0; i < m->n_params; i++)
                gsq += gs_sumsq(GS_F32, m->params[i]->numel, m->params[i]->pub.grad.data);
            gnorm = sqrt(gsq);
        }
    }
    if (clip_norm > 0) {
        /* torch.nn.utils.clip_grad_norm_: scale = max_norm / (norm + 1e-6), capped at 1 */
        double scale = clip_norm / (gnorm + 1e-6);
        if (scale < 1.0) {
            float sc = (float)scale;
            for (size_t i = 0; i < m->total; i++)
                g[i] *= sc;
        }
    }
}

/* The optimizer over every tensor.  Each gradient is zeroed as soon as it
   is used, for the next backward (gs_model_backward skips its own zeroing
   then). */
static void optimize(gs_run *run, uint64_t step, double lr, int detailed)
{
    gs_trainer *t = run->t;
    gs_model *m = t->model;
    float *g = m->grads;
    for (size_t i = 0; i < m->n_params; i++) {
        gs_param_rec *p = m->params[i];
        if (p->pub.role == GS_ROLE_BUFFER) {
            memset(g + p->offset, 0, p->numel * sizeof(float));
            continue;
        }
        gs_opt_call c = {.host = gs_host_table(),
                         .p = t->opt_p,
                         .t = step + 1,
                         .lr = lr,
                         .weight_decay = group_decay(t, p->pub.role)};
        double update_sq = gs_optimizer_step(
            t->opt, c, p->numel, t->slots, (float *)m->values + p->offset, g + p->offset,
            t->opt_state + p->offset * t->slots,
            GS_STEP_CLEAR_GRAD | (detailed ? GS_STEP_MEASURE : 0));
        if (detailed)
            gs_monitor_update(&run->mon, i, update_sq);
    }
    m->grads_zero = 1;
}

gs_step_outcome gs_train_step(gs_run *run, gs_error *err)
{
    gs_trainer *t = run->t;
    const gs_variant *v = t->v;
    gs_model *m = t->model;
    gs_monitor *mon = &run->mon;
    gs_position *pos = &run->pos;
    size_t b = (size_t)pos->batch, step = (size_t)pos->step, epoch = (size_t)pos->epoch;
    size_t n = b + run->batch < t->n_train ? run->batch : t->n_train - b;
    int last_step = step + 1 == run->total_steps;
    int monitored = step % (uint64_t)v->monitor[M_EVERY].i == 0 || last_step;
    int detailed = monitored && (step % (uint64_t)v->monitor[M_DETAIL_EVERY].i == 0 || last_step);
    double lr = t->base_lr * t->sched->factor(v->schedule->values, step, run->total_steps,
                                              run->steps_per_epoch);
    m->monitoring = monitored;
    m->detailed = detailed;
    double loss, right;
    if (forward(run, b, n, detailed, &loss, &right, err) < 0)
        return GS_STEP_FAILED;
    /* accuracy in examples: with per-step targets, n times the fraction of
       the batch's counted steps classified right */
    size_t steps = t->steps;
    int masked = t->data.train_mask && steps > 1;
    size_t counted = masked ? gs_trainer_weight(t, t->train_idx + b, n) : n * steps;
    double correct = steps == 1 ? right : counted ? (double)n * right / (double)counted : 0.0;
    if (masked) {
        /* the epoch's means over counted rows: each batch weighted by its
           counted rows; the right ones kept in examples (rows / steps) so
           that they stay within the examples seen, as the checkpoint checks */
        pos->epoch_loss += loss * (double)counted;
        pos->epoch_correct += right / (double)steps;
    } else {
        pos->epoch_loss += loss * (double)n;
        pos->epoch_correct += correct;
    }
    gs_monitor_batch(mon, loss, correct, n);
    if (!isfinite(loss)) {
        gs_step_outcome o = diverged(run, 1, step);
        gs_monitor_metrics(mon, step, epoch, lr, NAN);
        return o;
    }
    if (!t->comm)
        gs_model_backward(m, detailed);
    /* the global norm from per-tensor sums, which the monitor's own pass
       yields on monitored steps: the same bits either way */
    double gsq = 0;
    if (!monitored)
        for (size_t i = 0; i < m->n_params; i++)
            gsq += gs_sumsq(GS_F32, m->params[i]->numel, m->params[i]->pub.grad.data);
    else if (gs_monitor_capture(mon, m, step, epoch, lr, detailed, &gsq, err) < 0)
        return GS_STEP_FAILED;
    double gnorm = sqrt(gsq);
    if (step == 0) { /* theory.csv's first row, before the step's recurrent rows */
        theory_at_init(m, t->comm, &run->r->theory);
        gs_theory_log_init(&mon->log[LOG_THEORY], m, &run->r->theory);
    }
    if (!isfinite(gnorm)) {
        if (monitored ? gs_monitor_commit(mon, m, err) < 0 : 0)
            return GS_STEP_FAILED;
        if (!monitored)
            gs_monitor_metrics(mon, step, epoch, lr, gnorm);
        return diverged(run, 0, step);
    }
    clip(t, gnorm);
    optimize(run, step, lr, detailed);
    if (monitored && gs_monitor_commit(mon, m, err) < 0)
        return GS_STEP_FAILED;
    run->loss = loss;
    pos->step++;
    pos->batch += n;
    return GS_STEP_TAKEN;
}
