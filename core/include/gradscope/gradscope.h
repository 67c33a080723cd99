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

/* Error text: "FILE:LINE: message" where a file and line are known. */
typedef struct gs_error {
    char msg[2048];
} gs_error;

GS_API const char *gs_version(void);

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
/* Adds every .so in DIR (0), or fails naming the file and the reason. */
GS_API int gs_registry_load_dir(gs_registry *reg, const char *dir, gs_error *err);
GS_API int gs_registry_load_file(gs_registry *reg, const char *path, gs_error *err);
/* --plugin-path dirs, then GRADSCOPE_PLUGIN_PATH, then the installed dir. */
GS_API int gs_registry_load_default(gs_registry *reg, const char *const *extra_dirs,
                             size_t n_extra, gs_error *err);
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

typedef struct gs_run_options {
    const char *out_dir;   /* NULL: <output.dir>/<name>-<timestamp> */
    const char *const *sets; /* "KEY=VALUE" overrides */
    size_t n_sets;
    int threads;  /* 0: from the file */
    int64_t seed; /* < 0: from the file */
    int quiet;
    FILE *out;    /* progress and tables (stdout) */
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

/* Trains every variant; returns a GS_EXIT_* status, or 128 + the signal
   number when SIGINT or SIGTERM stopped it (after writing a checkpoint). */
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

#ifdef __cplusplus
}
#endif
#endif /* GRADSCOPE_H */
