/*
 * Plugin loader.  Each .so whose dynamic symbols include the entry symbol
 * (read from the file, so that no other library's constructors run) is
 * opened with RTLD_NOW|RTLD_LOCAL, asked for its descriptor through that
 * symbol, checked (magic, ABI, structure sizes, schemas) and kept
 * resident: unloading a module whose OpenMP threads, TLS destructors or
 * atexit handlers may still run is a crash waiting to happen, so gradscope
 * never calls dlclose.
 */
#include "config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
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

/* Every 2.x plugin's tables are at least their 2.0 size; fields appended
   in later minors are read only where a table's size covers them. */
static const size_t ops_min_size[GS_KIND_COUNT_] = {
    [GS_KIND_ACTIVATION] = GS_ACTIVATION_OPS_SIZE_2_0,
    [GS_KIND_INITIALIZER] = GS_INITIALIZER_OPS_SIZE_2_0,
    [GS_KIND_OPTIMIZER] = GS_OPTIMIZER_OPS_SIZE_2_0,
    [GS_KIND_LAYER] = GS_LAYER_OPS_SIZE_2_0,
    [GS_KIND_LOSS] = GS_LOSS_OPS_SIZE_2_0,
    [GS_KIND_DATASET] = GS_DATASET_OPS_SIZE_2_0,
    [GS_KIND_SCHEDULE] = GS_SCHEDULE_OPS_SIZE_2_0,
};

/* Larger than any table or descriptor a plugin could mean: a size past it is garbage. */
#define MAX_STRUCT_SIZE 65536

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
    free(reg->shadowed);
    free(reg->skipped);
    free(reg->search_path);
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

size_t gs_registry_shadowed_count(const gs_registry *reg) { return reg->n_shadowed; }

const gs_component_info *gs_registry_shadowed_at(const gs_registry *reg, size_t i)
{
    return i < reg->n_shadowed ? &reg->shadowed[i] : NULL;
}

size_t gs_registry_skipped_count(const gs_registry *reg) { return reg->n_skipped; }

const char *gs_registry_skipped_at(const gs_registry *reg, size_t i)
{
    return i < reg->n_skipped ? reg->skipped[i] : NULL;
}

const char *gs_registry_search_path(const gs_registry *reg)
{
    return reg->search_path ? reg->search_path : "";
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

/* NULL when the table has every operation its kind requires, else what is missing. */
static const char *ops_missing(const gs_component *c)
{
    switch (c->kind) {
    case GS_KIND_ACTIVATION: {
        const gs_activation_ops *o = c->ops;
        if (!o->forward_f32 || !o->backward_f32)
            return "forward_f32 and backward_f32 are required";
        if (!o->forward_f64 != !o->backward_f64)
            return "forward_f64 and backward_f64 go together: both or neither";
        if (o->n_params && (!o->init_params || !o->param_name || !o->param_name[0]))
            return "learnable parameters (n_params) need init_params and param_name";
        return NULL;
    }
    case GS_KIND_INITIALIZER:
        return ((const gs_initializer_ops *)c->ops)->fill ? NULL : "fill is required";
    case GS_KIND_OPTIMIZER: {
        const gs_optimizer_ops *o = c->ops;
        return o->step && o->state_slots ? NULL : "step and state_slots are required";
    }
    case GS_KIND_LAYER: {
        const gs_layer_ops *o = c->ops;
        return o->build && o->forward && o->backward ? NULL
                                                     : "build, forward and backward are required";
    }
    case GS_KIND_LOSS:
        return ((const gs_loss_ops *)c->ops)->eval_f32 ? NULL : "eval_f32 is required";
    case GS_KIND_DATASET:
        return ((const gs_dataset_ops *)c->ops)->load ? NULL : "load is required";
    case GS_KIND_SCHEDULE:
        return ((const gs_schedule_ops *)c->ops)->factor ? NULL : "factor is required";
    default: return "unknown kind";
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
    if (d->size < GS_PLUGIN_DESC_SIZE_2_0 || d->size > MAX_STRUCT_SIZE) {
        gs_err_set(err, "%s: invalid descriptor (size %zu, ABI 2.0 has %zu)", path, d->size,
                   (size_t)GS_PLUGIN_DESC_SIZE_2_0);
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
    /* The components follow each other at the stride of their size, which
       later minors grow: all must have the first one's. */
    size_t stride = d->components[0].size;
    for (size_t i = 0; i < d->n_components; i++) {
        const gs_component *c = gs_desc_component(d, i);
        if (c->size < GS_COMPONENT_SIZE_2_0 || c->size > MAX_STRUCT_SIZE || c->size != stride) {
            gs_err_set(err,
                       "%s: invalid descriptor (component %zu has size %zu; ABI 2.0 has %zu, "
                       "and every component the same)",
                       path, i, c->size, (size_t)GS_COMPONENT_SIZE_2_0);
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
            *(const size_t *)c->ops > MAX_STRUCT_SIZE) {
            gs_err_set(err,
                       "%s: %s '%s': missing or undersized operations table (%zu bytes, ABI "
                       "2.0 has %zu)",
                       path, gs_kind_name(c->kind), c->name,
                       c->ops ? *(const size_t *)c->ops : 0, ops_min_size[c->kind]);
            return -1;
        }
        const char *missing = ops_missing(c);
        if (missing) {
            gs_err_set(err, "%s: %s '%s': required operations are missing: %s", path,
                       gs_kind_name(c->kind), c->name, missing);
            return -1;
        }
        if (check_schema(c, path, err) < 0)
            return -1;
    }
    return 0;
}

/* GRADSCOPE_ALLOW_UNSAFE_PLUGINS: unset, "" and "0" keep the checks. */
static int unsafe_allowed(void)
{
    const char *v = getenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS");
    return v && *v && strcmp(v, "0") != 0;
}

static int path_error(gs_error *err, const char *path, int code)
{
    gs_err_set(err, "%s: %s", path, strerror(code));
    errno = code;
    return -1;
}

/*
 * Resolves PATH to its real path one name at a time, as the kernel does,
 * and refuses it when someone else could change what it names: when the
 * file or directory itself, or any directory a name is looked up in, is
 * writable by other users.  That covers a symbolic link's own directory as
 * well as every directory above its target.  A sticky directory such as
 * /tmp is the one exception, and only for an entry owned by us or root:
 * the sticky bit keeps everyone else from renaming, removing or replacing
 * that entry, so a build tree under /tmp is as safe as one at home (and
 * `make check` runs there).  The plugin directory itself has no such
 * excuse: anyone may add a new file to a sticky directory.
 */
static int resolve_trusted(const char *path, char *real, gs_error *err)
{
    if (unsafe_allowed())
        return realpath(path, real) ? 0 : path_error(err, path, errno);
    char *todo;
    if (path[0] == '/') {
        todo = gs_xstrdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return path_error(err, path, errno);
        todo = gs_xasprintf("%s/%s", cwd, path);
    }
    size_t len = 0; /* real[0..len) resolved so far; "" is the root */
    real[0] = '\0';
    int hops = 0, rc = 0;
    struct stat dir_st, st;
    for (const char *p = todo;;) {
        p += strspn(p, "/");
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(real, '/');
            len = slash ? (size_t)(slash - real) : 0;
            real[len] = '\0';
            p += n;
            continue;
        }
        if (len + 1 + n >= PATH_MAX) {
            rc = path_error(err, path, ENAMETOOLONG);
            break;
        }
        if (lstat(len ? real : "/", &dir_st) != 0) {
            rc = path_error(err, path, errno);
            break;
        }
        real[len] = '/';
        memcpy(real + len + 1, p, n);
        real[len + 1 + n] = '\0';
        if (lstat(real, &st) != 0) {
            rc = path_error(err, path, errno);
            break;
        }
        if ((dir_st.st_mode & S_IWOTH) &&
            !((dir_st.st_mode & S_ISVTX) && (st.st_uid == 0 || st.st_uid == geteuid()))) {
            real[len] = '\0';
            gs_err_set(err,
                       "%s: refusing it: %s is writable by other users (set "
                       "GRADSCOPE_ALLOW_UNSAFE_PLUGINS=1 to allow it)",
                       path, len ? real : "/");
            errno = EPERM;
            rc = -1;
            break;
        }
        p += n;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t t = -1;
            if (++hops > 40)
                errno = ELOOP;
            else
                t = readlink(real, target, sizeof target - 1);
            if (t < 0) {
                rc = path_error(err, path, errno);
                break;
            }
            target[t] = '\0';
            /* the rest of the path continues from the link's target */
            char *next = *p ? gs_xasprintf("%s%s", target, p) : gs_xstrdup(target);
            free(todo);
            p = todo = next;
            if (target[0] == '/')
                len = 0;
            real[len] = '\0';
            continue;
        }
        len += 1 + n;
        if (*p && !S_ISDIR(st.st_mode)) {
            rc = path_error(err, path, ENOTDIR);
            break;
        }
    }
    free(todo);
    if (rc < 0)
        return -1;
    if (!len)
        strcpy(real, "/");
    if (lstat(real, &st) != 0)
        return path_error(err, path, errno);
    if (st.st_mode & S_IWOTH) {
        int linked = strcmp(path, real) != 0;
        gs_err_set(err,
                   "%s: refusing a plugin %s writable by other users%s%s%s (set "
                   "GRADSCOPE_ALLOW_UNSAFE_PLUGINS=1 to allow it)",
                   path, S_ISDIR(st.st_mode) ? "directory" : "file", linked ? " (" : "",
                   linked ? real : "", linked ? ")" : "");
        errno = EPERM;
        return -1;
    }
    return 0;
}

/*
 * Whether the ELF shared object at REAL exports a defined function named
 * GS_PLUGIN_ENTRY_SYMBOL in its dynamic symbol table (1) or not (0); -1
 * with err set when it is no shared object of this machine's ELF class.
 * It is read as data, before dlopen: dlopen runs a library's constructors,
 * and a .so that is not a plugin must not run anything in gradscope.  The
 * table is found through the section headers, which every linker writes
 * (a library stripped of them, as by sstrip, is refused).
 */
static int elf_has_entry(const char *real, const char *path, gs_error *err)
{
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return path_error(err, path, errno);
    struct stat st;
    ElfW(Ehdr) eh;
    ElfW(Shdr) *sh = NULL;
    ElfW(Sym) *syms = NULL;
    char *names = NULL;
    const char *why = NULL;
    int found = 0;
    if (fstat(fd, &st) != 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        why = "not an ELF file";
    else if (eh.e_ident[EI_CLASS] != (__ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32) ||
             eh.e_type != ET_DYN)
        why = "not a shared object of this machine's ELF class";
    else if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(ElfW(Shdr)) ||
             eh.e_shoff > (uintmax_t)st.st_size ||
             (uintmax_t)eh.e_shnum * sizeof(ElfW(Shdr)) > (uintmax_t)st.st_size - eh.e_shoff)
        why = "no readable section headers";
    if (!why) {
        size_t n = eh.e_shnum;
        sh = gs_xmalloc(n * sizeof *sh);
        if (pread(fd, sh, n * sizeof *sh, (off_t)eh.e_shoff) != (ssize_t)(n * sizeof *sh))
            why = "no readable section headers";
        for (size_t i = 0; !why && i < n && !found; i++) {
            if (sh[i].sh_type != SHT_DYNSYM)
                continue;
            const ElfW(Shdr) *str = sh[i].sh_link < n ? &sh[sh[i].sh_link] : NULL;
            if (!str || sh[i].sh_entsize != sizeof(ElfW(Sym)) ||
                sh[i].sh_offset > (uintmax_t)st.st_size ||
                sh[i].sh_size > (uintmax_t)st.st_size - sh[i].sh_offset ||
                str->sh_offset > (uintmax_t)st.st_size ||
                str->sh_size > (uintmax_t)st.st_size - str->sh_offset) {
                why = "a damaged dynamic symbol table";
                break;
            }
            size_t ns = sh[i].sh_size / sizeof(ElfW(Sym)), nn = str->sh_size;
            free(syms);
            free(names);
            syms = gs_xmalloc(ns * sizeof *syms + 1);
            names = gs_xmalloc(nn + 1);
            if (pread(fd, syms, ns * sizeof *syms, (off_t)sh[i].sh_offset) !=
                    (ssize_t)(ns * sizeof *syms) ||
                pread(fd, names, nn, (off_t)str->sh_offset) != (ssize_t)nn) {
                why = "a damaged dynamic symbol table";
                break;
            }
            names[nn] = '\0';
            for (size_t k = 0; k < ns && !found; k++)
                found = syms[k].st_name < nn && syms[k].st_shndx != SHN_UNDEF &&
                        ELF64_ST_TYPE(syms[k].st_info) == STT_FUNC &&
                        !strcmp(names + syms[k].st_name, GS_PLUGIN_ENTRY_SYMBOL);
        }
    }
    close(fd);
    free(sh);
    free(syms);
    free(names);
    if (why) {
        gs_err_set(err, "%s: cannot load plugin: %s", path, why);
        return -1;
    }
    return found;
}

/* Whether FILE (one of reg->files) came from the directory being searched. */
static int from_this_dir(const gs_registry *reg, const char *file)
{
    for (size_t i = reg->dir_start; i < reg->n_files; i++)
        if (reg->files[i] == file)
            return 1;
    return 0;
}

/* A copy of C already found in the directory being searched, or NULL. */
static const gs_component_info *twin_in_this_dir(const gs_registry *reg, const gs_component *c)
{
    const gs_component_info *in_use = gs_registry_find(reg, c->kind, c->name);
    if (in_use && from_this_dir(reg, in_use->file))
        return in_use;
    for (size_t i = 0; i < reg->n_shadowed; i++) {
        const gs_component *s = reg->shadowed[i].component;
        if (s->kind == c->kind && !strcmp(s->name, c->name) &&
            from_this_dir(reg, reg->shadowed[i].file))
            return &reg->shadowed[i];
    }
    return NULL;
}

static char *add_file(gs_registry *reg, const char *real)
{
    reg->files = gs_xrealloc(reg->files, (reg->n_files + 1) * sizeof *reg->files);
    return reg->files[reg->n_files++] = gs_xstrdup(real);
}

static void add_info(gs_component_info **v, size_t *n, size_t *cap, gs_component_info info)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *v = gs_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = info;
}

/*
 * Opens one plugin file at the current place on the search path.  A
 * component that an earlier place already provides is shadowed: kept for
 * `gradscope plugins`, never used.  SCANNING: the file was found by a
 * directory scan, where a .so without the entry symbol is a helper library
 * to pass over rather than a mistake.
 */
static int load_plugin(gs_registry *reg, const char *path, int scanning, gs_error *err)
{
    char real[PATH_MAX];
    if (resolve_trusted(path, real, err) < 0)
        return -1;
    for (size_t i = 0; i < reg->n_files; i++)
        if (strcmp(reg->files[i], real) == 0)
            return 0; /* the same file reached twice through the search path */
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (scanning)
            return 0;
        gs_err_set(err, "%s: not a regular file", path);
        return -1;
    }

    int has_entry = elf_has_entry(real, path, err);
    if (has_entry < 0)
        return -1;
    void *h = NULL;
    if (has_entry && !(h = dlopen(real, RTLD_NOW | RTLD_LOCAL))) {
        gs_err_set(err, "%s: cannot load plugin: %s", path, dlerror());
        return -1;
    }
    typedef const gs_plugin_desc *(*entry_fn)(void);
    entry_fn entry = NULL;
    if (h)
        *(void **)&entry = dlsym(h, GS_PLUGIN_ENTRY_SYMBOL);
    if (!entry && scanning) {
        char *file = add_file(reg, real);
        reg->skipped = gs_xrealloc(reg->skipped, (reg->n_skipped + 1) * sizeof *reg->skipped);
        reg->skipped[reg->n_skipped++] = file;
        gs_host_table()->log(GS_LOG_INFO, "%s: no symbol %s, so not a plugin; passed over", path,
                             GS_PLUGIN_ENTRY_SYMBOL);
        return 0;
    }
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
    size_t used = 0;
    for (size_t i = 0; i < d->n_components; i++) {
        const gs_component *c = gs_desc_component(d, i);
        for (size_t j = 0; j < i; j++)
            if (gs_desc_component(d, j)->kind == c->kind &&
                !strcmp(gs_desc_component(d, j)->name, c->name)) {
                gs_err_set(err, "%s: %s '%s' is defined twice in the same plugin", path,
                           gs_kind_name(c->kind), c->name);
                return -1;
            }
        const gs_component_info *twin = twin_in_this_dir(reg, c);
        if (twin) {
            gs_err_set(err,
                       "%s '%s' is defined by both %s and %s%s%s%s, in one directory; remove "
                       "one (a copy in an earlier directory of the search path would shadow "
                       "the other)",
                       gs_kind_name(c->kind), c->name, twin->file, real,
                       strcmp(path, real) ? " (as " : "", strcmp(path, real) ? path : "",
                       strcmp(path, real) ? ")" : "");
            return -1;
        }
        used += gs_registry_find(reg, c->kind, c->name) == NULL;
    }
    /* A plugin whose every component is shadowed is never used, so it is
       not initialized either. */
    if (used && d->init) {
        gs_clear_error();
        if (d->init(gs_host_table()) != 0) {
            gs_err_set(err, "%s: plugin '%s' failed to initialize%s%s", path, d->name,
                       gs_last_error()[0] ? ": " : "", gs_last_error());
            return -1;
        }
    }
    char *file = add_file(reg, real);
    for (size_t i = 0; i < d->n_components; i++) {
        const gs_component *c = gs_desc_component(d, i);
        gs_component_info info = {.component = c, .file = file, .plugin = d};
        if (gs_registry_find(reg, c->kind, c->name))
            add_info(&reg->shadowed, &reg->n_shadowed, &reg->cap_shadowed, info);
        else
            add_info(&reg->items, &reg->n, &reg->cap, info);
    }
    return 0;
}

int gs_registry_load_file(gs_registry *reg, const char *path, gs_error *err)
{
    reg->dir_start = reg->n_files; /* a place of its own on the search path */
    return load_plugin(reg, path, 0, err);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int gs_registry_load_dir(gs_registry *reg, const char *dir, gs_error *err)
{
    if (!dir[0] || strlen(dir) >= PATH_MAX) {
        gs_err_set(err, "%.64s%s: plugin directory name %s", dir, dir[0] ? "..." : "\"\"",
                   dir[0] ? "too long" : "is empty");
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: plugin directory not found", dir);
        return -1;
    }
    char real[PATH_MAX];
    if (resolve_trusted(dir, real, err) < 0)
        return -1;
    DIR *d = opendir(real);
    if (!d) {
        gs_err_set(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char *path = reg->search_path ? gs_xasprintf("%s:%s", reg->search_path, dir) : gs_xstrdup(dir);
    free(reg->search_path);
    reg->search_path = path;
    reg->dir_start = reg->n_files;
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
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_plugin(reg, names[i], 1, err);
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
