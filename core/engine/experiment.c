/*
 * Experiment files.  The file is read with libconfig, then for each variant:
 * the variant's keys are merged in, its `set` strings and the command line's
 * --set overrides applied, and the whole tree validated against the core's
 * section schemas and every component's schema.  Nothing runs until every
 * variant is valid.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/experiment.h"
#include "base/util.h"
#include "plugin/cfgfile.h"
#include "plugin/registry.h"
#include "plugin/schema.h"

#define INF HUGE_VAL

/* Paths the file system takes whole (PATH_MAX - 1); a run directory leaves
   room for the files inside it; a run's name, with its timestamp, is one
   file name (NAME_MAX). */
#define GS_MAX_PATH 4095
#define GS_MAX_RUN_DIR (GS_MAX_PATH - 256)
#define GS_MAX_RUN_NAME 200

const gs_param_spec gs_training_schema[] = {
    [T_EPOCHS] = {.name = "epochs", .type = GS_P_INT, .def.i = 10, .min = 1, .max = 1e6,
                  .doc = "passes over the training set"},
    [T_BATCH] = {.name = "batch_size", .type = GS_P_INT, .def.i = 32, .min = 1, .max = 1 << 20,
                 .doc = "examples per step"},
    [T_THREADS] = {.name = "threads", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1024,
                   .doc = "OpenMP threads; 0 = all cores (results do not depend on it)"},
    [T_VALIDATION] = {.name = "validation", .type = GS_P_FLOAT, .def.f = 0.1, .min = 0,
                      .max = 1e9,
                      .doc = "held-out part of the training set: fraction if < 1, else count"},
    [T_CLIP_NORM] = {.name = "clip_grad_norm", .type = GS_P_FLOAT, .def.f = 0, .min = 0,
                     .max = INF, .doc = "max global gradient 2-norm; 0 = off"},
    [T_CLIP_VALUE] = {.name = "clip_grad_value", .type = GS_P_FLOAT, .def.f = 0, .min = 0,
                      .max = INF, .doc = "clamp each gradient to [-v, v]; 0 = off"},
    [T_DECAY_WEIGHTS] = {.name = "decay_weights", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                         .doc = "apply the optimizer's weight_decay to weights"},
    [T_DECAY_BIASES] = {.name = "decay_biases", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                        .doc = "... to biases (PyTorch default: yes)"},
    [T_DECAY_SLOPES] = {.name = "decay_slopes", .type = GS_P_BOOL, .def.b = 0, .min = GS_ANY,
                        .doc = "... to learnable activation slopes (PReLU)"},
    [T_DECAY_NORM] = {.name = "decay_norm", .type = GS_P_BOOL, .def.b = 1, .min = GS_ANY,
                      .doc = "... to normalization gains and shifts"},
    [T_FLUSH_DENORMALS] = {.name = "flush_denormals", .type = GS_P_BOOL, .def.b = 0,
                           .min = GS_ANY,
                           .doc = "flush denormal floats to zero (faster on some CPUs; hides "
                                  "gradients below ~1e-38)"},
    {0},
};

const gs_param_spec gs_monitor_schema[] = {
    [M_EVERY] = {.name = "every", .type = GS_P_INT, .def.i = 10, .min = 1, .max = 1e9,
                 .doc = "record gradient statistics every this many steps"},
    [M_DUMP] = {.name = "dump", .type = GS_P_BOOL, .def.b = 0, .min = GS_ANY,
                .doc = "write weights and gradients as .npy at monitored steps"},
    [M_DETAIL_EVERY] = {.name = "detail_every", .type = GS_P_INT, .def.i = 100, .min = 1,
                        .max = 1e9,
                        .doc = "also record histograms and update ratios at monitored steps "
                               "that are multiples of this"},
    {0},
};

const gs_param_spec gs_output_schema[] = {
    [O_DIR] = {.name = "dir", .type = GS_P_STRING, .def.s = "runs", .min = GS_ANY,
               .doc = "parent directory of run directories"},
    {0},
};

const gs_param_spec gs_checkpoint_schema[] = {
    [C_EVERY] = {.name = "every", .type = GS_P_INT, .def.i = 0, .min = 0, .max = 1e12,
                 .doc = "write a checkpoint every this many steps; 0 = at each epoch's end"},
    {0},
};

/* data.augment: read by the core, not the data set plugin, since it acts on
   training batches (evaluate.c); image data sets only. */
const gs_param_spec gs_augment_schema[] = {
    [A_CROP_PADDING] = {.name = "crop_padding", .type = GS_P_INT, .def.i = 0, .min = 0,
                        .max = 64,
                        .doc = "pad each side with this many zeros, then crop a random H x W "
                               "window; 0 = off"},
    [A_FLIP] = {.name = "flip", .type = GS_P_BOOL, .def.b = 0, .min = GS_ANY,
                .doc = "mirror each image left-right with probability 1/2"},
    {0},
};

static const char *const top_keys[] = {"name",     "seed",     "data",       "model",
                                       "loss",     "optimizer", "schedule",  "training",
                                       "monitor",  "output",   "checkpoint", "variants",
                                       "sweep",    NULL};

/* ---- copying and merging settings ---- */

static config_setting_t *copy_setting(config_setting_t *parent, const char *name,
                                      const config_setting_t *src, gs_origin *origin,
                                      const gs_origin *src_origin);

static void copy_children(config_setting_t *dst, const config_setting_t *src,
                          gs_origin *origin, const gs_origin *src_origin)
{
    int n = config_setting_length(src);
    for (int i = 0; i < n; i++) {
        const config_setting_t *c = config_setting_get_elem(src, (unsigned)i);
        copy_setting(dst, config_setting_type(dst) == CONFIG_TYPE_GROUP ? config_setting_name(c)
                                                                        : NULL,
                     c, origin, src_origin);
    }
}

static config_setting_t *copy_setting(config_setting_t *parent, const char *name,
                                      const config_setting_t *src, gs_origin *origin,
                                      const gs_origin *src_origin)
{
    int type = config_setting_type(src);
    config_setting_t *dst = config_setting_add(parent, name, type);
    if (!dst)
        return NULL;
    char where[1024];
    gs_origin_where(src_origin, src, where, sizeof where);
    gs_origin_add(origin, dst, where);
    switch (type) {
    case CONFIG_TYPE_INT: config_setting_set_int(dst, config_setting_get_int(src)); break;
    case CONFIG_TYPE_INT64: config_setting_set_int64(dst, config_setting_get_int64(src)); break;
    case CONFIG_TYPE_FLOAT: config_setting_set_float(dst, config_setting_get_float(src)); break;
    case CONFIG_TYPE_BOOL: config_setting_set_bool(dst, config_setting_get_bool(src)); break;
    case CONFIG_TYPE_STRING: config_setting_set_string(dst, config_setting_get_string(src)); break;
    default: copy_children(dst, src, origin, src_origin); break;
    }
    return dst;
}

static void merge_group(config_setting_t *dst, const config_setting_t *src, gs_origin *origin,
                        const char *const *skip)
{
    int n = config_setting_length(src);
    for (int i = 0; i < n; i++) {
        const config_setting_t *c = config_setting_get_elem(src, (unsigned)i);
        const char *name = config_setting_name(c);
        int skipped = 0;
        for (const char *const *s = skip; s && *s; s++)
            if (!strcmp(*s, name))
                skipped = 1;
        if (skipped)
            continue;
        config_setting_t *have = config_setting_get_member(dst, name);
        if (have && config_setting_type(have) == CONFIG_TYPE_GROUP &&
            config_setting_type(c) == CONFIG_TYPE_GROUP) {
            merge_group(have, c, origin, NULL);
            continue;
        }
        if (have)
            config_setting_remove(dst, name);
        copy_setting(dst, name, c, origin, origin);
    }
}

/* ---- KEY=VALUE overrides ---- */

static int apply_override(config_t *cfg, const char *text, const char *label, gs_origin *origin,
                          gs_error *err)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) {
        gs_err_set(err, "%s: expected KEY=VALUE", label);
        return -1;
    }
    char *path = gs_xasprintf("%.*s", (int)(eq - text), text);
    char *end = path + strlen(path);
    while (end > path && isspace((unsigned char)end[-1]))
        *--end = '\0';
    const char *value = eq + 1;
    while (isspace((unsigned char)*value))
        value++;
    /* libconfig would open it with none of the checks of gs_config_read_file */
    for (const char *nl = strchr(value, '\n'); nl; nl = strchr(nl + 1, '\n'))
        if (!strncmp(nl + 1 + strspn(nl + 1, " \t"), "@include", 8)) {
            gs_err_set(err, "%s: @include is not allowed in a KEY=VALUE override", label);
            free(path);
            return -1;
        }

    if (gs_config_check_ints(value, strlen(value), label, 0, err) < 0) {
        free(path);
        return -1;
    }

    /* Parse the value as libconfig; anything else is taken as a bare string. */
    config_t vcfg;
    config_init(&vcfg);
    char *src = gs_xasprintf("v = %s;", value);
    const config_setting_t *vs = NULL;
    if (config_read_string(&vcfg, src))
        vs = config_lookup(&vcfg, "v");
    free(src);
    if (vs && config_setting_length(config_root_setting(&vcfg)) != 1) {
        /* "lr=0.1; evil = 1": the rest would be dropped without a word */
        gs_err_set(err, "%s: one override is one KEY=VALUE; give each setting its own", label);
        config_destroy(&vcfg);
        free(path);
        return -1;
    }
    if (!vs) {
        config_destroy(&vcfg);
        config_init(&vcfg);
        config_setting_t *s =
            config_setting_add(config_root_setting(&vcfg), "v", CONFIG_TYPE_STRING);
        config_setting_set_string(s, value);
        vs = s;
    }

    int rc = -1;
    config_setting_t *cur = config_root_setting(cfg);
    char *tokens[64];
    int nt = 0;
    for (char *t = path, *dot;; t = dot + 1) {
        dot = strchr(t, '.');
        if (dot)
            *dot = '\0';
        if (!*t) {
            /* "optimizer..lr" must not quietly mean optimizer.lr */
            gs_err_set(err, "%s: empty name in the key (two dots, or a dot at an end)", label);
            goto out;
        }
        if (nt == 64) {
            gs_err_set(err, "%s: the key is more than 64 names deep", label);
            goto out;
        }
        tokens[nt++] = t;
        if (!dot)
            break;
    }
    for (int i = 0; i < nt; i++) {
        char *t = tokens[i];
        int last = i == nt - 1;
        if (t[0] == '[') {
            char *close = strchr(t, ']');
            char *endp;
            long idx = strtol(t + 1, &endp, 10);
            int type = config_setting_type(cur);
            int is_list = type == CONFIG_TYPE_LIST || type == CONFIG_TYPE_ARRAY;
            if (close && endp == close && !close[1] && is_list &&
                (idx < 0 || idx >= config_setting_length(cur))) {
                /* the path was cut at the dots; join what came before */
                char where[512] = "";
                for (int k = 0, n = 0; k < i && n < (int)sizeof where; k++)
                    n += snprintf(where + n, sizeof where - (size_t)n, "%s%s", k ? "." : "",
                                  tokens[k]);
                gs_err_set(err, "%s: index %ld out of range: %s has %d element%s", label, idx,
                           where, config_setting_length(cur),
                           config_setting_length(cur) == 1 ? "" : "s");
                goto out;
            }
            if (!close || endp != close || close[1] || !is_list) {
                gs_err_set(err, "%s: '%s' does not name an element of a list", label, t);
                goto out;
            }
            config_setting_t *elem = config_setting_get_elem(cur, (unsigned)idx);
            if (!last) {
                cur = elem;
                continue;
            }
            int et = config_setting_type(elem), vt = config_setting_type(vs);
            if (et == CONFIG_TYPE_GROUP && vt == CONFIG_TYPE_GROUP) {
                while (config_setting_length(elem) > 0)
                    config_setting_remove_elem(elem, 0);
                copy_children(elem, vs, origin, NULL);
            } else if (et == vt || (et == CONFIG_TYPE_INT && vt == CONFIG_TYPE_INT64)) {
                switch (vt) {
                case CONFIG_TYPE_INT: config_setting_set_int(elem, config_setting_get_int(vs)); break;
                case CONFIG_TYPE_INT64: config_setting_set_int64(elem, config_setting_get_int64(vs)); break;
                case CONFIG_TYPE_FLOAT: config_setting_set_float(elem, config_setting_get_float(vs)); break;
                case CONFIG_TYPE_BOOL: config_setting_set_bool(elem, config_setting_get_bool(vs)); break;
                case CONFIG_TYPE_STRING: config_setting_set_string(elem, config_setting_get_string(vs)); break;
                default:
                    gs_err_set(err, "%s: cannot replace a list element by a list", label);
                    goto out;
                }
            } else {
                gs_err_set(err, "%s: the element and the value have different types", label);
                goto out;
            }
            gs_origin_add(origin, elem, label);
            rc = 0;
            goto out;
        }
        if (config_setting_type(cur) != CONFIG_TYPE_GROUP) {
            gs_err_set(err, "%s: '%s' is not inside a group", label, t);
            goto out;
        }
        config_setting_t *member = config_setting_get_member(cur, t);
        if (!last) {
            if (!member) {
                member = config_setting_add(cur, t, CONFIG_TYPE_GROUP);
                if (!member) {
                    gs_err_set(err, "%s: invalid key '%s'", label, t);
                    goto out;
                }
                gs_origin_add(origin, member, label);
            }
            cur = member;
            continue;
        }
        if (member)
            config_setting_remove(cur, t);
        config_setting_t *dst = copy_setting(cur, t, vs, origin, NULL);
        if (!dst) {
            gs_err_set(err, "%s: invalid key '%s'", label, t);
            goto out;
        }
        /* The whole copied subtree reports the override, not "<config>". */
        gs_origin_add(origin, dst, label);
        rc = 0;
    }
out:
    config_destroy(&vcfg);
    free(path);
    return rc;
}

/* ---- resolving one variant ---- */

static void variant_free(gs_variant *v)
{
    gs_ref_free(v->data);
    gs_ref_free(v->loss);
    gs_ref_free(v->optimizer);
    gs_ref_free(v->schedule);
    for (size_t i = 0; i < v->n_layers; i++)
        gs_ref_free(v->layers[i].ref);
    free(v->layers);
    free(v->label);
    free(v->name);
    gs_pool_free(&v->pool);
}

static const char *where_of(const gs_origin *o, const config_setting_t *s, char *buf, size_t n)
{
    return gs_origin_where(o, s, buf, n);
}

static int check_top_keys(const config_setting_t *root, const gs_origin *o, gs_error *err)
{
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int ok = 0;
        const char *best = NULL;
        size_t best_d = (size_t)-1;
        for (const char *const *k = top_keys; *k; k++) {
            if (!strcmp(*k, name))
                ok = 1;
            size_t d = gs_edit_distance(name, *k);
            if (d < best_d)
                best_d = d, best = *k;
        }
        if (!ok) {
            char w[1024];
            where_of(o, s, w, sizeof w);
            if (best_d <= strlen(name) / 3 + 1)
                gs_err_set(err, "%s: unknown key '%s'; did you mean '%s'?", w, name, best);
            else
                gs_err_set(err,
                           "%s: unknown key '%s' (valid: name, seed, data, model, loss, "
                           "optimizer, schedule, training, monitor, output, checkpoint, "
                           "variants, sweep)",
                           w, name);
            return -1;
        }
    }
    return 0;
}

static int section(const gs_registry *reg, const config_setting_t *root, const char *key,
                   const gs_param_spec *schema, gs_value *values, gs_pool *pool,
                   const gs_origin *o, gs_error *err)
{
    const config_setting_t *s = config_setting_get_member(root, key);
    if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
        char w[1024];
        gs_err_set(err, "%s: %s must be a group { ... }", where_of(o, s, w, sizeof w), key);
        return -1;
    }
    return gs_params_from_group(reg, schema, s, NULL, o, NULL, values, pool, key, err);
}

static gs_ref *component(const gs_registry *reg, const config_setting_t *root, const char *key,
                         gs_kind kind, const char *dflt, const gs_origin *o,
                         const char *base_dir, const char *file, gs_error *err)
{
    const config_setting_t *s = config_setting_get_member(root, key);
    if (s)
        return gs_ref_from_setting(reg, kind, s, o, base_dir, err);
    if (!dflt) {
        gs_err_set(err, "%s: missing required key '%s' (a %s: %s)", file, key, gs_kind_name(kind),
                   gs_registry_names((gs_registry *)reg, kind));
        return NULL;
    }
    const gs_component_info *info = gs_registry_find(reg, kind, dflt);
    if (!info) {
        gs_err_set(err, "%s: %s: the default %s '%s' is not installed", file, key,
                   gs_kind_name(kind), dflt);
        return NULL;
    }
    gs_ref *r = gs_ref_new_default(reg, info);
    if (!r)
        gs_err_set(err, "%s: %s: %s", file, key, gs_last_error());
    return r;
}

static int resolve_model(const gs_registry *reg, config_t *cfg, gs_variant *v, gs_origin *o,
                         const char *base_dir, const char *file, gs_error *err)
{
    char w[1024];
    config_setting_t *model = config_setting_get_member(config_root_setting(cfg), "model");
    if (!model || config_setting_type(model) != CONFIG_TYPE_GROUP) {
        gs_err_set(err, "%s: missing required group 'model' with a list 'layers'",
                   model ? where_of(o, model, w, sizeof w) : file);
        return -1;
    }
    config_setting_t *layers = config_setting_get_member(model, "layers");
    if (!layers || config_setting_type(layers) != CONFIG_TYPE_LIST ||
        config_setting_length(layers) == 0) {
        gs_err_set(err, "%s: model: 'layers' must be a non-empty list ( { type = ...; }, ... )",
                   where_of(o, layers ? layers : model, w, sizeof w));
        return -1;
    }
    int nd = config_setting_length(model);
    unsigned char *used = gs_xcalloc((size_t)nd, 1);
    int nl = config_setting_length(layers);
    v->layers = gs_xcalloc((size_t)nl, sizeof *v->layers);
    /* Scratch tree for layer groups with the model-level defaults merged in. */
    config_t scratch;
    config_init(&scratch);
    int rc = 0;
    for (int i = 0; i < nl && rc == 0; i++) {
        config_setting_t *lg = config_setting_get_elem(layers, (unsigned)i);
        if (config_setting_type(lg) != CONFIG_TYPE_GROUP) {
            gs_err_set(err, "%s: model.layers.[%d] must be a group { type = ...; }",
                       where_of(o, lg, w, sizeof w), i);
            rc = -1;
            break;
        }
        config_setting_t *type = config_setting_get_member(lg, "type");
        if (!type || config_setting_type(type) != CONFIG_TYPE_STRING) {
            gs_err_set(err, "%s: model.layers.[%d]: needs type = \"NAME\" (a layer: %s)",
                       where_of(o, lg, w, sizeof w), i,
                       gs_registry_names((gs_registry *)reg, GS_KIND_LAYER));
            rc = -1;
            break;
        }
        const gs_component_info *info =
            gs_registry_find(reg, GS_KIND_LAYER, config_setting_get_string(type));
        if (!info)
            info = gs_registry_find(reg, GS_KIND_ACTIVATION, config_setting_get_string(type));
        gs_kind kind = info ? info->component->kind : GS_KIND_LAYER;
        config_setting_t *merged = copy_setting(config_root_setting(&scratch), "layer", lg, o, o);
        int64_t repeat = 1;
        config_setting_t *rs = config_setting_get_member(merged, "repeat");
        if (rs) {
            int rt = config_setting_type(rs);
            if ((rt != CONFIG_TYPE_INT && rt != CONFIG_TYPE_INT64) ||
                config_setting_get_int64(rs) < 1 || config_setting_get_int64(rs) > 100000) {
                gs_err_set(err, "%s: model.layers.[%d]: repeat must be an int in [1, 100000]",
                           where_of(o, rs, w, sizeof w), i);
                rc = -1;
                break;
            }
            repeat = config_setting_get_int64(rs);
            config_setting_remove(merged, "repeat");
        }
        if (info)
            for (int k = 0; k < nd; k++) {
                config_setting_t *d = config_setting_get_elem(model, (unsigned)k);
                const char *dn = config_setting_name(d);
                if (!strcmp(dn, "layers"))
                    continue;
                int pi = gs_schema_index(info->component->params, dn);
                if (pi < 0 || !gs_param_accepts(reg, &info->component->params[pi], d))
                    continue;
                used[k] = 1;
                if (!config_setting_get_member(merged, dn))
                    copy_setting(merged, dn, d, o, o);
            }
        v->layers[i].ref = gs_ref_from_setting(reg, kind, merged, o, base_dir, err);
        v->layers[i].repeat = repeat;
        where_of(o, lg, v->layers[i].where, sizeof v->layers[i].where);
        config_setting_remove(config_root_setting(&scratch), "layer");
        if (!v->layers[i].ref) {
            rc = -1;
            break;
        }
        v->n_layers++;
    }
    config_destroy(&scratch);
    for (int k = 0; rc == 0 && k < nd; k++) {
        config_setting_t *d = config_setting_get_elem(model, (unsigned)k);
        if (!used[k] && strcmp(config_setting_name(d), "layers") != 0) {
            gs_err_set(err,
                       "%s: model: key '%s' is neither 'layers' nor a parameter of that type "
                       "in any of its layers",
                       where_of(o, d, w, sizeof w), config_setting_name(d));
            rc = -1;
        }
    }
    free(used);
    return rc;
}

/* A run directory is named NAME-TIMESTAMP inside output.dir: the name must
   be one path component, or "../../x" would put the run elsewhere. */
static int check_run_name(const char *name, const char *where, gs_error *err)
{
    const char *why = !name[0]                                       ? "is empty"
                      : strchr(name, '/')                            ? "contains '/'"
                      : !strcmp(name, ".") || !strcmp(name, "..")    ? "is not a name"
                      : strlen(name) > GS_MAX_RUN_NAME               ? "is too long"
                                                                     : NULL;
    if (why)
        gs_err_set(err,
                   "%s: name = \"%.64s%s\" %s: a run's name is one file name of at most %d "
                   "characters, without '/'",
                   where, name, strlen(name) > 64 ? "..." : "", why, GS_MAX_RUN_NAME);
    return why ? -1 : 0;
}

static int resolve_variant(const gs_registry *reg, config_t *cfg, gs_variant *v, gs_origin *o,
                           const char *base_dir, const char *file, const char *stem,
                           gs_error *err)
{
    char w[1024];
    config_setting_t *root = config_root_setting(cfg);
    if (check_top_keys(root, o, err) < 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(root, "name");
    if (s && config_setting_type(s) != CONFIG_TYPE_STRING) {
        gs_err_set(err, "%s: name must be a string", where_of(o, s, w, sizeof w));
        return -1;
    }
    const char *base = s ? config_setting_get_string(s) : stem;
    if (s && check_run_name(base, where_of(o, s, w, sizeof w), err) < 0)
        return -1;
    v->name = v->label[0] ? gs_xasprintf("%s-%s", base, v->label) : gs_xstrdup(base);
    /* config.cfg, which resume reads, holds the whole name: it must pass
       the same check as the name it comes from */
    if (v->label[0] || !s) {
        char what[1200];
        snprintf(what, sizeof what, "%s (%s)", s ? where_of(o, s, w, sizeof w) : file,
                 s ? "with the variant's name appended" : "the file's name, without name =");
        if (check_run_name(v->name, what, err) < 0)
            return -1;
    }
    v->seed = 1;
    s = config_setting_get_member(root, "seed");
    if (s) {
        int t = config_setting_type(s);
        if ((t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) || config_setting_get_int64(s) < 0) {
            gs_err_set(err, "%s: seed must be a non-negative int", where_of(o, s, w, sizeof w));
            return -1;
        }
        v->seed = config_setting_get_int64(s);
    }
    config_setting_t *dg = config_setting_get_member(root, "data");
    if (dg && config_setting_type(dg) != CONFIG_TYPE_GROUP)
        dg = NULL;
    s = dg ? config_setting_get_member(dg, "augment") : NULL;
    if (s && config_setting_type(s) != CONFIG_TYPE_GROUP) {
        gs_err_set(err, "%s: data.augment must be a group { ... }", where_of(o, s, w, sizeof w));
        return -1;
    }
    if (gs_params_from_group(reg, gs_augment_schema, s, NULL, o, NULL, v->augment, &v->pool,
                             "data.augment", err) < 0)
        return -1;
    if (s) /* not a parameter of the data set plugin */
        config_setting_remove(dg, "augment");
    if (!(v->data = component(reg, root, "data", GS_KIND_DATASET, NULL, o, base_dir, file, err)))
        return -1;
    if (resolve_model(reg, cfg, v, o, base_dir, file, err) < 0)
        return -1;
    if (!(v->loss = component(reg, root, "loss", GS_KIND_LOSS, "softmax_cross_entropy", o,
                              base_dir, file, err)))
        return -1;
    if (!(v->optimizer = component(reg, root, "optimizer", GS_KIND_OPTIMIZER, "sgd", o,
                                   base_dir, file, err)))
        return -1;
    if (!(v->schedule = component(reg, root, "schedule", GS_KIND_SCHEDULE, "constant", o,
                                  base_dir, file, err)))
        return -1;
    if (section(reg, root, "training", gs_training_schema, v->training, &v->pool, o, err) < 0 ||
        section(reg, root, "monitor", gs_monitor_schema, v->monitor, &v->pool, o, err) < 0 ||
        section(reg, root, "output", gs_output_schema, v->output, &v->pool, o, err) < 0 ||
        section(reg, root, "checkpoint", gs_checkpoint_schema, v->checkpoint, &v->pool, o, err) <
            0)
        return -1;
    const char *dir = v->output[O_DIR].s;
    if (!dir[0] || strlen(dir) > GS_MAX_RUN_DIR) {
        s = config_lookup(cfg, "output.dir");
        gs_err_set(err, "%s: output: dir %s", s ? where_of(o, s, w, sizeof w) : file,
                   dir[0] ? "is too long" : "is empty");
        return -1;
    }
    return 0;
}

static int valid_variant_name(const char *s)
{
    if (!*s || strlen(s) > 64 || s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

static int build_variant(const gs_registry *reg, const char *path, const char *dir,
                         const char *stem, const config_setting_t *vdef,
                         const gs_origin *file_origin, const gs_run_options *opt,
                         gs_variant *v, gs_error *err)
{
    config_t cfg;
    if (gs_config_read_file(&cfg, path, dir, err) < 0)
        return -1;
    gs_origin o = {.default_file = path};
    int rc = 0;
    char w[1024];
    if (vdef) {
        static const char *const skip[] = {"name", "set", NULL};
        /* The variant's settings live in another tree; copy with their lines. */
        merge_group(config_root_setting(&cfg), vdef, &o, skip);
        const config_setting_t *sets = config_setting_get_member(vdef, "set");
        int ns = sets ? config_setting_length(sets) : 0;
        for (int i = 0; i < ns && rc == 0; i++) {
            const config_setting_t *e = config_setting_get_elem(sets, (unsigned)i);
            gs_origin_where(file_origin, e, w, sizeof w);
            char *label = gs_xasprintf("%s: variant '%s' set \"%s\"", w, v->label,
                                       config_setting_get_string(e));
            rc = apply_override(&cfg, config_setting_get_string(e), label, &o, err);
            free(label);
        }
    }
    config_setting_remove(config_root_setting(&cfg), "variants");
    config_setting_remove(config_root_setting(&cfg), "sweep"); /* read by sweep.c */
    for (size_t i = 0; rc == 0 && opt && i < opt->n_sets; i++) {
        char *label = gs_xasprintf("--set %s", opt->sets[i]);
        rc = apply_override(&cfg, opt->sets[i], label, &o, err);
        free(label);
    }
    if (rc == 0)
        rc = resolve_variant(reg, &cfg, v, &o, dir, path, stem, err);
    gs_origin_free(&o);
    config_destroy(&cfg);
    return rc;
}

/* Every variant of the file has a valid, unique name and a well-formed
   set list, whichever of them are selected. */
static int check_variant_defs(const config_setting_t *vars, const gs_origin *fo, gs_error *err)
{
    char w[1024];
    for (int i = 0; i < config_setting_length(vars); i++) {
        const config_setting_t *vdef = config_setting_get_elem(vars, (unsigned)i);
        const config_setting_t *vn = config_setting_type(vdef) == CONFIG_TYPE_GROUP
                                         ? config_setting_get_member(vdef, "name")
                                         : NULL;
        if (!vn || config_setting_type(vn) != CONFIG_TYPE_STRING ||
            !valid_variant_name(config_setting_get_string(vn))) {
            gs_err_set(err,
                       "%s: each variant needs name = \"NAME\" (letters, digits, '-', '_', "
                       "'.')",
                       where_of(fo, vn ? vn : vdef, w, sizeof w));
            return -1;
        }
        for (int j = 0; j < i; j++) {
            const config_setting_t *prev = config_setting_get_elem(vars, (unsigned)j);
            if (!strcmp(config_setting_get_string(config_setting_get_member(prev, "name")),
                        config_setting_get_string(vn))) {
                gs_err_set(err, "%s: duplicate variant name '%s'", where_of(fo, vn, w, sizeof w),
                           config_setting_get_string(vn));
                return -1;
            }
        }
        const config_setting_t *sets = config_setting_get_member(vdef, "set");
        if (sets) {
            int t = config_setting_type(sets);
            int ok = t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
            for (int k = 0; ok && k < config_setting_length(sets); k++)
                ok = config_setting_type(config_setting_get_elem(sets, (unsigned)k)) ==
                     CONFIG_TYPE_STRING;
            if (!ok) {
                gs_err_set(err, "%s: set must be a list of \"KEY=VALUE\" strings",
                           where_of(fo, sets, w, sizeof w));
                return -1;
            }
        }
    }
    return 0;
}

static int selected(const gs_run_options *opt, const char *label)
{
    if (!opt || !opt->n_variants)
        return 1;
    for (size_t i = 0; i < opt->n_variants; i++)
        if (!strcmp(opt->variants[i], label))
            return 1;
    return 0;
}

/* Each name that --variant asks for is one of the file's variants. */
static int select_variants(const config_setting_t *vars, const char *path,
                           const gs_run_options *opt, gs_error *err)
{
    int n = config_setting_length(vars);
    for (size_t i = 0; opt && i < opt->n_variants; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = !strcmp(opt->variants[i], config_setting_get_string(config_setting_get_member(
                                                  config_setting_get_elem(vars, (unsigned)k),
                                                  "name")));
        if (found)
            continue;
        size_t len = 0;
        char names[1024] = "";
        for (int k = 0; k < n; k++) {
            const char *name = config_setting_get_string(
                config_setting_get_member(config_setting_get_elem(vars, (unsigned)k), "name"));
            if (len < sizeof names)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "",
                                        name);
        }
        gs_err_set(err, "%s: --variant %s: no such variant (the variants: %s)", path,
                   opt->variants[i], names);
        return -1;
    }
    return 0;
}

/* The variants list is the file's alone: an override of it would be
   ignored, since each variant is built from the file without it. */
static int check_sets(const gs_run_options *opt, gs_error *err)
{
    for (size_t i = 0; opt && i < opt->n_sets; i++) {
        const char *key = opt->sets[i];
        while (isspace((unsigned char)*key))
            key++;
        size_t len = strcspn(key, ".=[ \t");
        if (len == 8 && !strncmp(key, "variants", 8)) {
            gs_err_set(err,
                       "--set %s: variants cannot be set from the command line; choose "
                       "variants with --variant NAME, or edit the file's variants list",
                       opt->sets[i]);
            return -1;
        }
    }
    return 0;
}

/* The run directory of every variant fits GS_MAX_RUN_DIR, as --out or
   <output.dir>/<name>-YYYYmmdd-HHMMSS, with /<variant> when there are
   variants (run.c's default_dir and create_dirs). */
static int check_run_dirs(const gs_experiment *e, const gs_run_options *opt, gs_error *err)
{
    const char *out = opt ? opt->out_dir : NULL;
    size_t root = out ? strlen(out)
                      : strlen(e->variants[0].output[O_DIR].s) + 1 + strlen(e->name) + 16;
    size_t label = 0;
    for (size_t i = 0; e->has_variants && i < e->n_variants; i++)
        if (strlen(e->variants[i].label) + 1 > label)
            label = strlen(e->variants[i].label) + 1;
    if (root + label <= GS_MAX_RUN_DIR)
        return 0;
    if (out)
        gs_err_set(err, "--out: the run directory would be %zu characters long, more than %d",
                   root + label, GS_MAX_RUN_DIR);
    else
        gs_err_set(err,
                   "%s: output.dir and name make a run directory %zu characters long, more "
                   "than %d",
                   e->path, root + label, GS_MAX_RUN_DIR);
    return -1;
}

gs_experiment *gs_experiment_load(const gs_registry *reg, const char *path,
                                  const gs_run_options *opt, gs_error *err)
{
    if (opt && opt->out_dir && !opt->out_dir[0]) {
        /* "" would make the run directory of a variant "/NAME" */
        gs_err_set(err, "--out: empty directory name");
        return NULL;
    }
    if (!path[0]) {
        gs_err_set(err, "empty experiment file name");
        return NULL;
    }
    if (strlen(path) > GS_MAX_PATH) {
        gs_err_set(err, "%.64s...: cannot read experiment file: the name is %zu characters "
                        "long, more than %d", path, strlen(path), GS_MAX_PATH);
        return NULL;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        gs_err_set(err, "%s: cannot read experiment file: %s", path, strerror(errno));
        return NULL;
    }
    char *dcopy = gs_xstrdup(real), *bcopy = gs_xstrdup(path);
    char *dir = dirname(dcopy);
    char *stem = gs_xstrdup(basename(bcopy));
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    gs_experiment *e = gs_xcalloc(1, sizeof *e);
    e->path = gs_xstrdup(path);
    config_t cfg;
    if (check_sets(opt, err) < 0 || gs_config_read_file(&cfg, path, dir, err) < 0)
        goto fail;
    gs_origin fo = {.default_file = path};
    const config_setting_t *vars = config_lookup(&cfg, "variants");
    e->has_sweep = config_lookup(&cfg, "sweep") != NULL;
    char w[1024];
    const config_setting_t *name = config_lookup(&cfg, "name");
    e->name = gs_xstrdup(name && config_setting_type(name) == CONFIG_TYPE_STRING
                             ? config_setting_get_string(name)
                             : stem);
    if (name && check_run_name(e->name, where_of(&fo, name, w, sizeof w), err) < 0)
        goto fail_cfg;
    if (vars) {
        if (config_setting_type(vars) != CONFIG_TYPE_LIST || config_setting_length(vars) == 0) {
            gs_err_set(err, "%s: variants must be a non-empty list ( { name = ...; }, ... )",
                       where_of(&fo, vars, w, sizeof w));
            goto fail_cfg;
        }
        e->has_variants = 1;
        if (check_variant_defs(vars, &fo, err) < 0 || select_variants(vars, path, opt, err) < 0)
            goto fail_cfg;
    } else if (opt && opt->n_variants) {
        gs_err_set(err, "%s: --variant %s: the experiment has no variants", path,
                   opt->variants[0]);
        goto fail_cfg;
    }
    size_t n_defs = vars ? (size_t)config_setting_length(vars) : 1;
    e->variants = gs_xcalloc(n_defs, sizeof *e->variants);
    for (size_t k = 0; k < n_defs; k++) {
        const config_setting_t *vdef = vars ? config_setting_get_elem(vars, (unsigned)k) : NULL;
        const char *label =
            vdef ? config_setting_get_string(config_setting_get_member(vdef, "name")) : "";
        if (vdef && !selected(opt, label))
            continue;
        gs_variant *v = &e->variants[e->n_variants++];
        v->label = gs_xstrdup(label);
        if (build_variant(reg, path, dir, stem, vdef, &fo, opt, v, err) < 0)
            goto fail_cfg;
        if (opt && opt->seed >= 0)
            v->seed = opt->seed;
        if (opt && opt->threads > 0)
            v->training[T_THREADS].i = opt->threads;
    }
    if (check_run_dirs(e, opt, err) < 0)
        goto fail_cfg;
    gs_origin_free(&fo);
    config_destroy(&cfg);
    free(dcopy);
    free(bcopy);
    free(stem);
    return e;
fail_cfg:
    gs_origin_free(&fo);
    config_destroy(&cfg);
fail:
    free(dcopy);
    free(bcopy);
    free(stem);
    gs_experiment_free(e);
    return NULL;
}

void gs_experiment_free(gs_experiment *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_variants; i++)
        variant_free(&e->variants[i]);
    free(e->variants);
    free(e->path);
    free(e->name);
    free(e);
}

size_t gs_experiment_variants(const gs_experiment *e) { return e->n_variants; }
const char *gs_experiment_variant_name(const gs_experiment *e, size_t i)
{
    return e->variants[i].label;
}
const char *gs_experiment_name(const gs_experiment *e) { return e->name; }

static void write_component(FILE *f, const char *key, const gs_ref *r)
{
    fprintf(f, "%s = ", key);
    gs_ref_write(r, f, 0);
    fputs(";\n", f);
}

static void write_section(FILE *f, const char *key, const gs_param_spec *schema,
                          const gs_value *values)
{
    fprintf(f, "%s = {\n", key);
    gs_params_write(schema, values, f, 2);
    fputs("};\n", f);
}

void gs_variant_write(const gs_variant *v, FILE *f)
{
    fprintf(f, "# Resolved by gradscope %s: every default filled in.\n", PACKAGE_VERSION);
    fprintf(f, "name = ");
    gs_param_spec str = {.name = "name", .type = GS_P_STRING};
    gs_value nv = {.s = v->name};
    gs_value_write(&str, &nv, f, 0);
    fprintf(f, ";\nseed = %lld%s;\n", (long long)v->seed, v->seed > INT32_MAX ? "L" : "");
    /* data as write_component would, with augment inside */
    fputs("data = {\n  type = ", f);
    nv.s = v->data->info->component->name;
    gs_value_write(&str, &nv, f, 0);
    fputs(";\n", f);
    gs_params_write(v->data->info->component->params, v->data->values, f, 2);
    fputs("  augment = {\n", f);
    gs_params_write(gs_augment_schema, v->augment, f, 4);
    fputs("  };\n};\n", f);
    fputs("model = {\n  layers = (\n", f);
    for (size_t i = 0; i < v->n_layers; i++) {
        const gs_ref *r = v->layers[i].ref;
        fprintf(f, "    {\n      type = \"%s\";\n", r->info->component->name);
        gs_params_write(r->info->component->params, r->values, f, 6);
        if (v->layers[i].repeat != 1)
            fprintf(f, "      repeat = %lld;\n", (long long)v->layers[i].repeat);
        fprintf(f, "    }%s\n", i + 1 < v->n_layers ? "," : "");
    }
    fputs("  );\n};\n", f);
    write_component(f, "loss", v->loss);
    write_component(f, "optimizer", v->optimizer);
    write_component(f, "schedule", v->schedule);
    write_section(f, "training", gs_training_schema, v->training);
    write_section(f, "monitor", gs_monitor_schema, v->monitor);
    write_section(f, "output", gs_output_schema, v->output);
    write_section(f, "checkpoint", gs_checkpoint_schema, v->checkpoint);
}

int gs_experiment_write_config(const gs_experiment *e, size_t i, FILE *f)
{
    if (i >= e->n_variants)
        return -1;
    gs_variant_write(&e->variants[i], f);
    return ferror(f) ? -1 : 0;
}

double gs_optimizer_param(const gs_ref *opt, const char *key, double dflt)
{
    int idx = gs_schema_index(opt->info->component->params, key);
    if (idx < 0 || opt->info->component->params[idx].type != GS_P_FLOAT)
        return dflt;
    return opt->values[idx].f;
}
