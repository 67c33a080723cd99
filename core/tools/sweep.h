/*
 * Sweeps inside the library (the API is gradscope.h's gs_sweep_*):
 * sweep_expand.c reads the `sweep` section and expands it into
 * combinations, sweep.c loads and runs them, sweep_pool.c runs them in
 * forked processes, sweep_collect.c reads their run directories back into
 * sweep.csv and index.csv.
 */
#ifndef GS_TOOLS_SWEEP_H
#define GS_TOOLS_SWEEP_H

#include <libconfig.h>
#include <stdint.h>
#include "gradscope/gradscope.h"
#include "rundir/format.h"

typedef struct gs_sweep_key {
    char *key;    /* libconfig path, as written */
    char *column; /* the path without spaces: index.csv's column */
    char *label;  /* short unique name: sweep.csv column and directory-name part */
    size_t n;
    char **text;  /* each value in libconfig syntax */
    char **plain; /* each value plainly (strings bare): index.csv's cell */
    char **show;  /* each value's name (plain without names = [ ... ]) for sweep.csv */
    char **frag;  /* each value for the directory name */
} gs_sweep_key;

struct gs_sweep {
    char *path;
    gs_sweep_key *keys;
    size_t n_keys, n_grid; /* keys [n_grid, n_keys) are zipped */
    size_t zip_len;        /* 1 without zipped keys */
    size_t count;
    char **names;
    char **sets; /* count x n_keys "KEY=VALUE" */
    char *dir;
    char **variants; /* labels of the experiment's variants ("" without) */
    size_t n_variants;
    int64_t *seeds; /* count x n_variants: each run's seed */
    gs_sweep_options opt;
    char **opt_sets;
};

/* ---- sweep_expand.c ---- */

/* Reads the sweep section sw of `file` into s->keys, n_keys, n_grid and
   zip_len; errors name the file and line. */
int gs_sweep_parse(gs_sweep *s, const config_setting_t *sw, const char *file, gs_error *err);
/* Whether two --set keys name the same setting (spaces do not matter). */
int gs_sweep_same_key(const char *a, size_t alen, const char *b, size_t blen);
/* Labels the keys and fills s->count, names and sets; refuses two
   combinations with one directory name. */
int gs_sweep_expand(gs_sweep *s, const char *file, gs_error *err);
/* Value index of key k in combination i. */
size_t gs_sweep_value_index(const gs_sweep *s, size_t i, size_t k);
void gs_sweep_key_free(gs_sweep_key *k);

/* ---- sweep.c ---- */

/* Run v of combination i: its directory, and its path relative to s->dir. */
char *gs_sweep_run_dir(const gs_sweep *s, size_t i, size_t v);
char *gs_sweep_run_path(const gs_sweep *s, size_t i, size_t v);
/* mkdir -p of the sweep directory. */
int gs_sweep_mkdir(const gs_sweep *s, gs_error *err);

/* ---- sweep_collect.c ---- */

/* How far a run directory got. */
typedef enum {
    GS_SWEEP_PENDING,    /* nothing there */
    GS_SWEEP_UNFINISHED, /* config.cfg, no summary.json: running, or killed */
    GS_SWEEP_DAMAGED,    /* a summary.json gs_summary_read refuses */
    GS_SWEEP_SUMMARY     /* a summary.json */
} gs_sweep_state;

/* The state of the run in dir; *sum is filled for GS_SWEEP_SUMMARY, err
   says what is wrong for GS_SWEEP_DAMAGED. */
gs_sweep_state gs_sweep_read_run(const char *dir, gs_summary *sum, gs_error *err);
/* The status sweep.csv and the progress lines give a state: the summary's,
   "unfinished", "damaged" or "missing". */
const char *gs_sweep_status(gs_sweep_state st, const gs_summary *sum);

/* ---- sweep_pool.c ---- */

/* rcs[i] of a combination no run returned from */
enum { GS_SWEEP_NOT_TAKEN = -1, GS_SWEEP_RUNNING = -2 };

/* Runs the combinations through gs_sweep_run_one, `jobs` at a time in
   forked processes (in this process when 1), with `threads` in all (0: the
   file's with one job, else every CPU), until every one is taken or
   SIGINT or SIGTERM stops it; rcs[i] gets combination i's status.  Returns
   0, 128 + the signal number when a signal stopped it, or -1 when it could
   not start (err). */
int gs_sweep_pool(const gs_registry *reg, const gs_sweep *s, size_t jobs, int threads, int *rcs,
                  gs_error *err);

#endif
