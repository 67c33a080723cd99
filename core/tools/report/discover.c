/*
 * gradscope report: which directories are runs (run.h).  A run directory
 * holds summary.json or metrics.csv, even a run cut short; a directory with
 * neither stands for the runs in its subdirectories, which covers an
 * experiment's variants and a sweep's runs alike.
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

int rp_add_runs(runs *rs, const char *arg, gs_error *err)
{
    char *dir = gs_xstrdup(arg);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    struct stat st;
    int rc = GS_EXIT_OK;
    if (stat(dir, &st) != 0) {
        gs_err_set(err, "%s: %s", arg, strerror(errno));
        rc = GS_EXIT_INPUT;
    } else if (!S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: not a directory", arg);
        rc = GS_EXIT_INPUT;
    } else if (is_run(dir)) {
        add_run(rs, dir);
    } else {
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

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
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
    memset(rs, 0, sizeof *rs);
}
