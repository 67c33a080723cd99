/* Run directory files.  Small files (summary.json, config.cfg) are written
   whole or not at all: temporary file, fsync, rename, fsync of the directory. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rundir/rundir.h"
#include "base/util.h"

static int mkdir_p(const char *path)
{
    char *copy = gs_xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int rc = mkdir(copy, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

int gs_rundir_create(const char *dir, gs_error *err)
{
    if (mkdir_p(dir) != 0) {
        gs_err_set(err, "%s: cannot create run directory: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gs_err_set(err, "%s: not a directory", dir);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        gs_err_set(err, "%s: run directory is not writable", dir);
        return -1;
    }
    return 0;
}

int gs_atomic_open(gs_atomic *a, const char *dir, const char *name, gs_error *err)
{
    a->dir = gs_xstrdup(dir);
    a->tmp = gs_xasprintf("%s/.%s.tmp", dir, name);
    a->dst = gs_xasprintf("%s/%s", dir, name);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (a->fd < 0) {
        gs_err_set(err, "%s: %s", a->tmp, strerror(errno));
        gs_atomic_abort(a);
        return -1;
    }
    return 0;
}

int gs_atomic_write(gs_atomic *a, const void *data, size_t len, gs_error *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(a->fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            gs_err_set(err, "%s: write failed: %s", a->tmp, w < 0 ? strerror(errno) : "no space");
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

void gs_atomic_abort(gs_atomic *a)
{
    if (a->fd >= 0) {
        close(a->fd);
        unlink(a->tmp);
    }
    free(a->dir);
    free(a->tmp);
    free(a->dst);
    memset(a, 0, sizeof *a);
    a->fd = -1;
}

int gs_atomic_commit(gs_atomic *a, gs_error *err)
{
    int fd = a->fd;
    a->fd = -1;
    if (fsync(fd) != 0 || close(fd) != 0) {
        gs_err_set(err, "%s: %s", a->tmp, strerror(errno));
        unlink(a->tmp);
        gs_atomic_abort(a);
        return -1;
    }
    if (rename(a->tmp, a->dst) != 0) {
        gs_err_set(err, "%s: %s", a->dst, strerror(errno));
        unlink(a->tmp);
        gs_atomic_abort(a);
        return -1;
    }
    int dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    gs_atomic_abort(a); /* only frees: the file is in place */
    return 0;
}

int gs_write_atomic(const char *dir, const char *name, const char *data, size_t len,
                    gs_error *err)
{
    gs_atomic a;
    if (gs_atomic_open(&a, dir, name, err) < 0)
        return -1;
    if (gs_atomic_write(&a, data, len, err) < 0) {
        gs_atomic_abort(&a);
        return -1;
    }
    return gs_atomic_commit(&a, err);
}

static void json_append(gs_json *j, const char *s)
{
    size_t n = strlen(s);
    if (j->len + n + 1 > j->cap) {
        j->cap = (j->len + n + 1) * 2;
        j->buf = gs_xrealloc(j->buf, j->cap);
    }
    memcpy(j->buf + j->len, s, n + 1);
    j->len += n;
}

static void json_key(gs_json *j, const char *key)
{
    json_append(j, j->first ? "\n  \"" : ",\n  \"");
    j->first = 0;
    json_append(j, key);
    json_append(j, "\": ");
}

void gs_json_begin(gs_json *j)
{
    memset(j, 0, sizeof *j);
    j->first = 1;
    json_append(j, "{");
}

void gs_json_str(gs_json *j, const char *key, const char *value)
{
    json_key(j, key);
    json_append(j, "\"");
    char ch[8];
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\')
            snprintf(ch, sizeof ch, "\\%c", *p);
        else if (*p < 0x20)
            snprintf(ch, sizeof ch, "\\u%04x", *p);
        else
            snprintf(ch, sizeof ch, "%c", *p);
        json_append(j, ch);
    }
    json_append(j, "\"");
}

void gs_json_num(gs_json *j, const char *key, double value)
{
    char buf[64];
    json_key(j, key);
    if (isfinite(value))
        snprintf(buf, sizeof buf, "%.10g", value);
    else
        snprintf(buf, sizeof buf, "null");
    json_append(j, buf);
}

void gs_json_int(gs_json *j, const char *key, long long value)
{
    char buf[32];
    json_key(j, key);
    snprintf(buf, sizeof buf, "%lld", value);
    json_append(j, buf);
}

void gs_json_raw(gs_json *j, const char *key, const char *raw)
{
    json_key(j, key);
    json_append(j, raw);
}

void gs_json_end(gs_json *j) { json_append(j, "\n}\n"); }

void gs_json_free(gs_json *j)
{
    free(j->buf);
    memset(j, 0, sizeof *j);
}

void gs_memfile_open(gs_memfile *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    if (!m->f) { /* only for want of memory, which gs_xmalloc treats the same way */
        fprintf(stderr, "gradscope: out of memory\n");
        abort();
    }
}

int gs_memfile_commit(gs_memfile *m, const char *dir, const char *name, gs_error *err)
{
    fclose(m->f);
    int rc = gs_write_atomic(dir, name, m->buf, m->len, err);
    free(m->buf);
    m->f = NULL;
    m->buf = NULL;
    return rc;
}
