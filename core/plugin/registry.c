/*
 * Plugin loader.  Each .so is opened with RTLD_NOW|RTLD_LOCAL, asked for its
 * descriptor through the one entry symbol, checked (magic, ABI, structure
 * sizes, schemas) and kept resident: unloading a module whose OpenMP
 * threads, TLS destructors or atexit handlers may still run is a crash
 * waiting to happen, so gradscope never calls dlclose.
 */
#include "config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "plugin/registry.h"
#include "base/util.h"

#ifndef GS_PLUGINDIR
#define GS_PLUGINDIR "/usr/local/lib/gradscope/plugins"
#endif

static const char *const kind_names[GS_KIND_COUNT_] = {
    [GS_KIND_ACTIVATION] = "activation", [GS_KIND_INITIALIZER] = "initializer",
    [GS_KIND_OPTIMIZER] = "optimizer",   [GS_KIND_LAYER] = "layer",
    [GS_KIND_LOSS] = "loss",             [GS_KIND_DATASET] = "dataset",
    [GS_KIND_SCHEDULE] = "schedule",
};

static const size_t ops_min_size[GS_KIND_COUNT_] = {
    [GS_KIND_ACTIVATION] = sizeof(gs_activation_ops),
    [GS_KIND_INITIALIZER] = sizeof(gs_initializer_ops),
    [GS_KIND_OPTIMIZER] = GS_OPTIMIZER_OPS_SIZE_1_1,
    [GS_KIND_LAYER] = sizeof(gs_layer_ops),
    [GS_KIND_LOSS] = sizeof(gs_loss_ops),
    [GS_KIND_DATASET] = sizeof(gs_dataset_ops),
    [GS_KIND_SCHEDULE] = sizeof(gs_schedule_ops),
};

const char *gs_kind_name(gs_kind kind)
{
    if ((int)kind <= 0 || kind >= GS_KIND_COUNT_)
        return "unknown";
    return kind_names[kind];
}

int gs_kind_from_name(const char *name, gs_kind *out)
{
    for (int k = 1; k < GS_KIND_COUNT_; k++)
        if (strcmp(kind_names[k], name) == 0) {
            *out = (gs_kind)k;
            return 0;
        }
    if (strcmp(name, "architecture") == 0) {
        *out = GS_KIND_LAYER;
        return 0;
    }
    return -1;
}

const char *gs_param_type_name(gs_param_type t)
{
    switch (t) {
    case GS_P_INT: return "int";
    case GS_P_FLOAT: return "float";
    case GS_P_BOOL: return "bool";
    case GS_P_STRING: return "string";
    case GS_P_FLOATS: return "float list";
    case GS_P_COMPONENT: return "component";
    case GS_P_PATH: return "path";
    }
    return "?";
}

const char *gs_default_plugin_dir(void) { return GS_PLUGINDIR; }

gs_registry *gs_registry_new(void) { return gs_xcalloc(1, sizeof(gs_registry)); }

void gs_registry_free(gs_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_files; i++)
        free(reg->files[i]);
    free(reg->files);
    free(reg->items);
    free(reg);
}

const gs_component_info *gs_registry_find(const gs_registry *reg, gs_kind kind,
                                          const char *name)
{
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i].component->kind == kind &&
            strcmp(reg->items[i].component->name, name) == 0)
            return &reg->items[i];
    return NULL;
}

size_t gs_registry_count(const gs_registry *reg) { return reg->n; }

const gs_component_info *gs_registry_at(const gs_registry *reg, size_t i)
{
    return i < reg->n ? &reg->items[i] : NULL;
}

const char *gs_registry_suggest(const gs_registry *reg, gs_kind kind, const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i].component->kind != kind)
            continue;
        size_t d = gs_edit_distance(name, reg->items[i].component->name);
        if (d < best_d) {
            best_d = d;
            best = reg->items[i].component->name;
        }
    }
    size_t len = strlen(name);
    return best && best_d <= (len < 4 ? 1 : len / 3 + 1) ? best : NULL;
}

const char *gs_registry_names(gs_registry *reg, gs_kind kind)
{
    size_t used = 0;
    reg->names_buf[0] = '\0';
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i].component->kind != kind)
            continue;
        int w = snprintf(reg->names_buf + used, sizeof reg->names_buf - used, "%s%s",
                         used ? ", " : "", reg->items[i].component->name);
        if (w < 0 || (size_t)w >= sizeof reg->names_buf - used)
            break;
        used += (size_t)w;
    }
    return reg->names_buf;
}

static int check_schema(const gs_component *c, const char *path, gs_error *err)
{
    size_t n = 0;
    for (const gs_param_spec *s = c->params; s && s->name; s++, n++) {
        if (n > 256) {
            gs_err_set(err, "%s: %s '%s': parameter list is not terminated", path,
                       gs_kind_name(c->kind), c->name);
            return -1;
        }
        if (s->name[0] == '\0' || strcmp(s->name, "type") == 0) {
            gs_err_set(err, "%s: %s '%s': invalid parameter name '%s'", path,
                       gs_kind_name(c->kind), c->name, s->name);
            return -1;
        }
        if (s->type < GS_P_INT || s->type > GS_P_PATH) {
            gs_err_set(err, "%s: %s '%s': parameter '%s' has unknown type %d", path,
                       gs_kind_name(c->kind), c->name, s->name, (int)s->type);
            return -1;
        }
        if (s->type == GS_P_COMPONENT &&
            (s->component_kind <= 0 || s->component_kind >= GS_KIND_COUNT_)) {
            gs_err_set(err, "%s: %s '%s': parameter '%s' names no component kind", path,
                       gs_kind_name(c->kind), c->name, s->name);
            return -1;
        }
        for (const gs_param_spec *t = c->params; t < s; t++)
            if (strcmp(t->name, s->name) == 0) {
                gs_err_set(err, "%s: %s '%s': duplicate parameter name '%s'", path,
                           gs_kind_name(c->kind), c->name, s->name);
                return -1;
            }
    }
    return 0;
}

static int ops_complete(const gs_component *c)
{
    switch (c->kind) {
    case GS_KIND_ACTIVATION: {
        const gs_activation_ops *o = c->ops;
        return o->forward_f32 && o->forward_f64 && o->backward_f32 && o->backward_f64 &&
               (!o->n_params || o->init_params);
    }
    case GS_KIND_INITIALIZER: return ((const gs_initializer_ops *)c->ops)->fill != NULL;
    case GS_KIND_OPTIMIZER: {
        const gs_optimizer_ops *o = c->ops;
        return o->step && o->state_slots;
    }
    case GS_KIND_LAYER: {
        const gs_layer_ops *o = c->ops;
        return o->build && o->forward && o->backward;
    }
    case GS_KIND_LOSS: {
        const gs_loss_ops *o = c->ops;
        return o->eval_f32 && o->eval_f64;
    }
    case GS_KIND_DATASET: return ((const gs_dataset_ops *)c->ops)->load != NULL;
    case GS_KIND_SCHEDULE: return ((const gs_schedule_ops *)c->ops)->factor != NULL;
    default: return 0;
    }
}

static int validate(const gs_plugin_desc *d, const char *path, gs_error *err)
{
    if (d->magic != GS_PLUGIN_MAGIC) {
        gs_err_set(err, "%s: not a gradscope plugin (bad magic 0x%08x)", path, d->magic);
        return -1;
    }
    if (d->abi_major != GS_ABI_MAJOR) {
        gs_err_set(err,
                   "%s: plugin ABI %u.%u does not match gradscope's ABI %d.%d; rebuild the "
                   "plugin against this gradscope's headers",
                   path, d->abi_major, d->abi_minor, GS_ABI_MAJOR, GS_ABI_MINOR);
        return -1;
    }
    if (d->abi_minor > GS_ABI_MINOR) {
        gs_err_set(err,
                   "%s: plugin needs ABI %u.%u but this gradscope provides %d.%d; upgrade "
                   "gradscope or rebuild the plugin against these headers",
                   path, d->abi_major, d->abi_minor, GS_ABI_MAJOR, GS_ABI_MINOR);
        return -1;
    }
    if (d->size < sizeof(gs_plugin_desc) || d->size > 65536) {
        gs_err_set(err, "%s: invalid descriptor (size %zu)", path, d->size);
        return -1;
    }
    if (!d->name || !d->name[0] || !d->version || !d->license) {
        gs_err_set(err, "%s: invalid descriptor (missing name, version or license)", path);
        return -1;
    }
    if (d->n_components == 0 || d->n_components > 1024 || !d->components) {
        gs_err_set(err, "%s: invalid descriptor (%zu components)", path, d->n_components);
        return -1;
    }
    for (size_t i = 0; i < d->n_components; i++) {
        const gs_component *c = &d->components[i];
        if (c->size < GS_COMPONENT_SIZE_1_0 || c->size > 65536) {
            gs_err_set(err, "%s: invalid descriptor (component %zu has size %zu)", path, i,
                       c->size);
            return -1;
        }
        if ((int)c->kind <= 0 || c->kind >= GS_KIND_COUNT_) {
            gs_err_set(err, "%s: component %zu has unknown kind %d", path, i, (int)c->kind);
            return -1;
        }
        if (!c->name || !c->name[0] || strlen(c->name) > 64) {
            gs_err_set(err, "%s: invalid descriptor (component %zu has no valid name)", path,
                       i);
            return -1;
        }
        if (!c->ops || *(const size_t *)c->ops < ops_min_size[c->kind] ||
            *(const size_t *)c->ops > 65536) {
            gs_err_set(err, "%s: %s '%s': missing or undersized operations table", path,
                       gs_kind_name(c->kind), c->name);
            return -1;
        }
        if (!ops_complete(c)) {
            gs_err_set(err, "%s: %s '%s': required operations are missing", path,
                       gs_kind_name(c->kind), c->name);
            return -1;
        }
        if (check_schema(c, path, err) < 0)
            return -1;
    }
    return 0;
}

int gs_registry_load_file(gs_registry *reg, const char *path, gs_error *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        gs_err_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < reg->n_files; i++)
        if (strcmp(reg->files[i], real) == 0)
            return 0; /* the same file reached twice through the search path */

    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        gs_err_set(err, "%s: cannot load plugin: %s", path, dlerror());
        return -1;
    }
    typedef const gs_plugin_desc *(*entry_fn)(void);
    entry_fn entry;
    *(void **)&entry = dlsym(h, GS_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        gs_err_set(err, "%s: not a gradscope plugin (no symbol %s)", path,
                   GS_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    const gs_plugin_desc *d = entry();
    if (!d) {
        gs_err_set(err, "%s: invalid descriptor (entry returned NULL)", path);
        return -1;
    }
    if (validate(d, path, err) < 0)
        return -1;
    for (size_t i = 0; i < d->n_components; i++) {
        const gs_component *c = &d->components[i];
        for (size_t j = 0; j < i; j++)
            if (d->components[j].kind == c->kind && !strcmp(d->components[j].name, c->name)) {
                gs_err_set(err, "%s: %s '%s' is defined twice in the same plugin", path,
                           gs_kind_name(c->kind), c->name);
                return -1;
            }
        const gs_component_info *prev = gs_registry_find(reg, c->kind, c->name);
        if (prev) {
            gs_err_set(err, "%s '%s' is defined by both %s and %s", gs_kind_name(c->kind),
                       c->name, prev->file, real);
            return -1;
        }
    }
    if (d->init) {
        gs_clear_error();
        if (d->init(gs_host_table()) != 0) {
            gs_err_set(err, "%s: plugin '%s' failed to initialize%s%s", path, d->name,
                       gs_last_error()[0] ? ": " : "", gs_last_error());
            return -1;
        }
    }
    reg->files = gs_xrealloc(reg->files, (reg->n_files + 1) * sizeof *reg->files);
    char *file = reg->files[reg->n_files++] = gs_xstrdup(real);
    for (size_t i = 0; i < d->n_components; i++) {
        if (reg->n == reg->cap) {
            reg->cap = reg->cap ? 2 * reg->cap : 64;
            reg->items = gs_xrealloc(reg->items, reg->cap * sizeof *reg->items);
        }
        reg->items[reg->n++] =
            (gs_component_info){.component = &d->components[i], .file = file, .plugin = d};
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int unsafe_path(const char *path, const struct stat *st)
{
    if (getenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS"))
        return 0;
    (void)path;
    return (st->st_mode & S_IWOTH) != 0;
}

int gs_registry_load_dir(gs_registry *reg, const char *dir, gs_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: plugin directory not found", dir);
        return -1;
    }
    if (unsafe_path(dir, &st)) {
        gs_err_set(err,
                   "%s: refusing a plugin directory writable by other users (set "
                   "GRADSCOPE_ALLOW_UNSAFE_PLUGINS=1 to allow it)",
                   dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        gs_err_set(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0) {
            names = gs_xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = gs_xasprintf("%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    /* Sorted, so that which file loads first never depends on the file system. */
    if (n)
        qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (lstat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unsafe_path(names[i], &st)) {
            gs_err_set(err,
                       "%s: refusing a plugin writable by other users (set "
                       "GRADSCOPE_ALLOW_UNSAFE_PLUGINS=1 to allow it)",
                       names[i]);
            rc = -1;
            break;
        }
        rc = gs_registry_load_file(reg, names[i], err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int gs_registry_load_default(gs_registry *reg, const char *const *extra_dirs,
                             size_t n_extra, gs_error *err)
{
    for (size_t i = 0; i < n_extra; i++)
        if (gs_registry_load_dir(reg, extra_dirs[i], err) < 0)
            return -1;
    const char *env = getenv("GRADSCOPE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = gs_xstrdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
            if (gs_registry_load_dir(reg, tok, err) < 0) {
                free(copy);
                return -1;
            }
        }
        free(copy);
    }
    /* The build tree (tests, the uninstalled program) must not also pick up
       an installed copy of the same plugins. */
    const char *no_installed = getenv("GRADSCOPE_NO_INSTALLED_PLUGINS");
    if (no_installed && *no_installed && strcmp(no_installed, "0") != 0)
        return 0;
    struct stat st;
    if (stat(GS_PLUGINDIR, &st) == 0 && S_ISDIR(st.st_mode))
        return gs_registry_load_dir(reg, GS_PLUGINDIR, err);
    return 0;
}
