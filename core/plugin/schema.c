/*
 * Parameter schemas: validating libconfig settings against a component's
 * schema (types, ranges, choices, required keys, nested components) and
 * writing validated values back as libconfig text.  Every message starts
 * with FILE:LINE and names the key; misspellings get the closest valid name.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "plugin/schema.h"
#include "base/util.h"
#include "plugin/registry.h"

/* PATH_MAX less its NUL: a longer path would be cut or refused later. */
#define GS_MAX_PATH_LEN 4095

size_t gs_schema_len(const gs_param_spec *schema)
{
    size_t n = 0;
    while (schema && schema[n].name)
        n++;
    return n;
}

int gs_schema_index(const gs_param_spec *schema, const char *name)
{
    for (size_t i = 0; schema && schema[i].name; i++)
        if (strcmp(schema[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- origins ---- */

void gs_origin_add(gs_origin *o, const config_setting_t *s, const char *label)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->keys = gs_xrealloc(o->keys, o->cap * sizeof *o->keys);
        o->labels = gs_xrealloc(o->labels, o->cap * sizeof *o->labels);
    }
    o->keys[o->n] = s;
    o->labels[o->n++] = gs_xstrdup(label);
}

const char *gs_origin_where(const gs_origin *o, const config_setting_t *s, char *buf, size_t n)
{
    for (const config_setting_t *p = s; o && p; p = config_setting_parent(p))
        for (size_t i = o->n; i-- > 0;)
            if (o->keys[i] == p) {
                snprintf(buf, n, "%s", o->labels[i]);
                return buf;
            }
    const char *file = o && o->default_file ? o->default_file : "<config>";
#ifdef HAVE_CONFIG_SETTING_SOURCE_FILE
    if (config_setting_source_file(s))
        file = config_setting_source_file(s);
#endif
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (line)
        snprintf(buf, n, "%s:%u", file, line);
    else
        snprintf(buf, n, "%s", file);
    return buf;
}

void gs_origin_free(gs_origin *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->labels[i]);
    free(o->labels);
    free(o->keys);
    memset(o, 0, sizeof *o);
}

/* ---- values ---- */

static const char *setting_type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an int";
    case CONFIG_TYPE_FLOAT: return "a float";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a bool";
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "of unknown type";
    }
}

static int is_number(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT;
}

int gs_param_accepts(const gs_registry *reg, const gs_param_spec *spec,
                     const config_setting_t *s)
{
    int t = config_setting_type(s);
    switch (spec->type) {
    case GS_P_INT: return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case GS_P_FLOAT: return is_number(s);
    case GS_P_BOOL: return t == CONFIG_TYPE_BOOL;
    case GS_P_STRING:
    case GS_P_PATH: return t == CONFIG_TYPE_STRING;
    case GS_P_FLOATS: return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
    case GS_P_COMPONENT: {
        const config_setting_t *name = s;
        if (t == CONFIG_TYPE_GROUP)
            name = config_setting_get_member(s, "type");
        else if (t != CONFIG_TYPE_STRING)
            return 0;
        if (!name || config_setting_type(name) != CONFIG_TYPE_STRING)
            return 1; /* malformed: let the parameter's own check say why */
        const char *n = config_setting_get_string(name);
        if (gs_registry_find(reg, spec->component_kind, n))
            return 1;
        /* A name of another kind belongs elsewhere; an unknown name is kept
           so that its error, with a suggestion, is reported. */
        for (int k = GS_KIND_ACTIVATION; k < GS_KIND_COUNT_; k++)
            if (gs_registry_find(reg, (gs_kind)k, n))
                return 0;
        return 1;
    }
    }
    return 0;
}

static double number_of(const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        return config_setting_get_float(s);
    return (double)config_setting_get_int64(s);
}

/* A number a run can use and config.cfg can hold: libconfig reads an
   overflowing literal (1e400) as inf but has no way to write one back, and
   NaN compares false with every bound. */
static int check_finite(const gs_param_spec *spec, double v, const char *where, const char *what,
                        gs_error *err)
{
    if (isfinite(v) || (isinf(v) && (spec->flags & GS_INFINITE)))
        return 0;
    gs_err_set(err,
               "%s: %s: %s = %s is not a finite number (a literal beyond +-1.8e308 overflows)",
               where, what, spec->name, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return -1;
}

static int check_range(const gs_param_spec *spec, double v, const char *where, const char *what,
                       gs_error *err)
{
    if ((spec->type == GS_P_FLOAT || spec->type == GS_P_FLOATS) &&
        check_finite(spec, v, where, what, err) < 0)
        return -1;
    if (spec->min > spec->max)
        return 0;
    if (!(v >= spec->min && v <= spec->max)) {
        gs_err_set(err, "%s: %s: %s = %.17g is out of range [%g, %g]", where, what, spec->name,
                   v, spec->min, spec->max);
        return -1;
    }
    return 0;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, v, n) == 0)
            return 1;
        p += n + (bar ? 1 : 0);
    }
    return 0;
}

static void nearest_choice(const char *choices, const char *v, char *out, size_t n)
{
    size_t best = (size_t)-1;
    out[0] = '\0';
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        char cand[128];
        snprintf(cand, sizeof cand, "%.*s", (int)len, p);
        size_t d = gs_edit_distance(v, cand);
        if (d < best) {
            best = d;
            snprintf(out, n, "%s", cand);
        }
        p += len + (bar ? 1 : 0);
    }
    if (best > strlen(v) / 2 + 1)
        out[0] = '\0';
}

static char *resolve_path(gs_pool *pool, const char *base_dir, const char *v)
{
    if (!v[0] || v[0] == '/' || !base_dir || !base_dir[0])
        return gs_pool_strdup(pool, v);
    return gs_pool_add(pool, gs_xasprintf("%s/%s", base_dir, v));
}

static void ref_release(void *r) { gs_ref_free(r); }

static int parse_value(const gs_registry *reg, const gs_param_spec *spec,
                       const config_setting_t *s, const gs_origin *origin, const char *base_dir,
                       gs_value *out, gs_pool *pool, const char *what, gs_error *err)
{
    char where[1024];
    gs_origin_where(origin, s, where, sizeof where);
    switch (spec->type) {
    case GS_P_INT: {
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            gs_err_set(err, "%s: %s: %s must be an int, got %s", where, what, spec->name,
                       setting_type_name(s));
            return -1;
        }
        out->i = config_setting_get_int64(s);
        return check_range(spec, (double)out->i, where, what, err);
    }
    case GS_P_FLOAT:
        if (!is_number(s)) {
            gs_err_set(err, "%s: %s: %s must be a number, got %s", where, what, spec->name,
                       setting_type_name(s));
            return -1;
        }
        out->f = number_of(s);
        return check_range(spec, out->f, where, what, err);
    case GS_P_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
            gs_err_set(err, "%s: %s: %s must be true or false, got %s", where, what,
                       spec->name, setting_type_name(s));
            return -1;
        }
        out->b = config_setting_get_bool(s);
        return 0;
    case GS_P_STRING:
    case GS_P_PATH: {
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
            gs_err_set(err, "%s: %s: %s must be a string, got %s", where, what, spec->name,
                       setting_type_name(s));
            return -1;
        }
        const char *v = config_setting_get_string(s);
        if (spec->type == GS_P_STRING && spec->choices && !choice_ok(spec->choices, v)) {
            char near[128], valid[512];
            nearest_choice(spec->choices, v, near, sizeof near);
            snprintf(valid, sizeof valid, "%s", spec->choices);
            for (char *c = valid; *c; c++)
                if (*c == '|')
                    *c = ',';
            gs_err_set(err, "%s: %s: %s = \"%s\" is not valid%s%s%s (valid: %s)", where, what,
                       spec->name, v, near[0] ? "; did you mean \"" : "", near,
                       near[0] ? "\"?" : "", valid);
            return -1;
        }
        out->s = spec->type == GS_P_PATH ? resolve_path(pool, base_dir, v)
                                         : gs_pool_strdup(pool, v);
        struct stat st;
        if (spec->type == GS_P_PATH && out->s[0] && stat(out->s, &st) == 0 &&
            !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            /* a FIFO would block the load for ever, a device never end */
            gs_err_set(err, "%s: %s: %s = \"%s\" is not a regular file", where, what,
                       spec->name, v);
            return -1;
        }
        if (spec->type == GS_P_PATH && strlen(out->s) > GS_MAX_PATH_LEN) {
            gs_err_set(err, "%s: %s: %s is %zu characters long%s, more than %d", where, what,
                       spec->name, strlen(out->s),
                       strcmp(out->s, v) ? " from the file's directory" : "", GS_MAX_PATH_LEN);
            return -1;
        }
        return 0;
    }
    case GS_P_FLOATS: {
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST && !is_number(s)) {
            gs_err_set(err, "%s: %s: %s must be a list of numbers, got %s", where, what,
                       spec->name, setting_type_name(s));
            return -1;
        }
        size_t n = is_number(s) ? 1 : (size_t)config_setting_length(s);
        if (spec->len && n != spec->len) {
            gs_err_set(err, "%s: %s: %s must have %zu numbers, got %zu", where, what,
                       spec->name, spec->len, n);
            return -1;
        }
        double *v = gs_pool_add(pool, gs_xcalloc(n ? n : 1, sizeof *v));
        for (size_t i = 0; i < n; i++) {
            const config_setting_t *e = is_number(s) ? s : config_setting_get_elem(s, (int)i);
            if (!is_number(e)) {
                gs_err_set(err, "%s: %s: %s[%zu] must be a number", where, what, spec->name, i);
                return -1;
            }
            v[i] = number_of(e);
            if (check_range(spec, v[i], where, what, err) < 0)
                return -1;
        }
        out->list.v = v;
        out->list.n = n;
        return 0;
    }
    case GS_P_COMPONENT: {
        gs_ref *r = gs_ref_from_setting(reg, spec->component_kind, s, origin, base_dir, err);
        if (!r)
            return -1;
        out->ref = gs_pool_add_with(pool, r, ref_release);
        return 0;
    }
    }
    return -1;
}

int gs_params_defaults(const gs_registry *reg, const gs_param_spec *schema, gs_value *values,
                       gs_pool *pool, const char *what, gs_error *err)
{
    for (size_t i = 0; schema && schema[i].name; i++) {
        const gs_param_spec *spec = &schema[i];
        values[i] = spec->def;
        if (spec->type == GS_P_COMPONENT) {
            values[i].ref = NULL;
            if (spec->flags & GS_REQUIRED || !spec->def.s)
                continue;
            const gs_component_info *info = gs_registry_find(reg, spec->component_kind, spec->def.s);
            if (!info) {
                gs_err_set(err, "%s: the default of %s, %s '%s', is not installed", what,
                           spec->name, gs_kind_name(spec->component_kind), spec->def.s);
                return -1;
            }
            gs_ref *r = gs_ref_new_default(reg, info);
            if (!r) {
                gs_err_prefix(err, "%s: default of %s: ", what, spec->name);
                return -1;
            }
            values[i].ref = gs_pool_add_with(pool, r, ref_release);
        } else if ((spec->type == GS_P_STRING || spec->type == GS_P_PATH) && !spec->def.s) {
            values[i].s = "";
        }
    }
    return 0;
}

static int in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

static void valid_keys(const gs_param_spec *schema, const char *const *skip, char *buf,
                       size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (; skip && *skip; skip++)
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%s", used ? ", " : "",
                                 *skip);
    for (size_t i = 0; schema && schema[i].name && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                 schema[i].name);
}

int gs_params_from_group(const gs_registry *reg, const gs_param_spec *schema,
                         const config_setting_t *group, const char *const *skip,
                         const gs_origin *origin, const char *base_dir, gs_value *values,
                         gs_pool *pool, const char *what, gs_error *err)
{
    char where[1024];
    size_t n = gs_schema_len(schema);
    if (gs_params_defaults(reg, schema, values, pool, what, err) < 0) {
        if (group)
            gs_err_prefix(err, "%s: ", gs_origin_where(origin, group, where, sizeof where));
        return -1;
    }
    unsigned char *seen = gs_xcalloc(n ? n : 1, 1);
    int count = group ? config_setting_length(group) : 0;
    for (int m = 0; m < count; m++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)m);
        const char *name = config_setting_name(s);
        if (!name || in_list(skip, name))
            continue;
        int idx = gs_schema_index(schema, name);
        if (idx < 0) {
            const char *best = NULL;
            size_t best_d = (size_t)-1;
            for (size_t i = 0; i < n; i++) {
                size_t d = gs_edit_distance(name, schema[i].name);
                if (d < best_d) {
                    best_d = d;
                    best = schema[i].name;
                }
            }
            char valid[1024];
            valid_keys(schema, skip, valid, sizeof valid);
            gs_origin_where(origin, s, where, sizeof where);
            if (best && best_d <= strlen(name) / 3 + 1)
                gs_err_set(err, "%s: %s: unknown key '%s'; did you mean '%s'? (valid: %s)",
                           where, what, name, best, valid);
            else
                gs_err_set(err, "%s: %s: unknown key '%s' (valid: %s)", where, what, name,
                           valid[0] ? valid : "none");
            free(seen);
            return -1;
        }
        if (parse_value(reg, &schema[idx], s, origin, base_dir, &values[idx], pool, what, err) <
            0) {
            free(seen);
            return -1;
        }
        seen[idx] = 1;
    }
    for (size_t i = 0; i < n; i++)
        if ((schema[i].flags & GS_REQUIRED) && !seen[i]) {
            gs_origin_where(origin, group, where, sizeof where);
            gs_err_set(err, "%s: %s: missing required key '%s' (%s: %s)", where, what,
                       schema[i].name, gs_param_type_name(schema[i].type),
                       schema[i].doc ? schema[i].doc : "");
            free(seen);
            return -1;
        }
    free(seen);
    return 0;
}

/* ---- references ---- */

static gs_ref *ref_alloc(const gs_registry *reg, const gs_component_info *info)
{
    gs_ref *r = gs_xcalloc(1, sizeof *r);
    r->reg = reg;
    r->info = info;
    r->n = gs_schema_len(info->component->params);
    r->values = gs_xcalloc(r->n ? r->n : 1, sizeof *r->values);
    return r;
}

gs_ref *gs_ref_new_default(const gs_registry *reg, const gs_component_info *info)
{
    gs_ref *r = ref_alloc(reg, info);
    gs_error err;
    char what[160];
    snprintf(what, sizeof what, "%s '%s'", gs_kind_name(info->component->kind),
             info->component->name);
    if (gs_params_defaults(reg, info->component->params, r->values, &r->pool, what, &err) < 0) {
        gs_record_error("%s", err.msg);
        gs_ref_free(r);
        return NULL;
    }
    return r;
}

void gs_ref_free(gs_ref *r)
{
    if (!r)
        return;
    gs_pool_free(&r->pool);
    free(r->values);
    free(r);
}

const gs_value *gs_ref_values(const gs_ref *r) { return r->values; }
const gs_component *gs_ref_component(const gs_ref *r) { return r->info->component; }

gs_ref *gs_ref_from_setting(const gs_registry *reg, gs_kind kind, const config_setting_t *s,
                            const gs_origin *origin, const char *base_dir, gs_error *err)
{
    char where[1024];
    gs_origin_where(origin, s, where, sizeof where);
    const char *key = config_setting_name(s) ? config_setting_name(s) : gs_kind_name(kind);
    const char *name = NULL;
    const config_setting_t *group = NULL;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        name = config_setting_get_string(s);
    } else if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
        group = s;
        const config_setting_t *t = config_setting_get_member(s, "type");
        if (!t || config_setting_type(t) != CONFIG_TYPE_STRING) {
            gs_err_set(err, "%s: %s: needs type = \"NAME\" (a %s: %s)", where, key,
                       gs_kind_name(kind), gs_registry_names((gs_registry *)reg, kind));
            return NULL;
        }
        name = config_setting_get_string(t);
        gs_origin_where(origin, t, where, sizeof where);
    } else {
        gs_err_set(err, "%s: %s must be a %s name or a group with 'type', got %s", where, key,
                   gs_kind_name(kind), setting_type_name(s));
        return NULL;
    }
    const gs_component_info *info = gs_registry_find(reg, kind, name);
    if (!info) {
        const char *near = gs_registry_suggest(reg, kind, name);
        char near_text[160] = "";
        if (near)
            snprintf(near_text, sizeof near_text, "; did you mean '%s'?", near);
        /* A plugin installed where gradscope does not look is the usual cause. */
        const char *searched = gs_registry_search_path(reg);
        gs_err_set(err, "%s: %s: unknown %s '%s'%s (valid: %s; searched %s)", where, key,
                   gs_kind_name(kind), name, near_text,
                   gs_registry_names((gs_registry *)reg, kind),
                   searched[0] ? searched : "no plugin directory");
        return NULL;
    }
    gs_ref *r = ref_alloc(reg, info);
    char what[160];
    snprintf(what, sizeof what, "%s '%s'", gs_kind_name(kind), name);
    static const char *const skip_type[] = {"type", NULL};
    if (gs_params_from_group(reg, info->component->params, group, skip_type, origin, base_dir,
                             r->values, &r->pool, what, err) < 0) {
        gs_ref_free(r);
        return NULL;
    }
    const gs_component *c = info->component;
    if (c->validate) {
        gs_clear_error();
        if (c->validate(r->values, gs_host_table()) != 0) {
            gs_origin_where(origin, s, where, sizeof where);
            gs_err_set(err, "%s: %s: %s", where, what,
                       gs_last_error()[0] ? gs_last_error() : "invalid combination of parameters");
            gs_ref_free(r);
            return NULL;
        }
    }
    return r;
}

gs_ref *gs_ref_parse(const gs_registry *reg, gs_kind kind, const char *name, const char *text,
                     gs_error *err)
{
    config_t cfg;
    config_init(&cfg);
    char *src = gs_xasprintf("type = \"%s\";\n%s", name, text ? text : "");
    gs_ref *r = NULL;
    if (!config_read_string(&cfg, src)) {
        gs_err_set(err, "<parameters>:%d: %s", config_error_line(&cfg) - 1,
                   config_error_text(&cfg));
    } else {
        gs_origin origin = {.default_file = "<parameters>"};
        r = gs_ref_from_setting(reg, kind, config_root_setting(&cfg), &origin, NULL, err);
        gs_origin_free(&origin);
    }
    free(src);
    config_destroy(&cfg);
    return r;
}

int gs_ref_set(gs_ref *r, const char *key, gs_param_type t, const gs_value *v, gs_error *err)
{
    const gs_component *c = r->info->component;
    int idx = gs_schema_index(c->params, key);
    if (idx < 0) {
        gs_err_set(err, "%s '%s' has no parameter '%s'", gs_kind_name(c->kind), c->name, key);
        return -1;
    }
    const gs_param_spec *spec = &c->params[idx];
    char what[160];
    snprintf(what, sizeof what, "%s '%s'", gs_kind_name(c->kind), c->name);
    gs_value val = *v;
    if (spec->type == GS_P_FLOAT && t == GS_P_INT)
        val.f = (double)v->i, t = GS_P_FLOAT;
    if (spec->type == GS_P_PATH && t == GS_P_STRING)
        t = GS_P_PATH;
    if (spec->type != t) {
        gs_err_set(err, "%s: %s is a %s, not a %s", what, key, gs_param_type_name(spec->type),
                   gs_param_type_name(t));
        return -1;
    }
    switch (t) {
    case GS_P_INT:
        if (check_range(spec, (double)val.i, "<code>", what, err) < 0)
            return -1;
        break;
    case GS_P_FLOAT:
        if (check_range(spec, val.f, "<code>", what, err) < 0)
            return -1;
        break;
    case GS_P_STRING:
    case GS_P_PATH:
        if (t == GS_P_STRING && spec->choices && !choice_ok(spec->choices, val.s)) {
            gs_err_set(err, "%s: %s = \"%s\" is not one of %s", what, key, val.s, spec->choices);
            return -1;
        }
        val.s = gs_pool_strdup(&r->pool, val.s);
        break;
    case GS_P_COMPONENT:
        if (val.ref && val.ref->info->component->kind != spec->component_kind) {
            gs_err_set(err, "%s: %s needs a %s", what, key, gs_kind_name(spec->component_kind));
            return -1;
        }
        val.ref = val.ref ? gs_pool_add_with(&r->pool, gs_ref_clone(val.ref), ref_release) : NULL;
        break;
    default: break;
    }
    r->values[idx] = val;
    return 0;
}

gs_ref *gs_ref_clone(const gs_ref *src)
{
    gs_ref *r = ref_alloc(src->reg, src->info);
    const gs_param_spec *schema = src->info->component->params;
    for (size_t i = 0; i < r->n; i++) {
        gs_value v = src->values[i];
        switch (schema[i].type) {
        case GS_P_STRING:
        case GS_P_PATH: v.s = v.s ? gs_pool_strdup(&r->pool, v.s) : NULL; break;
        case GS_P_FLOATS: {
            double *copy = gs_pool_add(&r->pool, gs_xcalloc(v.list.n ? v.list.n : 1, sizeof *copy));
            if (v.list.n)
                memcpy(copy, v.list.v, v.list.n * sizeof *copy);
            v.list.v = copy;
            break;
        }
        case GS_P_COMPONENT:
            v.ref = v.ref ? gs_pool_add_with(&r->pool, gs_ref_clone(v.ref), ref_release) : NULL;
            break;
        default: break;
        }
        r->values[i] = v;
    }
    return r;
}

/* ---- writing ---- */

static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void gs_value_write(const gs_param_spec *spec, const gs_value *v, FILE *f, int indent)
{
    char buf[64];
    switch (spec->type) {
    case GS_P_INT:
        if (v->i > INT32_MAX || v->i < INT32_MIN)
            fprintf(f, "%lldL", (long long)v->i);
        else
            fprintf(f, "%lld", (long long)v->i);
        break;
    case GS_P_FLOAT:
        gs_format_double(buf, sizeof buf, v->f);
        fputs(buf, f);
        break;
    case GS_P_BOOL: fputs(v->b ? "true" : "false", f); break;
    case GS_P_STRING:
    case GS_P_PATH: write_string(f, v->s ? v->s : ""); break;
    case GS_P_FLOATS:
        fputc('[', f);
        for (size_t i = 0; i < v->list.n; i++) {
            gs_format_double(buf, sizeof buf, v->list.v[i]);
            fprintf(f, "%s%s", i ? ", " : "", buf);
        }
        fputc(']', f);
        break;
    case GS_P_COMPONENT:
        if (v->ref)
            gs_ref_write(v->ref, f, indent);
        else
            fputs("\"\"", f);
        break;
    }
}

void gs_params_write(const gs_param_spec *schema, const gs_value *values, FILE *f, int indent)
{
    for (size_t i = 0; schema && schema[i].name; i++) {
        if (schema[i].type == GS_P_COMPONENT && !values[i].ref)
            continue;
        fprintf(f, "%*s%s = ", indent, "", schema[i].name);
        gs_value_write(&schema[i], &values[i], f, indent);
        fputs(";\n", f);
    }
}

void gs_ref_write(const gs_ref *r, FILE *f, int indent)
{
    fprintf(f, "{\n%*stype = ", indent + 2, "");
    write_string(f, r->info->component->name);
    fputs(";\n", f);
    gs_params_write(r->info->component->params, r->values, f, indent + 2);
    fprintf(f, "%*s}", indent, "");
}
