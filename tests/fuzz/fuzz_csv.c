/*
 * Fuzz target: the CSV reader (the `csv` data set's load).
 *
 * Input: a flags byte, then the training CSV; a form feed (\f) in the rest
 * starts the test CSV.  Flags:
 *   bit 0      regression (targets) instead of classification (a label column)
 *   bit 1      label "y" instead of "label"; targets "t1,t2" instead of "t"
 *   bit 2      standardize
 *   bit 3      classes = 3 instead of 0 (from the labels)
 * A loaded set must be complete and finite, its labels below `classes`; a
 * failed load must say why and free everything.
 */
#include "fuzz_common.h"
#include <math.h>

static gs_registry *reg;
static char *train_path, *test_path;
static gs_rng *rng;

static int init(void)
{
    reg = fuzz_registry();
    train_path = fuzz_path("train.csv");
    test_path = fuzz_path("test.csv");
    rng = gs_rng_new(1, 2);
    return 0;
}

static void check_split(const gs_dataset *ds, const gs_split *s)
{
    size_t per = gs_shape_numel(&ds->shape);
    for (size_t i = 0; i < s->count * per; i++)
        FUZZ_ASSERT(isfinite(s->x[i]), "x[%zu] = %g", i, (double)s->x[i]);
    if (ds->classes) {
        for (size_t i = 0; i < s->count; i++)
            FUZZ_ASSERT(s->labels[i] >= 0 && (size_t)s->labels[i] < ds->classes, "label %d",
                        (int)s->labels[i]);
    } else {
        for (size_t i = 0; i < s->count * ds->target_width; i++)
            FUZZ_ASSERT(isfinite(s->targets[i]), "target %zu", i);
    }
}

static void free_split(const gs_host *h, gs_split *s)
{
    h->free(s->x);
    h->free(s->labels);
    h->free(s->targets);
}

static void one(const uint8_t *data, size_t size)
{
    uint8_t flags = fuzz_byte(&data, &size);
    const uint8_t *ff = memchr(data, '\f', size);
    size_t train_len = ff ? (size_t)(ff - data) : size;
    fuzz_write(train_path, data, train_len);
    if (ff)
        fuzz_write(test_path, ff + 1, size - train_len - 1);

    int regression = flags & 1, alt = flags & 2;
    char params[2 * PATH_MAX + 256];
    snprintf(params, sizeof params,
             "train = \"%s\"; test = \"%s\"; label = \"%s\"; targets = \"%s\"; "
             "standardize = %s; classes = %d;",
             train_path, ff ? test_path : "", regression ? "" : alt ? "y" : "label",
             !regression ? "" : alt ? "t1, t2" : "t", flags & 4 ? "true" : "false",
             flags & 8 ? 3 : 0);
    gs_error err;
    gs_ref *ref = gs_ref_parse(reg, GS_KIND_DATASET, "csv", params, &err);
    FUZZ_ASSERT(ref, "%s", err.msg);
    const gs_dataset_ops *ops = gs_ref_component(ref)->ops;
    const gs_host *h = gs_host_table();
    gs_data_call call = {.host = h, .p = gs_ref_values(ref), .rng = rng};
    gs_dataset ds;
    gs_clear_error();
    if (ops->load(&call, &ds) == 0) {
        FUZZ_ASSERT(ds.train.count > 0 && gs_shape_numel(&ds.shape) > 0, "empty set");
        FUZZ_ASSERT(regression ? ds.classes == 0 && ds.target_width == (alt ? 2u : 1u)
                               : ds.classes >= 1 && ds.target_width == 0,
                    "classes %zu, targets %zu", ds.classes, ds.target_width);
        check_split(&ds, &ds.train);
        check_split(&ds, &ds.test);
        free_split(h, &ds.train);
        free_split(h, &ds.test);
    } else {
        FUZZ_ASSERT(gs_last_error()[0], "load failed without a message");
        fuzz_note(gs_last_error());
    }
    gs_ref_free(ref);
}

FUZZ_DEFINE(csv)
