/* Run directories: creation, atomic small files, summary.json. */
#ifndef GS_RUNDIR_H
#define GS_RUNDIR_H

#include <stdint.h>
#include <stdio.h>
#include "gradscope/gradscope.h"


/* mkdir -p, and a writable directory; what it holds already is the
   caller's to judge (engine/run.c). */
int gs_rundir_create(const char *dir, gs_error *err);
/* A file written through DIR/.NAME.tmp, then fsync, rename and fsync of
   the directory: readers see the old file or the whole new one.  On a
   failed write, call gs_atomic_abort (the old file stays). */
typedef struct gs_atomic {
    int fd;
    char *dir, *tmp, *dst;
} gs_atomic;
int gs_atomic_open(gs_atomic *a, const char *dir, const char *name, gs_error *err);
int gs_atomic_write(gs_atomic *a, const void *data, size_t len, gs_error *err);
int gs_atomic_commit(gs_atomic *a, gs_error *err);
void gs_atomic_abort(gs_atomic *a);
/* The same for a file in memory. */
int gs_write_atomic(const char *dir, const char *name, const char *data, size_t len,
                    gs_error *err);

/* A small file built with stdio in memory, then written whole with
   gs_write_atomic: open, print to ->f, commit (which also frees it). */
typedef struct gs_memfile {
    FILE *f;
    char *buf;
    size_t len;
} gs_memfile;
void gs_memfile_open(gs_memfile *m);
int gs_memfile_commit(gs_memfile *m, const char *dir, const char *name, gs_error *err);

/* A growing JSON object. */
typedef struct gs_json {
    char *buf;
    size_t len, cap;
    int first;
} gs_json;
void gs_json_begin(gs_json *j);
void gs_json_str(gs_json *j, const char *key, const char *value);
void gs_json_num(gs_json *j, const char *key, double value); /* null when not finite */
void gs_json_int(gs_json *j, const char *key, long long value);
void gs_json_raw(gs_json *j, const char *key, const char *raw);
void gs_json_end(gs_json *j);
void gs_json_free(gs_json *j);

#endif
