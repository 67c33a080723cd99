#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rundir/csv.h"
#include "base/util.h"

enum { FLUSH_AT = 1 << 16 };

int gs_csv_open(gs_csv *c, const char *dir, const char *name, int truncate, uint64_t keep,
                gs_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->path = gs_xasprintf("%s/%s", dir, name);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    c->fd = open(c->path, flags, 0666);
    if (c->fd < 0) {
        gs_err_set(err, "%s: %s", c->path, strerror(errno));
        free(c->path);
        c->path = NULL;
        return -1;
    }
    if (!truncate) {
        struct stat st;
        if (fstat(c->fd, &st) != 0 || (uint64_t)st.st_size < keep ||
            ftruncate(c->fd, (off_t)keep) != 0 || lseek(c->fd, (off_t)keep, SEEK_SET) < 0) {
            gs_err_set(err, "%s: cannot resume the log at byte %llu (%s)", c->path,
                       (unsigned long long)keep,
                       errno ? strerror(errno) : "the file is shorter than the checkpoint says");
            close(c->fd);
            c->fd = -1;
            return -1;
        }
        c->written = keep;
    }
    c->cap = FLUSH_AT + 4096;
    c->buf = gs_xmalloc(c->cap);
    return 0;
}

static int write_all(gs_csv *c)
{
    size_t done = 0;
    while (done < c->len) {
        ssize_t w = write(c->fd, c->buf + done, c->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->failed = 1;
            snprintf(c->error, sizeof c->error, "%s: write failed: %s", c->path,
                     w < 0 ? strerror(errno) : "no space");
            return -1;
        }
        done += (size_t)w;
    }
    c->written += c->len;
    c->len = 0;
    return 0;
}

void gs_csv_row(gs_csv *c, const char *fmt, ...)
{
    if (c->fd < 0 || c->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->buf + c->len, c->cap - c->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < c->cap - c->len) {
            c->len += (size_t)n;
            break;
        }
        if (c->len == 0) { /* a row longer than the buffer */
            c->cap = (size_t)n + 1;
            c->buf = gs_xrealloc(c->buf, c->cap);
            continue;
        }
        if (write_all(c) < 0)
            return;
    }
    if (c->len >= FLUSH_AT)
        write_all(c);
}

void gs_csv_cells(gs_csv *c, const char *const *cells, size_t n)
{
    if (c->fd < 0 || c->failed)
        return;
    size_t len[16], need = n ? n : 1; /* commas and the newline */
    for (size_t i = 0; i < n; i++)
        need += len[i] = strlen(cells[i]);
    if (c->len + need > c->cap) {
        if (write_all(c) < 0)
            return;
        if (need > c->cap)
            c->buf = gs_xrealloc(c->buf, c->cap = need);
    }
    char *p = c->buf + c->len;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, cells[i], len[i]);
        p += len[i];
        *p++ = i + 1 < n ? ',' : '\n';
    }
    if (!n)
        *p++ = '\n';
    c->len = (size_t)(p - c->buf);
    if (c->len >= FLUSH_AT)
        write_all(c);
}

int gs_csv_flush(gs_csv *c, gs_error *err)
{
    if (c->fd < 0)
        return 0;
    if (!c->failed && c->len)
        write_all(c);
    if (c->failed) {
        gs_err_set(err, "%s", c->error);
        return -1;
    }
    return 0;
}

int gs_csv_close(gs_csv *c, gs_error *err)
{
    int rc = gs_csv_flush(c, err);
    if (c->fd >= 0 && close(c->fd) != 0 && rc == 0) {
        gs_err_set(err, "%s: %s", c->path, strerror(errno));
        rc = -1;
    }
    free(c->buf);
    free(c->path);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    return rc;
}
