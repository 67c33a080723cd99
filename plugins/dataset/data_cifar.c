/*
 * CIFAR-10 and CIFAR-100 in their binary format (the "binary version" of
 * https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records with no
 * header,
 *
 *   CIFAR-10   <label> <3072 pixels>                  3073 bytes
 *   CIFAR-100  <coarse label> <fine label> <3072 px>  3074 bytes
 *
 * the pixels as three 32 x 32 planes (red, green, blue), rows top to
 * bottom: already the (C, H, W) layout of an image data set.
 *
 * A file's size must be a whole number of records: anything else is a
 * truncated download or a file of the other variant, and is refused
 * with the byte count rather than read as shifted garbage.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "gradscope/plugin.h"
#include "datamem.h"

enum { P_DIR, P_VARIANT, P_LABELS, P_TRAIN, P_TEST, P_PREPROCESS, P_STANDARDIZE, P_LIMIT };

#define SIDE 32
#define PLANE (SIDE * SIDE)
#define PIXELS (3 * PLANE)
#define MAX_FILES 64
#define MAX_PATH 4095

/* Largest float array one split may hold (elements). */
#define MAX_ELEMS ((size_t)1 << 31)

#define STD_FLOOR 1e-8

typedef struct variant {
    int label_bytes; /* 1: CIFAR-10; 2: CIFAR-100 (coarse, fine) */
    size_t classes;
    const char *name;
} variant;

/* The file names of one split, split at commas and white space. */
typedef struct file_list {
    char path[MAX_FILES][MAX_PATH + 1];
    size_t n;
} file_list;

static int list_files(const gs_host *h, const char *dir, const char *names, const char *key,
                      file_list *fl)
{
    fl->n = 0;
    const char *p = names;
    for (;;) {
        p += strspn(p, ", \t\n");
        if (!*p)
            break;
        size_t len = strcspn(p, ", \t\n");
        if (fl->n == MAX_FILES) {
            h->error("cifar: %s names more than %d files", key, MAX_FILES);
            return -1;
        }
        int n = p[0] == '/' || !dir[0]
                    ? snprintf(fl->path[fl->n], sizeof fl->path[0], "%.*s", (int)len, p)
                    : snprintf(fl->path[fl->n], sizeof fl->path[0], "%s/%.*s", dir, (int)len, p);
        if (n < 0 || (size_t)n >= sizeof fl->path[0]) {
            h->error("cifar: %s: the path of '%.*s' is longer than %d characters", key,
                     (int)len, p, MAX_PATH);
            return -1;
        }
        fl->n++;
        p += len;
    }
    return 0;
}

/* Opens a file of records; *records is its size in records. */
static FILE *open_records(const gs_host *h, const char *path, const char *key,
                          const variant *v, size_t *records)
{
    size_t rec = (size_t)v->label_bytes + PIXELS;
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        h->error("%s: cannot open: %s (data.%s)", path, errno ? strerror(errno) : "error", key);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        h->error("%s: not a regular file (data.%s)", path, key);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    if (size == 0 || size % rec != 0) {
        size_t other = (size_t)(3 - v->label_bytes) + PIXELS;
        if (size == 0)
            h->error("%s: empty file, no %s records", path, v->name);
        else
            h->error("%s: %zu bytes is not a whole number of %zu-byte %s records (%d label "
                     "byte%s + %d pixel bytes): %zu whole records and %zu bytes over; the file "
                     "is truncated%s",
                     path, size, rec, v->name, v->label_bytes, v->label_bytes > 1 ? "s" : "",
                     PIXELS, size / rec, size % rec,
                     size % other == 0 ? v->label_bytes == 1
                                             ? " or a CIFAR-100 file (variant = \"cifar100\")"
                                             : " or a CIFAR-10 file (variant = \"cifar10\")"
                                       : "");
        fclose(f);
        return NULL;
    }
    *records = size / rec;
    return f;
}

/*
 * Reads up to `want` records of path into x (raw 0..255) and labels;
 * returns the count read, or (size_t)-1 after an error.
 */
static size_t read_records(const gs_host *h, FILE *f, const char *path, const variant *v,
                           int coarse, size_t want, size_t total, float *x, int32_t *labels)
{
    size_t rec = (size_t)v->label_bytes + PIXELS;
    unsigned char buf[2 + PIXELS];
    for (size_t i = 0; i < want; i++) {
        if (fread(buf, 1, rec, f) != rec) {
            h->error("%s: %s at record %zu of %zu (the file changed while read?)", path,
                     ferror(f) ? "read error" : "file ends early", i, total);
            return (size_t)-1;
        }
        /* CIFAR-100: the coarse label comes first */
        unsigned lab = v->label_bytes == 2 && !coarse ? buf[1] : buf[0];
        if (lab >= v->classes) {
            h->error("%s: label %u at record %zu (byte %zu) out of range (%zu classes)%s", path,
                     lab, i, i * rec + (v->label_bytes == 2 && !coarse ? 1 : 0), v->classes,
                     v->label_bytes == 1 ? "; a CIFAR-100 file? (variant = \"cifar100\")" : "");
            return (size_t)-1;
        }
        labels[i] = (int32_t)lab;
        const unsigned char *px = buf + v->label_bytes;
        for (size_t j = 0; j < PIXELS; j++)
            x[i * PIXELS + j] = (float)px[j];
    }
    return want;
}

static void free_split(const gs_host *h, gs_split *s)
{
    h->free(s->x);
    h->free(s->labels);
    memset(s, 0, sizeof *s);
}

/* The records of every file in fl, in order; limit > 0 keeps the first
   `limit`. */
static int load_split(const gs_data_call *c, const file_list *fl, const char *key,
                      const variant *v, int coarse, size_t limit, gs_split *s)
{
    const gs_host *h = c->host;
    size_t counts[MAX_FILES], n = 0;
    for (size_t k = 0; k < fl->n; k++) {
        FILE *f = open_records(h, fl->path[k], key, v, &counts[k]);
        if (!f)
            return -1;
        fclose(f);
        n += counts[k];
    }
    if (limit > 0 && limit < n)
        n = limit;
    if (n > MAX_ELEMS / PIXELS) {
        h->error("%s: %zu records is more than 2^31 values", fl->path[0], n);
        return -1;
    }
    if (!data_fits(h, fl->path[0], (double)n * (4.0 * PIXELS + 4.0)))
        return -1;
    s->count = n;
    s->x = h->alloc(n * PIXELS * sizeof(float));
    s->labels = h->alloc(n * sizeof(int32_t));
    size_t have = 0;
    for (size_t k = 0; k < fl->n && have < n; k++) {
        size_t total;
        FILE *f = open_records(h, fl->path[k], key, v, &total);
        size_t want = n - have < total ? n - have : total;
        size_t got = f ? read_records(h, f, fl->path[k], v, coarse, want, total,
                                      s->x + have * PIXELS, s->labels + have)
                       : (size_t)-1;
        if (f)
            fclose(f);
        if (got == (size_t)-1) {
            free_split(h, s);
            return -1;
        }
        have += got;
    }
    return 0;
}

/* The group of element j of an image: its channel, the one global group,
   or its own position. */
static size_t group_of(int mode, size_t j)
{
    return mode == 0 ? j / PLANE : mode == 1 ? 0 : j;
}

/*
 * Training-set mean and population std of x/255 per group, in double;
 * then x <- (x/255 - mean)/std on both splits (groups with std below the
 * floor become 0).
 */
static void standardize(const gs_host *h, gs_dataset *d, int mode)
{
    size_t groups = mode == 0 ? 3 : mode == 1 ? 1 : PIXELS;
    double *mean = h->zalloc(groups * sizeof(double));
    double *std = h->zalloc(groups * sizeof(double));
    const gs_split *t = &d->train;
    double per_group = (double)t->count * (double)(PIXELS / groups);
    for (size_t i = 0; i < t->count; i++)
        for (size_t j = 0; j < PIXELS; j++)
            mean[group_of(mode, j)] += t->x[i * PIXELS + j] / 255.0;
    for (size_t g = 0; g < groups; g++)
        mean[g] /= per_group;
    for (size_t i = 0; i < t->count; i++)
        for (size_t j = 0; j < PIXELS; j++) {
            size_t g = group_of(mode, j);
            double e = t->x[i * PIXELS + j] / 255.0 - mean[g];
            std[g] += e * e;
        }
    for (size_t g = 0; g < groups; g++)
        std[g] = sqrt(std[g] / per_group);
    gs_split *splits[2] = { &d->train, &d->test };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < splits[k]->count; i++) {
            float *xi = splits[k]->x + i * PIXELS;
            for (size_t j = 0; j < PIXELS; j++) {
                size_t g = group_of(mode, j);
                xi[j] = std[g] < STD_FLOOR ? 0.0f : (float)((xi[j] / 255.0 - mean[g]) / std[g]);
            }
        }
    h->free(mean);
    h->free(std);
}

static int cifar_load(const gs_data_call *c, gs_dataset *out)
{
    const gs_host *h = c->host;
    const gs_value *p = c->p;
    int is100 = strcmp(p[P_VARIANT].s, "cifar100") == 0;
    int coarse = strcmp(p[P_LABELS].s, "coarse") == 0;
    variant v = { is100 ? 2 : 1, is100 ? (coarse ? 20 : 100) : 10,
                  is100 ? "CIFAR-100" : "CIFAR-10" };
    const char *train = p[P_TRAIN].s, *test = p[P_TEST].s;
    if (strcmp(train, "auto") == 0)
        train = is100 ? "train.bin"
                      : "data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin "
                        "data_batch_5.bin";
    if (strcmp(test, "auto") == 0)
        test = is100 ? "test.bin" : "test_batch.bin";

    memset(out, 0, sizeof *out);
    if (!is100 && coarse) {
        h->error("cifar: labels = \"coarse\" is for CIFAR-100 (variant = \"cifar100\"); "
                 "CIFAR-10 has one label");
        return -1;
    }
    file_list *fl = h->alloc(sizeof *fl);
    int rc = -1;
    if (list_files(h, p[P_DIR].s, train, "train", fl))
        goto done;
    if (fl->n == 0) {
        h->error("cifar: train names no file");
        goto done;
    }
    if (load_split(c, fl, "train", &v, coarse, (size_t)p[P_LIMIT].i, &out->train))
        goto done;
    if (list_files(h, p[P_DIR].s, test, "test", fl))
        goto done;
    if (fl->n && load_split(c, fl, "test", &v, coarse, 0, &out->test))
        goto done;

    const char *pre = p[P_PREPROCESS].s;
    if (strcmp(pre, "scale") == 0) {
        gs_split *splits[2] = { &out->train, &out->test };
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < splits[k]->count * PIXELS; i++)
                splits[k]->x[i] /= 255.0f;
    } else if (strcmp(pre, "standardize") == 0) {
        const char *m = p[P_STANDARDIZE].s;
        standardize(h, out, strcmp(m, "channel") == 0 ? 0 : strcmp(m, "global") == 0 ? 1 : 2);
    }
    out->classes = v.classes;
    out->shape.layout = GS_LAYOUT_IMAGE;
    out->shape.ndim = 3;
    out->shape.dims[0] = 3;
    out->shape.dims[1] = SIDE;
    out->shape.dims[2] = SIDE;
    rc = 0;
done:
    if (rc) {
        free_split(h, &out->train);
        free_split(h, &out->test);
    }
    h->free(fl);
    return rc;
}

static const gs_param_spec cifar_params[] = {
    { .name = "dir", .type = GS_P_PATH, .flags = GS_REQUIRED,
      .doc = "folder of the binary files (cifar-10-batches-bin, cifar-100-binary)" },
    { .name = "variant", .type = GS_P_STRING, .def.s = "cifar10", .choices = "cifar10|cifar100",
      .doc = "cifar10: 1 label byte a record; cifar100: coarse and fine label bytes" },
    { .name = "labels", .type = GS_P_STRING, .def.s = "fine", .choices = "fine|coarse",
      .doc = "cifar100: the 100 fine classes or the 20 coarse superclasses" },
    { .name = "train", .type = GS_P_STRING, .def.s = "auto",
      .doc = "training files in dir, separated by commas or spaces (auto: data_batch_1..5.bin "
             "or train.bin)" },
    { .name = "test", .type = GS_P_STRING, .def.s = "auto",
      .doc = "test files in dir (auto: test_batch.bin or test.bin; \"\": no test set)" },
    { .name = "preprocess", .type = GS_P_STRING, .def.s = "scale",
      .choices = "none|scale|standardize",
      .doc = "none: raw 0..255; scale: x/255; standardize: (x/255 - mean)/std of the training "
             "set" },
    { .name = "standardize", .type = GS_P_STRING, .def.s = "channel",
      .choices = "channel|global|feature",
      .doc = "standardize with a mean/std per colour channel, one over all values, or one per "
             "value" },
    { .name = "limit", .type = GS_P_INT, .def.i = 0, .min = 0, .max = INT32_MAX,
      .doc = "use only the first N training records (0: all)" },
    { 0 }
};

static const gs_dataset_ops cifar_ops = {
    .size = sizeof(gs_dataset_ops),
    .load = cifar_load,
};

static const gs_component components[] = {
    { .size = sizeof(gs_component), .kind = GS_KIND_DATASET, .name = "cifar",
      .doc = "CIFAR-10/100 binary files as (3, 32, 32) images",
      .params = cifar_params, .ops = &cifar_ops },
};

static const gs_plugin_desc desc = {
    GS_PLUGIN_HEADER,
    .name = "data_cifar",
    .version = "1.0",
    .license = "MIT",
    .description = "CIFAR-10/100 binary data set reader",
    .n_components = 1,
    .components = components,
};

GS_PLUGIN_DEFINE(desc)
