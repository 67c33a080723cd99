/*
 * The run loop: a run starts (or resumes from its checkpoint), goes
 * through its epochs one step at a time (train_step.c), checkpoints at
 * epoch ends, every `checkpoint.every` steps and when a signal asks it to
 * stop, and finishes with its verdict and summary.json.  All
 * randomness comes from streams derived from the one seed.
 */
#include "config.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/rng.h"
#include "base/util.h"
#include "engine/trainer.h"
#include "kernels/affinity.h"
#include "plugin/registry.h"
#include "rundir/lock.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (stop_signal) {
        gs_locks_drop(); /* the process ends here: its run directories are free */
        _exit(128 + sig);
    }
    stop_signal = sig;
}

void gs_signals_catch(gs_signal_guard *g)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &g->old_int);
    sigaction(SIGTERM, &sa, &g->old_term);
}

void gs_signals_restore(gs_signal_guard *g)
{
    sigaction(SIGINT, &g->old_int, NULL);
    sigaction(SIGTERM, &g->old_term, NULL);
}

int gs_stop_signal(void) { return (int)stop_signal; }

void gs_shell_word(char *buf, size_t n, const char *s)
{
    if (s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                          "_-+./,:=@%") == strlen(s)) {
        snprintf(buf, n, "%s", s);
        return;
    }
    size_t len = 0;
    buf[len++] = '\'';
    for (; *s && len + 6 < n; s++) {
        if (*s == '\'') { /* close, an escaped quote, reopen */
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else {
            buf[len++] = *s;
        }
    }
    if (*s) { /* did not fit */
        buf[0] = '\0';
        return;
    }
    buf[len++] = '\'';
    buf[len] = '\0';
}

void gs_err_interrupted(gs_error *err, int rc, const char *dir)
{
    char word[4096 + 64];
    gs_shell_word(word, sizeof word, dir);
    gs_err_set(err, "interrupted by signal %d; continue with: gradscope resume %s", rc - 128,
               word);
}

/* "component KIND NAME VERSION" per distinct component of the variant. */
static char *component_list(const gs_variant *v)
{
    gs_strbuf s;
    FILE *f = gs_strbuf_open(&s);
    const gs_ref *refs[4] = {v->data, v->loss, v->optimizer, v->schedule};
    for (size_t i = 0; i < 4; i++)
        fprintf(f, "component %s %s %s\n", gs_kind_name(refs[i]->info->component->kind),
                refs[i]->info->component->name, refs[i]->info->plugin->version);
    for (size_t i = 0; i < v->n_layers; i++) {
        const gs_ref *r = v->layers[i].ref;
        fprintf(f, "component %s %s %s\n", gs_kind_name(r->info->component->kind),
                r->info->component->name, r->info->plugin->version);
    }
    return gs_strbuf_close(&s);
}

/* The experiment as the checkpoint must match it: every setting but the
   thread count, which never changes a result. */
static uint64_t config_hash(const gs_variant *v)
{
    gs_variant copy = *v;
    memcpy(copy.training, v->training, sizeof copy.training);
    copy.training[T_THREADS].i = 0;
    gs_strbuf s;
    gs_variant_write(&copy, gs_strbuf_open(&s));
    char *buf = gs_strbuf_close(&s);
    uint64_t h = gs_hash_string(buf);
    free(buf);
    return h;
}

/* "variant 2/3 epoch 4/10", the variant part only in an experiment with
   several. */
static void where_text(char *buf, size_t n, const gs_run *run)
{
    const gs_trainer *t = run->t;
    size_t len = 0;
    if (t->n_variants > 1)
        len = (size_t)snprintf(buf, n, "variant %zu/%zu ", t->variant + 1, t->n_variants);
    snprintf(buf + len, n - len, "epoch %llu/%zu", (unsigned long long)run->pos.epoch + 1,
             run->epochs);
}

/*
 * The run's progress: on a terminal a bar redrawn in place, whose fill,
 * step count and ETA are all the epoch's; elsewhere (a pipe, a log file)
 * a plain line now and then, which neither \r nor escapes garble.
 */
static void progress(gs_run *run, int tty)
{
    enum { WIDTH = 24 };
    const gs_position *pos = &run->pos;
    double now = gs_now();
    size_t done = (size_t)pos->batch, total = run->t->n_train;
    size_t step_in_epoch = (done + run->batch - 1) / run->batch;
    double rate = (double)done / (now - run->epoch_t0);
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    char where[64];
    where_text(where, sizeof where, run);
    if (tty) {
        char bar[WIDTH + 1];
        size_t fill = total ? done * WIDTH / total : 0;
        for (size_t i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[WIDTH] = '\0';
        fprintf(run->out, "\r\033[K  %s [%s] step %zu/%zu  loss %.4g  %.0f samples/s  ETA %.0fs",
                where, bar, step_in_epoch, run->steps_per_epoch, run->loss, rate, eta);
    } else {
        fprintf(run->out, "  %s  step %zu/%zu (%.0f%%)  loss %.4g  %.0f samples/s  ETA %.0fs\n",
                where, step_in_epoch, run->steps_per_epoch, 100.0 * (double)done / (double)total,
                run->loss, rate, eta);
    }
    fflush(run->out);
    run->last_bar = now;
}

static void print_progress(FILE *out, size_t epoch, size_t epochs, double loss, double acc,
                           double vloss, double vacc, double tacc, double rate)
{
    fprintf(out, "  epoch %zu/%zu  loss %.4g  acc %.4f", epoch, epochs, loss, acc);
    if (!isnan(vloss))
        fprintf(out, "  val_loss %.4g  val_acc %.4f", vloss, vacc);
    if (!isnan(tacc))
        fprintf(out, "  test_acc %.4f", tacc);
    fprintf(out, "  %.0f samples/s\n", rate);
    fflush(out);
}

/*
 * The run's state, from the checkpoint in dir when resuming and there is
 * one, and its logs opened (cut back to the checkpoint's lengths).
 * Returns GS_EXIT_OK, or an exit status with nothing left to release.
 */
static int run_begin(gs_run *run, gs_trainer *t, const char *dir, FILE *out, int quiet,
                     int resume, gs_result *r, gs_error *err)
{
    const gs_variant *v = t->v;
    gs_model *m = t->model;
    memset(run, 0, sizeof *run);
    run->t = t;
    run->dir = dir;
    run->out = out;
    run->quiet = quiet || !t->writer;
    run->r = r;
    run->t0 = gs_now();
    run->bad_layer = -1;
    gs_rng_seed(&run->shuffle, (uint64_t)v->seed, gs_hash_string("shuffle"));
    run->components = component_list(v);
    run->batch = (size_t)v->training[T_BATCH].i;
    run->epochs = (size_t)v->training[T_EPOCHS].i;
    run->steps_per_epoch = (t->n_train + run->batch - 1) / run->batch;
    run->total_steps = (uint64_t)run->steps_per_epoch * run->epochs;
    run->ck = (gs_ckpt){.config_hash = config_hash(v),
                        .components = run->components,
                        .model = m,
                        .opt_state = t->opt_state,
                        .opt_floats = m->total * t->slots,
                        .shuffle = &run->shuffle,
                        .order = t->train_idx,
                        .n_order = t->n_train,
                        .pos = &run->pos,
                        .mon = &run->mon,
                        .theory = &r->theory,
                        .t0 = &run->t0,
                        .epoch_t0 = &run->epoch_t0,
                        .total_epochs = run->epochs,
                        .steps_per_epoch = run->steps_per_epoch,
                        .batch_size = run->batch,
                        .ranks = t->comm ? t->comm->size : 1};
    gs_monitor_init(&run->mon, dir, m, v->monitor[M_DUMP].b);
    uint64_t offsets[LOG_COUNT];
    int loaded = resume ? gs_checkpoint_load(dir, &run->ck, offsets, err) : 1;
    int resumed = loaded == 0;
    int rc = loaded < 0 ? GS_EXIT_INPUT : GS_EXIT_OK;
    if (rc == GS_EXIT_OK && t->writer &&
        ((!resumed && gs_write_config(dir, v, err) < 0) ||
         gs_write_model_table(dir, v, m, err) < 0 ||
         gs_monitor_open_logs(&run->mon, resumed ? offsets : NULL, err) < 0))
        rc = GS_EXIT_RUNTIME;
    if (rc != GS_EXIT_OK) {
        gs_monitor_close(&run->mon, NULL);
        free(run->components);
        return rc;
    }
    if (resumed && !run->quiet)
        fprintf(out, "  resuming at step %llu (epoch %llu)\n", (unsigned long long)run->pos.step,
                (unsigned long long)run->pos.epoch + 1);
    run->tty = !run->quiet && isatty(fileno(out));
    /* GRADSCOPE_PROGRESS_INTERVAL: seconds between plain progress lines
       (default 5), for logs that want more or fewer of them */
    const char *every = getenv("GRADSCOPE_PROGRESS_INTERVAL");
    char *end = NULL;
    run->progress_every = every ? strtod(every, &end) : 5.0;
    if (!every || end == every || *end || !(run->progress_every >= 0))
        run->progress_every = 5.0;
    run->last_bar = gs_now();
    r->val_loss = r->val_acc = r->test_loss = r->test_acc = NAN;
    return GS_EXIT_OK;
}

/* The end of an epoch: evaluation, its epochs.csv row, and a checkpoint at
   the boundary, which the next epoch starts from.  0, or -1 on error. */
static int epoch_end(gs_run *run, gs_error *err)
{
    gs_trainer *t = run->t;
    gs_result *r = run->r;
    gs_position *pos = &run->pos;
    size_t epoch = (size_t)pos->epoch;
    double vloss = NAN, vacc = NAN, tloss = NAN, tacc = NAN;
    if (run->tty && (t->n_val || t->data.test.count)) {
        char where[64];
        where_text(where, sizeof where, run);
        fprintf(run->out, "\r\033[K  %s evaluating\xe2\x80\xa6", where);
        fflush(run->out);
    }
    if (t->n_val && t->writer)
        gs_trainer_evaluate(t, &t->data.train, t->val_idx, t->n_val, &vloss, &vacc);
    if (t->data.test.count && t->writer)
        gs_trainer_evaluate(t, &t->data.test, t->test_idx, t->data.test.count, &tloss, &tacc);
    /* means over the epoch's counted rows (train_step.c's weights): its
       examples, or with a per-step mask the unmasked steps */
    double rows = (double)t->n_train, per = 1.0;
    if (t->data.train_mask && t->steps > 1) {
        rows = (double)gs_trainer_weight(t, t->train_idx, t->n_train);
        per = (double)t->steps;
    }
    double train_loss = pos->epoch_loss / rows;
    double train_acc = t->data.classes ? pos->epoch_correct * per / rows : NAN;
    double secs = gs_now() - run->epoch_t0;
    if (run->tty)
        fputs("\r\033[K", run->out);
    gs_monitor_epoch(&run->mon, epoch, pos->step, train_loss, train_acc, vloss, vacc, tloss,
                     tacc, secs);
    if (!run->quiet)
        print_progress(run->out, epoch + 1, run->epochs, train_loss, train_acc, vloss, vacc,
                       tacc, (double)t->n_train / secs);
    r->val_loss = vloss;
    r->val_acc = vacc;
    r->test_loss = tloss;
    r->test_acc = tacc;
    pos->batch = 0;
    pos->shuffled = 0;
    pos->epoch_loss = pos->epoch_correct = 0;
    pos->epoch++;
    int save = t->writer ? gs_checkpoint_save(run->dir, &run->ck, err) : 0;
    pos->epoch--;
    return save;
}

/* The rest of the epoch at pos.  0 when it ended, 1 when the run stops
   inside it (diverged, or stopped by a signal), -1 on error. */
static int run_epoch(gs_run *run, gs_error *err)
{
    gs_trainer *t = run->t;
    gs_position *pos = &run->pos;
    uint64_t ckpt_every = (uint64_t)t->v->checkpoint[C_EVERY].i;
    if (pos->batch == 0) /* else resumed inside it: the checkpoint's clock */
        run->epoch_t0 = gs_now();
    if (!pos->shuffled) {
        for (size_t i = t->n_train; i > 1; i--) {
            size_t j = (size_t)gs_rng_below(&run->shuffle, i);
            size_t tmp = t->train_idx[i - 1];
            t->train_idx[i - 1] = t->train_idx[j];
            t->train_idx[j] = tmp;
        }
        pos->shuffled = 1;
    }
    while (pos->batch < t->n_train) {
        double before = gs_now();
        switch (gs_train_step(run, err)) {
        case GS_STEP_TAKEN: break;
        case GS_STEP_DIVERGED: return 1;
        case GS_STEP_FAILED: return -1;
        }
        double after = gs_now();
        double slower = gs_pace_step(&run->pace, after - before);
        if (slower > 0 && !run->quiet) {
            if (run->tty)
                fputs("\r\033[K", run->out);
            fprintf(run->out,
                    "  warning: steps have become %.1fx slower than earlier in this run (by "
                    "step %llu)%s\n",
                    slower, (unsigned long long)pos->step,
                    t->v->training[T_FLUSH_DENORMALS].b
                        ? ""
                        : "; denormal numbers are a common cause: try training.flush_denormals "
                          "= true");
        }
        if (!run->quiet && after - run->last_bar > (run->tty ? 0.2 : run->progress_every))
            progress(run, run->tty);
        /* Stopping is decided once per step; with several ranks, by all of
           them together in the step, so that none waits forever for another. */
        if (!t->comm)
            run->stop = stop_signal != 0;
        int last_of_epoch = pos->batch >= t->n_train;
        if (!last_of_epoch && (run->stop || (ckpt_every && pos->step % ckpt_every == 0))) {
            if (t->writer && gs_checkpoint_save(run->dir, &run->ck, err) < 0)
                return -1;
            if (run->stop)
                return 1;
        }
    }
    return epoch_end(run, err) < 0 ? -1 : 0;
}

/* Per layer, its weight-gradient norm at the first and the last monitored
   step, for the table printed at the end. */
static void layer_norms(const gs_run *run, gs_result *r)
{
    const gs_model *m = run->t->model;
    size_t rows = run->mon.n_monitored;
    r->n_layers = m->n_layers;
    r->first_norm = gs_xcalloc(m->n_layers, sizeof(double));
    r->last_norm = gs_xcalloc(m->n_layers, sizeof(double));
    r->layer_types = gs_xcalloc(m->n_layers, sizeof(char *));
    for (size_t l = 0; l < m->n_layers; l++) {
        r->first_norm[l] = rows ? run->mon.first_norms[l] : NAN;
        r->last_norm[l] = rows ? run->mon.last_norms[l] : NAN;
        r->layer_types[l] = gs_xstrdup(gs_module_type(m->layers[l]));
    }
}

/*
 * How the run ended, its final metrics and verdict, theory.csv and
 * summary.json.  Returns GS_EXIT_OK, GS_EXIT_RUNTIME, or 128 + the signal
 * number for an interrupted run.
 */
static int run_finish(gs_run *run, gs_error *err)
{
    gs_trainer *t = run->t;
    gs_result *r = run->r;
    int writer = t->writer;
    gs_run_status status = GS_STATUS_COMPLETED;
    int signo = stop_signal ? (int)stop_signal : SIGTERM; /* another rank's signal */
    if (run->stop && !run->detail[0] && run->pos.epoch < run->epochs) {
        status = GS_STATUS_INTERRUPTED;
        snprintf(run->detail, sizeof run->detail,
                 "stopped by signal %d at step %llu; continue with gradscope resume", signo,
                 (unsigned long long)run->pos.step);
        if (!run->quiet)
            fprintf(run->out, "\n  interrupted: checkpoint written at step %llu\n",
                    (unsigned long long)run->pos.step);
        r->train_loss = r->train_acc = NAN;
    } else if (run->detail[0]) {
        status = GS_STATUS_DIVERGED;
        r->train_loss = r->train_acc = NAN;
        if (!run->quiet) {
            if (run->tty)
                fputs("\r\033[K", run->out);
            fprintf(run->out,
                    "  diverged: %s\n  to avoid it: lower optimizer.lr (%g now) or set "
                    "training.clip_grad_norm (e.g. 1.0)%s\n",
                    run->detail, t->base_lr,
                    t->v->training[T_CLIP_NORM].f > 0 ? ", or lower it" : "");
        }
    } else if (writer) {
        /* Final train metrics in evaluation mode over the training part. */
        gs_trainer_evaluate(t, &t->data.train, t->train_idx, t->n_train, &r->train_loss,
                            &r->train_acc);
    }
    if (writer && status == GS_STATUS_COMPLETED) {
        /* a run resumed at its very end has no epoch left to evaluate */
        if (isnan(r->val_loss) && t->n_val)
            gs_trainer_evaluate(t, &t->data.train, t->val_idx, t->n_val, &r->val_loss,
                                &r->val_acc);
        if (isnan(r->test_loss) && t->data.test.count)
            gs_trainer_evaluate(t, &t->data.test, t->test_idx, t->data.test.count,
                                &r->test_loss, &r->test_acc);
    }
    r->status = status;
    r->steps = run->pos.step;
    r->ratio = run->mon.ratio_first_last;
    gs_monitor_verdict(&run->mon, &r->verdict);
    if (status == GS_STATUS_DIVERGED) {
        /* a value that overflowed is the extreme of explosion, whatever the
           monitored steps before it looked like */
        r->verdict.kind = GS_VERDICT_EXPLODING;
        r->verdict.layer = run->bad_layer;
        r->verdict.step = run->pos.step;
        r->verdict.t = -1;
        snprintf(r->verdict.detail, sizeof r->verdict.detail, "%.*s",
                 (int)sizeof r->verdict.detail - 1, run->detail);
    }
    if (!run->quiet && status != GS_STATUS_INTERRUPTED)
        fprintf(run->out, "  verdict: %s (%s)\n", gs_verdict_name(r->verdict.kind),
                r->verdict.detail);
    r->seconds = gs_now() - run->t0;
    r->last_monitored = run->mon.n_monitored ? run->mon.hist[run->mon.n_monitored - 1].step : 0;
    layer_norms(run, r);
    if (gs_monitor_close(&run->mon, err) < 0 ||
        (writer && gs_write_summary(run->dir, r, run->detail, err) < 0))
        return GS_EXIT_RUNTIME;
    return status == GS_STATUS_INTERRUPTED ? 128 + signo : GS_EXIT_OK;
}

static int train_pinned(gs_trainer *t, const char *dir, FILE *out, int quiet, int resume,
                        gs_result *r, gs_error *err)
{
    gs_run run;
    int rc = run_begin(&run, t, dir, out, quiet, resume, r, err);
    if (rc != GS_EXIT_OK)
        return rc;
    int failed = 0;
    for (; run.pos.epoch < run.epochs && !run.stop; run.pos.epoch++) {
        int end = run_epoch(&run, err);
        if (end != 0) {
            failed = end < 0;
            break;
        }
    }
    free(run.components);
    if (failed) {
        gs_monitor_close(&run.mon, NULL);
        return GS_EXIT_RUNTIME;
    }
    return run_finish(&run, err);
}

/* The run's threads are pinned while it trains (affinity.c), and given
   their CPUs back whatever the outcome. */
int gs_train(gs_trainer *t, const char *dir, FILE *out, int quiet, int resume, gs_result *r,
             gs_error *err)
{
    gs_pinning pin;
    gs_threads_pin(&pin);
    int rc = train_pinned(t, dir, out, quiet, resume, r, err);
    gs_threads_unpin(&pin);
    return rc;
}

void gs_result_free(gs_result *r)
{
    for (size_t l = 0; l < r->n_layers; l++)
        free(r->layer_types[l]);
    free(r->layer_types);
    free(r->first_norm);
    free(r->last_norm);
}
