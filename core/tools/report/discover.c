/*
 * gradscope report: which directories are runs (run.h).  A run directory
 * holds summary.json or metrics.csv, even a run cut short; a directory with
 * neither stands for the runs its index.csv lists (an experiment's
 * variants, a sweep's runs, the variants of a sweep's combinations two
 * levels down), or without one for the runs in its subdirectories.
 */
#define _GNU_SOURCE /* versionsort */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tools/report/run.h"
#include "base/util.h"

static int is_run(const char *dir)
{
    const char *marks[] = {GS_FILE_SUMMARY, gs_logs[GS_LOG_METRICS].file};
    for (size_t i = 0; i < GS_ARRAY_LEN(marks); i++) {
        char *p = gs_xasprintf("%s/%s", dir, marks[i]);
        struct stat st;
        int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
        free(p);
        if (ok)
            return 1;
    }
    return 0;
}

static void add_run(runs *rs, const char *dir)
{
    rs->v = gs_xrealloc(rs->v, (rs->n + 1) * sizeof *rs->v);
    run *r = &rs->v[rs->n++];
    memset(r, 0, sizeof *r);
    r->dir = gs_xstrdup(dir);
}

static int only_dirs(const struct dirent *d) { return d->d_name[0] != '.'; }

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The label of swept key `key` in group labels (*len characters from the
   pointer returned): its last component (a final "type" gives way to its
   group: optimizer.type is "optimizer"). */
static const char *key_label(const char *key, size_t *len)
{
    const char *last = strrchr(key, '.');
    const char *start = last ? last + 1 : key;
    *len = strlen(start);
    if (last && !strcmp(start, "type")) {
        const char *prev = last;
        while (prev > key && prev[-1] != '.')
            prev--;
        if (prev < last) {
            start = prev;
            *len = (size_t)(last - prev);
        }
    }
    return start;
}

/* The last two components of key without brackets ("[0].activation" is
   "0.activation", as in a sweep's directory names) unless another of the
   swept keys ends the same way; then the whole key. */
static void two_components(sbuf *b, const char *key, const gs_table *t, const int *swept,
                           size_t ns)
{
    const char *start = key + strlen(key);
    for (int dots = 0; start > key; start--)
        if (start[-1] == '.' && ++dots == 2)
            break;
    size_t n = strlen(start);
    int same = 0;
    for (size_t j = 0; j < ns; j++) {
        const char *o = t->names[swept[j]];
        size_t on = strlen(o);
        same += on >= n && !strcmp(o + on - n, start) && (on == n || o[on - n - 1] == '.');
    }
    if (start == key || same > 1) {
        sb_puts(b, key);
        return;
    }
    for (const char *c = start; *c; c++)
        if (*c != '[' && *c != ']')
            sb_put(b, c, 1);
}

static rp_group *find_group(runs *rs, size_t from, const char *id)
{
    for (size_t i = from; i < rs->ng; i++)
        if (!strcmp(rs->g[i].id, id))
            return &rs->g[i];
    return NULL;
}

static void add_member(rp_group *g, long ri, const char *status)
{
    g->m = gs_xrealloc(g->m, (g->n + 1) * sizeof *g->m);
    g->m[g->n++] = (rp_member){ri, gs_xstrdup(status)};
}

static void free_groups(runs *rs, size_t from)
{
    for (size_t i = from; i < rs->ng; i++) {
        rp_group *g = &rs->g[i];
        for (size_t k = 0; k < g->n; k++)
            free(g->m[k].status);
        free(g->m);
        free(g->label);
        free(g->origin);
        free(g->id);
    }
    rs->ng = from;
}

/*
 * The runs index.csv lists, in its order.  Rows with the same variant and
 * swept values are one group (their seeds); the groups are kept when there
 * is something to gather: a swept key, or several rows in a group.  A row
 * whose directory holds no run (pending, or deleted) still counts in its
 * group.
 */
static size_t add_from_index(runs *rs, const char *dir, const gs_table *t)
{
    size_t n_fixed = gs_index_format.n_columns, g0 = rs->ng, found = 0;
    int *swept = gs_xmalloc((t->ncol + 1) * sizeof(int));
    size_t ns = 0;
    for (size_t c = 0; c < t->ncol; c++) {
        int fixed = 0;
        for (size_t k = 0; k < n_fixed; k++)
            fixed |= t->col[k] == (int)c;
        if (!fixed)
            swept[ns++] = (int)c;
    }
    int several = 0;
    for (size_t row = 0; row < t->rows; row++) {
        const char *path = gs_table_cell(t, row, GS_INDEX_PATH);
        const char *variant = gs_table_cell(t, row, GS_INDEX_VARIANT);
        const char *status = gs_table_cell(t, row, GS_INDEX_STATUS);
        if (!*path)
            continue;
        char *sub = gs_xasprintf("%s/%s", dir, path);
        long ri = -1;
        for (size_t i = 0; i < rs->n && ri < 0; i++)
            if (!strcmp(rs->v[i].dir, sub))
                ri = (long)i;
        if (ri < 0 && is_run(sub)) {
            add_run(rs, sub);
            ri = (long)rs->n - 1;
        }
        found += ri >= 0;
        free(sub);
        sbuf id = {0}, label = {0};
        sb_puts(&id, variant);
        sb_puts(&label, variant);
        for (size_t k = 0; k < ns; k++) {
            const char *key = t->names[swept[k]];
            const char *val = t->cells[row * t->ncol + (size_t)swept[k]];
            sb_printf(&id, "\x1f%s", val);
            /* the short label unless another key has it too */
            size_t kl, ol;
            const char *kp = key_label(key, &kl);
            int clash = 0;
            for (size_t j = 0; j < ns; j++) {
                const char *op = key_label(t->names[swept[j]], &ol);
                clash |= j != k && ol == kl && !strncmp(op, kp, kl);
            }
            if (label.len)
                sb_puts(&label, ", ");
            if (clash)
                two_components(&label, key, t, swept, ns);
            else
                sb_put(&label, kp, kl);
            sb_printf(&label, "=%s", val);
        }
        rp_group *g = find_group(rs, g0, id.s ? id.s : "");
        if (!g) {
            rs->g = gs_xrealloc(rs->g, (rs->ng + 1) * sizeof *rs->g);
            g = &rs->g[rs->ng++];
            *g = (rp_group){.label = gs_xstrdup(label.s ? label.s : base_name(dir)),
                            .origin = gs_xstrdup(base_name(dir)),
                            .id = gs_xstrdup(id.s ? id.s : "")};
        }
        sb_free(&id);
        sb_free(&label);
        /* a finished run that is not there was moved or deleted */
        gs_run_status st;
        add_member(g, ri, ri < 0 && (!*status || gs_status_parse(status, &st) == 0) ? "missing"
                                                                                   : status);
        several |= g->n > 1;
    }
    free(swept);
    if (!ns && !several)
        free_groups(rs, g0);
    return found;
}

int rp_add_runs(runs *rs, const char *arg, gs_error *err)
{
    char *dir = gs_xstrdup(arg);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    struct stat st;
    int rc = GS_EXIT_OK, irc;
    gs_table index;
    gs_error ierr;
    if (stat(dir, &st) != 0) {
        gs_err_set(err, "%s: %s", arg, strerror(errno));
        rc = GS_EXIT_INPUT;
    } else if (!S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: not a directory", arg);
        rc = GS_EXIT_INPUT;
    } else if (is_run(dir)) {
        add_run(rs, dir);
    } else if ((irc = gs_table_read(&index, dir, &gs_index_format, &ierr)) == 0) {
        size_t found = add_from_index(rs, dir, &index);
        gs_table_free(&index);
        if (!found) {
            gs_err_set(err, "%s: no run in it has started (%s lists no directory with %s or %s)",
                       arg, GS_FILE_INDEX, GS_FILE_SUMMARY, gs_logs[GS_LOG_METRICS].file);
            rc = GS_EXIT_INPUT;
        }
    } else {
        gs_table_free(&index); /* what a failed read left */
        if (irc < 0) {
            sb_puts(&rs->notes, "<li>");
            sb_esc(&rs->notes, ierr.msg);
            sb_puts(&rs->notes, "; runs found in the subdirectories instead</li>");
        }
        struct dirent **list;
        int n = scandir(dir, &list, only_dirs, versionsort);
        size_t found = 0;
        for (int i = 0; i < n; i++) {
            char *sub = gs_xasprintf("%s/%s", dir, list[i]->d_name);
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && is_run(sub)) {
                add_run(rs, sub);
                found++;
            }
            free(sub);
            free(list[i]);
        }
        if (n >= 0)
            free(list);
        if (!found) {
            gs_err_set(err,
                       "%s: not a run directory (no %s or %s in it or in any subdirectory)", arg,
                       GS_FILE_SUMMARY, gs_logs[GS_LOG_METRICS].file);
            rc = GS_EXIT_INPUT;
        }
    }
    free(dir);
    return rc;
}

void rp_label_runs(runs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        int dup = 0;
        for (size_t j = 0; j < rs->n; j++)
            dup |= j != i && !strcmp(base_name(rs->v[i].dir), base_name(rs->v[j].dir));
        const char *b = base_name(rs->v[i].dir);
        if (!dup || b == rs->v[i].dir) {
            rs->v[i].label = gs_xstrdup(b);
            continue;
        }
        size_t plen = (size_t)(b - 1 - rs->v[i].dir);
        const char *p = rs->v[i].dir + plen;
        while (p > rs->v[i].dir && p[-1] != '/')
            p--;
        rs->v[i].label = gs_xasprintf("%.*s/%s", (int)(rs->v[i].dir + plen - p), p, b);
    }
    /* groups of several sweep directories: named after theirs */
    for (size_t i = 1; i < rs->ng; i++)
        if (strcmp(rs->g[i].origin, rs->g[0].origin)) {
            for (size_t k = 0; k < rs->ng; k++) {
                char *l = gs_xasprintf("%s: %s", rs->g[k].origin, rs->g[k].label);
                free(rs->g[k].label);
                rs->g[k].label = l;
            }
            break;
        }
    /* the same run twice, or parents with the same name: numbered */
    for (size_t i = 1; i < rs->n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rs->v[i].label, rs->v[j].label)) {
                char *l = gs_xasprintf("%s #%zu", rs->v[i].label, i + 1);
                free(rs->v[i].label);
                rs->v[i].label = l;
                break;
            }
}

void rp_runs_free(runs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        rp_run_free(&rs->v[i]);
    free(rs->v);
    free_groups(rs, 0);
    free(rs->g);
    sb_free(&rs->notes);
    memset(rs, 0, sizeof *rs);
}

const char *rp_member_status(const runs *rs, const rp_member *m)
{
    if (m->run < 0)
        return m->status;
    const run *r = &rs->v[m->run];
    if (r->has_summary > 0)
        return gs_status_name(r->summary.status);
    return r->has_summary ? GS_INDEX_DAMAGED : GS_INDEX_UNFINISHED;
}
