/*
 * Shared by the fuzz targets: a scratch directory for the files the readers
 * open, the plugin registry, and the entry points.
 *
 * Each target defines `static int init(void)` and
 * `static void one(const uint8_t *data, size_t size)` and ends with
 * FUZZ_DEFINE(name).  Built for libFuzzer (make fuzz) that becomes
 * LLVMFuzzerInitialize/LLVMFuzzerTestOneInput, and the plugins come from the
 * `plugins` directory beside the executable (built there with the same
 * sanitizers).  Built with -DFUZZ_REPLAY (tests/test_regress) it becomes a
 * fuzz_target record, and the plugins come from GRADSCOPE_PLUGIN_PATH.
 *
 * A finding is anything the sanitizers report, a leak, or an abort() from a
 * target's own checks of the result (FUZZ_ASSERT).
 */
#ifndef GS_FUZZ_COMMON_H
#define GS_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH */
#endif
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gradscope/gradscope.h"

typedef struct fuzz_target {
    const char *name;
    int (*init)(void);
    void (*one)(const uint8_t *data, size_t size);
} fuzz_target;

#ifdef FUZZ_REPLAY
#define FUZZ_DEFINE(NAME) const fuzz_target fuzz_target_##NAME = {#NAME, init, one};
#else
#define FUZZ_DEFINE(NAME)                                                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                  \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                              \
    {                                                                              \
        (void)argc;                                                                \
        (void)argv;                                                                \
        return init();                                                             \
    }                                                                              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                   \
    {                                                                              \
        one(data, size);                                                           \
        return 0;                                                                  \
    }
#endif

#define FUZZ_ASSERT(cond, ...)                                                     \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            abort();                                                               \
        }                                                                          \
    } while (0)

#define FUZZ_UNUSED __attribute__((unused))

static char fuzz_dir_path[PATH_MAX];

static FUZZ_UNUSED int fuzz_rm(const char *path, const struct stat *st, int flag,
                               struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static FUZZ_UNUSED void fuzz_cleanup(void)
{
    if (fuzz_dir_path[0])
        nftw(fuzz_dir_path, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process's scratch directory (removed at exit). */
static FUZZ_UNUSED const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/gs-fuzz-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir_path)) {
            perror(fuzz_dir_path);
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_path;
}

/* DIR/name, allocated once per caller (targets keep it). */
static FUZZ_UNUSED char *fuzz_path(const char *name)
{
    size_t n = strlen(fuzz_dir()) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", fuzz_dir(), name);
    return p;
}

static FUZZ_UNUSED void fuzz_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* The registry, loaded once per process; every plugin is in it. */
static FUZZ_UNUSED gs_registry *fuzz_registry(void)
{
    static gs_registry *reg;
    if (reg)
        return reg;
    gs_error err;
    reg = gs_registry_new();
#ifdef FUZZ_REPLAY
    int rc = gs_registry_load_default(reg, NULL, 0, &err);
#else
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (n <= 0) {
        perror("/proc/self/exe");
        abort();
    }
    exe[n] = '\0';
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/plugins", dirname(exe));
    const char *dirs[1] = {dir};
    /* Only the sanitized plugins built beside the target. */
    unsetenv("GRADSCOPE_PLUGIN_PATH");
    setenv("GRADSCOPE_NO_INSTALLED_PLUGINS", "1", 1);
    int rc = gs_registry_load_default(reg, dirs, 1, &err);
#endif
    if (rc < 0 || gs_registry_count(reg) == 0) {
        fprintf(stderr, "fuzz: cannot load the plugins: %s\n", rc < 0 ? err.msg : "none found");
        abort();
    }
    return reg;
}

/* Why an input was refused, with FUZZ_VERBOSE set (for checking seeds). */
static FUZZ_UNUSED void fuzz_note(const char *why)
{
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "refused: %s\n", why);
}

/* Reads and consumes a byte (0 when the input is exhausted). */
static FUZZ_UNUSED uint8_t fuzz_byte(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    uint8_t b = **data;
    (*data)++, (*size)--;
    return b;
}

static FUZZ_UNUSED char *fuzz_resolved_text(const gs_experiment *e, size_t i, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    FUZZ_ASSERT(gs_experiment_write_config(e, i, f) == 0, "variant %zu", i);
    fclose(f);
    return buf;
}

/*
 * Each variant's resolved configuration (what a run directory keeps as
 * config.cfg, and what `gradscope resume` reads back) must load again and
 * resolve to the same text.
 */
static FUZZ_UNUSED void fuzz_check_resolved(const gs_registry *reg, const gs_experiment *e,
                                            const char *path)
{
    for (size_t i = 0; i < gs_experiment_variants(e); i++) {
        size_t len, len2;
        char *text = fuzz_resolved_text(e, i, &len);
        fuzz_write(path, text, len);
        gs_error err;
        gs_experiment *again = gs_experiment_load(reg, path, NULL, &err);
        FUZZ_ASSERT(again, "the resolved configuration does not load: %s\n%s", err.msg, text);
        FUZZ_ASSERT(gs_experiment_variants(again) == 1, "%zu variants",
                    gs_experiment_variants(again));
        char *text2 = fuzz_resolved_text(again, 0, &len2);
        FUZZ_ASSERT(len == len2 && memcmp(text, text2, len) == 0,
                    "resolving twice differs:\n%s\n----\n%s", text, text2);
        gs_experiment_free(again);
        free(text);
        free(text2);
        remove(path);
    }
}

#endif
