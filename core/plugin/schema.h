/* Component references: settings validated against a plugin's schema, and
   written back in libconfig syntax. */
#ifndef GS_PLUGIN_SCHEMA_H
#define GS_PLUGIN_SCHEMA_H

#include <stdio.h>
#include <libconfig.h>
#include "base/util.h"
#include "plugin/registry.h"

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
/* Whether setting s has the type of parameter spec (for a component: a
   name or group not registered only as another kind).  A model-level
   default applies to a layer only where this holds, so `init = "he"` skips
   prelu's numeric `init`. */
int gs_param_accepts(const gs_registry *reg, const gs_param_spec *spec,
                     const config_setting_t *s);

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

#endif
