/*
 * gradscope report: growing strings, into which the page and the figures
 * are written.
 */
#ifndef GS_TOOLS_REPORT_SBUF_H
#define GS_TOOLS_REPORT_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *s; /* NUL-terminated once anything was written; NULL before */
    size_t len, cap;
} sbuf;

void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text for HTML and SVG: run names and logged strings are not trusted. */
void sb_esc(sbuf *b, const char *s);
void sb_free(sbuf *b);

#endif
