/*
 * IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed; as vectors,
 * images, or sequences read row by row (T = rows, C = cols) or pixel by
 * pixel (T = rows * cols, C = 1), the pixels optionally in one seeded
 * permuted order (pMNIST, Le et al. 2015).
 *
 * Header sizes are untrusted: pixel bytes are read into a buffer that grows
 * with what the file actually holds, so a forged count cannot make us
 * allocate gigabytes before the short read is noticed.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "gradscope/plugin.h"
#include "datamem.h"

enum { P_TRAIN_IMAGES, P_TRAIN_LABELS, P_TEST_IMAGES, P_TEST_LABELS, P_PREPROCESS,
       P_STANDARDIZE, P_FLATTEN, P_CLASSES, P_LIMIT, P_SEQUENCE, P_PERMUTE };

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist/"
#define MAGIC_IMAGES 0x00000803u
#define MAGIC_LABELS 0x00000801u

/* Largest float array one split may hold (elements). */
#define MAX_ELEMS ((size_t)1 << 31)
#define MAX_SIDE 65536u

#define STD_FLOOR 1e-8

typedef struct idx_file {
    const gs_host *host;
    const char *path;
    gzFile gz;
} idx_file;

static int idx_open(idx_file *f, const gs_host *h, const char *path, const char *key)
{
    f->host = h;
    f->path = path;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (f->gz)
        return 0;
    const char *why = errno ? strerror(errno) : "out of memory";
    if (strncmp(path, FMNIST_DIR, sizeof FMNIST_DIR - 1) == 0)
        h->error("%s: cannot open: %s; install the Debian package dataset-fashion-mnist "
                 "(apt-get install dataset-fashion-mnist) or set data.%s", path, why, key);
    else
        h->error("%s: cannot open: %s (data.%s)", path, why, key);
    return -1;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

/* Reads up to n bytes; returns the count read (short only at end or error). */
static size_t idx_read(idx_file *f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > (1u << 30))
            want = 1u << 30;
        int r = gzread(f->gz, (unsigned char *)buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/*
 * Explains a short read: a damaged gzip stream or a plain file that ends
 * early.  `where` completes the sentence: "in the header", "at record 7 of 10".
 */
static void idx_short(idx_file *f, const char *where)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    size_t plen = strlen(f->path);
    if (strncmp(msg, f->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2; /* zlib prefixes the path we print anyway */
    if (errnum == Z_ERRNO)
        f->host->error("%s: read error %s: %s", f->path, where, strerror(errno));
    else if (errnum == Z_BUF_ERROR)
        f->host->error("%s: truncated gzip stream %s", f->path, where);
    else if (errnum != Z_OK)
        f->host->error("%s: corrupt gzip stream %s (%s)", f->path, where, msg);
    else
        f->host->error("%s: file ends early, %s", f->path, where);
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads the magic and the dimensions; dims[0] is the record count. */
static int idx_header(idx_file *f, uint32_t magic, int ndims, uint32_t *dims)
{
    unsigned char b[4 * 4];
    if (idx_read(f, b, 4) < 4) {
        idx_short(f, "in the header");
        return -1;
    }
    uint32_t m = be32(b);
    if (m != magic) {
        if (m == MAGIC_IMAGES || m == MAGIC_LABELS)
            f->host->error("%s: magic %u marks an IDX %s file; expected IDX %s", f->path, m,
                           m == MAGIC_IMAGES ? "images" : "labels",
                           magic == MAGIC_IMAGES ? "images" : "labels");
        else
            f->host->error("%s: bad magic 0x%08x, expected 0x%08x (IDX %s: unsigned bytes, "
                           "%d dimension%s)", f->path, m, magic,
                           magic == MAGIC_IMAGES ? "images" : "labels", ndims,
                           ndims == 1 ? "" : "s");
        return -1;
    }
    if (idx_read(f, b, 4 * (size_t)ndims) < 4 * (size_t)ndims) {
        idx_short(f, "in the header");
        return -1;
    }
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(b + 4 * i);
        if (i > 0 && (dims[i] == 0 || dims[i] > MAX_SIDE)) {
            f->host->error("%s: impossible %s %u (must be 1..%u)", f->path,
                           i == 1 ? "row count" : "column count", dims[i], MAX_SIDE);
            return -1;
        }
    }
    return 0;
}

/*
 * Reads n records of `size` bytes each into a buffer that doubles as data
 * arrives; *out is host-allocated.  Returns 0 or -1 after an error naming
 * the record where the file gave out.
 */
static int idx_records(idx_file *f, size_t n, size_t size, unsigned char **out)
{
    const gs_host *h = f->host;
    size_t total = n * size, cap = total < (1u << 20) ? total : (1u << 20), have = 0;
    unsigned char *buf = h->alloc(cap ? cap : 1);
    while (have < total) {
        if (have == cap) {
            size_t ncap = cap * 2 < total ? cap * 2 : total;
            unsigned char *nb = h->alloc(ncap);
            memcpy(nb, buf, have);
            h->free(buf);
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - have;
        size_t got = idx_read(f, buf + have, want);
        have += got;
        if (got < want) {
            char where[96];
            snprintf(where, sizeof where, "at record %zu of %zu", have / size, n);
            idx_short(f, where);
            h->free(buf);
            return -1;
        }
    }
    *out = buf;
    return 0;
}

/*
 * At the declared end: refuse trailing bytes (header and payload disagree)
 * and let zlib verify the gzip trailer, which catches corruption that
 * still inflated to the right length.
 */
static int idx_check_end(idx_file *f, size_t n)
{
    unsigned char b;
    int r = gzread(f->gz, &b, 1);
    if (r == 1) {
        f->host->error("%s: data continues after the %zu records the header declares",
                       f->path, n);
        return -1;
    }
    int errnum = Z_OK;
    gzerror(f->gz, &errnum);
    if (r < 0 || errnum != Z_OK) {
        idx_short(f, "at the end of the stream");
        return -1;
    }
    return 0;
}

typedef struct split_paths {
    const char *images, *labels;
    const char *images_key, *labels_key;
} split_paths;

/*
 * Loads one split as raw pixel values (0..255 as float) and labels.
 * limit > 0 keeps the first `limit` records.
 */
static int load_split(const gs_data_call *c, const split_paths *sp, size_t limit,
                      size_t classes, uint32_t *rows, uint32_t *cols, gs_split *s)
{
    const gs_host *h = c->host;
    idx_file fi = { 0 }, fl = { 0 };
    uint32_t di[3], dl[1];
    unsigned char *pix = NULL, *lab = NULL;
    int rc = -1;

    if (idx_open(&fi, h, sp->images, sp->images_key) || idx_header(&fi, MAGIC_IMAGES, 3, di))
        goto done;
    if (idx_open(&fl, h, sp->labels, sp->labels_key) || idx_header(&fl, MAGIC_LABELS, 1, dl))
        goto done;
    if (di[0] != dl[0]) {
        h->error("%s: %u labels, but %s holds %u images", sp->labels, dl[0], sp->images,
                 di[0]);
        goto done;
    }
    if (di[0] == 0) {
        h->error("%s: no records", sp->images);
        goto done;
    }
    size_t n = di[0], per = (size_t)di[1] * di[2];
    if (limit > 0 && limit < n)
        n = limit;
    if (per > MAX_ELEMS / n) {
        h->error("%s: %zu records of %u x %u pixels is more than 2^31 values", sp->images, n,
                 di[1], di[2]);
        goto done;
    }
    if (*rows && (di[1] != *rows || di[2] != *cols)) {
        h->error("%s: images are %u x %u, but the training images are %u x %u", sp->images,
                 di[1], di[2], *rows, *cols);
        goto done;
    }
    /* the bytes as read, then as floats and labels */
    if (!data_fits(h, sp->images, 5.0 * (double)n * ((double)per + 1.0)))
        goto done;
    if (idx_records(&fi, n, per, &pix) || idx_records(&fl, n, 1, &lab))
        goto done;
    if (n == di[0] && (idx_check_end(&fi, n) || idx_check_end(&fl, n)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (lab[i] >= classes) {
            h->error("%s: label %u at record %zu out of range (%zu classes)", sp->labels,
                     lab[i], i, classes);
            goto done;
        }
    }

    s->count = n;
    s->x = h->alloc(n * per * sizeof(float));
    s->labels = h->alloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n * per; i++)
        s->x[i] = (float)pix[i];
    for (size_t i = 0; i < n; i++)
        s->labels[i] = lab[i];
    *rows = di[1];
    *cols = di[2];
    rc = 0;
done:
    h->free(pix);
    h->free(lab);
    idx_close(&fi);
    idx_close(&fl);
    return rc;
}

/*
 * Training-set mean and population std of x/255, over all pixels (global)
 * or per pixel position (feature); accumulated in double.
 */
static void train_stats(const gs_split *s, size_t per, int per_feature, double *mean,
                        double *std)
{
    size_t groups = per_feature ? per : 1;
    for (size_t g = 0; g < groups; g++)
        mean[g] = std[g] = 0;
    for (size_t i = 0; i < s->count; i++) {
        const float *xi = s->x + i * per;
        for (size_t j = 0; j < per; j++)
            mean[per_feature ? j : 0] += xi[j] / 255.0;
    }
    double n = (double)s->count * (double)(per / groups);
    for (size_t g = 0; g < groups; g++)
        mean[g] /= n;
    for (size_t i = 0; i < s->count; i++) {
        const float *xi = s->x + i * per;
        for (size_t j = 0; j < per; j++) {
            size_t g = per_feature ? j : 0;
            double d = xi[j] / 255.0 - mean[g];
            std[g] += d * d;
        }
    }
    for (size_t g = 0; g < groups; g++)
        std[g] = sqrt(std[g] / n);
}

/* x <- (x/255 - mean)/std; features with std below the floor become 0. */
static void standardize(gs_split *s, size_t per, int per_feature, const double *mean,
                        const double *std)
{
    for (size_t i = 0; i < s->count; i++) {
        float *xi = s->x + i * per;
        for (size_t j = 0; j < per; j++) {
            size_t g = per_feature ? j : 0;
            xi[j] = std[g] < STD_FLOOR ? 0.0f : (float)((xi[j] / 255.0 - mean[g]) / std[g]);
        }
    }
}

static void scale(gs_split *s, size_t per)
{
    for (size_t i = 0; i < s->count * per; i++)
        s->x[i] = s->x[i] / 255.0f;
}

static void free_split(const gs_host *h, gs_split *s)
{
    h->free(s->x);
    h->free(s->labels);
    memset(s, 0, sizeof *s);
}

/*
 * The pixel order of permuted sequences: a Fisher-Yates shuffle drawn from
 * the data set's seeded stream, one order for every example of both splits.
 */
static void permute_pixels(const gs_data_call *c, gs_dataset *out, size_t per)
{
    const gs_host *h = c->host;
    size_t *perm = h->alloc(per * sizeof *perm);
    float *tmp = h->alloc(per * sizeof *tmp);
    for (size_t i = 0; i < per; i++)
        perm[i] = i;
    for (size_t i = per; i > 1; i--) {
        size_t j = (size_t)(h->rng_uniform(c->rng) * (double)i);
        j = j < i ? j : i - 1;
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    gs_split *splits[2] = {&out->train, &out->test};
    for (int s = 0; s < 2; s++)
        for (size_t e = 0; e < splits[s]->count; e++) {
            float *x = splits[s]->x + e * per;
            for (size_t t = 0; t < per; t++)
                tmp[t] = x[perm[t]];
            memcpy(x, tmp, per * sizeof *tmp);
        }
    h->free(tmp);
    h->free(perm);
}

static int idx_load(const gs_data_call *c, gs_dataset *out)
{
    const gs_host *h = c->host;
    const gs_value *p = c->p;
    const split_paths train = { p[P_TRAIN_IMAGES].s, p[P_TRAIN_LABELS].s,
                                "train_images", "train_labels" };
    const split_paths test = { p[P_TEST_IMAGES].s, p[P_TEST_LABELS].s,
                               "test_images", "test_labels" };
    size_t classes = (size_t)p[P_CLASSES].i;
    uint32_t rows = 0, cols = 0;

    const char *seq = p[P_SEQUENCE].s;
    memset(out, 0, sizeof *out);
    if (p[P_PERMUTE].b && strcmp(seq, "pixels") != 0) {
        h->error("idx: permute = true permutes the pixels of sequence = \"pixels\", but "
                 "sequence = \"%s\"", seq);
        return -1;
    }
    if (!*test.images != !*test.labels) {
        h->error("idx: test_images and test_labels must both be set or both be empty");
        return -1;
    }
    if (load_split(c, &train, (size_t)p[P_LIMIT].i, classes, &rows, &cols, &out->train))
        return -1;
    if (*test.images &&
        load_split(c, &test, 0, classes, &rows, &cols, &out->test)) {
        free_split(h, &out->train);
        return -1;
    }

    size_t per = (size_t)rows * cols;
    const char *pre = p[P_PREPROCESS].s;
    if (strcmp(pre, "scale") == 0) {
        scale(&out->train, per);
        scale(&out->test, per);
    } else if (strcmp(pre, "standardize") == 0) {
        int per_feature = strcmp(p[P_STANDARDIZE].s, "feature") == 0;
        size_t groups = per_feature ? per : 1;
        double *mean = h->alloc(groups * sizeof(double));
        double *std = h->alloc(groups * sizeof(double));
        train_stats(&out->train, per, per_feature, mean, std);
        standardize(&out->train, per, per_feature, mean, std);
        standardize(&out->test, per, per_feature, mean, std);
        h->free(mean);
        h->free(std);
    }

    out->classes = classes;
    if (strcmp(seq, "rows") == 0) {
        out->shape.layout = GS_LAYOUT_SEQUENCE;
        out->shape.ndim = 2;
        out->shape.dims[0] = rows;
        out->shape.dims[1] = cols;
    } else if (strcmp(seq, "pixels") == 0) {
        out->shape.layout = GS_LAYOUT_SEQUENCE;
        out->shape.ndim = 2;
        out->shape.dims[0] = per;
        out->shape.dims[1] = 1;
        if (p[P_PERMUTE].b)
            permute_pixels(c, out, per);
    } else if (p[P_FLATTEN].b) {
        out->shape.layout = GS_LAYOUT_VECTOR;
        out->shape.ndim = 1;
        out->shape.dims[0] = per;
    } else {
        out->shape.layout = GS_LAYOUT_IMAGE;
        out->shape.ndim = 3;
        out->shape.dims[0] = 1;
        out->shape.dims[1] = rows;
        out->shape.dims[2] = cols;
    }
    return 0;
}

static const gs_param_spec idx_params[] = {
    { .name = "train_images", .type = GS_P_PATH,
      .def.s = FMNIST_DIR "train-images-idx3-ubyte.gz",
      .doc = "IDX image file of the training set (.gz or plain)" },
    { .name = "train_labels", .type = GS_P_PATH,
      .def.s = FMNIST_DIR "train-labels-idx1-ubyte.gz",
      .doc = "IDX label file of the training set" },
    { .name = "test_images", .type = GS_P_PATH,
      .def.s = FMNIST_DIR "t10k-images-idx3-ubyte.gz",
      .doc = "IDX image file of the test set (\"\": no test set)" },
    { .name = "test_labels", .type = GS_P_PATH,
      .def.s = FMNIST_DIR "t10k-labels-idx1-ubyte.gz",
      .doc = "IDX label file of the test set (\"\": no test set)" },
    { .name = "preprocess", .type = GS_P_STRING, .def.s = "scale",
      .choices = "none|scale|standardize",
      .doc = "none: raw 0..255; scale: x/255; standardize: (x/255 - mean)/std of the training set" },
    { .name = "standardize", .type = GS_P_STRING, .def.s = "global", .choices = "global|feature",
      .doc = "standardize with one mean/std over all pixels or one per pixel" },
    { .name = "flatten", .type = GS_P_BOOL, .def.b = 1,
      .doc = "true: shape (rows*cols); false: (1, rows, cols) (ignored for sequences)" },
    { .name = "classes", .type = GS_P_INT, .def.i = 10, .min = 1, .max = 256,
      .doc = "number of classes; every label must be below it" },
    { .name = "limit", .type = GS_P_INT, .def.i = 0, .min = 0, .max = INT32_MAX,
      .doc = "use only the first N training records (0: all)" },
    { .name = "sequence", .type = GS_P_STRING, .def.s = "none", .choices = "none|rows|pixels",
      .doc = "none: vectors or images (flatten); rows: sequences (T, C) = (rows, cols); "
             "pixels: (rows*cols, 1)" },
    { .name = "permute", .type = GS_P_BOOL, .def.b = 0,
      .doc = "sequence = \"pixels\": all images' pixels in one seeded random order (pMNIST)" },
    { 0 }
};

static const gs_dataset_ops idx_ops = {
    .size = sizeof(gs_dataset_ops),
    .load = idx_load,
};

static const gs_component components[] = {
    { .size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "idx",
      .doc = "MNIST-style IDX image/label files, plain or gzipped (default: Fashion-MNIST)",
      .params = idx_params, .ops = &idx_ops },
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "data_idx",
    .version = "1.0",
    .license = "MIT",
    .description = "IDX (MNIST, Fashion-MNIST) data set reader",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
