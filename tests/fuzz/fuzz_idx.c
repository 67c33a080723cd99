/*
 * Fuzz target: the IDX reader (the `idx` data set's load).
 *
 * Input: a flags byte, a classes byte, a 32-bit little-endian length L, L
 * bytes of the image file, and the rest as the label file.  Flags:
 *   bit 0, 1   gzip the image / label bytes before writing them (the raw
 *              bytes may themselves be a gzip stream, damaged or not)
 *   bit 2, 3   preprocess: none, scale, standardize global, standardize feature
 *   bit 4      flatten
 *   bit 5      use the same two files as the test set
 *   bit 6, 7   limit: 0 (all), 1, 2, 5
 * A loaded set must be complete: every pixel readable and finite, every
 * label below `classes`; a failed load must say why and free everything.
 */
#include "fuzz_common.h"
#include <math.h>
#include <zlib.h>

static gs_registry *reg;
static char *images, *labels;
static gs_rng *rng;

static int init(void)
{
    reg = fuzz_registry();
    images = fuzz_path("images.idx");
    labels = fuzz_path("labels.idx");
    rng = gs_rng_new(1, 2);
    return 0;
}

static void write_part(const char *path, const uint8_t *data, size_t n, int gzip)
{
    if (!gzip) {
        fuzz_write(path, data, n);
        return;
    }
    gzFile gz = gzopen(path, "wb");
    FUZZ_ASSERT(gz, "%s", path);
    if (n)
        FUZZ_ASSERT(gzwrite(gz, data, (unsigned)n) == (int)n, "gzwrite");
    FUZZ_ASSERT(gzclose(gz) == Z_OK, "gzclose");
}

static void check_split(const gs_split *s, size_t per, size_t classes)
{
    for (size_t i = 0; i < s->count * per; i++)
        FUZZ_ASSERT(isfinite(s->x[i]), "x[%zu] = %g", i, (double)s->x[i]);
    for (size_t i = 0; i < s->count; i++)
        FUZZ_ASSERT(s->labels[i] >= 0 && (size_t)s->labels[i] < classes, "label %d",
                    (int)s->labels[i]);
}

static void one(const uint8_t *data, size_t size)
{
    uint8_t flags = fuzz_byte(&data, &size);
    unsigned classes = fuzz_byte(&data, &size) + 1u;
    uint32_t len = 0;
    for (int k = 0; k < 4; k++)
        len |= (uint32_t)fuzz_byte(&data, &size) << (8 * k);
    if (len > size)
        len = (uint32_t)size;
    write_part(images, data, len, flags & 1);
    write_part(labels, data + len, size - len, flags & 2);

    static const char *const pre[4][2] = {
        {"none", "global"}, {"scale", "global"}, {"standardize", "global"},
        {"standardize", "feature"}};
    static const int limits[4] = {0, 1, 2, 5};
    const char *test = flags & 32 ? images : "";
    const char *test_l = flags & 32 ? labels : "";
    char params[2 * PATH_MAX + 512];
    snprintf(params, sizeof params,
             "train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
             "test_labels = \"%s\"; preprocess = \"%s\"; standardize = \"%s\"; "
             "flatten = %s; classes = %u; limit = %d;",
             images, labels, test, test_l, pre[(flags >> 2) & 3][0], pre[(flags >> 2) & 3][1],
             flags & 16 ? "true" : "false", classes, limits[flags >> 6]);
    gs_error err;
    gs_ref *ref = gs_ref_parse(reg, GS_KIND_DATASET, "idx", params, &err);
    FUZZ_ASSERT(ref, "%s", err.msg);
    const gs_dataset_ops *ops = gs_ref_component(ref)->ops;
    const gs_host *h = gs_host_table();
    gs_data_call call = {.host = h, .p = gs_ref_values(ref), .rng = rng};
    gs_dataset ds;
    gs_clear_error();
    if (ops->load(&call, &ds) == 0) {
        size_t per = gs_shape_numel(&ds.shape);
        FUZZ_ASSERT(ds.train.count > 0 && per > 0 && ds.classes == classes, "empty set");
        FUZZ_ASSERT(!(flags & 32) || ds.test.count > 0, "no test set");
        check_split(&ds.train, per, classes);
        check_split(&ds.test, per, classes);
        h->free(ds.train.x);
        h->free(ds.train.labels);
        h->free(ds.test.x);
        h->free(ds.test.labels);
    } else {
        FUZZ_ASSERT(gs_last_error()[0], "load failed without a message");
        fuzz_note(gs_last_error());
    }
    gs_ref_free(ref);
}

FUZZ_DEFINE(idx)
