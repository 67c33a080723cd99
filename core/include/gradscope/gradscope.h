/*
 * libgradscope: the library behind the gradscope program.
 *
 * Data flows config -> loader -> model -> trainer -> monitor -> run
 * directory; docs/ARCHITECTURE.md draws it.  This header is what the CLI,
 * the tests and embedding programs use; plugins need only plugin.h.
 */
#ifndef GRADSCOPE_H
#define GRADSCOPE_H

#include <stdio.h>
#include "gradscope/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Public functions of libgradscope; everything else stays hidden. */
#define GS_API GS_EXPORT

#define GS_EXIT_OK 0
#define GS_EXIT_RUNTIME 1
#define GS_EXIT_INPUT 2
/* A run diverged, with gs_run_options.fail_on_diverge. */
#define GS_EXIT_DIVERGED 3

/* Error text: "FILE:LINE: message" where a file and line are known. */
typedef struct gs_error {
    char msg[2048];
} gs_error;

GS_API const char *gs_version(void);

/* The matrix kernels' instruction set: "portable", "avx2" or "avx512", the
   best this processor runs unless the environment's GRADSCOPE_ISA names
   another.  Every set gives the same bits (docs/PERFORMANCE.md). */
GS_API const char *gs_isa_name(void);
/* The sets this processor runs, best last, into names[0..max); their count. */
GS_API int gs_isa_list(const char **names, int max);
/* 0, or -1 with a message when GRADSCOPE_ISA names a set that is unknown or
   that this processor lacks. */
GS_API int gs_isa_check(gs_error *err);

/* The last message a plugin or the core recorded with host->error() on
   this thread ("" if none). */
GS_API const char *gs_last_error(void);
GS_API void gs_clear_error(void);

/* The host table handed to plugins (also usable from tests). */
GS_API const gs_host *gs_host_table(void);

/* ---- random numbers ---- */
GS_API gs_rng *gs_rng_new(uint64_t seed, uint64_t stream);
GS_API void gs_rng_free(gs_rng *r);

/* ---- plugin registry ---- */
typedef struct gs_registry gs_registry;

typedef struct gs_component_info {
    const gs_component *component;
    const char *file;         /* the .so it came from */
    const gs_plugin_desc *plugin;
} gs_component_info;

GS_API gs_registry *gs_registry_new(void);
GS_API void gs_registry_free(gs_registry *reg);
/*
 * Each call is the next place on the search path, and the first place wins,
 * as with PATH: a component (kind and name) that an earlier place already
 * provides is shadowed, listed by gs_registry_shadowed_at but never used.
 * Two copies in one directory are an error naming both files.
 */
/* Adds every .so in DIR (0), or fails naming the file and the reason; a
   .so without the entry symbol (a helper library) is passed over. */
GS_API int gs_registry_load_dir(gs_registry *reg, const char *dir, gs_error *err);
/* One plugin file, which must have the entry symbol. */
GS_API int gs_registry_load_file(gs_registry *reg, const char *path, gs_error *err);
/* --plugin-path dirs, then GRADSCOPE_PLUGIN_PATH, then the installed dir. */
GS_API int gs_registry_load_default(gs_registry *reg, const char *const *extra_dirs,
                             size_t n_extra, gs_error *err);
/* The shadowed copies; gs_registry_find names the copy used instead. */
GS_API size_t gs_registry_shadowed_count(const gs_registry *reg);
GS_API const gs_component_info *gs_registry_shadowed_at(const gs_registry *reg, size_t i);
/* The .so files passed over for want of the entry symbol (real paths). */
GS_API size_t gs_registry_skipped_count(const gs_registry *reg);
GS_API const char *gs_registry_skipped_at(const gs_registry *reg, size_t i);
/* The directories searched, in order, ':'-separated ("" if none). */
GS_API const char *gs_registry_search_path(const gs_registry *reg);
GS_API const gs_component_info *gs_registry_find(const gs_registry *reg, gs_kind kind,
                                          const char *name);
GS_API size_t gs_registry_count(const gs_registry *reg);
GS_API const gs_component_info *gs_registry_at(const gs_registry *reg, size_t i);
/* Nearest name of that kind (for "did you mean"), or NULL. */
GS_API const char *gs_registry_suggest(const gs_registry *reg, gs_kind kind, const char *name);
/* "a, b, c": the valid names of a kind (static buffer per registry). */
GS_API const char *gs_registry_names(gs_registry *reg, gs_kind kind);
GS_API const char *gs_kind_name(gs_kind kind);
GS_API int gs_kind_from_name(const char *name, gs_kind *out);
GS_API const char *gs_param_type_name(gs_param_type t);
/* The installed plugin directory compiled into the library. */
GS_API const char *gs_default_plugin_dir(void);

/* ---- component references (a component plus validated parameters) ---- */
/*
 * `text` is the parameters in libconfig syntax, e.g. "negative_slope = 0.2;"
 * (NULL or "" for all defaults).
 */
GS_API gs_ref *gs_ref_parse(const gs_registry *reg, gs_kind kind, const char *name,
                     const char *text, gs_error *err);
GS_API void gs_ref_free(gs_ref *r);
GS_API const gs_value *gs_ref_values(const gs_ref *r);
GS_API const gs_component *gs_ref_component(const gs_ref *r);
/* Index of a parameter in the schema, or -1. */
GS_API int gs_schema_index(const gs_param_spec *schema, const char *name);

/* ---- experiments ---- */
typedef struct gs_experiment gs_experiment;

typedef struct gs_comm gs_comm; /* data-parallel group, see below */

typedef struct gs_run_options {
    const char *out_dir;   /* NULL: <output.dir>/<name>-<timestamp> */
    const char *const *sets; /* "KEY=VALUE" overrides */
    size_t n_sets;
    /* Names of the variants to load and run, in the file's order whatever
       the order here (NULL: every one); an unknown name is an error. */
    const char *const *variants;
    size_t n_variants;
    int threads;  /* 0: from the file */
    int64_t seed; /* < 0: from the file */
    int quiet;
    /* GS_EXIT_DIVERGED instead of GS_EXIT_OK when any run diverged. */
    int fail_on_diverge;
    FILE *out;    /* progress and tables (stdout) */
    /* Data-parallel training: NULL for one process.  Every rank runs the
       same experiment on its shard of each global batch; rank 0 alone
       writes the run directory. */
    const gs_comm *comm;
    /* gs_experiment_run: start over in a directory that holds a run,
       finished or not, instead of refusing it. */
    int force;
} gs_run_options;

/* Loads, applies overrides and validates every variant.  NULL on error. */
GS_API gs_experiment *gs_experiment_load(const gs_registry *reg, const char *path,
                                  const gs_run_options *opt, gs_error *err);
GS_API void gs_experiment_free(gs_experiment *e);
GS_API size_t gs_experiment_variants(const gs_experiment *e);
GS_API const char *gs_experiment_variant_name(const gs_experiment *e, size_t i);
GS_API const char *gs_experiment_name(const gs_experiment *e);
/* The fully resolved configuration of variant i, as libconfig text. */
GS_API int gs_experiment_write_config(const gs_experiment *e, size_t i, FILE *f);
/* Builds variant i as a run would (its data loaded, its model built) and
   writes a summary of it: each top-level layer with its type, per-example
   input and output shapes and parameter count, as model.csv numbers them,
   then the parameter total and the steps per epoch.  Nothing is trained.
   GS_EXIT_OK, or GS_EXIT_INPUT when the data or the model is invalid. */
GS_API int gs_experiment_describe(const gs_experiment *e, size_t i, FILE *f, gs_error *err);

/* Trains every variant; returns a GS_EXIT_* status, or 128 + the signal
   number when SIGINT or SIGTERM stopped it (after writing a checkpoint;
   err then holds the `gradscope resume DIR` command that continues it). */
GS_API int gs_experiment_run(gs_experiment *e, const gs_run_options *opt, gs_error *err);

/* Continues a stopped run (or every unfinished variant under a run
   directory) from its last checkpoint; a resumed run ends bit-identical to
   one that was never stopped.  Same statuses as gs_experiment_run. */
GS_API int gs_resume(const gs_registry *reg, const char *run_dir, const gs_run_options *opt,
                     gs_error *err);

/* ---- plugin checks (gradscope check-plugin) ---- */
typedef struct gs_check_result {
    char component[160]; /* "activation relu" */
    int ok;
    double max_rel_err;
    char detail[512];
} gs_check_result;

/*
 * Checks one component: backward against central finite differences in
 * double precision, float kernels against double ones, gains, initializer
 * moments, optimizer sanity.  Fills *res; returns res->ok.
 */
GS_API int gs_check_component(const gs_registry *reg, const gs_component_info *c,
                       gs_check_result *res);
/* The same checks for a component with chosen parameters (gs_ref_parse). */
GS_API int gs_check_ref(const gs_registry *reg, const gs_ref *ref, gs_check_result *res);

/* ---- reports (gradscope report) ---- */
/*
 * Writes OUT_DIR/report.html (self-contained: inline SVG, no scripts, no
 * network) and OUT_DIR/gradflow.svg for the runs in run_dirs.  Each entry is
 * a run directory or a directory of variant runs, which stands for all of
 * them.  out_dir NULL: the first entry.  Malformed rows are skipped and the
 * report says so.  Returns GS_EXIT_INPUT for a directory that is not a run,
 * GS_EXIT_RUNTIME when the output cannot be written.
 */
GS_API int gs_report(const char *const *run_dirs, size_t n, const char *out_dir, gs_error *err);
/*
 * The heatmaps' color scale (gradscope report --color-scale): one for all
 * runs, one per run, or AUTO (gs_report): shared unless some run's values
 * cover less than a fifth of the shared range, as when one run explodes and
 * would leave the others a single color.
 */
typedef enum gs_color_scale {
    GS_COLOR_SCALE_AUTO,
    GS_COLOR_SCALE_SHARED,
    GS_COLOR_SCALE_RUN
} gs_color_scale;
GS_API int gs_report_scaled(const char *const *run_dirs, size_t n, const char *out_dir,
                            gs_color_scale scale, gs_error *err);

/* ---- sweeps (gradscope sweep): see docs/CONFIG.md#sweep, docs/CLUSTERS.md ---- */
/*
 * A sweep is the `sweep` section of an experiment file: keys with lists of
 * values, crossed as a grid (the first key varies slowest) and then with the
 * positions of the zipped lists (fastest).  Each combination is a list of
 * "KEY=VALUE" overrides applied after the options' own, validated like
 * --set, and trains into a subdirectory of the sweep directory named by its
 * values ("activation=relu,seed=1").
 */
typedef struct gs_sweep gs_sweep;

typedef struct gs_sweep_options {
    const char *dir;          /* sweep directory; NULL: <output.dir>/<name>-sweep */
    const char *const *sets;  /* "KEY=VALUE" for every combination, before its own */
    size_t n_sets;
    int threads;              /* total threads; 0: the file's (one job) or every core */
    int jobs;                 /* runs at a time in forked processes; 0 or 1: in process */
    int quiet;
    FILE *out;                /* progress and the table (stdout) */
} gs_sweep_options;

/*
 * Reads and expands the sweep of the experiment file at path and validates
 * every combination, and every run directory already there against it,
 * before anything runs.  NULL on error (naming the combination).
 */
GS_API gs_sweep *gs_sweep_load(const gs_registry *reg, const char *path,
                               const gs_sweep_options *opt, gs_error *err);
GS_API void gs_sweep_free(gs_sweep *s);
GS_API size_t gs_sweep_count(const gs_sweep *s);
GS_API const char *gs_sweep_dir(const gs_sweep *s);
/* Combination i's subdirectory name. */
GS_API const char *gs_sweep_name(const gs_sweep *s, size_t i);
/* The swept keys (k < gs_sweep_keys) and combination i's "KEY=VALUE" for key k. */
GS_API size_t gs_sweep_keys(const gs_sweep *s);
GS_API const char *gs_sweep_set(const gs_sweep *s, size_t i, size_t k);

/*
 * Trains combination i with `threads` threads (0: the file's): skipped when
 * every run of it is completed or diverged, resumed from its checkpoint when
 * it was stopped, else started.  Prints one line per run unless quiet.
 * Same statuses as gs_experiment_run.
 */
GS_API int gs_sweep_run_one(const gs_registry *reg, const gs_sweep *s, size_t i, int threads,
                            gs_error *err);
/*
 * Runs every combination, opt->jobs at a time (call it before any OpenMP
 * work in this process when jobs > 1: the jobs are forked), then writes
 * sweep.csv and index.csv.  GS_EXIT_RUNTIME if any run failed, 128 + the
 * signal number if SIGINT or SIGTERM stopped the sweep.
 */
GS_API int gs_sweep_run(const gs_registry *reg, const gs_sweep *s, gs_error *err);
/*
 * Writes DIR/sweep.csv and DIR/index.csv from the run directories as they
 * are (one row per run) and prints the table unless quiet; *unfinished (if
 * not NULL) gets the number of runs neither completed nor diverged.
 * GS_EXIT_INPUT (the tables written) when a summary.json is damaged.
 */
GS_API int gs_sweep_collect(const gs_sweep *s, size_t *unfinished, gs_error *err);

/* ---- data-parallel training (gs_run_options.comm) ---- */
/*
 * A group of processes (MPI ranks) that train one run together: each takes
 * its shard of every global batch and the gradients are summed across the
 * group.  The transport is the caller's (the gradscope program implements it
 * with MPI), so that libgradscope does not depend on MPI.  A gradient summed
 * from shards differs from the whole batch's by rounding only: every element
 * within 1e-6 of the largest one (tests/test_dataparallel.c).
 */
struct gs_comm {
    int rank, size;
    /* Sends send_n bytes to rank `to` while receiving recv_n bytes from rank
       `from` (as MPI_Sendrecv); 0, or -1 on failure. */
    int (*sendrecv)(void *ctx, const void *send, size_t send_n, int to, void *recv,
                    size_t recv_n, int from);
    void *ctx;
};

/* Rank `rank`'s part of n items: contiguous, in rank order, sizes differing
   by at most one (the lower ranks take the extra items). */
GS_API void gs_dp_shard(size_t n, int rank, int size, size_t *offset, size_t *count);
/*
 * Replaces v (n values on every rank) by its sum over the ranks, the same on
 * every rank: each element is summed in double in rank order 0, 1, ...,
 * size-1 and rounded once, so the result depends only on the inputs and the
 * number of ranks, never on timing or on the MPI library's algorithms.
 * Each rank sends and receives about 2n values.  0, or -1 if the transport
 * failed.
 */
GS_API int gs_dp_sum_f32(const gs_comm *c, float *v, size_t n);
GS_API int gs_dp_sum_f64(const gs_comm *c, double *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* GRADSCOPE_H */
