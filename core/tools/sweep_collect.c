/*
 * What a sweep's run directories hold, read back through the run-directory
 * format (rundir/format.h): sweep.csv, the table for people (the swept
 * values by label, then the summary's fields), index.csv, the map for
 * programs (each run's path, variant, seed, status and swept values), and
 * the table printed at the end of a sweep.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"
#include "rundir/rundir.h"
#include "tools/sweep.h"

gs_sweep_state gs_sweep_read_run(const char *dir, gs_summary *sum, gs_error *err)
{
    int rc = gs_summary_read(dir, sum, err);
    if (rc == 0)
        return GS_SWEEP_SUMMARY;
    if (rc < 0)
        return GS_SWEEP_DAMAGED;
    char *path = gs_xasprintf("%s/%s", dir, GS_FILE_CONFIG);
    int started = access(path, F_OK) == 0;
    free(path);
    return started ? GS_SWEEP_UNFINISHED : GS_SWEEP_PENDING;
}

const char *gs_sweep_status(gs_sweep_state st, const gs_summary *sum)
{
    switch (st) {
    case GS_SWEEP_SUMMARY: return gs_status_name(sum->status);
    case GS_SWEEP_UNFINISHED: return GS_INDEX_UNFINISHED;
    case GS_SWEEP_DAMAGED: return GS_INDEX_DAMAGED;
    default: return "missing";
    }
}

/* sweep.csv's columns after the swept values, the variant and dir. */
enum { F_STATUS, F_STEPS, F_TRAIN_LOSS, F_TRAIN_ACC, F_VAL_LOSS, F_VAL_ACC, F_TEST_LOSS,
       F_TEST_ACC, F_VERDICT, F_RATIO, F_WALL, F_COUNT };
static const char *const fields[F_COUNT] = {
    "status",   "steps",        "train_loss", "train_accuracy", "val_loss",   "val_accuracy",
    "test_loss", "test_accuracy", "verdict",  "grad_ratio_first_last", "wall_time_s"};

typedef struct row {
    gs_sweep_state state;
    gs_summary sum;
    char f[F_COUNT][32]; /* as summary.json has them; "nan" for null or absent */
} row;

static void read_row(const char *dir, row *r, gs_error *err)
{
    r->state = gs_sweep_read_run(dir, &r->sum, err);
    for (int c = 0; c < F_COUNT; c++)
        snprintf(r->f[c], sizeof r->f[c], "nan");
    snprintf(r->f[F_STATUS], sizeof r->f[F_STATUS], "%s", gs_sweep_status(r->state, &r->sum));
    if (r->state != GS_SWEEP_SUMMARY)
        return;
    const gs_summary *s = &r->sum;
    snprintf(r->f[F_STEPS], sizeof r->f[F_STEPS], "%llu", (unsigned long long)s->steps);
    snprintf(r->f[F_VERDICT], sizeof r->f[F_VERDICT], "%s", gs_verdict_name(s->verdict));
    const struct { int col; double v; } nums[] = {
        {F_TRAIN_LOSS, s->train_loss}, {F_TRAIN_ACC, s->train_accuracy},
        {F_VAL_LOSS, s->val_loss},     {F_VAL_ACC, s->val_accuracy},
        {F_TEST_LOSS, s->test_loss},   {F_TEST_ACC, s->test_accuracy},
        {F_RATIO, s->grad_ratio_first_last}, {F_WALL, s->wall_time_s}};
    /* summary.json's own "%.10g" (rundir.c's gs_json_num), which reads back
       to the same text: sweep.csv shows the numbers as the file has them */
    for (size_t k = 0; k < GS_ARRAY_LEN(nums); k++)
        if (isfinite(nums[k].v))
            snprintf(r->f[nums[k].col], sizeof r->f[0], "%.10g", nums[k].v);
}

static int finished(const row *r)
{
    return r->state == GS_SWEEP_SUMMARY && gs_status_finished(r->sum.status);
}

static int write_sweep_csv(const gs_sweep *s, const row *r, gs_error *err)
{
    gs_memfile mf;
    gs_memfile_open(&mf);
    FILE *f = mf.f;
    int has_variants = s->variants[0][0] != '\0';
    for (size_t k = 0; k < s->n_keys; k++)
        gs_csv_cell(f, s->keys[k].label, k == 0);
    if (has_variants)
        fputs(",variant", f);
    fputs(",dir", f);
    for (int i = 0; i < F_COUNT; i++)
        fprintf(f, ",%s", fields[i]);
    fputc('\n', f);
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            for (size_t k = 0; k < s->n_keys; k++)
                gs_csv_cell(f, s->keys[k].show[gs_sweep_value_index(s, i, k)], k == 0);
            if (has_variants)
                gs_csv_cell(f, s->variants[v], 0);
            char *rel = gs_sweep_run_path(s, i, v);
            gs_csv_cell(f, rel, 0);
            free(rel);
            for (int c = 0; c < F_COUNT; c++)
                gs_csv_cell(f, r[i * s->n_variants + v].f[c], 0);
            fputc('\n', f);
        }
    return gs_memfile_commit(&mf, s->dir, GS_FILE_SWEEP, err);
}

static const char *index_status(const row *r)
{
    return r->state == GS_SWEEP_PENDING ? GS_INDEX_PENDING : gs_sweep_status(r->state, &r->sum);
}

/* A swept key with a fixed column's name (a swept seed) has no column of
   its own: the fixed column holds its value. */
static int has_column(const gs_sweep_key *k)
{
    for (size_t c = 0; c < gs_index_format.n_columns; c++)
        if (!strcmp(k->column, gs_index_format.columns[c]))
            return 0;
    return 1;
}

static int write_index(const gs_sweep *s, const row *r, gs_error *err)
{
    size_t n = s->count * s->n_variants, n_keys = 0;
    const char **keys = gs_xcalloc(s->n_keys + 1, sizeof *keys);
    size_t *swept = gs_xcalloc(s->n_keys + 1, sizeof *swept);
    for (size_t k = 0; k < s->n_keys; k++)
        if (has_column(&s->keys[k])) {
            swept[n_keys] = k;
            keys[n_keys++] = s->keys[k].column;
        }
    gs_index_row *rows = gs_xcalloc(n, sizeof *rows);
    const char **values = gs_xcalloc(n * n_keys + 1, sizeof *values);
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            size_t j = i * s->n_variants + v;
            for (size_t k = 0; k < n_keys; k++) {
                const gs_sweep_key *key = &s->keys[swept[k]];
                values[j * n_keys + k] = key->plain[gs_sweep_value_index(s, i, swept[k])];
            }
            rows[j] = (gs_index_row){.path = gs_sweep_run_path(s, i, v),
                                     .variant = s->variants[v],
                                     .seed = s->seeds[j],
                                     .status = index_status(&r[j]),
                                     .values = values + j * n_keys};
        }
    int rc = gs_index_write(s->dir, rows, n, keys, n_keys, err);
    for (size_t j = 0; j < n; j++)
        free((char *)rows[j].path);
    free(rows);
    free(values);
    free(swept);
    free(keys);
    return rc;
}

static void print_table(const gs_sweep *s, const row *r, size_t left)
{
    FILE *out = s->opt.out;
    size_t rows = s->count * s->n_variants, width = 3;
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            char *rel = gs_sweep_run_path(s, i, v);
            if (strlen(rel) > width)
                width = strlen(rel);
            free(rel);
        }
    if (width > 60)
        width = 60;
    fprintf(out, "\n%-*s %-10s %-10s %8s %10s %9s %12s %8s\n", (int)width, "run", "status",
            "verdict", "steps", "val_loss", "val_acc", "grad_ratio", "time_s");
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            const row *ri = &r[i * s->n_variants + v];
            char *rel = gs_sweep_run_path(s, i, v);
            fprintf(out, "%-*s %-10s %-10s %8s %10.4f %9.4f %12.3e %8.2f\n", (int)width, rel,
                    ri->f[F_STATUS], ri->f[F_VERDICT], ri->f[F_STEPS],
                    strtod(ri->f[F_VAL_LOSS], NULL), strtod(ri->f[F_VAL_ACC], NULL),
                    strtod(ri->f[F_RATIO], NULL), strtod(ri->f[F_WALL], NULL));
            free(rel);
        }
    fprintf(out, "\nsweep directory: %s (%s, %s", s->dir, GS_FILE_SWEEP, GS_FILE_INDEX);
    if (left)
        fprintf(out, "; %zu of %zu runs not finished", left, rows);
    fprintf(out, ")\n");
}

int gs_sweep_collect(const gs_sweep *s, size_t *unfinished, gs_error *err)
{
    if (gs_sweep_mkdir(s, err) < 0)
        return GS_EXIT_RUNTIME;
    size_t rows = s->count * s->n_variants, left = 0, damaged = 0;
    row *r = gs_xcalloc(rows, sizeof *r);
    gs_error first_damage = {{0}};
    for (size_t i = 0; i < s->count; i++)
        for (size_t v = 0; v < s->n_variants; v++) {
            char *dir = gs_sweep_run_dir(s, i, v);
            row *ri = &r[i * s->n_variants + v];
            gs_error derr = {{0}};
            read_row(dir, ri, &derr);
            free(dir);
            left += !finished(ri);
            if (ri->state == GS_SWEEP_DAMAGED && !damaged++)
                first_damage = derr;
        }
    int rc = GS_EXIT_OK;
    if (write_sweep_csv(s, r, err) < 0 || write_index(s, r, err) < 0)
        rc = GS_EXIT_RUNTIME;
    if (rc == GS_EXIT_OK && !s->opt.quiet)
        print_table(s, r, left);
    free(r);
    if (unfinished)
        *unfinished = left;
    /* the tables are written either way: they show which run it is */
    if (rc == GS_EXIT_OK && damaged) {
        if (damaged > 1)
            gs_err_set(err, "%s (and %zu more damaged summaries: see the status column of %s)",
                       first_damage.msg, damaged - 1, GS_FILE_SWEEP);
        else
            *err = first_damage;
        rc = GS_EXIT_INPUT;
    }
    return rc;
}
