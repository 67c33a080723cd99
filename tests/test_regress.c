/*
 * Regression inputs of the fuzz targets (tests/regress/TARGET/, one file
 * per crash the fuzzers found) and their seed corpora
 * (tests/fuzz/corpus/TARGET/), replayed through the targets' own code
 * compiled here with the normal compiler and -DFUZZ_REPLAY.  A crash, a
 * sanitizer report (in the sanitizer build), a leak under valgrind or a
 * failed check of a target's result fails the test.  Then the range checks
 * on numbers that size allocations, which no small fuzz input reaches.
 * An experiment file there may say which message refuses it (check_expected).
 */
#include "fuzz/fuzz_common.h"
#include <dirent.h>

extern const fuzz_target fuzz_target_config, fuzz_target_set, fuzz_target_idx,
    fuzz_target_csv, fuzz_target_checkpoint;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    FUZZ_ASSERT(f, "%s", path);
    char *buf = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap)
            buf = realloc(buf, cap = 2 * cap + 4096);
        size_t got = fread(buf + *n, 1, cap - *n, f);
        if (got == 0)
            break;
        *n += got;
    }
    fclose(f);
    return buf;
}

/*
 * An experiment file of the corpus whose first line is "# expect: TEXT"
 * must also be refused, read from where it lies, with a message that holds
 * TEXT: the fuzz target checks only that what loads survives a round trip.
 */
static void check_expected(const fuzz_target *t, const char *path, const char *data, size_t n)
{
    static const char tag[] = "# expect: ";
    if (strcmp(t->name, "config") != 0 || n < sizeof tag || memcmp(data, tag, sizeof tag - 1))
        return;
    const char *want = data + sizeof tag - 1;
    const char *nl = memchr(want, '\n', n - (sizeof tag - 1));
    char *text = strndup(want, nl ? (size_t)(nl - want) : n - (sizeof tag - 1));
    gs_error err = {{0}};
    gs_experiment *e = gs_experiment_load(fuzz_registry(), path, NULL, &err);
    FUZZ_ASSERT(!e, "%s was accepted; expected: %s", path, text);
    FUZZ_ASSERT(strstr(err.msg, text), "%s: expected '%s' in: %s", path, text, err.msg);
    fprintf(stderr, "  -> %s\n", err.msg);
    free(text);
}

/* Runs every file of DIR (sorted; a missing DIR has none) through t. */
static size_t replay_dir(const fuzz_target *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        /* The last line before a crash names the input. */
        fprintf(stderr, "%s: %s\n", t->name, path);
        size_t len;
        unsigned char *data = read_all(path, &len);
        t->one(data, len);
        check_expected(t, path, (const char *)data, len);
        free(data);
        free(names[i]);
    }
    free(names);
    return n;
}

/* A data set whose parameters ask for more than 2^31 values must be
   refused with a message, before anything that size is allocated. */
static void refused(const char *name, const char *params)
{
    gs_registry *reg = fuzz_registry();
    gs_error err;
    gs_ref *ref = gs_ref_parse(reg, GS_KIND_DATASET, name, params, &err);
    FUZZ_ASSERT(ref, "%s", err.msg);
    gs_rng *rng = gs_rng_new(1, 2);
    gs_data_call call = {.host = gs_host_table(), .p = gs_ref_values(ref), .rng = rng};
    gs_dataset ds;
    gs_clear_error();
    fprintf(stderr, "range: %s %s\n", name, params);
    FUZZ_ASSERT(gs_ref_component(ref)->ops &&
                    ((const gs_dataset_ops *)gs_ref_component(ref)->ops)->load(&call, &ds) != 0,
                "%s %s was accepted", name, params);
    FUZZ_ASSERT(gs_last_error()[0], "no message");
    fprintf(stderr, "  -> %s\n", gs_last_error());
    gs_rng_free(rng);
    gs_ref_free(ref);
}

int main(void)
{
    const char *src = getenv("GRADSCOPE_TEST_SRCDIR");
    if (!src)
        src = ".";
    const fuzz_target *targets[] = {&fuzz_target_config, &fuzz_target_set, &fuzz_target_idx,
                                    &fuzz_target_csv, &fuzz_target_checkpoint};
    for (size_t k = 0; k < sizeof targets / sizeof *targets; k++) {
        const fuzz_target *t = targets[k];
        FUZZ_ASSERT(t->init() == 0, "%s", t->name);
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/tests/regress/%s", src, t->name);
        size_t n = replay_dir(t, dir);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src, t->name);
        size_t seeds = replay_dir(t, dir);
        FUZZ_ASSERT(seeds > 0, "no seeds in %s", dir);
        printf("%s: %zu regression inputs, %zu seeds\n", t->name, n, seeds);
    }

    /* Teacher weights: features x width doubles; targets: samples x targets floats. */
    refused("synthetic", "set = \"teacher\"; features = 1048576; width = 4096; samples = 1; "
                         "test_samples = 0;");
    refused("synthetic", "set = \"teacher\"; features = 1048576; targets = 4096; depth = 0; "
                         "samples = 1; test_samples = 0;");
    refused("synthetic", "set = \"teacher\"; features = 1; targets = 4096; samples = 10000000; "
                         "test_samples = 0;");
    refused("synthetic", "set = \"blobs\"; features = 1048576; samples = 10000000;");
    printf("range checks: 4 refused\n");
    return 0;
}
