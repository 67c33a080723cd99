/*
 * The `sweep` section of an experiment file read and expanded: its keys
 * and values checked (every error names the file and line), each key given
 * a short label, and the combinations listed in order with their directory
 * names and "KEY=VALUE" overrides.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "base/rng.h"
#include "base/util.h"
#include "tools/sweep.h"

/* Longest subdirectory name before it is shortened with a hash. */
#define NAME_MAX_LEN 200

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
    gs_strbuf b;
    put_value(gs_strbuf_open(&b), s, syntax);
    return gs_strbuf_close(&b);
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

void gs_sweep_key_free(gs_sweep_key *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->text[i]);
        free(k->plain[i]);
        free(k->show[i]);
        free(k->frag[i]);
    }
    free(k->text);
    free(k->plain);
    free(k->show);
    free(k->frag);
    free(k->key);
    free(k->column);
    free(k->label);
}

static int read_key(const config_setting_t *g, const char *file, const char *section,
                    gs_sweep_key *k, gs_error *err)
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
    k->column = gs_xstrdup(k->key);
    char *c = k->column;
    for (const char *p = k->key; *p; p++)
        if (*p != ' ' && *p != '\t')
            *c++ = *p;
    *c = '\0';
    k->n = n;
    k->text = gs_xcalloc(n, sizeof *k->text);
    k->plain = gs_xcalloc(n, sizeof *k->plain);
    k->show = gs_xcalloc(n, sizeof *k->show);
    k->frag = gs_xcalloc(n, sizeof *k->frag);
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *v = config_setting_get_elem(values, (unsigned)i);
        k->text[i] = value_string(v, 1);
        k->plain[i] = value_string(v, 0);
        /* a cell of index.csv, which its readers take a line at a time */
        if (strpbrk(k->plain[i], "\n\r")) {
            gs_err_set(err,
                       "%s: sweep.%s: value %zu of '%s' holds a line break; swept values may "
                       "not (they are cells of %s)",
                       where(v, file, w, sizeof w), section, i + 1, k->key, GS_FILE_INDEX);
            return -1;
        }
        k->show[i] = gs_xstrdup(names ? config_setting_get_string(
                                            config_setting_get_elem(names, (unsigned)i))
                                      : k->plain[i]);
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
static void make_labels(gs_sweep_key *keys, size_t n)
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
int gs_sweep_same_key(const char *a, size_t alen, const char *b, size_t blen)
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

int gs_sweep_parse(gs_sweep *s, const config_setting_t *sw, const char *file, gs_error *err)
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
            gs_sweep_key *k = &s->keys[s->n_keys];
            memset(k, 0, sizeof *k);
            s->n_keys++;
            if (read_key(g, file, sections[sec], k, err) < 0)
                return -1;
            for (size_t j = 0; j + 1 < s->n_keys; j++)
                if (gs_sweep_same_key(s->keys[j].key, strlen(s->keys[j].key), k->key,
                                      strlen(k->key))) {
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
size_t gs_sweep_value_index(const gs_sweep *s, size_t i, size_t k)
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

int gs_sweep_expand(gs_sweep *s, const char *file, gs_error *err)
{
    make_labels(s->keys, s->n_keys);
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
        gs_strbuf name;
        FILE *f = gs_strbuf_open(&name);
        for (size_t k = 0; k < s->n_keys; k++) {
            size_t v = gs_sweep_value_index(s, i, k);
            fprintf(f, "%s%s=%s", k ? "," : "", s->keys[k].label, s->keys[k].frag[v]);
            s->sets[i * s->n_keys + k] = gs_xasprintf("%s=%s", s->keys[k].key, s->keys[k].text[v]);
        }
        char *buf = gs_strbuf_close(&name);
        if (name.len > NAME_MAX_LEN) {
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
