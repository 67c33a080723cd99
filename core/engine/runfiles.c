/*
 * The files of a run directory that the trainer writes whole, through the
 * format's definitions (rundir/format.h, docs/FORMAT.md): config.cfg,
 * model.csv and summary.json, and an experiment's index.csv.  The logs are
 * the monitor's; checkpoint.bin is checkpoint.c's.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"
#include "engine/trainer.h"
#include "rundir/rundir.h"

int gs_write_config(const char *dir, const gs_variant *v, gs_error *err)
{
    gs_memfile mf;
    gs_memfile_open(&mf);
    gs_variant_write(v, mf.f);
    return gs_memfile_commit(&mf, dir, GS_FILE_CONFIG, err);
}

/* ---- model.csv ---- */

static const char *layout_name(gs_layout layout)
{
    switch (layout) {
    case GS_LAYOUT_IMAGE: return "image";
    case GS_LAYOUT_SEQUENCE: return "sequence";
    case GS_LAYOUT_VECTOR: break;
    }
    return "vector";
}

/* Per-example dimensions joined by 'x': "784", "1x28x28". */
static void shape_text(FILE *f, const gs_shape *s)
{
    for (int d = 0; d < s->ndim; d++)
        fprintf(f, "%s%zu", d ? "x" : "", s->dims[d]);
}

int gs_write_model_table(const char *dir, const gs_variant *v, const gs_model *m,
                         gs_error *err)
{
    gs_memfile mf;
    gs_memfile_open(&mf);
    FILE *f = mf.f;
    gs_format_write_header(f, &gs_model_format, 1);
    /* Top-level layer l is copy r of the configuration's layer entry i, in
       the order gs_trainer_prepare adds them. */
    size_t l = 0;
    for (size_t i = 0; i < v->n_layers; i++)
        for (int64_t r = 0; r < v->layers[i].repeat && l < m->n_layers; r++, l++) {
            const gs_module *mod = m->layers[l];
            size_t params = 0;
            for (size_t p = 0; p < m->n_params; p++)
                if (m->params[p]->layer == (int)l && m->params[p]->pub.role != GS_ROLE_BUFFER)
                    params += m->params[p]->numel;
            fprintf(f, "%zu,model.layers.[%zu]", l, i);
            if (v->layers[i].repeat > 1)
                fprintf(f, "#%lld", (long long)r);
            fprintf(f, ",%s,%s,%s,", gs_module_type(mod),
                    mod->is_activation ? "activation" : "layer", layout_name(mod->out.layout));
            shape_text(f, &mod->in);
            fputc(',', f);
            shape_text(f, &mod->out);
            fprintf(f, ",%zu\n", params);
        }
    return gs_memfile_commit(&mf, dir, GS_FILE_MODEL, err);
}

/* ---- summary.json ---- */

int gs_write_summary(const char *dir, const gs_result *r, const char *detail, gs_error *err)
{
    gs_summary s;
    gs_summary_init(&s);
    s.status = r->status;
    snprintf(s.detail, sizeof s.detail, "%s", detail);
    s.steps = r->steps;
    s.train_loss = r->train_loss;
    s.train_accuracy = r->train_acc;
    s.val_loss = r->val_loss;
    s.val_accuracy = r->val_acc;
    s.test_loss = r->test_loss;
    s.test_accuracy = r->test_acc;
    s.wall_time_s = r->seconds;
    s.grad_ratio_first_last = r->ratio;
    s.verdict = r->verdict.kind;
    s.verdict_layer = r->verdict.layer;
    s.verdict_step = (long long)r->verdict.step;
    s.verdict_t = r->verdict.kind != GS_VERDICT_HEALTHY ? r->verdict.t : -1;
    snprintf(s.verdict_detail, sizeof s.verdict_detail, "%s", r->verdict.detail);
    if (r->theory.valid) {
        s.chi_predicted = r->theory.chi_predicted;
        s.chi_measured = r->theory.chi_measured;
        s.chi_path = r->theory.chi_path;
    }
    snprintf(s.gradscope_version, sizeof s.gradscope_version, "%s", PACKAGE_VERSION);
    return gs_summary_write(dir, &s, err);
}

/* ---- index.csv ---- */

const char *gs_run_index_status(const char *dir)
{
    gs_summary s;
    gs_error ignored;
    int rc = gs_summary_read(dir, &s, &ignored);
    if (rc == 0)
        return gs_status_name(s.status);
    if (rc < 0)
        return GS_INDEX_DAMAGED;
    /* the logs are opened when training begins */
    char *path = gs_xasprintf("%s/%s", dir, gs_logs[GS_LOG_METRICS].file);
    int started = access(path, F_OK) == 0;
    free(path);
    return started ? GS_INDEX_UNFINISHED : GS_INDEX_PENDING;
}

int gs_write_experiment_index(const char *root, const gs_experiment *e, size_t running,
                              gs_error *err)
{
    size_t n = e->n_variants;
    gs_index_row *rows = gs_xcalloc(n, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        const gs_variant *v = &e->variants[i];
        char *dir = gs_xasprintf("%s/%s", root, v->label);
        rows[i] = (gs_index_row){.path = v->label,
                                 .variant = v->label,
                                 .seed = v->seed,
                                 .status = i == running ? GS_INDEX_UNFINISHED
                                                        : gs_run_index_status(dir)};
        free(dir);
    }
    int rc = gs_index_write(root, rows, n, NULL, 0, err);
    free(rows);
    return rc;
}

int gs_refresh_index(const char *root, gs_error *err)
{
    gs_table t;
    int rc = gs_table_read(&t, root, &gs_index_format, err);
    if (rc != 0) {
        gs_table_free(&t);
        return rc > 0 ? 0 : -1;
    }
    /* every column the format does not name is a swept key, kept as it is */
    size_t n_keys = 0;
    const char **keys = gs_xcalloc(t.ncol + 1, sizeof *keys);
    size_t *key_col = gs_xcalloc(t.ncol + 1, sizeof *key_col);
    for (size_t c = 0; c < t.ncol; c++) {
        int fixed = 0;
        for (size_t k = 0; k < gs_index_format.n_columns; k++)
            fixed |= t.col[k] == (int)c;
        if (!fixed) {
            key_col[n_keys] = c;
            keys[n_keys++] = t.names[c];
        }
    }
    gs_index_row *rows = gs_xcalloc(t.rows + 1, sizeof *rows);
    const char **values = gs_xcalloc(t.rows * n_keys + 1, sizeof *values);
    for (size_t r = 0; r < t.rows && rc == 0; r++) {
        const char *seed = gs_table_cell(&t, r, GS_INDEX_SEED);
        char *end;
        errno = 0;
        long long s = strtoll(seed, &end, 10);
        if (end == seed || *end || errno) {
            gs_err_set(err, "%s: row %zu: seed \"%s\" is not an integer", t.path, r + 1, seed);
            rc = -1;
            break;
        }
        const char *path = gs_table_cell(&t, r, GS_INDEX_PATH);
        char *dir = gs_xasprintf("%s/%s", root, path);
        for (size_t k = 0; k < n_keys; k++)
            values[r * n_keys + k] = t.cells[r * t.ncol + key_col[k]];
        rows[r] = (gs_index_row){.path = path,
                                 .variant = gs_table_cell(&t, r, GS_INDEX_VARIANT),
                                 .seed = s,
                                 .status = gs_run_index_status(dir),
                                 .values = values + r * n_keys};
        free(dir);
    }
    if (rc == 0)
        rc = gs_index_write(root, rows, t.rows, keys, n_keys, err);
    free(values);
    free(rows);
    free(key_col);
    free(keys);
    gs_table_free(&t);
    return rc;
}
