/* Internal declarations shared by libgradscope's files (not installed). */
#ifndef GS_INTERNAL_H
#define GS_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <libconfig.h>
#include "gradscope/gradscope.h"

#define GS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- util.c ---- */
void gs_err_set(gs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gs_err_prefix(gs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gs_tls_error_set(const char *fmt, va_list ap);
/* Records a message for gs_last_error() (host->error does the same). */
void gs_record_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *gs_xmalloc(size_t n);
void *gs_xcalloc(size_t n, size_t size);
void *gs_xrealloc(void *p, size_t n);
/* 64-byte aligned, n rounded up to a multiple of 64; release with free(). */
void *gs_xmalloc_aligned(size_t n);
char *gs_xstrdup(const char *s);
char *gs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t gs_edit_distance(const char *a, const char *b);
/* Shortest "%.*g" text that reads back as the same double, always with
   a '.' or exponent so libconfig reads it as a float. */
void gs_format_double(char *buf, size_t n, double v);
/* "%.9g" of v into buf (32 bytes), the same text, faster; returns its length. */
int gs_format_g9(char *buf, double v);
/* v in decimal into buf (21 bytes); returns its length. */
int gs_format_u64(char *buf, uint64_t v);
double gs_now(void);

/* Heap blocks freed together, each with its own release function. */
typedef struct gs_pool {
    void **items;
    void (**release)(void *);
    size_t n, cap;
} gs_pool;
void *gs_pool_add(gs_pool *p, void *block);
void *gs_pool_add_with(gs_pool *p, void *block, void (*release)(void *));
char *gs_pool_strdup(gs_pool *p, const char *s);
void gs_pool_free(gs_pool *p);

/* ---- cfgfile.c ---- */
/* config_init + config_read_file, refusing @include targets that would make
   libconfig 1.5 exit; on failure cfg is destroyed and err says FILE:LINE. */
int gs_config_read_file(config_t *cfg, const char *path, const char *include_dir,
                        gs_error *err);

/* ---- rng.c ---- */
struct gs_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
};
void gs_rng_seed(gs_rng *r, uint64_t seed, uint64_t stream);
uint64_t gs_rng_next(gs_rng *r);
double gs_rng_uniform01(gs_rng *r);
double gs_rng_gauss(gs_rng *r);
uint64_t gs_hash_string(const char *s);
/* Uniform integer in [0, n). */
uint64_t gs_rng_below(gs_rng *r, uint64_t n);

/* ---- gemm.c ---- */
void gs_gemm(gs_dtype dt, int ta, int tb, size_t m, size_t n, size_t k, double alpha,
             const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
             size_t ldc);
/* "avx2-fma" or "portable": the float GEMM chosen for this processor. */
const char *gs_gemm_kernel_name(void);

/* ---- kernels.c ---- */
/* Flush-to-zero and denormals-are-zero on every thread of the team. */
void gs_set_flush_denormals(int on);
void gs_add_row_vector(gs_dtype dt, size_t rows, size_t cols, const void *b, void *y);
void gs_sum_rows(gs_dtype dt, size_t rows, size_t cols, const void *y, void *s);
void gs_axpy(gs_dtype dt, size_t n, double alpha, const void *x, void *y);
/* memset(x, 0, bytes), by several threads when long. */
void gs_zero(size_t bytes, void *x);
/* From an activation's derivative f' (batch x units): sets alive[u] where
   f' != 0 for some example (alive accumulates over calls, so that a batch
   can be taken in pieces) and returns the number of values with |f'| < thr
   (none when thr <= 0). */
size_t gs_act_mark(gs_dtype dt, const void *deriv, size_t batch, size_t units, double thr,
                   int32_t *alive);
/* Sum of (a[i] - b[i])^2 in double, in a fixed order. */
double gs_sqdist_f32(size_t n, const float *a, const float *b);
/* Over gradient g and weights w (n floats): *gg = sum g^2 and *ww = sum w^2
   (in gs_sumsq's order; *ww = 0 when w is NULL), *gmax = max |g| (NaN if any
   g is). */
void gs_grad_norms(const float *g, const float *w, size_t n, double *gg, double *ww,
                   double *gmax);
/*
 * hist[] += counts of |g| by decade: [0] zero, [1] below 10^lo, [2 + k - lo]
 * in [10^k, 10^(k+1)) for lo <= k < hi, [hi - lo + 2] 10^hi and up or not
 * finite.  -37 <= lo < hi <= 38, hi - lo + 3 <= GS_STATS_MAX_BINS.
 */
enum { GS_STATS_MAX_BINS = 80 };
void gs_grad_histogram(const float *g, size_t n, int lo, int hi, uint32_t *hist);
void gs_parallel_for(size_t n, size_t grain, void (*fn)(void *, size_t, size_t), void *arg);

/* ---- optstep.c ---- */
/* Whether the optimizer may be stepped on ranges of a tensor (ABI 1.2). */
int gs_optimizer_elementwise(const gs_optimizer_ops *ops);
/* One step of `ops` over a tensor of n elements with `slots` floats of
   state each (c.stride is set here); returns ||theta after - theta
   before||^2 with GS_STEP_MEASURE, else NaN.  GS_STEP_CLEAR_GRAD leaves
   grad zeroed. */
enum { GS_STEP_MEASURE = 1, GS_STEP_CLEAR_GRAD = 2 };
double gs_optimizer_step(const gs_optimizer_ops *ops, gs_opt_call c, size_t n, size_t slots,
                         float *theta, float *grad, float *state, int flags);
/* Sum of squares in double, in a fixed order. */
double gs_sumsq(gs_dtype dt, size_t n, const void *x);
double gs_sum(gs_dtype dt, size_t n, const void *x);
double gs_maxabs(gs_dtype dt, size_t n, const void *x);
int gs_all_finite(gs_dtype dt, size_t n, const void *x);
void gs_set_threads(int n);
int gs_get_threads(void);

/* ---- affinity.c ---- */
typedef struct gs_pinning {
    void *allowed; /* the CPUs the team had (a cpu_set_t), while pinned */
} gs_pinning;
/* Pins the gs_get_threads() threads of the team one per CPU when they are
   as many as the CPUs the process may use and the environment chooses no
   placement; returns 1 when it did.  gs_threads_unpin undoes it. */
int gs_threads_pin(gs_pinning *p);
void gs_threads_unpin(gs_pinning *p);

/* ---- registry.c ---- */
struct gs_registry {
    gs_component_info *items;
    size_t n, cap;
    char **files; /* loaded paths, owned */
    size_t n_files;
    char names_buf[4096];
};

/* ---- schema.c: component references ---- */
struct gs_ref {
    const gs_registry *reg;
    const gs_component_info *info;
    gs_value *values; /* one per schema entry */
    size_t n;
    gs_pool pool; /* strings, lists and child refs owned by this ref */
};

/* Where a libconfig setting came from, for error messages. */
typedef struct gs_origin gs_origin;
struct gs_origin {
    const char *default_file;
    /* settings created by --set or by merging a variant: their label */
    const config_setting_t **keys;
    char **labels;
    size_t n, cap;
};
void gs_origin_add(gs_origin *o, const config_setting_t *s, const char *label);
/* "FILE:LINE" (or the --set label) into buf. */
const char *gs_origin_where(const gs_origin *o, const config_setting_t *s, char *buf,
                            size_t n);
void gs_origin_free(gs_origin *o);

/* Validates `params` of a group against `schema`; writes values (defaults
   first).  `skip` lists member names the caller handles (NULL-terminated).
   Paths resolve against base_dir. */
int gs_params_from_group(const gs_registry *reg, const gs_param_spec *schema,
                         const config_setting_t *group, const char *const *skip,
                         const gs_origin *origin, const char *base_dir, gs_value *values,
                         gs_pool *pool, const char *what, gs_error *err);
int gs_params_defaults(const gs_registry *reg, const gs_param_spec *schema, gs_value *values,
                       gs_pool *pool, const char *what, gs_error *err);
size_t gs_schema_len(const gs_param_spec *schema);

/* A component named by a string or a group with `type`. */
gs_ref *gs_ref_from_setting(const gs_registry *reg, gs_kind kind, const config_setting_t *s,
                            const gs_origin *origin, const char *base_dir, gs_error *err);
gs_ref *gs_ref_new_default(const gs_registry *reg, const gs_component_info *info);
gs_ref *gs_ref_clone(const gs_ref *r);
int gs_ref_set(gs_ref *r, const char *key, gs_param_type t, const gs_value *v, gs_error *err);
/* Writes `{ type = "x"; a = 1; ... }` in libconfig syntax. */
void gs_ref_write(const gs_ref *r, FILE *f, int indent);
void gs_params_write(const gs_param_spec *schema, const gs_value *values, FILE *f,
                     int indent);
void gs_value_write(const gs_param_spec *spec, const gs_value *v, FILE *f, int indent);

/* ---- host.c ---- */
void gs_host_reset_error(void);

#endif
