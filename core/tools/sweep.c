/*
 * Sweeps: the `sweep` section of an experiment file expanded into
 * combinations of "KEY=VALUE" overrides, each trained into its own run
 * directory through the ordinary experiment API, and sweep.csv gathered from
 * those directories.  Everything a sweep knows about a run is in its
 * directory, so a sweep can be restarted, split across Slurm array tasks or
 * MPI ranks, and collected by another process.
 */
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#include "config.h"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/rng.h"
#include "base/util.h"
#include "engine/experiment.h"
#include "plugin/cfgfile.h"
#include "plugin/registry.h"
#include "rundir/rundir.h"

/* Longest subdirectory name before it is shortened with a hash. */
#define NAME_MAX_LEN 200

typedef struct sweep_key {
    char *key;   /* libconfig path, as written */
    char *label; /* short unique name: sweep.csv column and directory-name part */
    size_t n;
    char **text; /* each value in libconfig syntax */
    char **show; /* each value for sweep.csv */
    char **frag; /* each value for the directory name */
} sweep_key;

struct gs_sweep {
    char *path;
    sweep_key *keys;
    size_t n_keys, n_grid; /* keys [n_grid, n_keys) are zipped */
    size_t zip_len;        /* 1 without zipped keys */
    size_t count;
    char **names;
    char **sets; /* count x n_keys "KEY=VALUE" */
    char *dir;
    char **variants; /* labels of the experiment's variants ("" without) */
    size_t n_variants;
    gs_sweep_options opt;
    char **opt_sets;
};

/* ---- reading the sweep section ---- */

static const char *where(const config_setting_t *s, const char *file, char *buf, size_t n)
{
#ifdef HAVE_CONFIG_SETTING_SOURCE_FILE
    if (config_setting_source_file(s))
        file = config_setting_source_file(s);
#endif
    snprintf(buf, n, "%s:%d", file, config_setting_source_line(s));
    return buf;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        switch (*s) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if ((unsigned char)*s < 0x20)
                fprintf(f, "\\x%02x", (unsigned char)*s);
            else
                fputc(*s, f);
        }
    }
    fputc('"', f);
}

/* A value in libconfig syntax (syntax = 1) or plainly for tables and names
   (syntax = 0: strings bare, aggregates joined with '-'). */
static void put_value(FILE *f, const config_setting_t *s, int syntax)
{
    char num[64];
    int n;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT: fprintf(f, "%d", config_setting_get_int(s)); break;
    case CONFIG_TYPE_INT64:
        fprintf(f, "%lld%s", (long long)config_setting_get_int64(s), syntax ? "L" : "");
        break;
    case CONFIG_TYPE_FLOAT:
        gs_format_double(num, sizeof num, config_setting_get_float(s));
        fputs(num, f);
        break;
    case CONFIG_TYPE_BOOL: fputs(config_setting_get_bool(s) ? "true" : "false", f); break;
    case CONFIG_TYPE_STRING:
        if (syntax)
            put_string(f, config_setting_get_string(s));
        else
            fputs(config_setting_get_string(s), f);
        break;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        int array = config_setting_type(s) == CONFIG_TYPE_ARRAY;
        n = config_setting_length(s);
        if (syntax)
            fputs(array ? "[" : "(", f);
        for (int i = 0; i < n; i++) {
            if (i)
                fputs(syntax ? ", " : "-", f);
            put_value(f, config_setting_get_elem(s, (unsigned)i), syntax);
        }
        if (syntax)
            fputs(array ? "]" : ")", f);
        break;
    }
    case CONFIG_TYPE_GROUP: {
        n = config_setting_length(s);
        if (syntax) {
            fputs("{ ", f);
            for (int i = 0; i < n; i++) {
                const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
                fprintf(f, "%s = ", config_setting_name(m));
                put_value(f, m, 1);
                fputs("; ", f);
            }
            fputs("}", f);
            break;
        }
        /* a component group reads best as its type first: he-mode-fan_out */
        const config_setting_t *type = config_setting_get_member(s, "type");
        int first = 1;
        if (type) {
            put_value(f, type, 0);
            first = 0;
        }
        for (int i = 0; i < n; i++) {
            const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
            if (m == type)
                continue;
            fprintf(f, "%s%s-", first ? "" : "-", config_setting_name(m));
            put_value(f, m, 0);
            first = 0;
        }
        break;
    }
    default: break;
    }
}

static char *value_string(const config_setting_t *s, int syntax)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    put_value(f, s, syntax);
    fclose(f);
    return buf;
}

/* Letters, digits and . _ - + stay; anything else becomes '_'. */
static char *sanitize(const char *s)
{
    char *out = gs_xstrdup(s);
    for (char *p = out; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '.' && *p != '_' && *p != '-' && *p != '+')
            *p = '_';
    return out;
}

static void key_free(sweep_key *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->text[i]);
        free(k->show[i]);
        free(k->frag[i]);
    }
    free(k->text);
    free(k->show);
    free(k->frag);
    free(k->key);
    free(k->label);
}

static int read_key(const config_setting_t *g, const char *file, const char *section,
                    sweep_key *k, gs_error *err)
{
    char w[1024];
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        gs_err_set(err, "%s: sweep.%s: each entry is a group { key = \"PATH\"; values = [ ... ]; }",
                   where(g, file, w, sizeof w), section);
        return -1;
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const char *m = config_setting_name(config_setting_get_elem(g, (unsigned)i));
        if (strcmp(m, "key") && strcmp(m, "values") && strcmp(m, "names")) {
            gs_err_set(err, "%s: sweep.%s: unknown key '%s' (valid: key, values, names)",
                       where(config_setting_get_elem(g, (unsigned)i), file, w, sizeof w),
                       section, m);
            return -1;
        }
    }
    const config_setting_t *key = config_setting_get_member(g, "key");
    const config_setting_t *values = config_setting_get_member(g, "values");
    const config_setting_t *names = config_setting_get_member(g, "names");
    if (!key || config_setting_type(key) != CONFIG_TYPE_STRING ||
        !config_setting_get_string(key)[0] || strchr(config_setting_get_string(key), '=')) {
        gs_err_set(err, "%s: sweep.%s: needs key = \"PATH\" (a --set key such as optimizer.lr)",
                   where(key ? key : g, file, w, sizeof w), section);
        return -1;
    }
    if (!values ||
        (config_setting_type(values) != CONFIG_TYPE_ARRAY &&
         config_setting_type(values) != CONFIG_TYPE_LIST) ||
        config_setting_length(values) == 0) {
        gs_err_set(err, "%s: sweep.%s: key '%s' needs values = [ ... ] or ( ... ), not empty",
                   where(values ? values : g, file, w, sizeof w), section,
                   config_setting_get_string(key));
        return -1;
    }
    size_t n = (size_t)config_setting_length(values);
    if (names) {
        int ok = (config_setting_type(names) == CONFIG_TYPE_ARRAY ||
                  config_setting_type(names) == CONFIG_TYPE_LIST) &&
                 (size_t)config_setting_length(names) == n;
        for (size_t i = 0; ok && i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(names, (unsigned)i);
            ok = config_setting_type(e) == CONFIG_TYPE_STRING && config_setting_get_string(e)[0];
        }
        if (!ok) {
            gs_err_set(err,
                       "%s: sweep.%s: names must be %zu non-empty strings, one per value of '%s'",
                       where(names, file, w, sizeof w), section, n,
                       config_setting_get_string(key));
            return -1;
        }
    }
    k->key = gs_xstrdup(config_setting_get_string(key));
    k->n = n;
    k->text = gs_xcalloc(n, sizeof *k->text);
    k->show = gs_xcalloc(n, sizeof *k->show);
    k->frag = gs_xcalloc(n, sizeof *k->frag);
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *v = config_setting_get_elem(values, (unsigned)i);
        k->text[i] = value_string(v, 1);
        k->show[i] = names ? gs_xstrdup(config_setting_get_string(
                                 config_setting_get_elem(names, (unsigned)i)))
                           : value_string(v, 0);
        k->frag[i] = sanitize(k->show[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(k->text[i], k->text[j]) || !strcmp(k->frag[i], k->frag[j])) {
                gs_err_set(err,
                           "%s: sweep.%s: values %zu and %zu of '%s' %s; give distinct "
                           "names = [ ... ]",
                           where(v, file, w, sizeof w), section, j + 1, i + 1, k->key,
                           strcmp(k->text[i], k->text[j]) ? "give the same directory name"
                                                          : "are equal");
                return -1;
            }
    }
    return 0;
}

/* The path's components with "[N]" read as "N". */
static size_t key_parts(const char *key, char parts[][128], size_t max)
{
    size_t n = 0;
    const char *p = key;
    while (*p && n < max) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= 2 && p[0] == '[' && p[len - 1] == ']')
            snprintf(parts[n], 128, "%.*s", (int)(len - 2), p + 1);
        else
            snprintf(parts[n], 128, "%.*s", (int)len, p);
        n++;
        p = dot ? dot + 1 : p + len;
    }
    return n;
}

/* Labels: each key's last component, lengthened where two keys would clash
   (optimizer.type and data.type). */
static void make_labels(sweep_key *keys, size_t n)
{
    size_t *depth = gs_xcalloc(n, sizeof *depth);
    for (size_t i = 0; i < n; i++)
        depth[i] = 1;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            char parts[64][128];
            size_t np = key_parts(keys[i].key, parts, 64);
            if (depth[i] > np)
                depth[i] = np;
            /* optimizer.type reads as "optimizer" */
            if (np > 1 && depth[i] == 1 && !strcmp(parts[np - 1], "type"))
                np--;
            char buf[1024] = "";
            for (size_t j = np - depth[i]; j < np; j++)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
                         j > np - depth[i] ? "." : "", parts[j]);
            free(keys[i].label);
            keys[i].label = sanitize(buf);
        }
        int clash = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (!strcmp(keys[i].label, keys[j].label)) {
                    char parts[64][128];
                    size_t before_i = depth[i], before_j = depth[j];
                    if (depth[i] < key_parts(keys[i].key, parts, 64))
                        depth[i]++;
                    if (depth[j] < key_parts(keys[j].key, parts, 64))
                        depth[j]++;
                    clash |= depth[i] != before_i || depth[j] != before_j;
                }
        if (!clash)
            break;
    }
    free(depth);
}

/* Spaces do not matter in a --set key. */
static int same_key(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < alen && (a[i] == ' ' || a[i] == '\t'))
            i++;
        while (j < blen && (b[j] == ' ' || b[j] == '\t'))
            j++;
        if (i == alen || j == blen)
            return i == alen && j == blen;
        if (a[i++] != b[j++])
            return 0;
    }
}

static int parse_section(gs_sweep *s, const config_setting_t *sw, const char *file,
                         gs_error *err)
{
    char w[1024];
    if (config_setting_type(sw) != CONFIG_TYPE_GROUP) {
        gs_err_set(err, "%s: sweep must be a group { grid = ( ... ); zip = ( ... ); }",
                   where(sw, file, w, sizeof w));
        return -1;
    }
    for (int i = 0; i < config_setting_length(sw); i++) {
        const config_setting_t *m = config_setting_get_elem(sw, (unsigned)i);
        if (strcmp(config_setting_name(m), "grid") && strcmp(config_setting_name(m), "zip")) {
            gs_err_set(err, "%s: sweep: unknown key '%s' (valid: grid, zip)",
                       where(m, file, w, sizeof w), config_setting_name(m));
            return -1;
        }
    }
    const char *sections[2] = {"grid", "zip"};
    for (int sec = 0; sec < 2; sec++) {
        const config_setting_t *list = config_setting_get_member(sw, sections[sec]);
        if (!list)
            continue;
        if (config_setting_type(list) != CONFIG_TYPE_LIST || config_setting_length(list) == 0) {
            gs_err_set(err, "%s: sweep.%s must be a non-empty list ( { key = ...; values = ...; }, ... )",
                       where(list, file, w, sizeof w), sections[sec]);
            return -1;
        }
        for (int i = 0; i < config_setting_length(list); i++) {
            const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
            s->keys = gs_xrealloc(s->keys, (s->n_keys + 1) * sizeof *s->keys);
            sweep_key *k = &s->keys[s->n_keys];
            memset(k, 0, sizeof *k);
            s->n_keys++;
            if (read_key(g, file, sections[sec], k, err) < 0)
                return -1;
            for (size_t j = 0; j + 1 < s->n_keys; j++)
                if (same_key(s->keys[j].key, strlen(s->keys[j].key), k->key, strlen(k->key))) {
                    gs_err_set(err, "%s: sweep: key '%s' is swept twice",
                               where(g, file, w, sizeof w), k->key);
                    return -1;
                }
            if (sec == 1 && k->n != s->keys[s->n_grid].n) {
                gs_err_set(err,
                           "%s: sweep.zip: '%s' has %zu values but '%s' has %zu; zipped lists "
                           "advance together and need the same length",
                           where(g, file, w, sizeof w), k->key, k->n, s->keys[s->n_grid].key,
                           s->keys[s->n_grid].n);
                return -1;
            }
        }
        if (sec == 0)
            s->n_grid = s->n_keys;
    }
    if (s->n_keys == 0) {
        gs_err_set(err, "%s: sweep needs grid = ( ... ) or zip = ( ... )",
                   where(sw, file, w, sizeof w));
        return -1;
    }
    s->zip_len = s->n_keys > s->n_grid ? s->keys[s->n_grid].n : 1;
    return 0;
}

/* Value index of key k in combination i: the zip varies fastest, then the
   grid's keys from the last to the first. */
static size_t value_index(const gs_sweep *s, size_t i, size_t k)
{
    if (k >= s->n_grid)
        return i % s->zip_len;
    size_t rest = i / s->zip_len;
    for (size_t g = s->n_grid; g-- > k + 1;)
        rest /= s->keys[g].n;
    return rest % s->keys[k].n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static int expand(gs_sweep *s, const char *file, gs_error *err)
{
    size_t count = s->zip_len;
    for (size_t g = 0; g < s->n_grid; g++) {
        if (count > (size_t)10000000 / s->keys[g].n) {
            gs_err_set(err, "%s: sweep: more than 10000000 combinations", file);
            return -1;
        }
        count *= s->keys[g].n;
    }
    s->count = count;
    s->names = gs_xcalloc(count, sizeof *s->names);
    s->sets = gs_xcalloc(count * s->n_keys, sizeof *s->sets);
    for (size_t i = 0; i < count; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
            abort();
        for (size_t k = 0; k < s->n_keys; k++) {
            size_t v = value_index(s, i, k);
            fprintf(f, "%s%s=%s", k ? "," : "", s->keys[k].label, s->keys[k].frag[v]);
            s->sets[i * s->n_keys + k] = gs_xasprintf("%s=%s", s->keys[k].key, s->keys[k].text[v]);
        }
        fclose(f);
        if (len > NAME_MAX_LEN) {
            char *short_name = gs_xasprintf("%.*s~%016llx", NAME_MAX_LEN - 17, buf,
                                            (unsigned long long)gs_hash_string(buf));
            free(buf);
            buf = short_name;
        }
        if (buf[0] == '.' || buf[0] == '-')
            buf[0] = '_';
        s->names[i] = buf;
    }
    char ***order = gs_xcalloc(count, sizeof *order);
    for (size_t i = 0; i < count; i++)
        order[i] = &s->names[i];
    qsort(order, count, sizeof *order, by_name);
    int rc = 0;
    for (size_t i = 1; i < count && rc == 0; i++)
        if (!strcmp(*order[i - 1], *order[i])) {
            gs_err_set(err, "%s: sweep: two combinations share the directory name '%s'; give "
                            "the values distinct names = [ ... ]",
                       file, *order[i]);
            rc = -1;
        }
    free(order);
    return rc;
}

/* ---- validation ---- */

static char *config_text(const gs_experiment *e, size_t v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    gs_experiment_write_config(e, v, f);
    fclose(f);
    return buf;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = gs_xrealloc(buf, cap);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = gs_xstrdup("");
    else
        buf[len] = '\0';
    return buf;
}

/* Drops the lines a restart may change without changing the run: comments
   (the gradscope version) and training.threads (results do not depend on it). */
static void strip_volatile(char *text)
{
    char *out = text;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (line[0] != '#' && strncmp(line, "  threads = ", 12) != 0) {
            memmove(out, line, len);
            out += len;
        }
        line += len;
    }
    *out = '\0';
}

static char *run_dir(const gs_sweep *s, size_t i, size_t v)
{
    return s->variants[v][0] ? gs_xasprintf("%s/%s/%s", s->dir, s->names[i], s->variants[v])
                             : gs_xasprintf("%s/%s", s->dir, s->names[i]);
}

static const char **combination_sets(const gs_sweep *s, size_t i)
{
    const char **sets = gs_xcalloc(s->opt.n_sets + s->n_keys, sizeof *sets);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        sets[k] = s->opt.sets[k];
    for (size_t k = 0; k < s->n_keys; k++)
        sets[s->opt.n_sets + k] = s->sets[i * s->n_keys + k];
    return sets;
}

static gs_experiment *load_combination(const gs_registry *reg, const gs_sweep *s, size_t i,
                                       int threads, gs_error *err)
{
    const char **sets = combination_sets(s, i);
    gs_run_options ro = {.sets = sets, .n_sets = s->opt.n_sets + s->n_keys, .threads = threads,
                         .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, s->path, &ro, err);
    free(sets);
    if (!e)
        gs_err_prefix(err, "%s: sweep combination %zu (%s): ", s->path, i, s->names[i]);
    return e;
}

/* A run directory left by an earlier start must hold this very run. */
static int check_existing(const gs_sweep *s, size_t i, const gs_experiment *e, gs_error *err)
{
    for (size_t v = 0; v < s->n_variants; v++) {
        char *dir = run_dir(s, i, v);
        char *path = gs_xasprintf("%s/config.cfg", dir);
        char *old = read_text(path);
        int rc = 0;
        if (old) {
            char *now = config_text(e, v);
            strip_volatile(old);
            strip_volatile(now);
            if (strcmp(old, now) != 0) {
                gs_err_set(err,
                           "%s: holds a run of another configuration than sweep combination "
                           "%zu (the experiment file or --set changed since it started); "
                           "remove it or choose another --out",
                           dir, i);
                rc = -1;
            }
            free(now);
            free(old);
        }
        free(path);
        free(dir);
        if (rc < 0)
            return -1;
    }
    return 0;
}

void gs_sweep_free(gs_sweep *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n_keys; k++)
        key_free(&s->keys[k]);
    free(s->keys);
    for (size_t i = 0; i < s->count; i++) {
        free(s->names[i]);
        for (size_t k = 0; k < s->n_keys; k++)
            free(s->sets[i * s->n_keys + k]);
    }
    free(s->names);
    free(s->sets);
    for (size_t v = 0; v < s->n_variants; v++)
        free(s->variants[v]);
    free(s->variants);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        free(s->opt_sets[k]);
    free(s->opt_sets);
    free(s->dir);
    free(s->path);
    free(s);
}

gs_sweep *gs_sweep_load(const gs_registry *reg, const char *path, const gs_sweep_options *opt,
                        gs_error *err)
{
    gs_sweep *s = gs_xcalloc(1, sizeof *s);
    s->path = gs_xstrdup(path);
    if (opt)
        s->opt = *opt;
    s->opt.sets = NULL;
    s->opt_sets = gs_xcalloc(s->opt.n_sets + 1, sizeof *s->opt_sets);
    for (size_t k = 0; k < s->opt.n_sets; k++)
        s->opt_sets[k] = gs_xstrdup(opt->sets[k]);
    s->opt.sets = (const char *const *)s->opt_sets;
    s->opt.dir = NULL;
    if (!s->opt.out)
        s->opt.out = stdout;

    char real[PATH_MAX];
    if (!realpath(path, real)) {
        gs_err_set(err, "%s: cannot read experiment file", path);
        goto fail;
    }
    char *dcopy = gs_xstrdup(real);
    config_t cfg;
    if (gs_config_read_file(&cfg, path, dirname(dcopy), err) < 0) {
        free(dcopy);
        goto fail;
    }
    free(dcopy);
    const config_setting_t *sw = config_lookup(&cfg, "sweep");
    int rc = sw ? parse_section(s, sw, path, err) : -1;
    if (!sw)
        gs_err_set(err, "%s: no sweep section (sweep = { grid = ( { key = \"...\"; values = "
                        "[ ... ]; } ); })",
                   path);
    config_destroy(&cfg);
    if (rc < 0)
        goto fail;
    for (size_t j = 0; j < s->opt.n_sets; j++) {
        const char *eq = strchr(s->opt.sets[j], '=');
        size_t len = eq ? (size_t)(eq - s->opt.sets[j]) : strlen(s->opt.sets[j]);
        for (size_t k = 0; k < s->n_keys; k++)
            if (same_key(s->opt.sets[j], len, s->keys[k].key, strlen(s->keys[k].key))) {
                gs_err_set(err, "--set %s: '%s' is swept; a --set would make every "
                                "combination the same",
                           s->opt.sets[j], s->keys[k].key);
                goto fail;
            }
    }
    make_labels(s->keys, s->n_keys);
    if (expand(s, path, err) < 0)
        goto fail;

    /* Every combination is valid, and every directory already there holds
       its combination, before anything is run or written. */
    for (size_t i = 0; i < s->count; i++) {
        gs_experiment *e = load_combination(reg, s, i, 0, err);
        if (!e)
            goto fail;
        if (i == 0) {
            s->n_variants = gs_experiment_variants(e);
            s->variants = gs_xcalloc(s->n_variants, sizeof *s->variants);
            for (size_t v = 0; v < s->n_variants; v++)
                s->variants[v] = gs_xstrdup(gs_experiment_variant_name(e, v));
            const char *parent = e->variants[0].output[O_DIR].s;
            s->dir = opt && opt->dir ? gs_xstrdup(opt->dir)
                                     : gs_xasprintf("%s/%s-sweep",
                                                    parent && parent[0] ? parent : "runs",
                                                    gs_experiment_name(e));
        }
        int bad = check_existing(s, i, e, err);
        gs_experiment_free(e);
        if (bad)
            goto fail;
    }
    s->opt.dir = s->dir;
    return s;
fail:
    gs_sweep_free(s);
    return NULL;
}

size_t gs_sweep_count(const gs_sweep *s) { return s->count; }
const char *gs_sweep_dir(const gs_sweep *s) { return s->dir; }
const char *gs_sweep_name(const gs_sweep *s, size_t i) { return i < s->count ? s->names[i] : NULL; }
size_t gs_sweep_keys(const gs_sweep *s) { return s->n_keys; }
const char *gs_sweep_set(const gs_sweep *s, size_t i, size_t k)
{
    return i < s->count && k < s->n_keys ? s->sets[i * s->n_keys + k] : NULL;
}

/* ---- summary.json ---- */

enum { F_STATUS, F_STEPS, F_TRAIN_LOSS, F_TRAIN_ACC, F_VAL_LOSS, F_VAL_ACC, F_TEST_LOSS,
       F_TEST_ACC, F_VERDICT, F_RATIO, F_WALL, F_COUNT };
static const char *const fields[F_COUNT] = {
    "status",   "steps",        "train_loss", "train_accuracy", "val_loss",   "val_accuracy",
    "test_loss", "test_accuracy", "verdict",  "grad_ratio_first_last", "wall_time_s"};

typedef struct row {
    char f[F_COUNT][64];
} row;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* A JSON string at p (after its quote) into out; returns the end. */
static const char *json_string(const char *p, char *out, size_t n)
{
    size_t len = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'u' ? '?' : *p;
            if (*p == 'u')
                for (int i = 0; i < 4 && p[1]; i++)
                    p++;
        }
        if (len + 1 < n)
            out[len++] = c;
    }
    out[len] = '\0';
    return *p ? p + 1 : p;
}

/* The fields of a flat summary.json; 0, or -1 when it cannot be read. */
static int read_summary(const char *dir, row *r)
{
    for (int i = 0; i < F_COUNT; i++)
        snprintf(r->f[i], sizeof r->f[i], "nan");
    char *path = gs_xasprintf("%s/summary.json", dir);
    char *text = read_text(path);
    free(path);
    if (!text)
        return -1;
    const char *p = skip_ws(text);
    int rc = *p == '{' ? 0 : -1;
    if (rc == 0)
        p++;
    while (rc == 0) {
        p = skip_ws(p);
        if (*p == '}')
            break;
        if (*p != '"') {
            rc = -1;
            break;
        }
        char key[64], val[sizeof r->f[0]];
        p = skip_ws(json_string(p + 1, key, sizeof key));
        if (*p != ':') {
            rc = -1;
            break;
        }
        p = skip_ws(p + 1);
        if (*p == '"') {
            p = json_string(p + 1, val, sizeof val);
        } else {
            size_t len = strcspn(p, ",} \n\t\r");
            snprintf(val, sizeof val, "%.*s", (int)len, p);
            p += len;
            if (!strcmp(val, "null"))
                snprintf(val, sizeof val, "nan");
        }
        for (int i = 0; i < F_COUNT; i++)
            if (!strcmp(key, fields[i]))
                snprintf(r->f[i], sizeof r->f[i], "%s", val);
        p = skip_ws(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            rc = -1;
    }
    free(text);
    return rc;
}

static int is_finished(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "diverged");
}

static int file_exists(const char *dir, const char *name)
{
    char *path = gs_xasprintf("%s/%s", dir, name);
    int ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* The row of a run directory: summary.json's fields, or a status saying
   how far it got ("running or stopped" has a config.cfg, "missing" nothing). */
static void dir_row(const char *dir, row *r)
{
    if (read_summary(dir, r) == 0)
        return;
    snprintf(r->f[F_STATUS], sizeof r->f[F_STATUS], "%s",
             file_exists(dir, "config.cfg") ? "unfinished" : "missing");
}

/* ---- running ---- */

static void print_run(const gs_sweep *s, size_t i, size_t v, const char *how)
{
    if (s->opt.quiet)
        return;
    char *dir = run_dir(s, i, v);
    row r;
    dir_row(dir, &r);
    free(dir);
    char line[1024];
    int n = snprintf(line, sizeof line, "[%zu/%zu] %s%s%s: %s%s", i + 1, s->count, s->names[i],
                     s->variants[v][0] ? "/" : "", s->variants[v], how, r.f[F_STATUS]);
    if (n > 0 && (size_t)n < sizeof line && strcmp(r.f[F_STATUS], "missing") != 0 &&
        strcmp(r.f[F_STATUS], "unfinished") != 0)
        snprintf(line + n, sizeof line - (size_t)n,
                 ", verdict %s, val_accuracy %.4f, grad_ratio %.3e, %.1f s", r.f[F_VERDICT],
                 strtod(r.f[F_VAL_ACC], NULL), strtod(r.f[F_RATIO], NULL),
                 strtod(r.f[F_WALL], NULL));
    /* one write per line: the lines of parallel jobs do not interleave */
    fprintf(s->opt.out, "%s\n", line);
    fflush(s->opt.out);
}

int gs_sweep_run_one(const gs_registry *reg, const gs_sweep *s, size_t i, int threads,
                     gs_error *err)
{
    if (i >= s->count) {
        gs_err_set(err, "sweep index %zu out of range: the sweep has %zu combinations (0 to %zu)",
                   i, s->count, s->count - 1);
        return GS_EXIT_INPUT;
    }
    size_t done = 0, configs = 0, summaries = 0;
    for (size_t v = 0; v < s->n_variants; v++) {
        char *dir = run_dir(s, i, v);
        row r;
        if (read_summary(dir, &r) == 0) {
            summaries++;
            done += is_finished(r.f[F_STATUS]);
        }
        configs += file_exists(dir, "config.cfg");
        free(dir);
    }
    char *root = gs_xasprintf("%s/%s", s->dir, s->names[i]);
    int rc;
    const char *how;
    if (done == s->n_variants) {
        rc = GS_EXIT_OK;
        how = "skipped, already ";
    } else if (configs == s->n_variants) {
        gs_run_options ro = {.threads = threads, .seed = -1, .quiet = 1, .out = s->opt.out};
        rc = gs_resume(reg, root, &ro, err);
        how = "resumed, ";
    } else if (summaries == 0) {
        gs_experiment *e = load_combination(reg, s, i, threads, err);
        if (!e) {
            free(root);
            return GS_EXIT_INPUT;
        }
        gs_run_options ro = {.out_dir = root, .seed = -1, .quiet = 1, .out = s->opt.out};
        rc = gs_experiment_run(e, &ro, err);
        gs_experiment_free(e);
        how = "";
    } else {
        gs_err_set(err, "%s: some runs of this combination finished and others never started; "
                        "remove the directory to run it again",
                   root);
        rc = GS_EXIT_INPUT;
        how = "";
    }
    if (rc != GS_EXIT_OK && rc < 128)
        gs_err_prefix(err, "[%zu/%zu] %s: ", i + 1, s->count, s->names[i]);
    else
        for (size_t v = 0; v < s->n_variants; v++)
            print_run(s, i, v, how);
    free(root);
    return rc;
}

static int mkdir_p(const char *path, gs_error *err)
{
    char *copy = gs_xstrdup(path);
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p && *p != '/')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            gs_err_set(err, "%s: cannot create the sweep directory: %s", copy, strerror(errno));
            rc = -1;
            break;
        }
        *p = saved;
        if (!saved)
            break;
    }
    free(copy);
    return rc;
}

static void csv_field(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int gs_sweep_collect(const gs_sweep *s, size_t *unfinished, gs_error *err)
{
    if (mkdir_p(s->dir, err) < 0)
        return GS_EXIT_RUNTIME;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    int has_variants = s->variants[0][0] != '\0';
    for (size_t k = 0; k < s->n_keys; k++)
        csv_field(f, s->keys[k].label, k == 0);
    if (has_variants)
        fputs(",variant", f);
    fputs(",dir", f);
    for (int i = 0; i < F_COUNT; i++)
        fprintf(f, ",%s", fields[i]);
    fputc('\n', f);
    size_t rows = s->count * s->n_variants, left = 0;
    row *r = gs_xcalloc(rows, sizeof *r);
    size_t width = 3;
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            char *dir = run_dir(s, i, v);
            row *ri = &r[i * s->n_variants + v];
            dir_row(dir, ri);
            free(dir);
            left += !is_finished(ri->f[F_STATUS]);
            for (size_t k = 0; k < s->n_keys; k++)
                csv_field(f, s->keys[k].show[value_index(s, i, k)], k == 0);
            if (has_variants)
                csv_field(f, s->variants[v], 0);
            char *rel = has_variants ? gs_xasprintf("%s/%s", s->names[i], s->variants[v])
                                     : gs_xstrdup(s->names[i]);
            csv_field(f, rel, 0);
            if (strlen(rel) > width)
                width = strlen(rel);
            free(rel);
            for (int c = 0; c < F_COUNT; c++)
                csv_field(f, ri->f[c], 0);
            fputc('\n', f);
        }
    fclose(f);
    int rc = gs_write_atomic(s->dir, "sweep.csv", buf, len, err) < 0 ? GS_EXIT_RUNTIME
                                                                      : GS_EXIT_OK;
    free(buf);
    if (rc == GS_EXIT_OK && !s->opt.quiet) {
        FILE *out = s->opt.out;
        if (width > 60)
            width = 60;
        fprintf(out, "\n%-*s %-10s %-10s %8s %10s %9s %12s %8s\n", (int)width, "run", "status",
                "verdict", "steps", "val_loss", "val_acc", "grad_ratio", "time_s");
        for (size_t i = 0; i < s->count; i++)
            for (size_t v = 0; v < s->n_variants; v++) {
                const row *ri = &r[i * s->n_variants + v];
                char *rel = has_variants ? gs_xasprintf("%s/%s", s->names[i], s->variants[v])
                                         : gs_xstrdup(s->names[i]);
                double ratio = strtod(ri->f[F_RATIO], NULL);
                fprintf(out, "%-*s %-10s %-10s %8s %10.4f %9.4f %12.3e %8.2f\n", (int)width, rel,
                        ri->f[F_STATUS], ri->f[F_VERDICT], ri->f[F_STEPS],
                        strtod(ri->f[F_VAL_LOSS], NULL), strtod(ri->f[F_VAL_ACC], NULL), ratio,
                        strtod(ri->f[F_WALL], NULL));
                free(rel);
            }
        fprintf(out, "\nsweep directory: %s (sweep.csv", s->dir);
        if (left)
            fprintf(out, "; %zu of %zu runs not finished", left, rows);
        fprintf(out, ")\n");
    }
    free(r);
    if (unfinished)
        *unfinished = left;
    return rc;
}

/* ---- one machine: in process, or `jobs` forked processes ---- */

/* Statuses of combinations no run returned from. */
enum { RC_NOT_TAKEN = -1, RC_RUNNING = -2 };

typedef struct shared_state {
    size_t next;
    int stop;
    int rc[];
} shared_state;

static volatile sig_atomic_t sweep_signal;
static shared_state *shared;
static pid_t *children;
static size_t n_children;

static void on_sweep_signal(int sig)
{
    if (!sweep_signal)
        sweep_signal = sig;
    /* a job between two runs sees this before it takes the next one */
    if (shared)
        __atomic_store_n(&shared->stop, 1, __ATOMIC_SEQ_CST);
    /* the jobs run in their own process groups, away from the terminal's
       signals: each hears it once, from here */
    for (size_t j = 0; j < n_children; j++)
        if (children[j] > 0)
            kill(children[j], sig);
}

static int available_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A job: takes the next combination until none is left or a signal stops it. */
static void job_loop(const gs_registry *reg, const gs_sweep *s, shared_state *sh, int threads)
{
    for (;;) {
        if (__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST) || sweep_signal)
            break;
        size_t i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (i >= s->count)
            break;
        gs_error err = {{0}};
        sh->rc[i] = RC_RUNNING;
        int rc = gs_sweep_run_one(reg, s, i, threads, &err);
        sh->rc[i] = rc;
        if (rc != GS_EXIT_OK && rc < 128)
            fprintf(stderr, "gradscope: %s\n", err.msg);
        if (rc >= 128) {
            __atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
            break;
        }
    }
}

int gs_sweep_run(const gs_registry *reg, const gs_sweep *s, gs_error *err)
{
    if (mkdir_p(s->dir, err) < 0)
        return GS_EXIT_RUNTIME;
    size_t jobs = s->opt.jobs > 1 ? (size_t)s->opt.jobs : 1;
    if (jobs > s->count)
        jobs = s->count;
    int threads = s->opt.threads;
    if (jobs > 1) {
        int total = threads > 0 ? threads : available_cpus();
        threads = total / (int)jobs > 1 ? total / (int)jobs : 1;
    }
    size_t bytes = sizeof(shared_state) + s->count * sizeof(int);
    shared_state *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        gs_err_set(err, "cannot map shared memory: %s", strerror(errno));
        return GS_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < s->count; i++)
        sh->rc[i] = RC_NOT_TAKEN;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sweep_signal;
    sigemptyset(&sa.sa_mask);
    sweep_signal = 0;
    shared = sh;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!s->opt.quiet)
        fprintf(s->opt.out, "sweep: %zu combinations into %s, %zu at a time\n", s->count,
                s->dir, jobs);
    int rc = GS_EXIT_OK;
    if (jobs == 1) {
        job_loop(reg, s, sh, threads);
    } else {
        sigset_t block, old_mask;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        pid_t *pids = gs_xcalloc(jobs, sizeof *pids);
        fflush(NULL);
        /* a signal during the forks waits until every pid is known */
        sigprocmask(SIG_BLOCK, &block, &old_mask);
        for (size_t j = 0; j < jobs; j++) {
            pid_t pid = fork();
            if (pid == 0) {
                setpgid(0, 0);
                n_children = 0;
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                job_loop(reg, s, sh, threads);
                fflush(NULL);
                _exit(0);
            }
            if (pid < 0) {
                gs_err_set(err, "fork: %s", strerror(errno));
                rc = GS_EXIT_RUNTIME;
                __atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
                break;
            }
            setpgid(pid, pid);
            pids[j] = pid;
        }
        children = pids;
        n_children = jobs;
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        for (size_t j = 0; j < jobs; j++) {
            if (pids[j] <= 0)
                continue;
            int status;
            while (waitpid(pids[j], &status, 0) < 0 && errno == EINTR)
                ;
            pids[j] = 0;
        }
        n_children = 0;
        children = NULL;
        free(pids);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    shared = NULL;
    size_t failed = 0, first_failed = 0, not_run = 0;
    int stopped = 0;
    for (size_t i = 0; i < s->count; i++) {
        if (sh->rc[i] >= 128 && !stopped)
            stopped = sh->rc[i];
        /* a job that died (SIGKILL, out of memory) left its combination running */
        if (sh->rc[i] == RC_RUNNING)
            fprintf(stderr, "gradscope: [%zu/%zu] %s: its job died during the run; run the "
                            "sweep again to resume it\n",
                    i + 1, s->count, s->names[i]);
        if (sh->rc[i] == RC_NOT_TAKEN)
            not_run++;
        else if (sh->rc[i] != GS_EXIT_OK && sh->rc[i] < 128 && !failed++)
            first_failed = i;
    }
    if (sweep_signal && !stopped)
        stopped = 128 + (int)sweep_signal;
    munmap(sh, bytes);
    if (rc != GS_EXIT_OK)
        return rc;
    gs_error cerr = {{0}};
    int crc = gs_sweep_collect(s, NULL, &cerr);
    if (stopped) {
        if (crc != GS_EXIT_OK)
            fprintf(stderr, "gradscope: %s\n", cerr.msg);
        return stopped;
    }
    if (failed) {
        gs_err_set(err, "%zu of %zu combinations failed (the first: %zu, %s) and %zu did not "
                        "start; see the messages above; run the sweep again to retry them",
                   failed, s->count, first_failed, s->names[first_failed], not_run);
        return GS_EXIT_RUNTIME;
    }
    if (crc != GS_EXIT_OK) {
        *err = cerr;
        return crc;
    }
    return GS_EXIT_OK;
}
