/* Helpers shared by the Check test programs. */
#ifndef GS_TESTUTIL_H
#define GS_TESTUTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gradscope/gradscope.h"

static inline const char *tu_builddir(void)
{
    const char *d = getenv("GRADSCOPE_TEST_BUILDDIR");
    return d ? d : ".";
}

static inline const char *tu_srcdir(void)
{
    const char *d = getenv("GRADSCOPE_TEST_SRCDIR");
    return d ? d : ".";
}

/* The registry of the build tree's plugins. */
static inline gs_registry *tu_registry(void)
{
    gs_error err;
    gs_registry *reg = gs_registry_new();
    if (gs_registry_load_default(reg, NULL, 0, &err) < 0)
        ck_abort_msg("loading plugins: %s", err.msg);
    return reg;
}

/* A fresh directory under /tmp. */
static inline char *tu_tempdir(void)
{
    char *tmpl = strdup("/tmp/gradscope-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return tmpl;
}

static inline char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static inline char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return buf;
}

static inline int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static inline void tu_rmrf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The path of a fixture plugin built in tests/fixtures. */
static inline char *tu_fixture(const char *name)
{
    size_t n = strlen(tu_builddir()) + strlen(name) + 64;
    char *p = malloc(n);
    snprintf(p, n, "%s/tests/fixtures/.libs/fx_%s.so", tu_builddir(), name);
    return p;
}

/* Writes `cfg` to DIR/exp.cfg and trains it into DIR/NAME (asserting that
   both succeed); returns the run directory, which the caller frees. */
static inline char *tu_train(gs_registry *reg, const char *dir, const char *cfg, const char *name,
                             const char *const *sets, size_t n_sets)
{
    char *path = tu_path(dir, "exp.cfg");
    tu_write(path, cfg);
    char *out = tu_path(dir, name);
    gs_run_options opt = {.out_dir = out, .sets = sets, .n_sets = n_sets, .seed = -1, .quiet = 1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_msg(gs_experiment_run(e, &opt, &err) == 0, "%s", err.msg);
    gs_experiment_free(e);
    free(path);
    return out;
}

/* A test case NAME of suite s whose tests each run between setup and
   teardown (Check's checked fixture; NULL for none), with a time limit of
   `timeout` seconds (0: Check's default).  A test program's main is
   suite_create, a tu_tcase per group with its tcase_add_test and
   tcase_add_loop_test calls, and return tu_run(s). */
static inline TCase *tu_tcase(Suite *s, const char *name, void (*setup)(void),
                              void (*teardown)(void), double timeout)
{
    TCase *tc = tcase_create(name);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    suite_add_tcase(s, tc);
    return tc;
}

#define TU_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Runs a suite without forking when GS_NOFORK is set (for valgrind/gdb). */
static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
