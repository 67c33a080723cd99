/*
 * The entry points: gs_experiment_run trains every variant of an
 * experiment into a new run directory (a subdirectory per variant, listed
 * in its index.csv), gs_resume finishes runs that were stopped; both print
 * the comparison tables at the end.
 */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"
#include "engine/trainer.h"
#include "rundir/lock.h"
#include "rundir/rundir.h"

static const char *label_of(const gs_result *r) { return r->label[0] ? r->label : "run"; }

static void print_layer_table(FILE *out, const gs_result *res, size_t n)
{
    size_t layers = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].n_layers > layers)
            layers = res[i].n_layers;
    fprintf(out, "\nWeight-gradient norm per layer, first -> last monitored step\n");
    fprintf(out, "%-6s", "layer");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-27s", label_of(&res[i]));
    fputc('\n', out);
    for (size_t l = 0; l < layers; l++) {
        fprintf(out, "%-6zu", l);
        for (size_t i = 0; i < n; i++) {
            if (l < res[i].n_layers && isfinite(res[i].first_norm[l]))
                fprintf(out, "  %12.4g -> %-11.4g", res[i].first_norm[l], res[i].last_norm[l]);
            else
                fprintf(out, "  %-27s", "-");
        }
        fputc('\n', out);
    }
    /* a diverged run's last column is its last monitored step, which may
       hold the non-finite values themselves */
    for (size_t i = 0; i < n; i++)
        if (res[i].status == GS_STATUS_DIVERGED)
            fprintf(out, "%s diverged at step %llu: the last finite step was %lld; its last "
                         "column is step %llu\n",
                    label_of(&res[i]), (unsigned long long)res[i].steps,
                    (long long)res[i].steps - 1, (unsigned long long)res[i].last_monitored);
}

static void print_comparison(FILE *out, const gs_result *res, size_t n)
{
    fprintf(out, "\n%-20s %-10s %-10s %8s %10s %10s %9s %9s %12s %8s\n", "variant", "status",
            "verdict", "steps", "train_loss", "val_loss", "val_acc", "test_acc", "grad_ratio",
            "time_s");
    for (size_t i = 0; i < n; i++)
        /* %g: a diverging loss of 1e30 keeps its column */
        fprintf(out, "%-20s %-10s %-10s %8llu %10.4g %10.4g %9.4f %9.4f %12.4g %8.2f\n",
                label_of(&res[i]), gs_status_name(res[i].status), gs_verdict_name(res[i].verdict.kind),
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
        fprintf(out, "%-20s %-9s %-11s %9.4g %9.4g %10.4g %10.4g %10.4g\n", label_of(&res[i]),
                span, t->activation, t->sigma_w2, t->sigma_b2, t->chi_predicted, t->chi_path,
                t->chi_measured);
    }
}

static void print_tables(FILE *out, const gs_result *res, size_t n)
{
    print_layer_table(out, res, n);
    print_comparison(out, res, n);
}

/* Per-example dimensions joined by 'x', as model.csv writes them. */
static void shape_text(char *buf, size_t n, const gs_shape *s)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int d = 0; d < s->ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, "%s%zu", d ? "x" : "", s->dims[d]);
}

/* Trainable values of top-level layer l (buffers such as running
   statistics are not parameters). */
static size_t layer_params(const gs_model *m, size_t l)
{
    size_t n = 0;
    for (size_t p = 0; p < m->n_params; p++)
        if (m->params[p]->layer == (int)l && m->params[p]->pub.role != GS_ROLE_BUFFER)
            n += m->params[p]->numel;
    return n;
}

int gs_experiment_describe(const gs_experiment *e, size_t i, FILE *f, gs_error *err)
{
    if (i >= e->n_variants) {
        gs_err_set(err, "no variant %zu", i);
        return GS_EXIT_INPUT;
    }
    const gs_variant *v = &e->variants[i];
    gs_trainer t;
    if (gs_trainer_prepare(&t, v, err) < 0) {
        gs_trainer_free(&t);
        if (e->has_variants)
            gs_err_prefix(err, "variant '%s': ", v->label);
        return GS_EXIT_INPUT;
    }
    const gs_model *m = t.model;
    fprintf(f, "%s%s:\n  %-24s %-14s %-12s %-12s %12s\n", v->label[0] ? "variant " : "",
            v->label[0] ? v->label : e->name, "layer", "type", "in", "out", "parameters");
    /* Top-level layer l is copy r of the configuration's layer entry k, as
       model.csv numbers them. */
    size_t l = 0, total = 0;
    for (size_t k = 0; k < v->n_layers; k++)
        for (int64_t r = 0; r < v->layers[k].repeat && l < m->n_layers; r++, l++) {
            const gs_module *mod = m->layers[l];
            char where[96];
            if (v->layers[k].repeat > 1)
                snprintf(where, sizeof where, "%zu model.layers.[%zu]#%lld", l, k, (long long)r);
            else
                snprintf(where, sizeof where, "%zu model.layers.[%zu]", l, k);
            size_t np = layer_params(m, l);
            total += np;
            char in[64], out[64];
            shape_text(in, sizeof in, &mod->in);
            shape_text(out, sizeof out, &mod->out);
            fprintf(f, "  %-24s %-14s %-12s %-12s %12zu\n", where, gs_module_type(mod), in, out,
                    np);
        }
    size_t batch = (size_t)v->training[T_BATCH].i;
    size_t steps = (t.n_train + batch - 1) / batch;
    long long epochs = (long long)v->training[T_EPOCHS].i;
    fprintf(f, "  %zu parameters; %zu training examples, batch %zu: %zu steps per epoch, %lld "
               "epoch%s\n",
            total, t.n_train, batch, steps, epochs, epochs == 1 ? "" : "s");
    gs_trainer_free(&t);
    return GS_EXIT_OK;
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

/* With several ranks, rank 0's status on every rank (GS_EXIT_RUNTIME where
   the exchange fails). */
static int rank0_status(const gs_comm *comm, int rc)
{
    if (!comm || comm->size <= 1)
        return rc;
    double v = comm->rank == 0 ? (double)rc : 0.0;
    if (gs_dp_sum_f64(comm, &v, 1) < 0)
        return GS_EXIT_RUNTIME;
    return (int)v;
}

/* The locks a process holds on the run directories it writes, for the
   whole of its work on them (rundir/lock.h). */
typedef struct locks {
    gs_lock *l;
    size_t n;
} locks;

static int lock_dir(locks *k, const char *dir, gs_error *err)
{
    k->l = gs_xrealloc(k->l, (k->n + 1) * sizeof *k->l);
    int rc = gs_lock_take(&k->l[k->n], dir, stderr, err);
    if (rc == GS_EXIT_OK)
        k->n++;
    return rc;
}

static void unlock_all(locks *k)
{
    while (k->n > 0)
        gs_lock_release(&k->l[--k->n]);
    free(k->l);
    k->l = NULL;
}

/* Whether dir/name is longer than n bytes. */
static int longer_than(const char *dir, const char *name, uint64_t n)
{
    char *path = gs_xasprintf("%s/%s", dir, name);
    struct stat st;
    int longer = stat(path, &st) == 0 && (uint64_t)st.st_size > n;
    free(path);
    return longer;
}

/*
 * Whether the run in dir has nothing left to do: 1 finished, 0 not, -1
 * (err) when that cannot be told.  The summary alone is not believed, as
 * an edit or a damaged file would then lose the rest of a run: a completed
 * run's checkpoint is at its end, and a diverged run's metrics.csv goes on
 * past its checkpoint (the rows up to the diverging step); a damaged summary
 * beside a checkpoint part-way through is an unfinished run.  A summary
 * without a checkpoint (or with one of format 3, which does not record the
 * run's length) is taken at its word.
 */
static int finished(const char *dir, gs_error *err)
{
    gs_summary s;
    gs_ckpt_info info, *ck = &info;
    gs_error serr = {{0}}, cerr;
    int sr = gs_summary_read(dir, &s, &serr);
    int cr = gs_checkpoint_peek(dir, ck, &cerr);
    int judged = cr == 0 && ck->total_epochs > 0;
    int at_end = judged && ck->epoch >= ck->total_epochs;
    if (sr < 0) {
        if (judged && !at_end)
            return 0;
        *err = serr;
        return -1;
    }
    if (sr > 0 || !gs_status_finished(s.status))
        return 0;
    if (!judged)
        return 1;
    if (s.status == GS_STATUS_COMPLETED)
        return at_end;
    return !at_end && s.steps >= ck->step &&
           longer_than(dir, gs_logs[GS_LOG_METRICS].file, ck->log_bytes[GS_LOG_METRICS]);
}

/* A directory that holds a run already is refused: a finished one (status
   1, as ever), an unfinished one with the command that continues it (2);
   with force the run starts over, its checkpoint and results removed (the
   logs start again from their headers). */
static int start_over(const char *dir, const char *root, int force, gs_error *err)
{
    static const char *const state[] = {GS_FILE_CHECKPOINT, GS_FILE_SUMMARY};
    gs_ckpt_info ck;
    gs_error ferr = {{0}}, cerr = {{0}};
    int cr = gs_checkpoint_peek(dir, &ck, &cerr);
    char *sum = gs_xasprintf("%s/%s", dir, GS_FILE_SUMMARY);
    int has_sum = access(sum, F_OK) == 0;
    free(sum);
    if (cr == 1 && !has_sum)
        return GS_EXIT_OK;
    int fin = finished(dir, &ferr);
    if (!force) {
        char word[4096 + 64];
        gs_shell_word(word, sizeof word, root);
        if (cr < 0) {
            gs_err_set(err, "%s: holds a checkpoint that cannot be read (%s); start over with "
                            "--force",
                       dir, cerr.msg);
            return GS_EXIT_INPUT;
        }
        if (fin < 0) {
            gs_err_set(err, "%s: holds a run whose state cannot be read (%s); start over with "
                            "--force",
                       dir, ferr.msg);
            return GS_EXIT_INPUT;
        }
        if (fin == 0 && cr == 0) {
            gs_err_set(err, "%s: holds an unfinished run (checkpoint at step %llu); continue it "
                            "with: gradscope resume %s (or start over with --force)",
                       dir, (unsigned long long)ck.step, word);
            return GS_EXIT_INPUT;
        }
        gs_err_set(err, "%s: already holds a finished run (%s); choose another --out, or start "
                        "over with --force",
                   dir, GS_FILE_SUMMARY);
        return GS_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < GS_ARRAY_LEN(state); i++) {
        char *path = gs_xasprintf("%s/%s", dir, state[i]);
        int gone = unlink(path) == 0 || errno == ENOENT;
        if (!gone)
            gs_err_set(err, "%s: %s", path, strerror(errno));
        free(path);
        if (!gone)
            return GS_EXIT_RUNTIME;
    }
    return GS_EXIT_OK;
}

/* Every variant's data and model must be valid before anything is written;
   each is released again so that only one data set is in memory at a time. */
static int check_variants(gs_experiment *e, gs_error *err)
{
    for (size_t i = 0; i < e->n_variants; i++) {
        gs_trainer t;
        int bad = gs_trainer_prepare(&t, &e->variants[i], err) < 0;
        gs_trainer_free(&t);
        if (bad) {
            if (e->has_variants)
                gs_err_prefix(err, "variant '%s': ", e->variants[i].label);
            return -1;
        }
    }
    return 0;
}

/* Every variant's directory and resolved config exist before the first
   trains, so that `gradscope resume` can finish a run cut short anywhere;
   with variants, index.csv lists them.  The writer locks the root and
   every variant's directory (which `resume` may be given alone) first,
   and refuses directories that hold a run.  A GS_EXIT_* status. */
static int create_dirs(gs_experiment *e, const char *root, gs_result *res, int writer,
                       int force, locks *k, gs_error *err)
{
    for (size_t i = 0; i < e->n_variants; i++) {
        res[i].label = e->variants[i].label;
        if (e->has_variants)
            snprintf(res[i].dir, sizeof res[i].dir, "%s/%s", root, e->variants[i].label);
        else
            snprintf(res[i].dir, sizeof res[i].dir, "%s", root);
    }
    if (!writer)
        return GS_EXIT_OK;
    if (gs_rundir_create(root, err) < 0)
        return GS_EXIT_RUNTIME;
    int rc = lock_dir(k, root, err);
    for (size_t i = 0; i < e->n_variants && rc == GS_EXIT_OK && e->has_variants; i++)
        rc = gs_rundir_create(res[i].dir, err) < 0 ? GS_EXIT_RUNTIME : lock_dir(k, res[i].dir, err);
    if (rc == GS_EXIT_OK && e->has_variants)
        rc = start_over(root, root, force, err);
    for (size_t i = 0; i < e->n_variants && rc == GS_EXIT_OK; i++)
        rc = start_over(res[i].dir, root, force, err);
    for (size_t i = 0; i < e->n_variants && rc == GS_EXIT_OK; i++)
        if (gs_write_config(res[i].dir, &e->variants[i], err) < 0)
            rc = GS_EXIT_RUNTIME;
    return rc;
}

/* GS_EXIT_DIVERGED, naming the runs, when any of res[0..n) diverged. */
static int fail_on_diverge(const gs_result *res, size_t n, gs_error *err)
{
    size_t len = 0, bad = 0;
    char names[1024] = "";
    for (size_t i = 0; i < n; i++)
        if (res[i].status == GS_STATUS_DIVERGED && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", bad++ ? ", " : "",
                                    label_of(&res[i]));
    if (!bad)
        return GS_EXIT_OK;
    gs_err_set(err, "%zu run%s diverged (%s); exit status %d for --fail-on-diverge", bad,
               bad == 1 ? "" : "s", names, GS_EXIT_DIVERGED);
    return GS_EXIT_DIVERGED;
}

static int experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err)
{
    FILE *out = opt && opt->out ? opt->out : stdout;
    const gs_comm *comm = opt ? opt->comm : NULL;
    int writer = !comm || comm->rank == 0;
    int quiet = (opt && opt->quiet) || !writer;
    size_t n = e->n_variants;
    if (check_variants(e, err) < 0)
        return GS_EXIT_INPUT;
    if (e->has_sweep && !quiet)
        fprintf(out, "note: %s has a sweep section; `gradscope run` trains the base experiment "
                     "only, `gradscope sweep` runs the grid\n",
                e->path);
    char *root = opt && opt->out_dir ? gs_xstrdup(opt->out_dir) : default_dir(e);
    int index = writer && e->has_variants;
    gs_result *res = gs_xcalloc(n, sizeof *res);
    locks held = {0};
    int rc = create_dirs(e, root, res, writer, opt && opt->force, &held, err);
    int rc0 = rank0_status(comm, rc);
    if (rc == GS_EXIT_OK && rc0 != GS_EXIT_OK) {
        gs_err_set(err, "rank 0 could not take the run directory (its message says why)");
        rc = rc0;
    }
    size_t i = 0;
    for (; i < n && rc == GS_EXIT_OK; i++) {
        gs_variant *v = &e->variants[i];
        if (index && gs_write_experiment_index(root, e, i, err) < 0) {
            rc = GS_EXIT_RUNTIME;
            break;
        }
        if (!quiet)
            fprintf(out, "%s: %s -> %s\n", label_of(&res[i]), v->name, res[i].dir);
        gs_trainer t;
        if (gs_trainer_prepare(&t, v, err) < 0) {
            gs_trainer_free(&t);
            rc = GS_EXIT_INPUT;
            break;
        }
        t.comm = comm;
        t.writer = writer;
        t.variant = i;
        t.n_variants = n;
        rc = gs_train(&t, res[i].dir, out, quiet, 0, &res[i], err);
        gs_trainer_free(&t);
    }
    /* the final statuses, also of a run cut short (the error stays the
       first one) */
    gs_error ignored;
    if (index && i > 0 &&
        gs_write_experiment_index(root, e, n, rc == GS_EXIT_OK ? err : &ignored) < 0 &&
        rc == GS_EXIT_OK)
        rc = GS_EXIT_RUNTIME;
    if (rc == GS_EXIT_OK && !quiet) {
        print_tables(out, res, n);
        fprintf(out, "\nrun directory: %s\n", root);
    }
    if (rc > 128)
        gs_err_interrupted(err, rc, root);
    if (rc == GS_EXIT_OK && opt && opt->fail_on_diverge)
        rc = fail_on_diverge(res, n, err);
    unlock_all(&held);
    free(root);
    for (size_t k = 0; k < n; k++)
        gs_result_free(&res[k]);
    free(res);
    return rc;
}

int gs_experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err)
{
    gs_signal_guard g;
    gs_signals_catch(&g);
    int rc = experiment_run(e, opt, err);
    gs_signals_restore(&g);
    return rc;
}

/* ---- resume ---- */

static int has_config(const char *dir)
{
    char *path = gs_xasprintf("%s/%s", dir, GS_FILE_CONFIG);
    int ok = access(path, R_OK) == 0;
    free(path);
    return ok;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A finished run's row of the final tables, from its summary.json: the
   tables list every run of the directory, not only the ones resumed. */
static void result_from_summary(const char *dir, gs_result *r)
{
    gs_summary s;
    gs_error ignored;
    if (gs_summary_read(dir, &s, &ignored) != 0)
        return;
    r->status = s.status;
    r->verdict.kind = s.verdict;
    r->steps = s.steps;
    r->train_loss = s.train_loss;
    r->train_acc = s.train_accuracy;
    r->val_loss = s.val_loss;
    r->val_acc = s.val_accuracy;
    r->test_loss = s.test_loss;
    r->test_acc = s.test_accuracy;
    r->ratio = s.grad_ratio_first_last;
    r->seconds = s.wall_time_s;
}

/* Resumes dirs[0..n) in turn, with res[i] for dirs[i]: the finished ones'
   from their summaries. */
static int resume_dirs(const gs_registry *reg, char **dirs, size_t n, const gs_run_options *opt,
                       gs_result *res, gs_error *err)
{
    FILE *out = opt && opt->out ? opt->out : stdout;
    const gs_comm *comm = opt ? opt->comm : NULL;
    int writer = !comm || comm->rank == 0;
    int quiet = (opt && opt->quiet) || !writer;
    int rc = GS_EXIT_OK;
    size_t trained = 0;
    for (size_t i = 0; i < n && rc == GS_EXIT_OK; i++) {
        const char *label = strrchr(dirs[i], '/') ? strrchr(dirs[i], '/') + 1 : dirs[i];
        gs_result *r = &res[i];
        r->label = gs_xstrdup(label);
        snprintf(r->dir, sizeof r->dir, "%s", dirs[i]);
        int fin = finished(dirs[i], err);
        if (fin < 0)
            return GS_EXIT_INPUT;
        if (fin) {
            if (!quiet)
                fprintf(out, "%s: already finished\n", dirs[i]);
            result_from_summary(dirs[i], r);
            continue;
        }
        char *cfg = gs_xasprintf("%s/%s", dirs[i], GS_FILE_CONFIG);
        gs_run_options o = opt ? *opt : (gs_run_options){.seed = -1};
        o.sets = NULL;
        o.n_sets = 0;
        o.variants = NULL;
        o.n_variants = 0;
        o.seed = -1;
        gs_experiment *e = gs_experiment_load(reg, cfg, &o, err);
        free(cfg);
        if (!e)
            return GS_EXIT_INPUT;
        gs_trainer t;
        if (gs_trainer_prepare(&t, &e->variants[0], err) < 0) {
            gs_trainer_free(&t);
            gs_experiment_free(e);
            return GS_EXIT_INPUT;
        }
        if (!quiet)
            fprintf(out, "%s: %s -> %s\n", label, e->variants[0].name, dirs[i]);
        t.comm = comm;
        t.writer = writer;
        t.variant = i;
        t.n_variants = n;
        rc = gs_train(&t, dirs[i], out, quiet, 1, r, err);
        trained++;
        gs_trainer_free(&t);
        gs_experiment_free(e);
    }
    if (rc == GS_EXIT_OK && !quiet && trained)
        print_tables(out, res, n);
    return rc;
}

/* dir itself when it is a run, else its subdirectories that are, by name. */
static char **find_runs(const char *dir, size_t *n, gs_error *err)
{
    char **dirs = NULL;
    *n = 0;
    if (has_config(dir)) {
        dirs = gs_xmalloc(sizeof *dirs);
        dirs[(*n)++] = gs_xstrdup(dir);
        return dirs;
    }
    DIR *d = opendir(dir);
    if (!d) {
        gs_err_set(err, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        char *sub = gs_xasprintf("%s/%s", dir, ent->d_name);
        if (has_config(sub)) {
            dirs = gs_xrealloc(dirs, (*n + 1) * sizeof *dirs);
            dirs[(*n)++] = sub;
        } else {
            free(sub);
        }
    }
    closedir(d);
    if (*n > 1) /* qsort's array must not be NULL, even empty */
        qsort(dirs, *n, sizeof *dirs, by_name);
    if (*n == 0)
        gs_err_set(err, "%s: not a run directory (no %s in it or its subdirectories)", dir,
                   GS_FILE_CONFIG);
    return dirs;
}

int gs_resume(const gs_registry *reg, const char *dir, const gs_run_options *opt, gs_error *err)
{
    size_t n;
    char **dirs = find_runs(dir, &n, err);
    if (n == 0)
        return GS_EXIT_INPUT;
    const gs_comm *comm = opt ? opt->comm : NULL;
    int writer = !comm || comm->rank == 0;
    gs_result *res = gs_xcalloc(n, sizeof *res);
    /* the experiment's root too: a run of it, or a resume of all of it,
       would write its index.csv */
    locks k = {0};
    int rc = GS_EXIT_OK;
    gs_signal_guard g; /* from before the locks: a second signal removes them */
    gs_signals_catch(&g);
    if (writer && !has_config(dir))
        rc = lock_dir(&k, dir, err);
    for (size_t i = 0; i < n && writer && rc == GS_EXIT_OK; i++)
        rc = lock_dir(&k, dirs[i], err);
    int rc0 = rank0_status(comm, rc);
    if (rc == GS_EXIT_OK && rc0 != GS_EXIT_OK) {
        gs_err_set(err, "rank 0 could not take the run directory (its message says why)");
        rc = rc0;
    }
    if (rc == GS_EXIT_OK) {
        rc = resume_dirs(reg, dirs, n, opt, res, err);
        /* an experiment's index.csv: the statuses now (the error stays the
           first one) */
        gs_error ignored;
        if (writer && !has_config(dir) &&
            gs_refresh_index(dir, rc == GS_EXIT_OK ? err : &ignored) < 0 && rc == GS_EXIT_OK)
            rc = GS_EXIT_RUNTIME;
    }
    unlock_all(&k);
    gs_signals_restore(&g);
    if (rc > 128)
        gs_err_interrupted(err, rc, dir);
    if (rc == GS_EXIT_OK && opt && opt->fail_on_diverge)
        rc = fail_on_diverge(res, n, err);
    for (size_t i = 0; i < n; i++) {
        free((char *)res[i].label);
        gs_result_free(&res[i]);
    }
    free(res);
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}
