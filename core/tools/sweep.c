/*
 * Sweeps: the `sweep` section of an experiment file expanded into
 * combinations of "KEY=VALUE" overrides (sweep_expand.c), each trained into
 * its own run directory through the ordinary experiment API, and sweep.csv
 * and index.csv gathered from those directories (sweep_collect.c).
 * Everything a sweep knows about a run is in its directory, so a sweep can
 * be restarted, split across Slurm array tasks or MPI ranks, and collected
 * by another process.
 */
#include "config.h"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "base/util.h"
#include "engine/experiment.h"
#include "plugin/cfgfile.h"
#include "plugin/registry.h"
#include "tools/sweep.h"

/* ---- validation ---- */

static char *config_text(const gs_experiment *e, size_t v)
{
    gs_strbuf s;
    gs_experiment_write_config(e, v, gs_strbuf_open(&s));
    return gs_strbuf_close(&s);
}

/* Drops the lines a restart may change without changing the run: comments
   (the gradscope version) and training.threads (results do not depend on it). */
static void strip_volatile(char *text)
{
    char *out = text;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (line[0] != '#' && strncmp(line, "  threads = ", 12) != 0) {
            memmove(out, line, len);
            out += len;
        }
        line += len;
    }
    *out = '\0';
}

char *gs_sweep_run_dir(const gs_sweep *s, size_t i, size_t v)
{
    return s->variants[v][0] ? gs_xasprintf("%s/%s/%s", s->dir, s->names[i], s->variants[v])
                             : gs_xasprintf("%s/%s", s->dir, s->names[i]);
}

char *gs_sweep_run_path(const gs_sweep *s, size_t i, size_t v)
{
    return s->variants[v][0] ? gs_xasprintf("%s/%s", s->names[i], s->variants[v])
                             : gs_xstrdup(s->names[i]);
}

static const char **combination_sets(const gs_sweep *s, size_t i)
{
    const char **sets = gs_xcalloc(s->opt.n_sets + s->n_keys, sizeof *sets);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        sets[k] = s->opt.sets[k];
    for (size_t k = 0; k < s->n_keys; k++)
        sets[s->opt.n_sets + k] = s->sets[i * s->n_keys + k];
    return sets;
}

static gs_experiment *load_combination(const gs_registry *reg, const gs_sweep *s, size_t i,
                                       int threads, gs_error *err)
{
    const char **sets = combination_sets(s, i);
    gs_run_options ro = {.sets = sets, .n_sets = s->opt.n_sets + s->n_keys, .threads = threads,
                         .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, s->path, &ro, err);
    free(sets);
    if (!e)
        gs_err_prefix(err, "%s: sweep combination %zu (%s): ", s->path, i, s->names[i]);
    return e;
}

/* A run directory left by an earlier start must hold this very run. */
static int check_existing(const gs_sweep *s, size_t i, const gs_experiment *e, gs_error *err)
{
    for (size_t v = 0; v < s->n_variants; v++) {
        char *dir = gs_sweep_run_dir(s, i, v);
        char *path = gs_xasprintf("%s/%s", dir, GS_FILE_CONFIG);
        char *old = gs_read_file(path, NULL);
        int rc = 0;
        if (old) {
            char *now = config_text(e, v);
            strip_volatile(old);
            strip_volatile(now);
            if (strcmp(old, now) != 0) {
                gs_err_set(err,
                           "%s: holds a run of another configuration than sweep combination "
                           "%zu (the experiment file or --set changed since it started); "
                           "remove it or choose another --out",
                           dir, i);
                rc = -1;
            }
            free(now);
            free(old);
        }
        free(path);
        free(dir);
        if (rc < 0)
            return -1;
    }
    return 0;
}

void gs_sweep_free(gs_sweep *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n_keys; k++)
        gs_sweep_key_free(&s->keys[k]);
    free(s->keys);
    for (size_t i = 0; i < s->count; i++) {
        free(s->names[i]);
        for (size_t k = 0; k < s->n_keys; k++)
            free(s->sets[i * s->n_keys + k]);
    }
    free(s->names);
    free(s->sets);
    for (size_t v = 0; v < s->n_variants; v++)
        free(s->variants[v]);
    free(s->variants);
    free(s->seeds);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        free(s->opt_sets[k]);
    free(s->opt_sets);
    free(s->dir);
    free(s->path);
    free(s);
}

gs_sweep *gs_sweep_load(const gs_registry *reg, const char *path, const gs_sweep_options *opt,
                        gs_error *err)
{
    gs_sweep *s = gs_xcalloc(1, sizeof *s);
    s->path = gs_xstrdup(path);
    if (opt)
        s->opt = *opt;
    s->opt.sets = NULL;
    s->opt_sets = gs_xcalloc(s->opt.n_sets + 1, sizeof *s->opt_sets);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        s->opt_sets[k] = gs_xstrdup(opt->sets[k]);
    s->opt.sets = (const char *const *)s->opt_sets;
    s->opt.dir = NULL;
    if (!s->opt.out)
        s->opt.out = stdout;

    char real[PATH_MAX];
    if (!realpath(path, real)) {
        gs_err_set(err, "%s: cannot read experiment file", path);
        goto fail;
    }
    char *dcopy = gs_xstrdup(real);
    config_t cfg;
    if (gs_config_read_file(&cfg, path, dirname(dcopy), err) < 0) {
        free(dcopy);
        goto fail;
    }
    free(dcopy);
    const config_setting_t *sw = config_lookup(&cfg, "sweep");
    int rc = sw ? gs_sweep_parse(s, sw, path, err) : -1;
    if (!sw)
        gs_err_set(err, "%s: no sweep section (sweep = { grid = ( { key = \"...\"; values = "
                        "[ ... ]; } ); })",
                   path);
    config_destroy(&cfg);
    if (rc < 0)
        goto fail;
    for (size_t j = 0; j < s->opt.n_sets; j++) {
        const char *eq = strchr(s->opt.sets[j], '=');
        size_t len = eq ? (size_t)(eq - s->opt.sets[j]) : strlen(s->opt.sets[j]);
        for (size_t k = 0; k < s->n_keys; k++)
            if (gs_sweep_same_key(s->opt.sets[j], len, s->keys[k].key,
                                  strlen(s->keys[k].key))) {
                gs_err_set(err, "--set %s: '%s' is swept; a --set would make every "
                                "combination the same",
                           s->opt.sets[j], s->keys[k].key);
                goto fail;
            }
    }
    if (gs_sweep_expand(s, path, err) < 0)
        goto fail;

    /* Every combination is valid, and every directory already there holds
       its combination, before anything is run or written. */
    for (size_t i = 0; i < s->count; i++) {
        gs_experiment *e = load_combination(reg, s, i, 0, err);
        if (!e)
            goto fail;
        if (i == 0) {
            s->n_variants = gs_experiment_variants(e);
            s->variants = gs_xcalloc(s->n_variants, sizeof *s->variants);
            for (size_t v = 0; v < s->n_variants; v++)
                s->variants[v] = gs_xstrdup(gs_experiment_variant_name(e, v));
            const char *parent = e->variants[0].output[O_DIR].s;
            s->dir = opt && opt->dir ? gs_xstrdup(opt->dir)
                                     : gs_xasprintf("%s/%s-sweep",
                                                    parent && parent[0] ? parent : "runs",
                                                    gs_experiment_name(e));
            s->seeds = gs_xcalloc(s->count * s->n_variants, sizeof *s->seeds);
        }
        /* the variants come from the file, the same in every combination */
        for (size_t v = 0; v < s->n_variants; v++)
            s->seeds[i * s->n_variants + v] = e->variants[v].seed;
        int bad = check_existing(s, i, e, err);
        gs_experiment_free(e);
        if (bad)
            goto fail;
    }
    s->opt.dir = s->dir;
    return s;
fail:
    gs_sweep_free(s);
    return NULL;
}

size_t gs_sweep_count(const gs_sweep *s) { return s->count; }
const char *gs_sweep_dir(const gs_sweep *s) { return s->dir; }
const char *gs_sweep_name(const gs_sweep *s, size_t i) { return i < s->count ? s->names[i] : NULL; }
size_t gs_sweep_keys(const gs_sweep *s) { return s->n_keys; }
const char *gs_sweep_set(const gs_sweep *s, size_t i, size_t k)
{
    return i < s->count && k < s->n_keys ? s->sets[i * s->n_keys + k] : NULL;
}


/* ---- running ---- */

static void print_run(const gs_sweep *s, size_t i, size_t v, const char *how)
{
    if (s->opt.quiet)
        return;
    char *dir = gs_sweep_run_dir(s, i, v);
    gs_summary sum;
    gs_error derr = {{0}};
    gs_sweep_state st = gs_sweep_read_run(dir, &sum, &derr);
    free(dir);
    char line[1024];
    int n = snprintf(line, sizeof line, "[%zu/%zu] %s%s%s: %s%s", i + 1, s->count, s->names[i],
                     s->variants[v][0] ? "/" : "", s->variants[v], how,
                     gs_sweep_status(st, &sum));
    if (n > 0 && (size_t)n < sizeof line && st == GS_SWEEP_SUMMARY)
        snprintf(line + n, sizeof line - (size_t)n,
                 ", verdict %s, val_accuracy %.4f, grad_ratio %.3e, %.1f s",
                 gs_verdict_name(sum.verdict), sum.val_accuracy, sum.grad_ratio_first_last,
                 sum.wall_time_s);
    /* one write per line: the lines of parallel jobs do not interleave */
    fprintf(s->opt.out, "%s\n", line);
    fflush(s->opt.out);
}

int gs_sweep_run_one(const gs_registry *reg, const gs_sweep *s, size_t i, int threads,
                     gs_error *err)
{
    if (i >= s->count) {
        gs_err_set(err, "sweep index %zu out of range: the sweep has %zu combinations (0 to %zu)",
                   i, s->count, s->count - 1);
        return GS_EXIT_INPUT;
    }
    size_t done = 0, configs = 0, summaries = 0;
    for (size_t v = 0; v < s->n_variants; v++) {
        char *dir = gs_sweep_run_dir(s, i, v);
        gs_summary sum;
        gs_sweep_state st = gs_sweep_read_run(dir, &sum, err);
        free(dir);
        /* neither finished nor safely resumable: what it holds is unknown */
        if (st == GS_SWEEP_DAMAGED) {
            gs_err_prefix(err, "[%zu/%zu] %s: ", i + 1, s->count, s->names[i]);
            snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                     "; remove it to resume the run from its checkpoint, or remove the run "
                     "directory to train it again");
            return GS_EXIT_INPUT;
        }
        summaries += st == GS_SWEEP_SUMMARY;
        done += st == GS_SWEEP_SUMMARY && gs_status_finished(sum.status);
        configs += st != GS_SWEEP_PENDING;
    }
    char *root = gs_xasprintf("%s/%s", s->dir, s->names[i]);
    int rc;
    const char *how;
    if (done == s->n_variants) {
        rc = GS_EXIT_OK;
        how = "skipped, already ";
    } else if (configs == s->n_variants) {
        gs_run_options ro = {.threads = threads, .seed = -1, .quiet = 1, .out = s->opt.out};
        rc = gs_resume(reg, root, &ro, err);
        how = "resumed, ";
    } else if (summaries == 0) {
        gs_experiment *e = load_combination(reg, s, i, threads, err);
        if (!e) {
            free(root);
            return GS_EXIT_INPUT;
        }
        gs_run_options ro = {.out_dir = root, .seed = -1, .quiet = 1, .out = s->opt.out};
        rc = gs_experiment_run(e, &ro, err);
        gs_experiment_free(e);
        how = "";
    } else {
        gs_err_set(err, "%s: some runs of this combination finished and others never started; "
                        "remove the directory to run it again",
                   root);
        rc = GS_EXIT_INPUT;
        how = "";
    }
    if (rc != GS_EXIT_OK && rc < 128)
        gs_err_prefix(err, "[%zu/%zu] %s: ", i + 1, s->count, s->names[i]);
    else
        for (size_t v = 0; v < s->n_variants; v++)
            print_run(s, i, v, how);
    free(root);
    return rc;
}

int gs_sweep_mkdir(const gs_sweep *s, gs_error *err)
{
    char *copy = gs_xstrdup(s->dir);
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            gs_err_set(err, "%s: cannot create the sweep directory: %s", copy, strerror(errno));
            rc = -1;
            break;
        }
        *p = saved;
        if (!saved)
            break;
    }
    free(copy);
    return rc;
}

int gs_sweep_run(const gs_registry *reg, const gs_sweep *s, gs_error *err)
{
    if (gs_sweep_mkdir(s, err) < 0)
        return GS_EXIT_RUNTIME;
    int *rcs = gs_xcalloc(s->count, sizeof *rcs);
    int stopped = gs_sweep_pool(reg, s, s->opt.jobs > 1 ? (size_t)s->opt.jobs : 1,
                                s->opt.threads, rcs, err);
    if (stopped < 0) {
        free(rcs);
        return GS_EXIT_RUNTIME;
    }
    size_t failed = 0, first_failed = 0, not_run = 0;
    for (size_t i = 0; i < s->count; i++) {
        /* a job that died (SIGKILL, out of memory) left its combination running */
        if (rcs[i] == GS_SWEEP_RUNNING)
            fprintf(stderr, "gradscope: [%zu/%zu] %s: its job died during the run; run the "
                            "sweep again to resume it\n",
                    i + 1, s->count, s->names[i]);
        if (rcs[i] == GS_SWEEP_NOT_TAKEN)
            not_run++;
        else if (rcs[i] != GS_EXIT_OK && rcs[i] < 128 && !failed++)
            first_failed = i;
    }
    free(rcs);
    gs_error cerr = {{0}};
    int crc = gs_sweep_collect(s, NULL, &cerr);
    if (stopped) {
        if (crc != GS_EXIT_OK)
            fprintf(stderr, "gradscope: %s\n", cerr.msg);
        return stopped;
    }
    if (failed) {
        gs_err_set(err, "%zu of %zu combinations failed (the first: %zu, %s) and %zu did not "
                        "start; see the messages above; run the sweep again to retry them",
                   failed, s->count, first_failed, s->names[first_failed], not_run);
        return GS_EXIT_RUNTIME;
    }
    if (crc != GS_EXIT_OK) {
        *err = cerr;
        return crc;
    }
    return GS_EXIT_OK;
}
