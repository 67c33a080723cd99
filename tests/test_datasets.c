/*
 * Dataset plugins: synthetic, idx, csv, cifar, the sequence sets (adding,
 * copy, temporal order); data.augment in training.
 *
 * Fixture files are written by the test itself into a fresh temporary
 * directory, so every broken-file case (wrong magic, truncated gzip, ragged
 * CSV row...) is exact and reproducible.  Expected values are recomputed
 * here from the bytes written, never copied from the implementation.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gradscope/gradscope.h"
#include "testutil.h"

static gs_registry *reg;
static char dir[64];

static void setup(void)
{
    gs_error err;
    reg = gs_registry_new();
    ck_assert_msg(gs_registry_load_default(reg, NULL, 0, &err) == 0, "%s", err.msg);
    strcpy(dir, "/tmp/gs_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    gs_registry_free(reg);
}

/* ---------------------------------------------------------------- */
/* helpers                                                           */
/* ---------------------------------------------------------------- */

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_bytes(const char *name, const void *data, size_t n, int gz)
{
    const char *p = path_of(name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        fclose(f);
    }
}

static void write_text(const char *name, const char *text)
{
    write_bytes(name, text, strlen(text), 0);
}

static long file_size(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* The pixel the fixtures put at pixel j of record i (seed varies files). */
static unsigned char pix(unsigned seed, size_t i, size_t j)
{
    return (unsigned char)((i * 31u + j * 7u + seed * 13u) % 256u);
}

/*
 * IDX images: `declared` records in the header, `actual` written.
 * magic is the full 32-bit magic word.
 */
static void write_images(const char *name, int gz, uint32_t magic, uint32_t declared,
                         uint32_t rows, uint32_t cols, size_t actual, unsigned seed)
{
    size_t per = (size_t)rows * cols, n = 16 + actual * per;
    unsigned char *b = malloc(n);
    put_be32(b, magic);
    put_be32(b + 4, declared);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < actual; i++)
        for (size_t j = 0; j < per; j++)
            b[16 + i * per + j] = pix(seed, i, j);
    write_bytes(name, b, n, gz);
    free(b);
}

static unsigned char lab(size_t i)
{
    return (unsigned char)((i * 3 + 1) % 10);
}

static void write_labels(const char *name, int gz, uint32_t magic, uint32_t declared,
                         size_t actual, int bad_at, unsigned char bad_value)
{
    size_t n = 8 + actual;
    unsigned char *b = malloc(n);
    put_be32(b, magic);
    put_be32(b + 4, declared);
    for (size_t i = 0; i < actual; i++)
        b[8 + i] = (int)i == bad_at ? bad_value : lab(i);
    write_bytes(name, b, n, gz);
    free(b);
}

/* Loads dataset `name` with parameters `text`; returns the plugin's result. */
static int load(const char *name, const char *text, uint64_t seed, gs_dataset *ds)
{
    gs_error err;
    gs_ref *ref = gs_ref_parse(reg, GS_KIND_DATASET, name, text, &err);
    ck_assert_msg(ref != NULL, "parse %s: %s", text, err.msg);
    const gs_dataset_ops *ops = gs_ref_component(ref)->ops;
    gs_rng *rng = gs_rng_new(seed, 0);
    gs_data_call call = { .host = gs_host_table(), .p = gs_ref_values(ref), .rng = rng };
    memset(ds, 0x5a, sizeof *ds);
    gs_clear_error();
    int rc = ops->load(&call, ds);
    gs_rng_free(rng);
    gs_ref_free(ref);
    return rc;
}

static void ds_free(gs_dataset *ds)
{
    const gs_host *h = gs_host_table();
    gs_split *s[2] = { &ds->train, &ds->test };
    for (int k = 0; k < 2; k++) {
        h->free(s[k]->x);
        h->free(s[k]->labels);
        h->free(s[k]->targets);
    }
    h->free(ds->train_mask);
    h->free(ds->test_mask);
}

/* Expects failure with an error message containing `a` and `b` (may be NULL). */
static void expect_error(const char *name, const char *text, const char *a, const char *b)
{
    gs_dataset ds;
    int rc = load(name, text, 1, &ds);
    const char *msg = gs_last_error();
    ck_assert_msg(rc == -1, "expected failure for %s", text);
    ck_assert_msg(msg && strstr(msg, a), "message '%s' lacks '%s'", msg ? msg : "", a);
    if (b)
        ck_assert_msg(strstr(msg, b), "message '%s' lacks '%s'", msg, b);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf[k], sizeof buf[k], f, ap);
    va_end(ap);
    return buf[k];
}

#define IMG 0x00000803u
#define LAB 0x00000801u

/* idx parameters for a train pair and no test set, plus `extra`. */
static char *idx_text(const char *img, const char *labels, const char *extra)
{
    return fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"\"; "
               "test_labels = \"\"; %s",
               path_of(img), path_of(labels), extra);
}

/* ---------------------------------------------------------------- */
/* idx                                                               */
/* ---------------------------------------------------------------- */

START_TEST(idx_plain_raw)
{
    write_images("a.idx", 0, IMG, 5, 3, 4, 5, 0);
    write_labels("a.lab", 0, LAB, 5, 5, -1, 0);
    gs_dataset ds;
    ck_assert_int_eq(load("idx", idx_text("a.idx", "a.lab", "preprocess = \"none\";"), 1, &ds),
                     0);
    ck_assert_int_eq(ds.shape.ndim, 1);
    ck_assert_uint_eq(ds.shape.dims[0], 12);
    ck_assert_uint_eq(ds.classes, 10);
    ck_assert_uint_eq(ds.train.count, 5);
    ck_assert_uint_eq(ds.test.count, 0);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(ds.train.labels[i], lab(i));
        for (size_t j = 0; j < 12; j++)
            ck_assert_float_eq(ds.train.x[i * 12 + j], (float)pix(0, i, j));
    }
    ds_free(&ds);
}
END_TEST

START_TEST(idx_gz_scale_unflattened_with_test)
{
    write_images("tr.gz", 1, IMG, 20, 4, 5, 20, 1);
    write_labels("trl.gz", 1, LAB, 20, 20, -1, 0);
    write_images("te.gz", 1, IMG, 7, 4, 5, 7, 2);
    write_labels("tel", 0, LAB, 7, 7, -1, 0);
    gs_dataset ds;
    const char *t = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
                        "test_labels = \"%s\"; flatten = false;",
                        path_of("tr.gz"), path_of("trl.gz"), path_of("te.gz"), path_of("tel"));
    ck_assert_int_eq(load("idx", t, 1, &ds), 0);
    ck_assert_int_eq(ds.shape.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(ds.shape.ndim, 3);
    ck_assert_uint_eq(ds.shape.dims[0], 1);
    ck_assert_uint_eq(ds.shape.dims[1], 4);
    ck_assert_uint_eq(ds.shape.dims[2], 5);
    ck_assert_uint_eq(ds.train.count, 20);
    ck_assert_uint_eq(ds.test.count, 7);
    for (size_t i = 0; i < 20; i++)
        for (size_t j = 0; j < 20; j++)
            ck_assert_double_eq_tol(ds.train.x[i * 20 + j], pix(1, i, j) / 255.0, 1e-7);
    for (size_t i = 0; i < 7; i++) {
        ck_assert_int_eq(ds.test.labels[i], lab(i));
        for (size_t j = 0; j < 20; j++)
            ck_assert_double_eq_tol(ds.test.x[i * 20 + j], pix(2, i, j) / 255.0, 1e-7);
    }
    ds_free(&ds);
}
END_TEST

START_TEST(idx_standardize_global)
{
    write_images("tr", 0, IMG, 30, 2, 3, 30, 3);
    write_labels("trl", 0, LAB, 30, 30, -1, 0);
    write_images("te", 0, IMG, 4, 2, 3, 4, 4);
    write_labels("tel", 0, LAB, 4, 4, -1, 0);
    /* training statistics of x/255 over every pixel, computed here */
    double m = 0, v = 0;
    for (size_t i = 0; i < 30; i++)
        for (size_t j = 0; j < 6; j++)
            m += pix(3, i, j) / 255.0;
    m /= 180;
    for (size_t i = 0; i < 30; i++)
        for (size_t j = 0; j < 6; j++)
            v += (pix(3, i, j) / 255.0 - m) * (pix(3, i, j) / 255.0 - m);
    double sd = sqrt(v / 180);

    gs_dataset ds;
    const char *t = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
                        "test_labels = \"%s\"; preprocess = \"standardize\";",
                        path_of("tr"), path_of("trl"), path_of("te"), path_of("tel"));
    ck_assert_int_eq(load("idx", t, 1, &ds), 0);
    double sm = 0, sq = 0;
    for (size_t k = 0; k < 180; k++)
        sm += ds.train.x[k];
    sm /= 180;
    for (size_t k = 0; k < 180; k++)
        sq += (ds.train.x[k] - sm) * (ds.train.x[k] - sm);
    ck_assert_double_eq_tol(sm, 0.0, 1e-6);
    ck_assert_double_eq_tol(sqrt(sq / 180), 1.0, 1e-6);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++)
            ck_assert_double_eq_tol(ds.test.x[i * 6 + j], (pix(4, i, j) / 255.0 - m) / sd,
                                    1e-5);
    ds_free(&ds);
}
END_TEST

START_TEST(idx_standardize_feature)
{
    /* pixel 0 of every record is made constant: it must come out 0 */
    size_t n = 25, per = 6;
    unsigned char *b = malloc(16 + n * per);
    put_be32(b, IMG);
    put_be32(b + 4, (uint32_t)n);
    put_be32(b + 8, 2);
    put_be32(b + 12, 3);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < per; j++)
            b[16 + i * per + j] = j == 0 ? 77 : pix(5, i, j);
    write_bytes("tr", b, 16 + n * per, 1);
    b[16] = 200; /* the test copy's constant pixel differs: still 0 */
    write_bytes("te", b, 16 + n * per, 0);
    write_labels("trl", 0, LAB, (uint32_t)n, n, -1, 0);
    write_labels("tel", 0, LAB, (uint32_t)n, n, -1, 0);
    free(b);

    gs_dataset ds;
    const char *t = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
                        "test_labels = \"%s\"; preprocess = \"standardize\"; "
                        "standardize = \"feature\";",
                        path_of("tr"), path_of("trl"), path_of("te"), path_of("tel"));
    ck_assert_int_eq(load("idx", t, 1, &ds), 0);
    for (size_t j = 0; j < per; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            m += ds.train.x[i * per + j];
        m /= (double)n;
        for (size_t i = 0; i < n; i++)
            v += (ds.train.x[i * per + j] - m) * (ds.train.x[i * per + j] - m);
        ck_assert_double_eq_tol(m, 0.0, 1e-6);
        ck_assert_double_eq_tol(sqrt(v / (double)n), j == 0 ? 0.0 : 1.0, 1e-5);
    }
    ck_assert_float_eq(ds.test.x[0], 0.0f);
    /* the test set is transformed with training statistics: same bytes, same values */
    for (size_t k = 1; k < n * per; k++)
        ck_assert_float_eq(ds.test.x[k], ds.train.x[k]);
    ds_free(&ds);
}
END_TEST

START_TEST(idx_limit)
{
    write_images("a", 1, IMG, 50, 3, 3, 50, 6);
    write_labels("l", 1, LAB, 50, 50, -1, 0);
    gs_dataset ds;
    ck_assert_int_eq(
        load("idx", idx_text("a", "l", "limit = 4; preprocess = \"none\";"), 1, &ds), 0);
    ck_assert_uint_eq(ds.train.count, 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(ds.train.labels[i], lab(i));
        ck_assert_float_eq(ds.train.x[i * 9 + 8], (float)pix(6, i, 8));
    }
    ds_free(&ds);
}
END_TEST

START_TEST(idx_bad_magic)
{
    write_images("a", 0, LAB, 5, 3, 4, 5, 0); /* a label magic on an image file */
    write_labels("l", 0, LAB, 5, 5, -1, 0);
    expect_error("idx", idx_text("a", "l", ""), path_of("a"), "magic");
    write_images("b", 1, 0x12345678u, 5, 3, 4, 5, 0);
    expect_error("idx", idx_text("b", "l", ""), path_of("b"), "magic");
    write_labels("l2", 0, 0x00000C01u, 5, 5, -1, 0); /* int32 labels: unsupported */
    write_images("a2", 0, IMG, 5, 3, 4, 5, 0);
    expect_error("idx", idx_text("a2", "l2", ""), path_of("l2"), "magic");
}
END_TEST

START_TEST(idx_count_mismatch)
{
    write_images("a", 0, IMG, 5, 3, 4, 5, 0);
    write_labels("l", 0, LAB, 6, 6, -1, 0);
    expect_error("idx", idx_text("a", "l", ""), path_of("l"), "5");
}
END_TEST

START_TEST(idx_label_out_of_range)
{
    write_images("a", 0, IMG, 6, 3, 4, 6, 0);
    write_labels("l", 1, LAB, 6, 6, 3, 12);
    expect_error("idx", idx_text("a", "l", ""), path_of("l"), "label 12 at record 3");
    /* the same labels are fine with 13 classes */
    gs_dataset ds;
    ck_assert_int_eq(load("idx", idx_text("a", "l", "classes = 13;"), 1, &ds), 0);
    ck_assert_int_eq(ds.train.labels[3], 12);
    ck_assert_uint_eq(ds.classes, 13);
    ds_free(&ds);
}
END_TEST

START_TEST(idx_truncated_gz)
{
    write_images("a.gz", 1, IMG, 40, 8, 8, 40, 0);
    write_labels("l", 0, LAB, 40, 40, -1, 0);
    long n = file_size("a.gz");
    ck_assert_int_eq(truncate(path_of("a.gz"), n / 2), 0);
    expect_error("idx", idx_text("a.gz", "l", ""), path_of("a.gz"), "truncated gzip");
    /* cut inside the 8-byte trailer: the payload is whole, the stream is not */
    write_images("b.gz", 1, IMG, 40, 8, 8, 40, 0);
    ck_assert_int_eq(truncate(path_of("b.gz"), file_size("b.gz") - 3), 0);
    expect_error("idx", idx_text("b.gz", "l", ""), path_of("b.gz"), "gzip");
}
END_TEST

START_TEST(idx_corrupt_gz)
{
    write_images("a.gz", 1, IMG, 40, 8, 8, 40, 0);
    write_labels("l", 0, LAB, 40, 40, -1, 0);
    long n = file_size("a.gz");
    FILE *f = fopen(path_of("a.gz"), "r+b");
    for (long k = 12; k < n - 8; k += 5) {
        fseek(f, k, SEEK_SET);
        fputc(0xA5 ^ (int)k, f);
    }
    fclose(f);
    expect_error("idx", idx_text("a.gz", "l", ""), path_of("a.gz"), "gzip");
}
END_TEST

START_TEST(idx_truncated_plain)
{
    write_images("a", 0, IMG, 10, 3, 4, 7, 0);
    write_labels("l", 0, LAB, 10, 10, -1, 0);
    expect_error("idx", idx_text("a", "l", ""), path_of("a"), "record 7");
    write_images("h", 0, IMG, 10, 3, 4, 0, 0);
    ck_assert_int_eq(truncate(path_of("h"), 10), 0);
    expect_error("idx", idx_text("h", "l", ""), path_of("h"), "header");
}
END_TEST

START_TEST(idx_trailing_data)
{
    write_images("a", 0, IMG, 4, 3, 4, 5, 0);
    write_labels("l", 0, LAB, 4, 4, -1, 0);
    expect_error("idx", idx_text("a", "l", ""), path_of("a"), "continues");
}
END_TEST

START_TEST(idx_impossible_dimensions)
{
    write_labels("l", 0, LAB, 5, 5, -1, 0);
    write_images("z", 0, IMG, 5, 0, 4, 0, 0);
    expect_error("idx", idx_text("z", "l", ""), path_of("z"), "row count 0");
    write_images("w", 0, IMG, 5, 3, 1000000, 0, 0);
    expect_error("idx", idx_text("w", "l", ""), path_of("w"), "column count 1000000");
    /* 4e9 x 60 x 60 values overflow the 2^31 limit before any allocation */
    write_labels("lb", 0, LAB, 4000000000u, 0, -1, 0);
    write_images("big", 0, IMG, 4000000000u, 60, 60, 0, 0);
    expect_error("idx", idx_text("big", "lb", ""), path_of("big"), "2^31");
    /* a plausible header over a tiny file must fail by reading, not by allocating 2 GB */
    write_labels("lm", 0, LAB, 2000000, 0, -1, 0);
    write_images("m", 0, IMG, 2000000, 32, 32, 1, 0);
    expect_error("idx", idx_text("m", "lm", ""), path_of("m"), "record 1 ");
    /* no records at all */
    write_labels("l0", 0, LAB, 0, 0, -1, 0);
    write_images("e", 0, IMG, 0, 3, 4, 0, 0);
    expect_error("idx", idx_text("e", "l0", ""), path_of("e"), "no records");
}
END_TEST

START_TEST(idx_missing_and_half_test)
{
    write_images("a", 0, IMG, 5, 3, 4, 5, 0);
    write_labels("l", 0, LAB, 5, 5, -1, 0);
    expect_error("idx", idx_text("nope", "l", ""), path_of("nope"),
                 "cannot open: No such file or directory (data.train_images)");
    expect_error("idx", idx_text("a", "nol", ""), path_of("nol"), "(data.train_labels)");
    const char *t = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
                        "test_labels = \"\";",
                        path_of("a"), path_of("l"), path_of("a"));
    expect_error("idx", t, "test_labels", NULL);
    /* test images of another size than the training images */
    write_images("b", 0, IMG, 5, 4, 4, 5, 0);
    t = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
            "test_labels = \"%s\";",
            path_of("a"), path_of("l"), path_of("b"), path_of("l"));
    expect_error("idx", t, path_of("b"), "4 x 4");
}
END_TEST

START_TEST(idx_default_missing_hint)
{
    /* a default-looking path that does not exist gets the install hint */
    const char *t = "train_images = \"/usr/share/datasets/fashion-mnist/nonexistent.gz\";";
    expect_error("idx", t, "dataset-fashion-mnist", "data.train_images");
}
END_TEST

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

START_TEST(idx_fashion_mnist)
{
    if (access(FMNIST, R_OK) != 0) {
        fprintf(stderr, "skipping Fashion-MNIST check: %s not installed "
                        "(apt-get install dataset-fashion-mnist)\n", FMNIST);
        return;
    }
    gs_dataset ds;
    ck_assert_int_eq(load("idx", "limit = 500;", 1, &ds), 0);
    ck_assert_int_eq(ds.shape.ndim, 1);
    ck_assert_uint_eq(ds.shape.dims[0], 28 * 28);
    ck_assert_uint_eq(ds.classes, 10);
    ck_assert_uint_eq(ds.train.count, 500);
    ck_assert_uint_eq(ds.test.count, 10000);
    int seen[10] = { 0 };
    for (size_t i = 0; i < 500; i++) {
        ck_assert(ds.train.labels[i] >= 0 && ds.train.labels[i] < 10);
        seen[ds.train.labels[i]] = 1;
    }
    for (int k = 0; k < 10; k++)
        ck_assert(seen[k]);
    for (size_t i = 0; i < 10000; i++)
        ck_assert(ds.test.labels[i] >= 0 && ds.test.labels[i] < 10);
    for (size_t k = 0; k < 500 * 784; k++)
        ck_assert(ds.train.x[k] >= 0.0f && ds.train.x[k] <= 1.0f);
    /* as images: (1, 28, 28), the same values in the same order */
    gs_dataset im;
    ck_assert_int_eq(load("idx", "limit = 500; flatten = false;", 1, &im), 0);
    ck_assert_int_eq(im.shape.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(im.shape.ndim, 3);
    ck_assert_uint_eq(im.shape.dims[0], 1);
    ck_assert_uint_eq(im.shape.dims[1], 28);
    ck_assert_uint_eq(im.shape.dims[2], 28);
    ck_assert(memcmp(im.train.x, ds.train.x, 500 * 784 * sizeof(float)) == 0);
    ds_free(&im);
    ds_free(&ds);
}
END_TEST

/* ---------------------------------------------------------------- */
/* csv                                                               */
/* ---------------------------------------------------------------- */

START_TEST(csv_classification)
{
    write_text("train.csv", "\xEF\xBB\xBF x1, \"x2\" ,label,x3\r\n"
                            "1.5,2,0,-3\r\n"
                            "\n"
                            "  4 ,5e-1,2,6\r\n"
                            "7,8,1,9\n");
    write_text("test.csv", "x1,x2,label,x3\n0,0,3,1\n");
    gs_dataset ds;
    const char *t = fmt("train = \"%s\"; test = \"%s\";", path_of("train.csv"),
                        path_of("test.csv"));
    ck_assert_int_eq(load("csv", t, 1, &ds), 0);
    ck_assert_int_eq(ds.shape.ndim, 1);
    ck_assert_uint_eq(ds.shape.dims[0], 3);
    ck_assert_uint_eq(ds.classes, 4); /* largest label (3, in the test file) + 1 */
    ck_assert_uint_eq(ds.target_width, 0);
    ck_assert_uint_eq(ds.train.count, 3);
    ck_assert_uint_eq(ds.test.count, 1);
    const float x[9] = { 1.5f, 2, -3, 4, 0.5f, 6, 7, 8, 9 };
    const int y[3] = { 0, 2, 1 };
    for (int k = 0; k < 9; k++)
        ck_assert_float_eq(ds.train.x[k], x[k]);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ds.train.labels[i], y[i]);
    ck_assert_int_eq(ds.test.labels[0], 3);
    ck_assert_float_eq(ds.test.x[2], 1.0f);
    ck_assert_ptr_null(ds.train.targets);
    ds_free(&ds);
}
END_TEST

START_TEST(csv_regression)
{
    write_text("r.csv", "a,y1,b,y2\n1,10,2,20\n3,30,4,40\n");
    gs_dataset ds;
    const char *t = fmt("train = \"%s\"; label = \"\"; targets = \"y2, y1\";", path_of("r.csv"));
    ck_assert_int_eq(load("csv", t, 1, &ds), 0);
    ck_assert_uint_eq(ds.classes, 0);
    ck_assert_uint_eq(ds.target_width, 2);
    ck_assert_uint_eq(ds.shape.dims[0], 2);
    ck_assert_uint_eq(ds.test.count, 0);
    ck_assert_ptr_null(ds.train.labels);
    const float x[4] = { 1, 2, 3, 4 }, y[4] = { 20, 10, 40, 30 }; /* targets in list order */
    for (int k = 0; k < 4; k++) {
        ck_assert_float_eq(ds.train.x[k], x[k]);
        ck_assert_float_eq(ds.train.targets[k], y[k]);
    }
    ds_free(&ds);
}
END_TEST

START_TEST(csv_standardize)
{
    write_text("s.csv", "u,c,v,label\n1,5,10,0\n2,5,-4,1\n6,5,3,1\n3,5,0,0\n");
    write_text("t.csv", "u,c,v,label\n4,9,1,1\n");
    gs_dataset ds;
    const char *t = fmt("train = \"%s\"; test = \"%s\"; standardize = true;",
                        path_of("s.csv"), path_of("t.csv"));
    ck_assert_int_eq(load("csv", t, 1, &ds), 0);
    const double u[4] = { 1, 2, 6, 3 }, v[4] = { 10, -4, 3, 0 };
    double mu = 3, mv = 2.25, su = 0, sv = 0;
    for (int i = 0; i < 4; i++) {
        su += (u[i] - mu) * (u[i] - mu);
        sv += (v[i] - mv) * (v[i] - mv);
    }
    su = sqrt(su / 4);
    sv = sqrt(sv / 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq_tol(ds.train.x[i * 3 + 0], (u[i] - mu) / su, 1e-6);
        ck_assert_float_eq(ds.train.x[i * 3 + 1], 0.0f); /* constant column */
        ck_assert_double_eq_tol(ds.train.x[i * 3 + 2], (v[i] - mv) / sv, 1e-6);
    }
    ck_assert_double_eq_tol(ds.test.x[0], (4 - mu) / su, 1e-6);
    ck_assert_float_eq(ds.test.x[1], 0.0f);
    ck_assert_double_eq_tol(ds.test.x[2], (1 - mv) / sv, 1e-6);
    ds_free(&ds);
}
END_TEST

static const char *csv_text(const char *name, const char *extra)
{
    return fmt("train = \"%s\"; %s", path_of(name), extra);
}

START_TEST(csv_errors)
{
    char where[300];
    write_text("n.csv", "x1,x2,x3,label\n1,2,3,0\n4,abc,6,1\n");
    snprintf(where, sizeof where, "%s:3:", path_of("n.csv"));
    expect_error("csv", csv_text("n.csv", ""), where, "non-numeric cell 'abc' in column 'x2'");

    write_text("r.csv", "x1,x2,label\n1,2,0\n\n1,2\n");
    snprintf(where, sizeof where, "%s:4:", path_of("r.csv"));
    expect_error("csv", csv_text("r.csv", ""), where, "2 cells");

    write_text("m.csv", "x1,x2,class\n1,2,0\n");
    expect_error("csv", csv_text("m.csv", ""), path_of("m.csv"), "no column 'label'");
    expect_error("csv", csv_text("m.csv", "label = \"\"; targets = \"x2,y\";"), path_of("m.csv"),
                 "no column 'y'");

    write_text("e.csv", "");
    expect_error("csv", csv_text("e.csv", ""), path_of("e.csv"), "empty");
    write_text("h.csv", "x,label\n\n");
    expect_error("csv", csv_text("h.csv", ""), path_of("h.csv"), "no data rows");

    write_text("neg.csv", "x,label\n1,0\n2,-1\n");
    snprintf(where, sizeof where, "%s:3:", path_of("neg.csv"));
    expect_error("csv", csv_text("neg.csv", ""), where, "label");
    write_text("frac.csv", "x,label\n1,0.5\n");
    snprintf(where, sizeof where, "%s:2:", path_of("frac.csv"));
    expect_error("csv", csv_text("frac.csv", ""), where, "label");
    write_text("big.csv", "x,label\n1,0\n1,1\n1,7\n");
    snprintf(where, sizeof where, "%s:4:", path_of("big.csv"));
    expect_error("csv", csv_text("big.csv", "classes = 5;"), where, "out of range");

    write_text("inf.csv", "x,label\n1,0\ninf,1\n");
    snprintf(where, sizeof where, "%s:3:", path_of("inf.csv"));
    expect_error("csv", csv_text("inf.csv", ""), where, "not a finite float");
    write_text("huge.csv", "x,label\n1e39,0\n2,1\n");
    expect_error("csv", csv_text("huge.csv", ""), path_of("huge.csv"), "1e39");

    write_text("dup.csv", "x,x,label\n1,2,0\n");
    expect_error("csv", csv_text("dup.csv", ""), path_of("dup.csv"), "twice");

    write_text("ok.csv", "x,label\n1,0\n2,1\n");
    write_text("other.csv", "label,x\n1,0\n");
    expect_error("csv", csv_text("ok.csv", fmt("test = \"%s\";", path_of("other.csv"))),
                 path_of("other.csv"), "column 1");
    expect_error("csv", csv_text("ok.csv", "targets = \"x\";"), path_of("ok.csv"), "label");
    expect_error("csv", csv_text("missing.csv", ""), path_of("missing.csv"),
                 "cannot open: No such file or directory (data.train)");
    expect_error("csv", csv_text("ok.csv", fmt("test = \"%s\";", path_of("gone.csv"))),
                 path_of("gone.csv"), "(data.test)");
    write_text("one.csv", "x,label\n1,0\n");
    expect_error("csv", csv_text("one.csv", ""), path_of("one.csv"), "classes");
}
END_TEST

/* ---------------------------------------------------------------- */
/* synthetic                                                         */
/* ---------------------------------------------------------------- */

static int same_split(const gs_split *a, const gs_split *b, size_t width, size_t tw)
{
    if (a->count != b->count)
        return 0;
    if (memcmp(a->x, b->x, a->count * width * sizeof(float)) != 0)
        return 0;
    if (tw)
        return memcmp(a->targets, b->targets, a->count * tw * sizeof(float)) == 0;
    return memcmp(a->labels, b->labels, a->count * sizeof(int32_t)) == 0;
}

START_TEST(synthetic_determinism)
{
    const char *sets[3] = { "set = \"spirals\"; classes = 3;",
                            "set = \"blobs\"; features = 5; classes = 4;",
                            "set = \"teacher\"; features = 6; targets = 2; noise = 0.05;" };
    for (int s = 0; s < 3; s++) {
        gs_dataset a, b, c;
        ck_assert_int_eq(load("synthetic", sets[s], 7, &a), 0);
        ck_assert_int_eq(load("synthetic", sets[s], 7, &b), 0);
        ck_assert_int_eq(load("synthetic", sets[s], 8, &c), 0);
        size_t w = a.shape.dims[0];
        ck_assert(same_split(&a.train, &b.train, w, a.target_width));
        ck_assert(same_split(&a.test, &b.test, w, a.target_width));
        ck_assert(!same_split(&a.train, &c.train, w, a.target_width));
        ds_free(&a);
        ds_free(&b);
        ds_free(&c);
    }
}
END_TEST

START_TEST(synthetic_spirals)
{
    gs_dataset ds;
    ck_assert_int_eq(
        load("synthetic", "set = \"spirals\"; classes = 3; samples = 300; test_samples = 0; "
                          "noise = 0.0;", 3, &ds), 0);
    ck_assert_int_eq(ds.shape.ndim, 1);
    ck_assert_uint_eq(ds.shape.dims[0], 2);
    ck_assert_uint_eq(ds.classes, 3);
    ck_assert_uint_eq(ds.train.count, 300);
    ck_assert_uint_eq(ds.test.count, 0);
    int count[3] = { 0 };
    for (size_t i = 0; i < 300; i++) {
        int k = ds.train.labels[i];
        ck_assert(k >= 0 && k < 3);
        count[k]++;
        /* noiseless: angle = 2πk/3 + 2π·turns·r with turns = 1, radius r in [0, 1) */
        double x = ds.train.x[2 * i], y = ds.train.x[2 * i + 1];
        double r = hypot(x, y);
        ck_assert(r < 1.0 + 1e-6);
        if (r > 1e-2) {
            double want = 2 * M_PI * k / 3.0 + 2 * M_PI * r;
            double d = remainder(atan2(y, x) - want, 2 * M_PI);
            ck_assert_msg(fabs(d) < 1e-3, "point %zu off its arm by %g rad", i, d);
        }
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(count[k], 100);
    ds_free(&ds);
    expect_error("synthetic", "set = \"spirals\"; features = 3;", "spirals", "2");
}
END_TEST

START_TEST(synthetic_blobs)
{
    const size_t d = 3, K = 4;
    gs_dataset ds;
    ck_assert_int_eq(load("synthetic",
                          "set = \"blobs\"; features = 3; classes = 4; samples = 4000; "
                          "test_samples = 1000; noise = 1.0; separation = 5.0;",
                          11, &ds),
                     0);
    ck_assert_uint_eq(ds.shape.dims[0], d);
    ck_assert_uint_eq(ds.train.count, 4000);
    ck_assert_uint_eq(ds.test.count, 1000);
    double mean[4][3] = { { 0 } }, var = 0;
    size_t n[4] = { 0 };
    for (size_t i = 0; i < 4000; i++) {
        size_t k = (size_t)ds.train.labels[i];
        ck_assert(k < K);
        n[k]++;
        for (size_t j = 0; j < d; j++)
            mean[k][j] += ds.train.x[i * d + j];
    }
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < d; j++)
            mean[k][j] /= (double)n[k];
    for (size_t i = 0; i < 4000; i++)
        for (size_t j = 0; j < d; j++) {
            double e = ds.train.x[i * d + j] - mean[ds.train.labels[i]][j];
            var += e * e;
        }
    /* within-class std is `noise`; centers at least `separation` apart */
    ck_assert_double_eq_tol(sqrt(var / (4000.0 * d)), 1.0, 0.05);
    for (size_t a = 0; a < K; a++)
        for (size_t b = a + 1; b < K; b++) {
            double d2 = 0;
            for (size_t j = 0; j < d; j++)
                d2 += (mean[a][j] - mean[b][j]) * (mean[a][j] - mean[b][j]);
            ck_assert_msg(sqrt(d2) > 5.0 - 0.2, "class means %zu, %zu only %g apart", a, b,
                          sqrt(d2));
        }
    /* nearest class mean classifies the test set well (Bayes error below Φ(-2.5)·3) */
    size_t right = 0;
    for (size_t i = 0; i < 1000; i++) {
        size_t best = 0;
        double bd = INFINITY;
        for (size_t k = 0; k < K; k++) {
            double d2 = 0;
            for (size_t j = 0; j < d; j++) {
                double e = ds.test.x[i * d + j] - mean[k][j];
                d2 += e * e;
            }
            if (d2 < bd) {
                bd = d2;
                best = k;
            }
        }
        right += best == (size_t)ds.test.labels[i];
    }
    ck_assert_msg(right > 950, "nearest-mean accuracy %zu/1000", right);
    ds_free(&ds);
}
END_TEST

START_TEST(synthetic_teacher)
{
    gs_dataset ds;
    ck_assert_int_eq(load("synthetic",
                          "set = \"teacher\"; features = 10; samples = 2000; test_samples = 100; "
                          "targets = 3; depth = 4; width = 16;",
                          5, &ds),
                     0);
    ck_assert_uint_eq(ds.classes, 0);
    ck_assert_uint_eq(ds.target_width, 3);
    ck_assert_uint_eq(ds.shape.dims[0], 10);
    ck_assert_uint_eq(ds.test.count, 100);
    ck_assert_ptr_null(ds.train.labels);
    ck_assert_ptr_nonnull(ds.train.targets);
    /* inputs are N(0, 1) */
    double m = 0, v = 0;
    for (size_t k = 0; k < 20000; k++)
        m += ds.train.x[k];
    m /= 20000;
    for (size_t k = 0; k < 20000; k++)
        v += (ds.train.x[k] - m) * (ds.train.x[k] - m);
    ck_assert_double_eq_tol(m, 0.0, 0.03);
    ck_assert_double_eq_tol(sqrt(v / 20000), 1.0, 0.03);
    /* at the critical σ_w² = 1 a deep teacher's targets do not collapse to a constant */
    for (size_t o = 0; o < 3; o++) {
        double tm = 0, tv = 0;
        for (size_t i = 0; i < 2000; i++)
            tm += ds.train.targets[i * 3 + o];
        tm /= 2000;
        for (size_t i = 0; i < 2000; i++) {
            double e = ds.train.targets[i * 3 + o] - tm;
            ck_assert(isfinite(ds.train.targets[i * 3 + o]));
            tv += e * e;
        }
        ck_assert_msg(sqrt(tv / 2000) > 0.01, "target %zu is constant", o);
    }
    ds_free(&ds);
}
END_TEST

/* Solves the n x n system a x = b in place (Gauss-Jordan, partial pivoting). */
static void solve(size_t n, double *a, double *b)
{
    for (size_t c = 0; c < n; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
                p = r;
        for (size_t k = 0; k < n; k++) {
            double t = a[c * n + k];
            a[c * n + k] = a[p * n + k];
            a[p * n + k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (size_t r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = a[r * n + c] / a[c * n + c];
            for (size_t k = 0; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (size_t c = 0; c < n; c++)
        b[c] /= a[c * n + c];
}

/*
 * depth = 0 makes the teacher linear, y = W x: least squares on the
 * training set recovers W, which must then predict the test targets
 * (same network for both splits); with noise the residual std is `noise`.
 */
static double linear_teacher_residual(double noise, double *train_rms)
{
    enum { F = 4, T = 2 };
    gs_dataset ds;
    ck_assert_int_eq(load("synthetic",
                          fmt("set = \"teacher\"; features = 4; targets = 2; depth = 0; "
                              "samples = 3000; test_samples = 50; noise = %g;", noise),
                          9, &ds),
                     0);
    double res = 0, tr = 0;
    for (size_t o = 0; o < T; o++) {
        double a[F * F] = { 0 }, w[F] = { 0 };
        for (size_t i = 0; i < ds.train.count; i++) {
            const float *x = ds.train.x + i * F;
            for (size_t j = 0; j < F; j++) {
                w[j] += x[j] * (double)ds.train.targets[i * T + o];
                for (size_t k = 0; k < F; k++)
                    a[j * F + k] += (double)x[j] * x[k];
            }
        }
        solve(F, a, w);
        for (size_t i = 0; i < ds.train.count; i++) {
            double y = 0;
            for (size_t j = 0; j < F; j++)
                y += w[j] * ds.train.x[i * F + j];
            tr += (y - ds.train.targets[i * T + o]) * (y - ds.train.targets[i * T + o]);
        }
        for (size_t i = 0; i < ds.test.count; i++) {
            double y = 0;
            for (size_t j = 0; j < F; j++)
                y += w[j] * ds.test.x[i * F + j];
            double e = fabs(y - ds.test.targets[i * T + o]);
            res = e > res ? e : res;
        }
    }
    *train_rms = sqrt(tr / (double)(ds.train.count * T));
    ds_free(&ds);
    return res;
}

START_TEST(synthetic_teacher_linear)
{
    double rms;
    ck_assert_double_lt(linear_teacher_residual(0.0, &rms), 1e-4);
    ck_assert_double_lt(rms, 1e-5);
    linear_teacher_residual(0.5, &rms);
    ck_assert_double_eq_tol(rms, 0.5, 0.02);
}
END_TEST

START_TEST(synthetic_limits)
{
    expect_error("synthetic", "samples = 10000000; features = 1000;", "synthetic", "2^31");
}
END_TEST

/* The duplicate-name check was quadratic: 10 s for 10^5 columns. */
START_TEST(csv_wide_header)
{
    enum { N = 100000 };
    FILE *f = fopen(path_of("wide.csv"), "w");
    ck_assert_ptr_nonnull(f);
    for (int j = 0; j < N; j++)
        fprintf(f, "c%d,", j);
    fputs("c77\n", f);
    for (int j = 0; j < N; j++)
        fputs("1,", f);
    fputs("0\n", f);
    fclose(f);
    expect_error("csv", csv_text("wide.csv", "label = \"c77\";"), path_of("wide.csv"),
                 "header names column 'c77' twice");
}
END_TEST

/* A FIFO would block the load until a writer came. */
START_TEST(data_path_fifo_refused)
{
    ck_assert_int_eq(mkfifo(path_of("pipe.csv"), 0600), 0);
    gs_error err;
    gs_ref *ref = gs_ref_parse(reg, GS_KIND_DATASET, "csv", csv_text("pipe.csv", ""), &err);
    ck_assert_ptr_null(ref);
    ck_assert_msg(strstr(err.msg, "train = \"") && strstr(err.msg, "is not a regular file"),
                  "%s", err.msg);
    ref = gs_ref_parse(reg, GS_KIND_DATASET, "idx",
                       fmt("train_images = \"/dev/zero\"; test_images = \"\"; "
                           "test_labels = \"\";"),
                       &err);
    ck_assert_ptr_null(ref);
    ck_assert_msg(strstr(err.msg, "train_images = \"/dev/zero\" is not a regular file"), "%s",
                  err.msg);
}
END_TEST

/* A data set within the documented limits that this machine cannot hold
   (here: under an address-space limit) is refused with the sizes, not
   ended by the allocator.  ASan reserves terabytes of address space, so
   there the limit cannot be set; without fork it would outlive the test. */
START_TEST(synthetic_memory_check)
{
#if !defined(__SANITIZE_ADDRESS__)
    const char *fork = getenv("CK_FORK");
    if (fork && !strcmp(fork, "no"))
        return; /* the limit would stay on the whole program (valgrind) */
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &rl), 0);
    rl.rlim_cur = (rlim_t)2 << 30;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
    expect_error("synthetic", "features = 1048576; samples = 2048; test_samples = 0;",
                 "synthetic blobs: the data set needs 8.0 GiB",
                 "more than this machine's 2.0 GiB");
#endif
}
END_TEST

/* ---------------------------------------------------------------- */
/* cifar                                                             */
/* ---------------------------------------------------------------- */

#define CIFAR_PIXELS 3072

static unsigned char cifar_fine(size_t i) { return (unsigned char)((i * 7 + 3) % 100); }
static unsigned char cifar_coarse(size_t i) { return (unsigned char)(i % 20); }

/* `records` CIFAR records (labels first: CIFAR-10 one byte, label lab(i);
   CIFAR-100 coarse then fine), pixels pix(seed, i, j); `cut` bytes short. */
static void write_cifar(const char *name, int is100, size_t records, unsigned seed, size_t cut)
{
    size_t lb = is100 ? 2 : 1, rec = lb + CIFAR_PIXELS, n = records * rec;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < records; i++) {
        unsigned char *r = b + i * rec;
        if (is100) {
            r[0] = cifar_coarse(i);
            r[1] = cifar_fine(i);
        } else {
            r[0] = lab(i);
        }
        for (size_t j = 0; j < CIFAR_PIXELS; j++)
            r[lb + j] = pix(seed, i, j);
    }
    write_bytes(name, b, n - cut, 0);
    free(b);
}

START_TEST(cifar10_read)
{
    write_cifar("b1.bin", 0, 3, 1, 0);
    write_cifar("b2.bin", 0, 4, 2, 0);
    write_cifar("t.bin", 0, 2, 3, 0);
    gs_dataset ds;
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\"; train = \"b1.bin, b2.bin\"; "
                                       "test = \"t.bin\"; preprocess = \"none\";", dir),
                          1, &ds),
                     0);
    ck_assert_int_eq(ds.shape.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(ds.shape.ndim, 3);
    ck_assert_uint_eq(ds.shape.dims[0], 3);
    ck_assert_uint_eq(ds.shape.dims[1], 32);
    ck_assert_uint_eq(ds.shape.dims[2], 32);
    ck_assert_uint_eq(ds.classes, 10);
    ck_assert_uint_eq(ds.train.count, 7);
    ck_assert_uint_eq(ds.test.count, 2);
    /* the files in order, each record's bytes as they stand */
    for (size_t i = 0; i < 7; i++) {
        size_t r = i < 3 ? i : i - 3;
        unsigned seed = i < 3 ? 1 : 2;
        ck_assert_int_eq(ds.train.labels[i], lab(r));
        for (size_t j = 0; j < CIFAR_PIXELS; j++)
            ck_assert_float_eq(ds.train.x[i * CIFAR_PIXELS + j], (float)pix(seed, r, j));
    }
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(ds.test.labels[i], lab(i));
        ck_assert_float_eq(ds.test.x[i * CIFAR_PIXELS + 1000], (float)pix(3, i, 1000));
    }
    ds_free(&ds);

    /* scale (the default), limit, no test set */
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\"; train = \"b1.bin b2.bin\"; test = \"\"; "
                                       "limit = 4;", dir), 1, &ds), 0);
    ck_assert_uint_eq(ds.train.count, 4);
    ck_assert_uint_eq(ds.test.count, 0);
    ck_assert_int_eq(ds.train.labels[3], lab(0));
    for (size_t j = 0; j < CIFAR_PIXELS; j++)
        ck_assert_double_eq_tol(ds.train.x[3 * CIFAR_PIXELS + j], pix(2, 0, j) / 255.0, 1e-7);
    ds_free(&ds);

    /* the default file names of the CIFAR-10 archive */
    const char *names[6] = { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                             "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin" };
    for (int k = 0; k < 6; k++)
        write_cifar(names[k], 0, 2, (unsigned)k, 0);
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\";", dir), 1, &ds), 0);
    ck_assert_uint_eq(ds.train.count, 10);
    ck_assert_uint_eq(ds.test.count, 2);
    ck_assert_double_eq_tol(ds.train.x[9 * CIFAR_PIXELS + 5], pix(4, 1, 5) / 255.0, 1e-7);
    ds_free(&ds);
}
END_TEST

START_TEST(cifar100_fine_and_coarse)
{
    write_cifar("train.bin", 1, 30, 4, 0);
    write_cifar("test.bin", 1, 5, 5, 0);
    gs_dataset ds;
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\"; variant = \"cifar100\";", dir), 1, &ds), 0);
    ck_assert_uint_eq(ds.classes, 100);
    ck_assert_uint_eq(ds.train.count, 30);
    ck_assert_uint_eq(ds.test.count, 5);
    for (size_t i = 0; i < 30; i++) {
        ck_assert_int_eq(ds.train.labels[i], cifar_fine(i));
        ck_assert_double_eq_tol(ds.train.x[i * CIFAR_PIXELS + 77], pix(4, i, 77) / 255.0, 1e-7);
    }
    ds_free(&ds);
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\"; variant = \"cifar100\"; "
                                       "labels = \"coarse\";", dir), 1, &ds), 0);
    ck_assert_uint_eq(ds.classes, 20);
    for (size_t i = 0; i < 30; i++)
        ck_assert_int_eq(ds.train.labels[i], cifar_coarse(i));
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(ds.test.labels[i], cifar_coarse(i));
    ds_free(&ds);
    expect_error("cifar", fmt("dir = \"%s\"; labels = \"coarse\";", dir), "CIFAR-100",
                 "variant = \"cifar100\"");
}
END_TEST

/* Per-channel standardization: the training set's three channels each
   have mean 0 and std 1 afterwards, with the test set mapped by the same
   statistics (recomputed here from the bytes). */
START_TEST(cifar_standardize_channel)
{
    write_cifar("tr.bin", 0, 6, 7, 0);
    write_cifar("te.bin", 0, 2, 8, 0);
    gs_dataset ds;
    ck_assert_int_eq(load("cifar", fmt("dir = \"%s\"; train = \"tr.bin\"; test = \"te.bin\"; "
                                       "preprocess = \"standardize\";", dir), 1, &ds), 0);
    for (size_t ch = 0; ch < 3; ch++) {
        double m = 0, s = 0, n = 6.0 * 1024;
        for (size_t i = 0; i < 6; i++)
            for (size_t j = ch * 1024; j < (ch + 1) * 1024; j++)
                m += pix(7, i, j) / 255.0;
        m /= n;
        for (size_t i = 0; i < 6; i++)
            for (size_t j = ch * 1024; j < (ch + 1) * 1024; j++)
                s += (pix(7, i, j) / 255.0 - m) * (pix(7, i, j) / 255.0 - m);
        s = sqrt(s / n);
        double got_m = 0, got_s = 0;
        for (size_t i = 0; i < 6; i++)
            for (size_t j = ch * 1024; j < (ch + 1) * 1024; j++) {
                got_m += ds.train.x[i * CIFAR_PIXELS + j];
                got_s += (double)ds.train.x[i * CIFAR_PIXELS + j] * ds.train.x[i * CIFAR_PIXELS + j];
            }
        ck_assert_double_eq_tol(got_m / n, 0.0, 1e-5);
        ck_assert_double_eq_tol(sqrt(got_s / n), 1.0, 1e-5);
        size_t j = ch * 1024 + 3;
        ck_assert_double_eq_tol(ds.test.x[CIFAR_PIXELS + j], (pix(8, 1, j) / 255.0 - m) / s, 1e-5);
    }
    ds_free(&ds);
}
END_TEST

START_TEST(cifar_bad_files)
{
    /* two records and 1000 bytes of a third: the byte count and the file */
    write_cifar("cut.bin", 0, 3, 1, 2073);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"cut.bin\"; test = \"\";", dir),
                 fmt("%s: 7146 bytes is not a whole number of 3073-byte CIFAR-10 records",
                     path_of("cut.bin")),
                 "2 whole records and 1000 bytes over");
    /* CIFAR-100 records read as CIFAR-10: 3074 * 3073 bytes would pass, so 5 records */
    write_cifar("c100.bin", 1, 5, 1, 0);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"c100.bin\"; test = \"\";", dir),
                 "15370 bytes", "a CIFAR-100 file (variant = \"cifar100\")");
    /* and the other way */
    write_cifar("c10.bin", 0, 2, 1, 0);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"c10.bin\"; test = \"\"; "
                              "variant = \"cifar100\";", dir),
                 "6146 bytes is not a whole number of 3074-byte CIFAR-100 records",
                 "a CIFAR-10 file (variant = \"cifar10\")");
    write_bytes("empty.bin", "", 0, 0);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"empty.bin\"; test = \"\";", dir),
                 path_of("empty.bin"), "empty file");
    /* a bad test file is as fatal as a bad training file */
    write_cifar("ok.bin", 0, 2, 1, 0);
    write_cifar("tcut.bin", 0, 2, 1, 1);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"ok.bin\"; test = \"tcut.bin\";", dir),
                 path_of("tcut.bin"), "6145 bytes");
    expect_error("cifar", fmt("dir = \"%s\"; train = \"ok.bin, gone.bin\"; test = \"\";", dir),
                 path_of("gone.bin"), "cannot open");
    expect_error("cifar", fmt("dir = \"%s\"; train = \" , \"; test = \"\";", dir),
                 "train names no file", NULL);
    /* a label byte of 10 or more in a CIFAR-10 file */
    unsigned char rec[3073] = { 10 };
    write_bytes("lab.bin", rec, sizeof rec, 0);
    expect_error("cifar", fmt("dir = \"%s\"; train = \"lab.bin\"; test = \"\";", dir),
                 fmt("%s: label 10 at record 0", path_of("lab.bin")), "10 classes");
    /* dir is required */
    gs_error err;
    ck_assert_ptr_null(gs_ref_parse(reg, GS_KIND_DATASET, "cifar", "", &err));
    ck_assert_msg(strstr(err.msg, "dir"), "%s", err.msg);
}
END_TEST

/* ---------------------------------------------------------------- */
/* synthetic images                                                  */
/* ---------------------------------------------------------------- */

START_TEST(synthetic_images)
{
    const char *text = "set = \"images\"; classes = 3; channels = 2; image_size = 10; "
                       "samples = 60; test_samples = 30;";
    gs_dataset a, b, c;
    ck_assert_int_eq(load("synthetic", text, 5, &a), 0);
    ck_assert_int_eq(load("synthetic", text, 5, &b), 0);
    ck_assert_int_eq(load("synthetic", text, 6, &c), 0);
    ck_assert_int_eq(a.shape.layout, GS_LAYOUT_IMAGE);
    ck_assert_int_eq(a.shape.ndim, 3);
    ck_assert_uint_eq(a.shape.dims[0], 2);
    ck_assert_uint_eq(a.shape.dims[1], 10);
    ck_assert_uint_eq(a.shape.dims[2], 10);
    ck_assert_uint_eq(a.classes, 3);
    ck_assert_uint_eq(a.train.count, 60);
    ck_assert_uint_eq(a.test.count, 30);
    ck_assert(same_split(&a.train, &b.train, 200, 0));
    ck_assert(same_split(&a.test, &b.test, 200, 0));
    ck_assert(!same_split(&a.train, &c.train, 200, 0));
    /* noise 0.2 around bars of contrast 0.5..1: the class means differ
       far more than the noise of a mean over 20 examples (0.2/sqrt(20)) */
    double mean[3][200] = { { 0 } };
    int count[3] = { 0 };
    for (size_t i = 0; i < 60; i++) {
        int k = a.train.labels[i];
        ck_assert(k >= 0 && k < 3);
        count[k]++;
        for (size_t j = 0; j < 200; j++)
            mean[k][j] += a.train.x[i * 200 + j] / 20.0;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(count[k], 20);
    for (int k = 0; k < 3; k++)
        for (int l = k + 1; l < 3; l++) {
            double d2 = 0;
            for (size_t j = 0; j < 200; j++)
                d2 += (mean[k][j] - mean[l][j]) * (mean[k][j] - mean[l][j]);
            ck_assert_msg(sqrt(d2) > 1.0, "classes %d and %d: mean images %g apart", k, l,
                          sqrt(d2));
        }
    ds_free(&a);
    ds_free(&b);
    ds_free(&c);
}
END_TEST

/* Trains `cfg` (with --set `sets`) into dir/NAME; returns that run's
   metrics.csv, which the caller frees. */
static char *train_metrics(const char *cfg, const char *name, const char *const *sets, size_t n)
{
    char *out = tu_train(reg, dir, cfg, name, sets, n);
    char *p = tu_path(out, "metrics.csv");
    char *text = tu_read(p, NULL);
    ck_assert_ptr_nonnull(text);
    free(p);
    free(out);
    return text;
}

/* The last field of the last line of a CSV text: here test_accuracy. */
static double last_field(const char *csv)
{
    const char *end = csv + strlen(csv);
    while (end > csv && end[-1] == '\n')
        end--;
    const char *comma = end;
    while (comma > csv && comma[-1] != ',')
        comma--;
    return atof(comma);
}

static const char *image_exp =
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"images\"; classes = 4; channels = 3;\n"
    "         image_size = 12; samples = 600; test_samples = 200; };\n"
    "model = { layers = ( { type = \"dense\"; units = 32; activation = \"relu\"; },\n"
    "                     { type = \"dense\"; units = 4; } ); };\n"
    "optimizer = { type = \"adam\"; lr = 0.003; };\n"
    "training = { epochs = 4; batch_size = 32; };\n"
    "monitor = { every = 5; };\n";

/* A dense net on the flattened images does far better than chance (1/4). */
START_TEST(synthetic_images_learnable)
{
    char *m = train_metrics(image_exp, "plain", NULL, 0);
    double acc = last_field(m);
    ck_assert_msg(acc > 0.6, "test accuracy %g after 4 epochs", acc);
    free(m);
}
END_TEST

/* Augmentation in a run: it changes the training (so it is applied), the
   same seed repeats it exactly, the thread count does not matter. */
START_TEST(augment_in_training)
{
    const char *on[2] = { "data.augment.crop_padding=2", "data.augment.flip=true" };
    const char *on1[3] = { "data.augment.crop_padding=2", "data.augment.flip=true",
                           "training.threads=1" };
    const char *on2[3] = { "data.augment.crop_padding=2", "data.augment.flip=true",
                           "training.threads=2" };
    const char *crop[1] = { "data.augment.crop_padding=2" };
    char *plain = train_metrics(image_exp, "plain", NULL, 0);
    char *a = train_metrics(image_exp, "a", on, 2);
    char *b = train_metrics(image_exp, "b", on, 2);
    char *t1 = train_metrics(image_exp, "t1", on1, 3);
    char *t2 = train_metrics(image_exp, "t2", on2, 3);
    char *c = train_metrics(image_exp, "c", crop, 1);
    ck_assert_str_ne(plain, a);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(a, t1);
    ck_assert_str_eq(t1, t2);
    ck_assert_str_ne(a, c);
    ck_assert_msg(last_field(a) > 0.5, "test accuracy %g with augmentation", last_field(a));
    free(plain);
    free(a);
    free(b);
    free(t1);
    free(t2);
    free(c);
}
END_TEST

/* data.augment needs images; it is checked before anything is written. */
START_TEST(augment_needs_images)
{
    char *path = tu_path(dir, "v.cfg");
    tu_write(path, "data = { type = \"synthetic\"; augment = { flip = true; }; };\n"
                   "model = { layers = ( { type = \"dense\"; units = 2; } ); };\n");
    char *out = tu_path(dir, "v");
    gs_run_options opt = { .out_dir = out, .seed = -1, .quiet = 1 };
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_experiment_run(e, &opt, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "data.augment") && strstr(err.msg, "vectors (2)"), "%s",
                  err.msg);
    ck_assert(!tu_exists(out));
    gs_experiment_free(e);
    /* and its own keys are checked like any other section's */
    tu_write(path, "data = { type = \"synthetic\"; augment = { crop = 4; }; };\n"
                   "model = { layers = ( { type = \"dense\"; units = 2; } ); };\n");
    ck_assert_ptr_null(gs_experiment_load(reg, path, &opt, &err));
    ck_assert_msg(strstr(err.msg, "v.cfg:1") && strstr(err.msg, "crop"), "%s", err.msg);
    tu_write(path, "data = { type = \"synthetic\"; augment = { crop_padding = 65; }; };\n"
                   "model = { layers = ( { type = \"dense\"; units = 2; } ); };\n");
    ck_assert_ptr_null(gs_experiment_load(reg, path, &opt, &err));
    ck_assert_msg(strstr(err.msg, "crop_padding"), "%s", err.msg);
    free(path);
    free(out);
}
END_TEST

/* A CIFAR set into a model built for one channel: exit 2 before anything
   is written, the error naming the layer's line and both shapes. */
START_TEST(image_shape_mismatch)
{
    gs_error err;
    gs_ref *conv = gs_ref_parse(reg, GS_KIND_LAYER, "conv2d", "channels = 2; kernel = 3;", &err);
    if (!conv) {
        fprintf(stderr, "image_shape_mismatch: no conv2d layer installed (%s)\n", err.msg);
        return;
    }
    gs_ref_free(conv);
    write_cifar("b.bin", 0, 4, 1, 0);
    char *path = tu_path(dir, "m.cfg");
    tu_write(path, fmt("data = { type = \"cifar\"; dir = \"%s\"; train = \"b.bin\"; test = \"\"; };\n"
                       "model = { layers = (\n"
                       "  { type = \"conv2d\"; channels = 4; kernel = 3; in_channels = 1; },\n"
                       "  { type = \"dense\"; units = 10; } ); };\n"
                       "training = { validation = 0; };\n", dir));
    char *out = tu_path(dir, "m");
    gs_run_options opt = { .out_dir = out, .seed = -1, .quiet = 1 };
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    int rc = e ? gs_experiment_run(e, &opt, &err) : GS_EXIT_INPUT;
    ck_assert_int_eq(rc, GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "m.cfg:3") && strstr(err.msg, "conv2d") &&
                      strstr(err.msg, "(3, 32, 32)") && strstr(err.msg, "in_channels = 1"),
                  "%s", err.msg);
    ck_assert(!tu_exists(out));
    gs_experiment_free(e);
    free(path);
    free(out);
}
END_TEST

/* ---------------------------------------------------------------- */
/* sequences                                                         */
/* ---------------------------------------------------------------- */

/* Inputs and label or target rows of two splits equal. */
static int same_rows(const gs_split *a, const gs_split *b, size_t per, size_t rows, size_t tw)
{
    if (a->count != b->count || memcmp(a->x, b->x, a->count * per * sizeof(float)) != 0)
        return 0;
    if (tw)
        return memcmp(a->targets, b->targets, a->count * rows * tw * sizeof(float)) == 0;
    return memcmp(a->labels, b->labels, a->count * rows * sizeof(int32_t)) == 0;
}

START_TEST(sequence_sets_seeded)
{
    const char *sets[3][2] = {
        { "adding", "length = 12; samples = 30; test_samples = 5;" },
        { "copy", "delay = 4; samples = 30; test_samples = 5;" },
        { "temporal_order", "length = 20; samples = 30; test_samples = 5;" },
    };
    for (int s = 0; s < 3; s++) {
        gs_dataset a, b, c;
        ck_assert_int_eq(load(sets[s][0], sets[s][1], 7, &a), 0);
        ck_assert_int_eq(load(sets[s][0], sets[s][1], 7, &b), 0);
        ck_assert_int_eq(load(sets[s][0], sets[s][1], 8, &c), 0);
        ck_assert_int_eq(a.shape.layout, GS_LAYOUT_SEQUENCE);
        ck_assert_int_eq(a.shape.ndim, 2);
        size_t per = a.shape.dims[0] * a.shape.dims[1], rows = a.steps > 1 ? a.steps : 1;
        ck_assert_uint_eq(a.train.count, 30);
        ck_assert_uint_eq(a.test.count, 5);
        ck_assert(same_rows(&a.train, &b.train, per, rows, a.target_width));
        ck_assert(same_rows(&a.test, &b.test, per, rows, a.target_width));
        ck_assert(!same_rows(&a.train, &c.train, per, rows, a.target_width));
        ck_assert(!same_rows(&a.train, &a.test, per, rows, a.target_width)); /* drawn apart */
        ds_free(&a);
        ds_free(&b);
        ds_free(&c);
    }
}
END_TEST

/* Two markers, one in each half; the target is the sum of the marked
   values; predicting 1 scores MSE 1/6 (the variance of a sum of two U(0,1)). */
START_TEST(adding_statistics)
{
    gs_dataset ds;
    ck_assert_int_eq(load("adding", "length = 21; samples = 4000; test_samples = 3;", 3, &ds), 0);
    ck_assert_uint_eq(ds.shape.dims[0], 21);
    ck_assert_uint_eq(ds.shape.dims[1], 2);
    ck_assert_uint_eq(ds.classes, 0);
    ck_assert_uint_eq(ds.target_width, 1);
    ck_assert_uint_le(ds.steps, 1);
    ck_assert_ptr_null(ds.train.labels);
    double mse = 0;
    size_t first_seen[10] = { 0 };
    for (size_t i = 0; i < ds.train.count; i++) {
        const float *x = ds.train.x + i * 42;
        size_t marks = 0, at[3] = { 0 }, bad = 0;
        double sum = 0;
        /* plain tests in the loops: a check assertion per value is slow */
        for (size_t t = 0; t < 21; t++) {
            bad += !(x[2 * t] >= 0.0f && x[2 * t] < 1.0f);
            bad += !(x[2 * t + 1] == 0.0f || x[2 * t + 1] == 1.0f);
            if (x[2 * t + 1] == 1.0f) {
                if (marks < 3)
                    at[marks] = t;
                marks++;
                sum += x[2 * t];
            }
        }
        ck_assert_msg(bad == 0 && marks == 2 && at[0] < 10 && at[1] >= 10 &&
                          ds.train.targets[i] == (float)sum,
                      "example %zu: %zu bad values, %zu marks at %zu, %zu", i, bad, marks,
                      at[0], at[1]);
        first_seen[at[0]] = 1;
        mse += (ds.train.targets[i] - 1.0) * (ds.train.targets[i] - 1.0);
    }
    for (size_t t = 0; t < 10; t++)
        ck_assert(first_seen[t]); /* every step of the first half can hold it */
    mse /= (double)ds.train.count;
    ck_assert_msg(fabs(mse - 1.0 / 6.0) < 0.01, "baseline MSE %g", mse);
    ds_free(&ds);
}
END_TEST

/* S = 2L + delay steps, one-hot inputs (blank, K symbols, delimiter);
   labels blank but for the L symbols written back at the end. */
START_TEST(copy_structure)
{
    gs_dataset ds;
    ck_assert_int_eq(load("copy", "symbols = 3; copy_length = 4; delay = 5; samples = 50; "
                                  "test_samples = 2;", 4, &ds), 0);
    size_t S = 13, C = 5;
    ck_assert_uint_eq(ds.shape.dims[0], S);
    ck_assert_uint_eq(ds.shape.dims[1], C);
    ck_assert_uint_eq(ds.classes, 4);
    ck_assert_uint_eq(ds.steps, S);
    ck_assert_ptr_null(ds.train_mask);
    int used[4] = { 0 };
    for (size_t i = 0; i < ds.train.count; i++) {
        const float *x = ds.train.x + i * S * C;
        const int32_t *y = ds.train.labels + i * S;
        size_t hot[13];
        for (size_t t = 0; t < S; t++) {
            size_t ones = 0;
            for (size_t k = 0; k < C; k++) {
                ck_assert(x[t * C + k] == 0.0f || x[t * C + k] == 1.0f);
                if (x[t * C + k] == 1.0f)
                    ones++, hot[t] = k;
            }
            ck_assert_uint_eq(ones, 1);
        }
        for (size_t t = 0; t < 4; t++) {
            ck_assert(hot[t] >= 1 && hot[t] <= 3);
            used[hot[t]] = 1;
            ck_assert_int_eq(y[9 + t], (int32_t)hot[t]);
        }
        for (size_t t = 4; t < 8; t++)
            ck_assert_uint_eq(hot[t], 0);
        ck_assert_uint_eq(hot[8], 4); /* the delimiter */
        for (size_t t = 9; t < S; t++)
            ck_assert_uint_eq(hot[t], 0);
        for (size_t t = 0; t < 9; t++)
            ck_assert_int_eq(y[t], 0);
    }
    ck_assert(used[1] && used[2] && used[3]);
    ds_free(&ds);
}
END_TEST

/* B first, E last, X/Y once in [T/10, T/5] and once in [T/2, 3T/5],
   distractors a-d elsewhere; label 2 * first + second (X 0, Y 1). */
START_TEST(temporal_order_structure)
{
    gs_dataset ds;
    ck_assert_int_eq(load("temporal_order", "length = 100; samples = 400; test_samples = 0;", 5,
                          &ds), 0);
    size_t T = 100, C = 8;
    ck_assert_uint_eq(ds.shape.dims[0], T);
    ck_assert_uint_eq(ds.shape.dims[1], C);
    ck_assert_uint_eq(ds.classes, 4);
    ck_assert_uint_le(ds.steps, 1);
    int classes[4] = { 0 };
    for (size_t i = 0; i < ds.train.count; i++) {
        const float *x = ds.train.x + i * T * C;
        size_t rel[2] = { 0, 0 }, nrel = 0, sym[2] = { 0, 0 }, bad = 0;
        for (size_t t = 0; t < T; t++) {
            size_t ones = 0, k1 = 0;
            for (size_t k = 0; k < C; k++)
                if (x[t * C + k] == 1.0f)
                    ones++, k1 = k;
                else
                    bad += x[t * C + k] != 0.0f;
            bad += ones != 1;
            if (t == 0)
                bad += k1 != 6;
            else if (t == T - 1)
                bad += k1 != 7;
            else if (k1 == 4 || k1 == 5) {
                if (nrel < 2)
                    rel[nrel] = t, sym[nrel] = k1 - 4;
                nrel++;
            } else
                bad += k1 >= 4;
        }
        ck_assert_msg(bad == 0 && nrel == 2, "example %zu: %zu bad steps, %zu X/Y", i, bad,
                      nrel);
        ck_assert(rel[0] >= 10 && rel[0] <= 20);
        ck_assert(rel[1] >= 50 && rel[1] <= 60);
        ck_assert_int_eq(ds.train.labels[i], (int32_t)(2 * sym[0] + sym[1]));
        classes[ds.train.labels[i]]++;
    }
    for (int k = 0; k < 4; k++)
        ck_assert_msg(classes[k] > 60, "class %d: %d of 400", k, classes[k]);
    ds_free(&ds);
}
END_TEST

/* Too short to hold the task: refused by the parameters' limits. */
START_TEST(sequence_limits)
{
    const char *bad[4][3] = { { "adding", "length = 0;", "length = 0 is out of range [2," },
                              { "adding", "length = 1;", "length = 1 is out of range [2," },
                              { "copy", "delay = 0;", "delay = 0 is out of range [1," },
                              { "temporal_order", "length = 9;",
                                "length = 9 is out of range [10," } };
    for (int k = 0; k < 4; k++) {
        gs_error err;
        gs_ref *r = gs_ref_parse(reg, GS_KIND_DATASET, bad[k][0], bad[k][1], &err);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err.msg, bad[k][2]), "%s", err.msg);
    }
}
END_TEST

/* Rows and pixels read the image's values in its order; permuted pixels
   are one seeded permutation of them, the same for every image. */
START_TEST(idx_sequences)
{
    write_images("a.idx", 0, IMG, 6, 3, 4, 6, 0);
    write_labels("a.lab", 0, LAB, 6, 6, -1, 0);
    write_images("t.idx", 0, IMG, 2, 3, 4, 2, 1);
    write_labels("t.lab", 0, LAB, 2, 2, -1, 0);
    const char *base = fmt("train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; "
                           "test_labels = \"%s\"; preprocess = \"none\";",
                           path_of("a.idx"), path_of("a.lab"), path_of("t.idx"),
                           path_of("t.lab"));
    char text[1200];
    gs_dataset flat, rows, pixels, p1, p1b, p2;
    ck_assert_int_eq(load("idx", base, 1, &flat), 0);
    snprintf(text, sizeof text, "%s sequence = \"rows\";", base);
    ck_assert_int_eq(load("idx", text, 1, &rows), 0);
    ck_assert_int_eq(rows.shape.layout, GS_LAYOUT_SEQUENCE);
    ck_assert_uint_eq(rows.shape.dims[0], 3);
    ck_assert_uint_eq(rows.shape.dims[1], 4);
    ck_assert(memcmp(rows.train.x, flat.train.x, 6 * 12 * sizeof(float)) == 0);
    ck_assert(memcmp(rows.train.labels, flat.train.labels, 6 * sizeof(int32_t)) == 0);
    snprintf(text, sizeof text, "%s sequence = \"pixels\";", base);
    ck_assert_int_eq(load("idx", text, 1, &pixels), 0);
    ck_assert_int_eq(pixels.shape.layout, GS_LAYOUT_SEQUENCE);
    ck_assert_uint_eq(pixels.shape.dims[0], 12);
    ck_assert_uint_eq(pixels.shape.dims[1], 1);
    ck_assert(memcmp(pixels.train.x, flat.train.x, 6 * 12 * sizeof(float)) == 0);
    snprintf(text, sizeof text, "%s sequence = \"pixels\"; permute = true;", base);
    ck_assert_int_eq(load("idx", text, 1, &p1), 0);
    ck_assert_int_eq(load("idx", text, 1, &p1b), 0);
    ck_assert_int_eq(load("idx", text, 2, &p2), 0);
    ck_assert(memcmp(p1.train.x, p1b.train.x, 6 * 12 * sizeof(float)) == 0);
    ck_assert(memcmp(p1.train.x, p2.train.x, 6 * 12 * sizeof(float)) != 0);
    ck_assert(memcmp(p1.train.x, flat.train.x, 6 * 12 * sizeof(float)) != 0);
    /* the fixture's pixels differ within an image: each step's source is found */
    size_t perm[12];
    int taken[12] = { 0 };
    for (size_t t = 0; t < 12; t++) {
        size_t src = 12;
        for (size_t j = 0; j < 12; j++)
            if (p1.train.x[t] == flat.train.x[j])
                src = j;
        ck_assert_uint_lt(src, 12);
        ck_assert(!taken[src]);
        taken[src] = 1;
        perm[t] = src;
    }
    gs_split *sp[2][2] = { { &p1.train, &flat.train }, { &p1.test, &flat.test } };
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sp[s][0]->count; i++)
            for (size_t t = 0; t < 12; t++)
                ck_assert_float_eq(sp[s][0]->x[i * 12 + t], sp[s][1]->x[i * 12 + perm[t]]);
    snprintf(text, sizeof text, "%s sequence = \"rows\"; permute = true;", base);
    expect_error("idx", text, "permute", "rows");
    gs_dataset *all[6] = { &flat, &rows, &pixels, &p1, &p1b, &p2 };
    for (int k = 0; k < 6; k++)
        ds_free(all[k]);
}
END_TEST

/* Sequences of a CSV file by id: padded in front with one target per
   sequence, at the end with a mask for a target per step. */
START_TEST(csv_sequences)
{
    write_text("s.csv", "id,a,b,label\n"
                        "7,1,2,0\n"
                        "7,3,4,1\n"
                        "7,5,6,2\n"
                        "3,10,20,1\n"
                        "9,30,40,2\n"
                        "9,50,60,0\n");
    gs_dataset ds;
    const char *text = fmt("train = \"%s\"; sequence = \"id\";", path_of("s.csv"));
    ck_assert_int_eq(load("csv", text, 1, &ds), 0);
    ck_assert_int_eq(ds.shape.layout, GS_LAYOUT_SEQUENCE);
    ck_assert_uint_eq(ds.shape.dims[0], 3);
    ck_assert_uint_eq(ds.shape.dims[1], 2);
    ck_assert_uint_le(ds.steps, 1);
    ck_assert_uint_eq(ds.classes, 3);
    ck_assert_uint_eq(ds.train.count, 3);
    const float want[3][6] = { { 1, 2, 3, 4, 5, 6 }, { 0, 0, 0, 0, 10, 20 },
                               { 0, 0, 30, 40, 50, 60 } };
    const int32_t last[3] = { 2, 1, 0 };
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 6; k++)
            ck_assert_float_eq(ds.train.x[i * 6 + k], want[i][k]);
        ck_assert_int_eq(ds.train.labels[i], last[i]);
    }
    ds_free(&ds);
    text = fmt("train = \"%s\"; sequence = \"id\"; per_step = true;", path_of("s.csv"));
    ck_assert_int_eq(load("csv", text, 1, &ds), 0);
    ck_assert_uint_eq(ds.steps, 3);
    ck_assert_ptr_nonnull(ds.train_mask);
    const float want2[3][6] = { { 1, 2, 3, 4, 5, 6 }, { 10, 20, 0, 0, 0, 0 },
                                { 30, 40, 50, 60, 0, 0 } };
    const int32_t labels[9] = { 0, 1, 2, 1, 0, 0, 2, 0, 0 };
    const uint8_t mask[9] = { 1, 1, 1, 1, 0, 0, 1, 1, 0 };
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 6; k++)
            ck_assert_float_eq(ds.train.x[i * 6 + k], want2[i][k]);
    for (size_t r = 0; r < 9; r++) {
        ck_assert_int_eq(ds.train.labels[r], labels[r]);
        ck_assert_int_eq(!!ds.train_mask[r], mask[r]);
    }
    ds_free(&ds);
    write_text("bad.csv", "id,a,label\n1,0,0\n2,0,1\n1,0,0\n");
    expect_error("csv", fmt("train = \"%s\"; sequence = \"id\";", path_of("bad.csv")),
                 "bad.csv:4", "consecutive");
    expect_error("csv", fmt("train = \"%s\"; sequence = \"seq\";", path_of("bad.csv")),
                 "no column 'seq'", NULL);
    expect_error("csv", fmt("train = \"%s\"; per_step = true;", path_of("bad.csv")),
                 "per_step", "sequence");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *t = tcase_create("idx");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, idx_plain_raw);
    tcase_add_test(t, idx_gz_scale_unflattened_with_test);
    tcase_add_test(t, idx_standardize_global);
    tcase_add_test(t, idx_standardize_feature);
    tcase_add_test(t, idx_limit);
    tcase_add_test(t, idx_bad_magic);
    tcase_add_test(t, idx_count_mismatch);
    tcase_add_test(t, idx_label_out_of_range);
    tcase_add_test(t, idx_truncated_gz);
    tcase_add_test(t, idx_corrupt_gz);
    tcase_add_test(t, idx_truncated_plain);
    tcase_add_test(t, idx_trailing_data);
    tcase_add_test(t, idx_impossible_dimensions);
    tcase_add_test(t, idx_missing_and_half_test);
    tcase_add_test(t, idx_default_missing_hint);
    tcase_add_test(t, idx_fashion_mnist);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);

    t = tcase_create("csv");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, csv_classification);
    tcase_add_test(t, csv_regression);
    tcase_add_test(t, csv_standardize);
    tcase_add_test(t, csv_errors);
    tcase_add_test(t, data_path_fifo_refused);
    suite_add_tcase(s, t);

    /* its own timeout, whatever CK_DEFAULT_TIMEOUT says: the quadratic
       check took 10 s, the sorted one takes well under 1 */
    t = tcase_create("csv-wide");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, csv_wide_header);
    tcase_set_timeout(t, 5);
    suite_add_tcase(s, t);

    t = tcase_create("synthetic");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, synthetic_determinism);
    tcase_add_test(t, synthetic_spirals);
    tcase_add_test(t, synthetic_blobs);
    tcase_add_test(t, synthetic_teacher);
    tcase_add_test(t, synthetic_teacher_linear);
    tcase_add_test(t, synthetic_limits);
    tcase_add_test(t, synthetic_memory_check);
    tcase_add_test(t, synthetic_images);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);

    t = tcase_create("cifar");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, cifar10_read);
    tcase_add_test(t, cifar100_fine_and_coarse);
    tcase_add_test(t, cifar_standardize_channel);
    tcase_add_test(t, cifar_bad_files);
    suite_add_tcase(s, t);

    t = tcase_create("sequences");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, sequence_sets_seeded);
    tcase_add_test(t, adding_statistics);
    tcase_add_test(t, copy_structure);
    tcase_add_test(t, temporal_order_structure);
    tcase_add_test(t, sequence_limits);
    tcase_add_test(t, idx_sequences);
    tcase_add_test(t, csv_sequences);
    suite_add_tcase(s, t);

    t = tcase_create("images in training");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, synthetic_images_learnable);
    tcase_add_test(t, augment_in_training);
    tcase_add_test(t, augment_needs_images);
    tcase_add_test(t, image_shape_mismatch);
    tcase_set_timeout(t, 300);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
