/* The host table: the only way plugins reach the core. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "base/util.h"
#include "engine/model.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "plugin/schema.h"

static void *host_alloc(size_t n) { return gs_xmalloc(n); }
static void *host_zalloc(size_t n) { return gs_xcalloc(1, n); }
static void host_free(void *p) { free(p); }

static int log_level = GS_LOG_WARN;

static void host_log(gs_log_level level, const char *fmt, ...)
{
    if ((int)level > log_level)
        return;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gradscope: %s: ", names[level <= GS_LOG_DEBUG ? level : GS_LOG_DEBUG]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void host_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gs_tls_error_set(fmt, ap);
    va_end(ap);
}

static int host_threads(void) { return gs_get_threads(); }

static uint64_t host_rng_u64(gs_rng *r) { return gs_rng_next(r); }
static double host_rng_uniform(gs_rng *r) { return gs_rng_uniform01(r); }
static double host_rng_normal(gs_rng *r) { return gs_rng_gauss(r); }

static gs_param *host_add_param(gs_module *m, const char *name, int ndim, const size_t *dims,
                                gs_role role, size_t fan_in, size_t fan_out, const gs_ref *init,
                                const gs_ref *gain_from)
{
    gs_param_rec *p =
        gs_model_declare_param(m, name, ndim, dims, role, fan_in, fan_out, init, gain_from);
    return p ? &p->pub : NULL;
}

static gs_ref *host_ref_new(gs_module *m, gs_kind kind, const char *name)
{
    const gs_component_info *info = gs_registry_find(m->model->reg, kind, name);
    if (!info) {
        gs_record_error("no %s named '%s' is installed", gs_kind_name(kind), name);
        return NULL;
    }
    gs_ref *r = gs_ref_new_default(m->model->reg, info);
    if (r)
        gs_pool_add_with(&m->model->pool, r, (void (*)(void *))gs_ref_free);
    return r;
}

static int ref_set(gs_ref *r, const char *key, gs_param_type t, gs_value v)
{
    gs_error err;
    if (!r)
        return -1;
    if (gs_ref_set(r, key, t, &v, &err) < 0) {
        gs_record_error("%s", err.msg);
        return -1;
    }
    return 0;
}

static int host_ref_set_int(gs_ref *r, const char *key, int64_t v)
{
    return ref_set(r, key, GS_P_INT, (gs_value){.i = v});
}
static int host_ref_set_float(gs_ref *r, const char *key, double v)
{
    return ref_set(r, key, GS_P_FLOAT, (gs_value){.f = v});
}
static int host_ref_set_string(gs_ref *r, const char *key, const char *v)
{
    return ref_set(r, key, GS_P_STRING, (gs_value){.s = v});
}
static int host_ref_set_ref(gs_ref *r, const char *key, const gs_ref *v)
{
    return ref_set(r, key, GS_P_COMPONENT, (gs_value){.ref = v});
}
static int host_ref_set_bool(gs_ref *r, const char *key, int v)
{
    return ref_set(r, key, GS_P_BOOL, (gs_value){.b = v != 0});
}
static void host_rng_uniform_fill(gs_rng *r, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)gs_rng_uniform01(r);
}
static const char *host_ref_name(const gs_ref *r)
{
    return r ? r->info->component->name : "";
}
static void host_set_state(gs_module *m, void *state) { m->state = state; }
static void *host_get_state(const gs_module *m) { return m->state; }
static gs_dtype host_dtype(const gs_module *m) { return m->model->dtype; }

static int host_monitoring(const gs_module *m)
{
    return m->model->monitoring ? (m->model->detailed ? 2 : 1) : 0;
}

static gs_rng *host_module_rng(gs_module *m) { return &m->rng; }

static const gs_host host_table = {
    .size = sizeof(gs_host),
    .abi_major = GS_ABI_MAJOR,
    .abi_minor = GS_ABI_MINOR,
    .alloc = host_alloc,
    .zalloc = host_zalloc,
    .free = host_free,
    .log = host_log,
    .error = host_error,
    .threads = host_threads,
    .parallel_for = gs_parallel_for,
    .rng_u64 = host_rng_u64,
    .rng_uniform = host_rng_uniform,
    .rng_normal = host_rng_normal,
    .rng_uniform_fill = host_rng_uniform_fill,
    .gemm = gs_gemm,
    .add_row_vector = gs_add_row_vector,
    .sum_rows = gs_sum_rows,
    .axpy = gs_axpy,
    .add_param = host_add_param,
    .add_buffer = gs_model_declare_buffer,
    .add_child = gs_model_add_child,
    .ref_new = host_ref_new,
    .ref_set_int = host_ref_set_int,
    .ref_set_float = host_ref_set_float,
    .ref_set_string = host_ref_set_string,
    .ref_set_bool = host_ref_set_bool,
    .ref_set_ref = host_ref_set_ref,
    .ref_name = host_ref_name,
    .set_state = host_set_state,
    .get_state = host_get_state,
    .dtype = host_dtype,
    .forward = gs_module_forward,
    .backward = gs_module_backward,
    .scratch_get = gs_model_scratch_get,
    .scratch_put = gs_model_scratch_put,
    .rng = host_module_rng,
    .monitoring = host_monitoring,
    .record = gs_model_record,
    .record_series = gs_model_record_series,
};

const gs_host *gs_host_table(void) { return &host_table; }

const char *gs_version(void) { return PACKAGE_VERSION; }
