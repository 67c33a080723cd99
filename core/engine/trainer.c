/*
 * The trainer: data -> model -> loss -> backward -> clip -> optimizer,
 * with the monitor writing gradient statistics every `monitor.every` steps.
 * All randomness (data, split, shuffling, initialization, dropout) comes
 * from streams derived from the one seed.
 */
#include "config.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#include "base/rng.h"
#include "base/util.h"
#include "engine/checkpoint.h"
#include "engine/experiment.h"
#include "engine/model.h"
#include "engine/monitor.h"
#include "engine/optstep.h"
#include "engine/theory.h"
#include "kernels/affinity.h"
#include "kernels/kernels.h"
#include "plugin/registry.h"
#include "plugin/schema.h"
#include "rundir/rundir.h"
#endif

typedef struct gs_result {
    const char *label;
    const char *status;
    gs_verdict verdict;
    gs_theory theory;
    double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, ratio, seconds;
    uint64_t steps;
    size_t n_layers;
    double *first_norm, *last_norm;
    char **layer_types;
    char dir[4096];
} gs_result;

typedef struct trainer {
    const gs_variant *v;
    const gs_comm *comm; /* NULL: one process */
    int writer;          /* this process writes the run directory */
    gs_model *model;
    gs_dataset data;
    size_t *train_idx, *val_idx, *test_idx;
    size_t n_train, n_val;
    const gs_loss_ops *loss;
    const gs_value *loss_p;
    const gs_optimizer_ops *opt;
    const gs_value *opt_p;
    const gs_schedule_ops *sched;
    float *opt_state;
    size_t slots;
    double base_lr, weight_decay;
    int32_t *batch_labels;
    float *batch_targets;
} trainer;

static void free_dataset(gs_dataset *d)
{
    free(d->train.x);
    free(d->train.labels);
    free(d->train.targets);
    free(d->test.x);
    free(d->test.labels);
    free(d->test.targets);
    memset(d, 0, sizeof *d);
}

static int load_data(trainer *t, gs_error *err)
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

static int check_compat(trainer *t, gs_error *err)
{
    const gs_variant *v = t->v;
    const gs_dataset *d = &t->data;
    size_t width = gs_shape_numel(&t->model->out);
    if (t->loss->needs_labels) {
        if (!d->classes) {
            gs_err_set(err, "loss '%s' needs class labels but data '%s' has regression targets",
                       v->loss->info->component->name, v->data->info->component->name);
            return -1;
        }
        if (width != d->classes) {
            gs_err_set(err,
                       "the model's output width is %zu but the data has %zu classes (set the "
                       "last layer's units to %zu)",
                       width, d->classes, d->classes);
            return -1;
        }
        const gs_split *splits[2] = {&d->train, &d->test};
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < splits[s]->count; i++)
                if (splits[s]->labels[i] < 0 || (size_t)splits[s]->labels[i] >= d->classes) {
                    gs_err_set(err, "data: label %d of %s example %zu is out of range [0, %zu)",
                               splits[s]->labels[i], s ? "test" : "training", i, d->classes);
                    return -1;
                }
    } else {
        size_t tw = d->classes ? d->classes : d->target_width;
        if (width != tw) {
            gs_err_set(err, "the model's output width is %zu but the data has %zu targets",
                       width, tw);
            return -1;
        }
    }
    return 0;
}

/* Gathers examples idx[0..n) of a split into the model's input batch. */
static void gather(trainer *t, const gs_split *s, const size_t *idx, size_t n)
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

static double eval_loss(trainer *t, size_t n, float *dout, size_t *correct)
{
    gs_model *m = t->model;
    size_t width = gs_shape_numel(&m->out);
    gs_loss_call c = {.host = gs_host_table(),
                      .p = t->loss_p,
                      .n = n,
                      .width = width,
                      .labels = t->loss->needs_labels ? t->batch_labels : NULL,
                      .targets = t->loss->needs_labels ? NULL : t->batch_targets};
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

/* Mean loss and accuracy over examples idx[0..n) of a split, in evaluation mode. */
static void evaluate(trainer *t, const gs_split *s, const size_t *idx, size_t n, double *loss,
                     double *acc)
{
    size_t batch = t->model->max_batch;
    double total = 0, correct = 0;
    for (size_t b = 0; b < n; b += batch) {
        size_t k = b + batch < n ? batch : n - b;
        gather(t, s, idx + b, k);
        gs_model_forward(t->model, 0);
        size_t ok;
        total += eval_loss(t, k, NULL, &ok) * (double)k;
        correct += (double)ok;
    }
    *loss = n ? total / (double)n : NAN;
    *acc = n && t->data.classes ? correct / (double)n : NAN;
}

static double group_decay(const trainer *t, gs_role role)
{
    const gs_value *tr = t->v->training;
    int on = role == GS_ROLE_WEIGHT ? tr[T_DECAY_WEIGHTS].b
             : role == GS_ROLE_BIAS ? tr[T_DECAY_BIASES].b
             : role == GS_ROLE_SLOPE ? tr[T_DECAY_SLOPES].b
                                     : tr[T_DECAY_NORM].b;
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

/* dL/dx of every layer at initialization, for the mean-field comparison. */
static void theory_at_init(const gs_model *m, gs_theory *t)
{
    double *ig = gs_xcalloc(m->n_layers + 1, sizeof *ig);
    for (size_t l = 0; l < m->n_layers; l++)
        ig[l] = sqrt(m->dact_sumsq[l]);
    gs_theory_compute(m, ig, t);
    free(ig);
}

static void progress_bar(FILE *out, size_t epoch, size_t epochs, size_t done, size_t total,
                         uint64_t step, uint64_t steps, double loss, double rate, double elapsed)
{
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    size_t fill = total ? done * WIDTH / total : 0;
    for (size_t i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[WIDTH] = '\0';
    double eta = step ? elapsed * (double)(steps - step) / (double)step : 0;
    fprintf(out, "\r\033[K  epoch %zu/%zu [%s] step %llu/%llu  loss %.4f  %.0f samples/s  ETA %.0fs",
            epoch + 1, epochs, bar, (unsigned long long)step, (unsigned long long)steps, loss,
            rate, eta);
    fflush(out);
}

static void print_progress(FILE *out, size_t epoch, size_t epochs, double loss, double acc,
                           double vloss, double vacc, double tacc, double rate)
{
    fprintf(out, "  epoch %zu/%zu  loss %.4f  acc %.4f", epoch, epochs, loss, acc);
    if (vloss == vloss)
        fprintf(out, "  val_loss %.4f  val_acc %.4f", vloss, vacc);
    if (tacc == tacc)
        fprintf(out, "  test_acc %.4f", tacc);
    fprintf(out, "  %.0f samples/s\n", rate);
    fflush(out);
}

static int write_summary(const char *dir, const gs_result *r, const char *detail,
                         gs_error *err)
{
    gs_json j;
    gs_json_begin(&j);
    gs_json_str(&j, "status", r->status);
    if (detail)
        gs_json_str(&j, "detail", detail);
    gs_json_int(&j, "steps", (long long)r->steps);
    gs_json_num(&j, "train_loss", r->train_loss);
    gs_json_num(&j, "train_accuracy", r->train_acc);
    gs_json_num(&j, "val_loss", r->val_loss);
    gs_json_num(&j, "val_accuracy", r->val_acc);
    gs_json_num(&j, "test_loss", r->test_loss);
    gs_json_num(&j, "test_accuracy", r->test_acc);
    gs_json_num(&j, "wall_time_s", r->seconds);
    gs_json_num(&j, "grad_ratio_first_last", r->ratio);
    gs_json_str(&j, "verdict", r->verdict.verdict);
    if (r->verdict.layer >= 0) {
        gs_json_int(&j, "verdict_layer", r->verdict.layer);
        gs_json_int(&j, "verdict_step", (long long)r->verdict.step);
    } else {
        gs_json_raw(&j, "verdict_layer", "null");
        gs_json_raw(&j, "verdict_step", "null");
    }
    gs_json_str(&j, "verdict_detail", r->verdict.detail);
    gs_json_num(&j, "chi_predicted", r->theory.valid ? r->theory.chi_predicted : NAN);
    gs_json_num(&j, "chi_measured", r->theory.valid ? r->theory.chi_measured : NAN);
    gs_json_num(&j, "chi_path", r->theory.valid ? r->theory.chi_path : NAN);
    gs_json_str(&j, "gradscope_version", PACKAGE_VERSION);
    gs_json_end(&j);
    int rc = gs_write_atomic(dir, "summary.json", j.buf, j.len, err);
    gs_json_free(&j);
    return rc;
}

static int write_config(const char *dir, const gs_variant *v, gs_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        gs_err_set(err, "out of memory");
        return -1;
    }
    gs_variant_write(v, f);
    fclose(f);
    int rc = gs_write_atomic(dir, "config.cfg", buf, len, err);
    free(buf);
    return rc;
}

static void trainer_free(trainer *t)
{
    gs_model_free(t->model);
    free_dataset(&t->data);
    free(t->train_idx);
    free(t->val_idx);
    free(t->test_idx);
    free(t->opt_state);
    free(t->batch_labels);
    free(t->batch_targets);
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
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
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
static int prepare(trainer *t, const gs_variant *v, gs_error *err)
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
    if (load_data(t, err) < 0)
        return -1;
    size_t batch = (size_t)v->training[T_BATCH].i;
    t->model = gs_model_new(v->data->reg, GS_F32, (uint64_t)v->seed, &t->data.shape);
    for (size_t i = 0; i < v->n_layers; i++)
        for (int64_t r = 0; r < v->layers[i].repeat; r++)
            if (gs_model_add_layer(t->model, v->layers[i].ref, err) < 0) {
                gs_err_prefix(err, "model: ");
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
    t->batch_labels = gs_xcalloc(batch, sizeof(int32_t));
    t->batch_targets = gs_xcalloc(batch * gs_shape_numel(&t->model->out), sizeof(float));
    return 0;
}

/* SIGINT/SIGTERM: the first one finishes the step, checkpoints and stops;
   a second one ends the process at once (the last checkpoint is intact). */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (stop_signal)
        _exit(128 + sig);
    stop_signal = sig;
}

/* "component KIND NAME VERSION" per distinct component of the variant. */
static char *component_list(const gs_variant *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const gs_ref *refs[4] = {v->data, v->loss, v->optimizer, v->schedule};
    for (size_t i = 0; i < 4; i++)
        fprintf(f, "component %s %s %s\n", gs_kind_name(refs[i]->info->component->kind),
                refs[i]->info->component->name, refs[i]->info->plugin->version);
    for (size_t i = 0; i < v->n_layers; i++) {
        const gs_ref *r = v->layers[i].ref;
        fprintf(f, "component %s %s %s\n", gs_kind_name(r->info->component->kind),
                r->info->component->name, r->info->plugin->version);
    }
    fclose(f);
    return buf;
}

/* The experiment as the checkpoint must match it: every setting but the
   thread count, which never changes a result. */
static uint64_t config_hash(const gs_variant *v)
{
    gs_variant copy = *v;
    memcpy(copy.training, v->training, sizeof copy.training);
    copy.training[T_THREADS].i = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gs_variant_write(&copy, f);
    fclose(f);
    uint64_t h = gs_hash_string(buf);
    free(buf);
    return h;
}

/*
 * Trains from pos (a new run starts at zero) to the end, writing the logs,
 * checkpoints and the summary.  resume says the logs exist and a checkpoint
 * was loaded into the state.
 */
static int train_pinned(trainer *t, const char *dir, FILE *out, int quiet, int resume,
                        gs_result *r, gs_error *err)
{
    const gs_variant *v = t->v;
    const gs_comm *comm = t->comm;
    int writer = t->writer;
    quiet = quiet || !writer;
    gs_model *m = t->model;
    gs_monitor mon;
    double t0 = gs_now();
    gs_position pos = {0};
    gs_rng shuffle;
    gs_rng_seed(&shuffle, (uint64_t)v->seed, gs_hash_string("shuffle"));
    char *components = component_list(v);
    gs_ckpt ck = {.config_hash = config_hash(v),
                  .components = components,
                  .model = m,
                  .opt_state = t->opt_state,
                  .opt_floats = m->total * t->slots,
                  .shuffle = &shuffle,
                  .order = t->train_idx,
                  .n_order = t->n_train,
                  .pos = &pos,
                  .mon = &mon,
                  .theory = &r->theory};
    gs_monitor_init(&mon, dir, m, v->monitor[M_DUMP].b);
    uint64_t offsets[LOG_COUNT];
    int rc = resume ? gs_checkpoint_load(dir, &ck, offsets, err) : 1;
    if (rc < 0) {
        gs_monitor_close(&mon, NULL);
        free(components);
        return GS_EXIT_INPUT;
    }
    int resumed = rc == 0;
    if (writer && ((!resumed && write_config(dir, v, err) < 0) ||
                   gs_monitor_open_logs(&mon, resumed ? offsets : NULL, err) < 0)) {
        gs_monitor_close(&mon, NULL);
        free(components);
        return GS_EXIT_RUNTIME;
    }
    if (resumed && !quiet)
        fprintf(out, "  resuming at step %llu (epoch %llu)\n", (unsigned long long)pos.step,
                (unsigned long long)pos.epoch + 1);
    int tty = !quiet && isatty(fileno(out));
    double last_bar = 0;
    size_t batch = (size_t)v->training[T_BATCH].i;
    size_t epochs = (size_t)v->training[T_EPOCHS].i;
    uint64_t every = (uint64_t)v->monitor[M_EVERY].i;
    uint64_t detail_every = (uint64_t)v->monitor[M_DETAIL_EVERY].i;
    uint64_t ckpt_every = (uint64_t)v->checkpoint[C_EVERY].i;
    double clip_norm = v->training[T_CLIP_NORM].f, clip_value = v->training[T_CLIP_VALUE].f;
    size_t steps_per_epoch = (t->n_train + batch - 1) / batch;
    uint64_t total_steps = (uint64_t)steps_per_epoch * epochs;
    const char *status = "completed";
    char detail[512] = "";
    int failed = 0;
    long bad_layer = -1;
    /* Stopping is decided once per step; with several ranks, by all of them
       together, so that none waits forever for another. */
    int stop = 0;
    r->val_loss = r->val_acc = r->test_loss = r->test_acc = NAN;
    for (; pos.epoch < epochs && !detail[0] && !failed && !stop; pos.epoch++) {
        size_t epoch = (size_t)pos.epoch;
        double te = gs_now();
        if (!pos.shuffled) {
            for (size_t i = t->n_train; i > 1; i--) {
                size_t j = (size_t)gs_rng_below(&shuffle, i);
                size_t tmp = t->train_idx[i - 1];
                t->train_idx[i - 1] = t->train_idx[j];
                t->train_idx[j] = tmp;
            }
            pos.shuffled = 1;
        }
        while (pos.batch < t->n_train) {
            size_t b = (size_t)pos.batch, step = (size_t)pos.step;
            size_t n = b + batch < t->n_train ? batch : t->n_train - b;
            int last_step = step + 1 == total_steps;
            int monitored = step % every == 0 || last_step;
            int detailed = monitored && (step % detail_every == 0 || last_step);
            double lr = t->base_lr * t->sched->factor(v->schedule->values, step, total_steps,
                                                      steps_per_epoch);
            size_t off = 0, cnt = n, correct = 0;
            if (comm)
                gs_dp_shard(n, comm->rank, comm->size, &off, &cnt);
            double loss = 0;
            float *dout = m->dacts[m->n_layers].data;
            m->monitoring = monitored;
            m->detailed = detailed;
            if (cnt) {
                gather(t, &t->data.train, t->train_idx + b + off, cnt);
                gs_model_forward(m, 1);
                loss = eval_loss(t, cnt, dout, &correct);
            }
            if (comm) {
                /* Each rank's gradient of its shard's mean loss, weighted by
                   its share, summed in rank order: the gradient of the global
                   batch's mean loss. */
                if (cnt) {
                    float share = (float)((double)cnt / (double)n);
                    for (size_t i = 0; i < cnt * gs_shape_numel(&m->out); i++)
                        dout[i] *= share;
                    gs_model_backward(m, detailed);
                } else if (!m->grads_zero) {
                    memset(m->grads, 0, m->total * sizeof(float));
                }
                double sums[3] = {loss * (double)cnt, (double)correct, stop_signal ? 1.0 : 0.0};
                m->grads_zero = 0; /* the sum below writes them */
                if (gs_dp_sum_f32(comm, m->grads, m->total) < 0 ||
                    gs_dp_sum_f64(comm, sums, 3) < 0) {
                    gs_err_set(err, "data-parallel: exchanging gradients between ranks failed");
                    failed = 1;
                    break;
                }
                loss = sums[0] / (double)n;
                correct = (size_t)sums[1];
                stop = sums[2] > 0;
            }
            pos.epoch_loss += loss * (double)n;
            pos.epoch_correct += (double)correct;
            gs_monitor_batch(&mon, loss, correct, n);
            if (!isfinite(loss)) {
                char where[256];
                bad_layer = locate_nonfinite(m, 1, where, sizeof where);
                gs_monitor_metrics(&mon, step, epoch, lr, NAN);
                snprintf(detail, sizeof detail, "non-finite loss at step %zu (first in the %s)",
                         step, where);
                break;
            }
            if (!comm)
                gs_model_backward(m, detailed);
            /* the global norm from per-tensor sums, which the monitor's
               own pass yields on monitored steps: the same bits either way */
            double gsq = 0;
            if (!monitored)
                for (size_t i = 0; i < m->n_params; i++)
                    gsq += gs_sumsq(GS_F32, m->params[i]->numel, m->params[i]->pub.grad.data);
            else if (gs_monitor_capture(&mon, m, step, epoch, lr, detailed, &gsq, err) < 0) {
                failed = 1;
                break;
            }
            double gnorm = sqrt(gsq);
            if (step == 0)
                theory_at_init(m, &r->theory);
            if (!isfinite(gnorm)) {
                if (monitored ? gs_monitor_commit(&mon, m, err) < 0 : 0) {
                    failed = 1;
                    break;
                }
                if (!monitored)
                    gs_monitor_metrics(&mon, step, epoch, lr, gnorm);
                char where[256];
                bad_layer = locate_nonfinite(m, 0, where, sizeof where);
                snprintf(detail, sizeof detail,
                         "non-finite gradient at step %zu (first in the %s)", step, where);
                break;
            }
            float *g = m->grads;
            if (clip_value > 0) {
                float c = (float)clip_value;
                for (size_t i = 0; i < m->total; i++)
                    g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
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
            /* each gradient is zeroed as soon as it is used, for the next
               backward (gs_model_backward skips its own zeroing then) */
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
                    gs_monitor_update(&mon, i, update_sq);
            }
            m->grads_zero = 1;
            if (monitored && gs_monitor_commit(&mon, m, err) < 0) {
                failed = 1;
                break;
            }
            pos.step++;
            pos.batch += n;
            if (tty && gs_now() - last_bar > 0.2) {
                last_bar = gs_now();
                progress_bar(out, epoch, epochs, b + n, t->n_train, pos.step, total_steps, loss,
                             (double)(b + n) / (last_bar - te), last_bar - t0);
            }
            if (!comm)
                stop = stop_signal != 0;
            int last_of_epoch = pos.batch >= t->n_train;
            if ((ckpt_every && pos.step % ckpt_every == 0 && !last_of_epoch) ||
                (stop && !last_of_epoch)) {
                if (writer && gs_checkpoint_save(dir, &ck, err) < 0) {
                    failed = 1;
                    break;
                }
                if (stop)
                    break;
            }
        }
        if (detail[0] || failed || (stop && pos.batch < t->n_train))
            break;
        double vloss = NAN, vacc = NAN, tloss = NAN, tacc = NAN;
        if (t->n_val && writer)
            evaluate(t, &t->data.train, t->val_idx, t->n_val, &vloss, &vacc);
        if (t->data.test.count && writer)
            evaluate(t, &t->data.test, t->test_idx, t->data.test.count, &tloss, &tacc);
        double train_loss = pos.epoch_loss / (double)t->n_train;
        double train_acc = t->data.classes ? pos.epoch_correct / (double)t->n_train : NAN;
        double secs = gs_now() - te;
        if (tty)
            fputs("\r\033[K", out);
        gs_monitor_epoch(&mon, epoch, pos.step, train_loss, train_acc, vloss, vacc, tloss, tacc,
                         secs);
        if (!quiet)
            print_progress(out, epoch + 1, epochs, train_loss, train_acc, vloss, vacc, tacc,
                           (double)t->n_train / secs);
        r->val_loss = vloss;
        r->val_acc = vacc;
        r->test_loss = tloss;
        r->test_acc = tacc;
        /* the next epoch starts here: checkpoint at this boundary */
        pos.batch = 0;
        pos.shuffled = 0;
        pos.epoch_loss = pos.epoch_correct = 0;
        pos.epoch++;
        int save = writer ? gs_checkpoint_save(dir, &ck, err) : 0;
        pos.epoch--;
        if (save < 0) {
            failed = 1;
            break;
        }
    }
    free(components);
    if (failed) {
        gs_monitor_close(&mon, NULL);
        return GS_EXIT_RUNTIME;
    }
    int signo = stop_signal ? (int)stop_signal : SIGTERM; /* another rank's signal */
    if (stop && !detail[0] && pos.epoch < epochs) {
        status = "interrupted";
        snprintf(detail, sizeof detail, "stopped by signal %d at step %llu; continue with "
                 "gradscope resume", signo, (unsigned long long)pos.step);
        if (!quiet)
            fprintf(out, "\n  interrupted: checkpoint written at step %llu\n",
                    (unsigned long long)pos.step);
        r->train_loss = r->train_acc = NAN;
    } else if (detail[0]) {
        status = "diverged";
        r->train_loss = r->train_acc = NAN;
        if (!quiet)
            fprintf(out, "  diverged: %s\n", detail);
    } else if (writer) {
        /* Final train metrics in evaluation mode over the training part. */
        evaluate(t, &t->data.train, t->train_idx, t->n_train, &r->train_loss, &r->train_acc);
    }
    /* a run resumed at its very end has no epoch left to evaluate */
    if (writer && !strcmp(status, "completed") && r->val_loss != r->val_loss && t->n_val)
        evaluate(t, &t->data.train, t->val_idx, t->n_val, &r->val_loss, &r->val_acc);
    if (writer && !strcmp(status, "completed") && r->test_loss != r->test_loss &&
        t->data.test.count)
        evaluate(t, &t->data.test, t->test_idx, t->data.test.count, &r->test_loss, &r->test_acc);
    r->status = status;
    r->steps = pos.step;
    r->ratio = mon.ratio_first_last;
    gs_monitor_verdict(&mon, &r->verdict);
    if (!strcmp(status, "diverged")) {
        /* a value that overflowed is the extreme of explosion, whatever the
           monitored steps before it looked like */
        r->verdict.verdict = "exploding";
        r->verdict.layer = bad_layer;
        r->verdict.step = pos.step;
        snprintf(r->verdict.detail, sizeof r->verdict.detail, "%s", detail);
    }
    if (!quiet && strcmp(status, "interrupted") != 0)
        fprintf(out, "  verdict: %s (%s)\n", r->verdict.verdict, r->verdict.detail);
    r->seconds = gs_now() - t0;
    r->n_layers = m->n_layers;
    r->first_norm = gs_xcalloc(m->n_layers, sizeof(double));
    r->last_norm = gs_xcalloc(m->n_layers, sizeof(double));
    r->layer_types = gs_xcalloc(m->n_layers, sizeof(char *));
    size_t rows = mon.n_monitored;
    for (size_t l = 0; l < m->n_layers; l++) {
        r->first_norm[l] = rows ? mon.first_norms[l] : NAN;
        r->last_norm[l] = rows ? mon.last_norms[l] : NAN;
        r->layer_types[l] = gs_xstrdup(gs_module_type(m->layers[l]));
    }
    if (gs_monitor_close(&mon, err) < 0 ||
        (writer && (gs_theory_write(dir, &r->theory, err) < 0 ||
                    write_summary(dir, r, detail[0] ? detail : NULL, err) < 0)))
        return GS_EXIT_RUNTIME;
    if (!strcmp(status, "interrupted"))
        return 128 + signo;
    return GS_EXIT_OK;
}

/* The run's threads are pinned while it trains (affinity.c), and given
   their CPUs back whatever the outcome. */
static int train(trainer *t, const char *dir, FILE *out, int quiet, int resume, gs_result *r,
                 gs_error *err)
{
    gs_pinning pin;
    gs_threads_pin(&pin);
    int rc = train_pinned(t, dir, out, quiet, resume, r, err);
    gs_threads_unpin(&pin);
    return rc;
}

static void result_free(gs_result *r)
{
    for (size_t l = 0; l < r->n_layers; l++)
        free(r->layer_types[l]);
    free(r->layer_types);
    free(r->first_norm);
    free(r->last_norm);
}

static void print_layer_table(FILE *out, const gs_result *res, size_t n)
{
    size_t layers = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].n_layers > layers)
            layers = res[i].n_layers;
    fprintf(out, "\nWeight-gradient norm per layer, first -> last monitored step\n");
    fprintf(out, "%-6s", "layer");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-27s", res[i].label[0] ? res[i].label : "run");
    fputc('\n', out);
    for (size_t l = 0; l < layers; l++) {
        fprintf(out, "%-6zu", l);
        for (size_t i = 0; i < n; i++) {
            if (l < res[i].n_layers && isfinite(res[i].first_norm[l]))
                fprintf(out, "  %12.3e -> %-11.3e", res[i].first_norm[l], res[i].last_norm[l]);
            else
                fprintf(out, "  %-27s", "-");
        }
        fputc('\n', out);
    }
}

static void print_comparison(FILE *out, const gs_result *res, size_t n)
{
    fprintf(out, "\n%-20s %-10s %-10s %8s %10s %10s %9s %9s %12s %8s\n", "variant", "status",
            "verdict", "steps", "train_loss", "val_loss", "val_acc", "test_acc", "grad_ratio",
            "time_s");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%-20s %-10s %-10s %8llu %10.4f %10.4f %9.4f %9.4f %12.3e %8.2f\n",
                res[i].label[0] ? res[i].label : "run", res[i].status, res[i].verdict.verdict,
                (unsigned long long)res[i].steps, res[i].train_loss, res[i].val_loss,
                res[i].val_acc, res[i].test_acc, res[i].ratio, res[i].seconds);
    fprintf(out, "grad_ratio = |dL/dW| of the first layer / of the last layer, at the last "
                 "monitored step\n");
    int header = 0;
    for (size_t i = 0; i < n; i++) {
        const gs_theory *t = &res[i].theory;
        if (!t->valid)
            continue;
        if (!header++)
            fprintf(out, "\nMean-field factor per layer of |dL/dx|^2 at initialization, "
                         "chi = sigma_w^2 E[phi'(h)^2]: predicted at the fixed point q*, "
                         "predicted along this depth, measured at step 0\n"
                         "%-20s %-9s %-11s %9s %9s %10s %10s %10s\n",
                    "variant", "layers", "activation", "sigma_w2", "sigma_b2", "at q*",
                    "this depth", "measured");
        char span[32];
        snprintf(span, sizeof span, "%zu-%zu", t->first, t->last);
        fprintf(out, "%-20s %-9s %-11s %9.4f %9.4f %10.4f %10.4f %10.4f\n",
                res[i].label[0] ? res[i].label : "run", span, t->activation, t->sigma_w2,
                t->sigma_b2, t->chi_predicted, t->chi_path, t->chi_measured);
    }
}

static char *default_dir(const gs_experiment *e)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    const char *parent = e->variants[0].output[O_DIR].s;
    return gs_xasprintf("%s/%s-%s", parent && parent[0] ? parent : "runs", e->name, stamp);
}

typedef struct signal_guard {
    struct sigaction old_int, old_term;
} signal_guard;

static void signals_catch(signal_guard *g)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &g->old_int);
    sigaction(SIGTERM, &sa, &g->old_term);
}

static void signals_restore(signal_guard *g)
{
    sigaction(SIGINT, &g->old_int, NULL);
    sigaction(SIGTERM, &g->old_term, NULL);
}

static int experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err);

int gs_experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err)
{
    signal_guard g;
    signals_catch(&g);
    int rc = experiment_run(e, opt, err);
    signals_restore(&g);
    return rc;
}

/* With several ranks, true on every rank when `ok` is true on every rank. */
static int all_ranks(const gs_comm *comm, int ok)
{
    if (!comm)
        return ok;
    double v = ok ? 1.0 : 0.0;
    if (gs_dp_sum_f64(comm, &v, 1) < 0)
        return 0;
    return v >= (double)comm->size;
}

static int experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err)
{
    FILE *out = opt && opt->out ? opt->out : stdout;
    const gs_comm *comm = opt ? opt->comm : NULL;
    int writer = !comm || comm->rank == 0;
    int quiet = (opt && opt->quiet) || !writer;
    size_t n = e->n_variants;
    trainer *tr = gs_xcalloc(n, sizeof *tr);
    gs_result *res = gs_xcalloc(n, sizeof *res);
    int rc = GS_EXIT_OK;
    /* Every variant's data and model must be valid before anything is written;
       each is released again so only one data set is in memory at a time. */
    for (size_t i = 0; i < n; i++) {
        int bad = prepare(&tr[i], &e->variants[i], err) < 0;
        trainer_free(&tr[i]);
        if (bad) {
            if (e->has_variants)
                gs_err_prefix(err, "variant '%s': ", e->variants[i].label);
            rc = GS_EXIT_INPUT;
            goto done;
        }
    }
    if (e->has_sweep && !quiet)
        fprintf(out, "note: %s has a sweep section; `gradscope run` trains the base experiment "
                     "only, `gradscope sweep` runs the grid\n",
                e->path);
    char *root = opt && opt->out_dir ? gs_xstrdup(opt->out_dir) : default_dir(e);
    /* Every variant's directory and resolved config exist before the first
       trains, so that `gradscope resume` can finish a run cut short anywhere. */
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++) {
        gs_variant *v = &e->variants[i];
        res[i].label = v->label;
        if (e->has_variants)
            snprintf(res[i].dir, sizeof res[i].dir, "%s/%s", root, v->label);
        else
            snprintf(res[i].dir, sizeof res[i].dir, "%s", root);
        if (writer && (gs_rundir_create(res[i].dir, err) < 0 || write_config(res[i].dir, v, err) < 0))
            rc = GS_EXIT_RUNTIME;
    }
    if (!all_ranks(comm, rc == GS_EXIT_OK) && rc == GS_EXIT_OK) {
        gs_err_set(err, "rank 0 could not create the run directory");
        rc = GS_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++) {
        gs_variant *v = &e->variants[i];
        if (!quiet)
            fprintf(out, "%s: %s -> %s\n", v->label[0] ? v->label : "run", v->name, res[i].dir);
        if (prepare(&tr[i], v, err) < 0) {
            trainer_free(&tr[i]);
            rc = GS_EXIT_INPUT;
            break;
        }
        tr[i].comm = comm;
        tr[i].writer = writer;
        rc = train(&tr[i], res[i].dir, out, quiet, 0, &res[i], err);
        trainer_free(&tr[i]);
    }
    if (rc == GS_EXIT_OK && !quiet) {
        print_layer_table(out, res, n);
        print_comparison(out, res, n);
        fprintf(out, "\nrun directory: %s\n", root);
    }
    free(root);
done:
    for (size_t i = 0; i < n; i++)
        result_free(&res[i]);
    free(res);
    free(tr);
    return rc;
}

static int finished(const char *dir)
{
    char *path = gs_xasprintf("%s/summary.json", dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, "\"status\": \"interrupted\"") == NULL;
}

static int has_config(const char *dir)
{
    char *path = gs_xasprintf("%s/config.cfg", dir);
    int ok = access(path, R_OK) == 0;
    free(path);
    return ok;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int resume_dirs(const gs_registry *reg, char **dirs, size_t n, const gs_run_options *opt,
                       gs_error *err)
{
    FILE *out = opt && opt->out ? opt->out : stdout;
    const gs_comm *comm = opt ? opt->comm : NULL;
    int writer = !comm || comm->rank == 0;
    int quiet = (opt && opt->quiet) || !writer;
    gs_result *res = gs_xcalloc(n, sizeof *res);
    size_t done = 0;
    int rc = GS_EXIT_OK;
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++) {
        const char *label = strrchr(dirs[i], '/') ? strrchr(dirs[i], '/') + 1 : dirs[i];
        if (finished(dirs[i])) {
            if (!quiet)
                fprintf(out, "%s: already finished\n", dirs[i]);
            continue;
        }
        char *cfg = gs_xasprintf("%s/config.cfg", dirs[i]);
        gs_run_options o = opt ? *opt : (gs_run_options){.seed = -1};
        o.sets = NULL;
        o.n_sets = 0;
        o.seed = -1;
        gs_experiment *e = gs_experiment_load(reg, cfg, &o, err);
        free(cfg);
        if (!e) {
            rc = GS_EXIT_INPUT;
            break;
        }
        trainer t;
        if (prepare(&t, &e->variants[0], err) < 0) {
            trainer_free(&t);
            gs_experiment_free(e);
            rc = GS_EXIT_INPUT;
            break;
        }
        res[done].label = gs_xstrdup(label);
        snprintf(res[done].dir, sizeof res[done].dir, "%s", dirs[i]);
        if (!quiet)
            fprintf(out, "%s: %s -> %s\n", label, e->variants[0].name, dirs[i]);
        t.comm = comm;
        t.writer = writer;
        rc = train(&t, dirs[i], out, quiet, 1, &res[done], err);
        done++;
        trainer_free(&t);
        gs_experiment_free(e);
    }
    if (rc == GS_EXIT_OK && !quiet && done) {
        print_layer_table(out, res, done);
        print_comparison(out, res, done);
    }
    for (size_t i = 0; i < done; i++) {
        free((char *)res[i].label);
        result_free(&res[i]);
    }
    free(res);
    return rc;
}

int gs_resume(const gs_registry *reg, const char *dir, const gs_run_options *opt, gs_error *err)
{
    char **dirs = NULL;
    size_t n = 0;
    if (has_config(dir)) {
        dirs = gs_xmalloc(sizeof *dirs);
        dirs[n++] = gs_xstrdup(dir);
    } else {
        DIR *d = opendir(dir);
        if (!d) {
            gs_err_set(err, "%s: %s", dir, strerror(errno));
            return GS_EXIT_INPUT;
        }
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (ent->d_name[0] == '.')
                continue;
            char *sub = gs_xasprintf("%s/%s", dir, ent->d_name);
            if (has_config(sub)) {
                dirs = gs_xrealloc(dirs, (n + 1) * sizeof *dirs);
                dirs[n++] = sub;
            } else {
                free(sub);
            }
        }
        closedir(d);
        if (n > 1) /* qsort's array must not be NULL, even empty */
            qsort(dirs, n, sizeof *dirs, by_name);
    }
    int rc;
    if (n == 0) {
        gs_err_set(err, "%s: not a run directory (no config.cfg in it or its subdirectories)", dir);
        rc = GS_EXIT_INPUT;
    } else {
        signal_guard g;
        signals_catch(&g);
        rc = resume_dirs(reg, dirs, n, opt, err);
        signals_restore(&g);
    }
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}
