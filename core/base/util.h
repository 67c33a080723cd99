/* Errors, checked allocation, number formatting, clocks and pools: the
   helpers every other file of the core uses. */
#ifndef GS_BASE_UTIL_H
#define GS_BASE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "gradscope/gradscope.h"

#define GS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void gs_err_set(gs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gs_err_prefix(gs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gs_tls_error_set(const char *fmt, va_list ap);
/* Records a message for gs_last_error() (host->error does the same). */
void gs_record_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *gs_xmalloc(size_t n);
void *gs_xcalloc(size_t n, size_t size);
void *gs_xrealloc(void *p, size_t n);
/* 64-byte aligned, n rounded up to a multiple of 64; release with free(). */
void *gs_xmalloc_aligned(size_t n);
char *gs_xstrdup(const char *s);
char *gs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text built with stdio in memory: write to the FILE gs_strbuf_open
   returns, then gs_strbuf_close gives the text, NUL-terminated (the
   caller frees it; s->len is its length).  Lack of memory aborts, as in
   gs_xmalloc. */
typedef struct gs_strbuf {
    FILE *f;
    char *text;
    size_t len;
} gs_strbuf;
FILE *gs_strbuf_open(gs_strbuf *s);
char *gs_strbuf_close(gs_strbuf *s);
/* Optimal-string-alignment distance: insertions, deletions, substitutions
   and swaps of adjacent letters each cost 1; (size_t)-1 past 64 chars. */
size_t gs_edit_distance(const char *a, const char *b);
/* Shortest "%.*g" text that reads back as the same double, always with
   a '.' or exponent so libconfig reads it as a float; +-inf as +-1.0e999
   (which reads back as +-inf), NaN as "nan" (which nothing reads). */
void gs_format_double(char *buf, size_t n, double v);
/* "%.9g" of v into buf (32 bytes), the same text, faster; returns its length. */
int gs_format_g9(char *buf, double v);
/* v in decimal into buf (21 bytes); returns its length. */
int gs_format_u64(char *buf, uint64_t v);
double gs_now(void);
/* Bytes of memory a run may plan for: the physical memory, or the
   address-space limit (ulimit -v) when lower; 0 when unknown.  The data set
   readers count the same way (plugins/dataset/datamem.h). */
double gs_machine_memory(void);
/* A whole file in memory, NUL-terminated (*len without the NUL; len may be
   NULL); NULL with errno set when it cannot be opened or read (ENOENT:
   there is none). */
char *gs_read_file(const char *path, size_t *len);
/* The same for a regular file of at most max bytes, without waiting on a
   FIFO; errno EISDIR for a directory, ENODEV for another kind of file,
   EFBIG for a larger file. */
char *gs_read_file_max(const char *path, size_t max, size_t *len);

/* Heap blocks freed together, each with its own release function. */
typedef struct gs_pool {
    void **items;
    void (**release)(void *);
    size_t n, cap;
} gs_pool;
void *gs_pool_add(gs_pool *p, void *block);
void *gs_pool_add_with(gs_pool *p, void *block, void (*release)(void *));
char *gs_pool_strdup(gs_pool *p, const char *s);
void gs_pool_free(gs_pool *p);

#endif
