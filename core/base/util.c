/* Errors, allocation that never returns NULL, small string helpers. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"

static _Thread_local char tls_error[2048];

void gs_err_set(gs_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void gs_err_prefix(gs_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t p = strlen(prefix), cap = sizeof err->msg;
    if (p >= cap)
        p = cap - 1;
    size_t keep = strnlen(err->msg, cap - 1);
    if (keep > cap - 1 - p)
        keep = cap - 1 - p;
    memmove(err->msg + p, err->msg, keep);
    memcpy(err->msg, prefix, p);
    err->msg[p + keep] = '\0';
}

void gs_tls_error_set(const char *fmt, va_list ap)
{
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
}

void gs_record_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gs_tls_error_set(fmt, ap);
    va_end(ap);
}

const char *gs_last_error(void) { return tls_error; }
void gs_clear_error(void) { tls_error[0] = '\0'; }

static void out_of_memory(size_t n)
{
    fprintf(stderr, "gradscope: out of memory allocating %zu bytes\n", n);
    abort();
}

void *gs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *gs_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *gs_xmalloc_aligned(size_t n)
{
    void *p;
    if (posix_memalign(&p, 64, (n + 63) & ~(size_t)63) != 0)
        out_of_memory(n);
    return p;
}

void *gs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *gs_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(gs_xmalloc(n), s, n);
}

char *gs_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = gs_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

FILE *gs_strbuf_open(gs_strbuf *s)
{
    s->text = NULL;
    s->len = 0;
    s->f = open_memstream(&s->text, &s->len);
    if (!s->f)
        out_of_memory(BUFSIZ);
    return s->f;
}

char *gs_strbuf_close(gs_strbuf *s)
{
    if (fclose(s->f) != 0)
        out_of_memory(s->len);
    s->f = NULL;
    return s->text;
}

size_t gs_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    /* Three rows (i-2, i-1, i) for the transposition step: swapped
       neighbours ("gleu" for "gelu") are the commonest typo and should
       cost one edit, not two, or a nearer-looking wrong name wins. */
    size_t rows[3][65];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
    }
    return rows[la % 3][lb];
}

void gs_format_double(char *buf, size_t n, double v)
{
    if (!isfinite(v)) {
        /* libconfig has no word for infinity, but reads an overflowing
           literal as one; NaN it cannot read at all. */
        snprintf(buf, n, "%s", isnan(v) ? "nan" : (v > 0 ? "1.0e999" : "-1.0e999"));
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".e")) {
        size_t len = strlen(buf);
        if (len + 2 < n)
            memcpy(buf + len, ".0", 3);
    } else if (strchr(buf, 'e') && !strchr(buf, '.')) {
        /* libconfig reads "1e-05" as a float, but keep a mantissa dot anyway
           so the text is unambiguous to other readers. */
        char tmp[64];
        char *e = strchr(buf, 'e');
        snprintf(tmp, sizeof tmp, "%.*s.0%s", (int)(e - buf), buf, e);
        snprintf(buf, n, "%s", tmp);
    }
}

/*
 * "%.9g" of v, byte for byte, as the monitor writes hundreds of numbers per
 * step and glibc's printf takes its multiprecision path for each.  The nine
 * digits come from |v| scaled by a power of ten in double: the power is
 * within an ulp of 10^k and the product adds half an ulp, so the scaled
 * value (below 10^9) is within 4e-7 of exact.  When it lies within 1e-6 of
 * a rounding tie, where that error could decide the ninth digit, or when
 * the power would leave double's range, printf decides.
 */
static double pow10_int(int k)
{
    static double table[2 * 300 + 1];
    static int ready; /* the table is the same whichever thread fills it */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (int i = -300; i <= 300; i++)
            table[i + 300] = pow(10.0, (double)i);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    return table[k + 300];
}

int gs_format_u64(char *buf, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int gs_format_g9(char *buf, double v)
{
    enum { P = 9 };
    if (v == 0.0) {
        int neg = signbit(v) != 0;
        memcpy(buf, "-0", 3);
        if (!neg)
            memmove(buf, buf + 1, 2);
        return 1 + neg;
    }
    if (!isfinite(v))
        return snprintf(buf, 32, "%.9g", v);
    double a = fabs(v);
    int e2;
    frexp(v, &e2);
    /* the decimal exponent from the binary one: off by at most one */
    int x = (int)floor((double)(e2 - 1) * 0.30102999566398119521);
    if (P - 1 - x > 299 || P - 1 - x < -299)
        return snprintf(buf, 32, "%.9g", v);
    double m = a * pow10_int(P - 1 - x);
    if (m >= 1e9) {
        x++;
        m = a * pow10_int(P - 1 - x);
    }
    double whole = floor(m), frac = m - whole;
    if (fabs(frac - 0.5) < 1e-6)
        return snprintf(buf, 32, "%.9g", v);
    uint64_t d = (uint64_t)whole + (frac > 0.5);
    if (d == 1000000000u) {
        d = 100000000u;
        x++;
    }
    char dig[P];
    for (int i = P - 1; i >= 0; i--, d /= 10)
        dig[i] = (char)('0' + d % 10);
    int nd = P;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    if (x < -4 || x >= P) {
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        int ax = x < 0 ? -x : x;
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    } else if (x < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > x; i--)
            *p++ = '0';
        memcpy(p, dig, (size_t)nd);
        p += nd;
    } else {
        memcpy(p, dig, (size_t)x + 1);
        p += x + 1;
        if (nd > x + 1) {
            *p++ = '.';
            memcpy(p, dig + x + 1, (size_t)(nd - x - 1));
            p += nd - x - 1;
        }
    }
    *p = '\0';
    return (int)(p - buf);
}

double gs_machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double ram = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (ram == 0 || (double)rl.rlim_cur < ram))
        ram = (double)rl.rlim_cur;
    return ram;
}

double gs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *gs_pool_add_with(gs_pool *p, void *block, void (*release)(void *))
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->items = gs_xrealloc(p->items, p->cap * sizeof *p->items);
        p->release = gs_xrealloc(p->release, p->cap * sizeof *p->release);
    }
    p->items[p->n] = block;
    p->release[p->n++] = release;
    return block;
}

void *gs_pool_add(gs_pool *p, void *block) { return gs_pool_add_with(p, block, free); }

char *gs_pool_strdup(gs_pool *p, const char *s)
{
    return gs_pool_add(p, gs_xstrdup(s));
}

void gs_pool_free(gs_pool *p)
{
    for (size_t i = p->n; i-- > 0;)
        p->release[i](p->items[i]);
    free(p->items);
    free(p->release);
    p->items = NULL;
    p->release = NULL;
    p->n = p->cap = 0;
}

/* Reads f to its end, NUL-terminated; NULL with errno EFBIG past max bytes. */
static char *read_stream(FILE *f, size_t max, size_t *len)
{
    size_t cap = 4096, n = 0, got;
    char *buf = gs_xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n > max)
            break;
        if (n + 1 == cap)
            buf = gs_xrealloc(buf, cap *= 2);
    }
    int bad = ferror(f), big = n > max;
    fclose(f);
    if (bad || big) {
        free(buf);
        errno = big ? EFBIG : EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *gs_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    return f ? read_stream(f, SIZE_MAX - 1, len) : NULL;
}

char *gs_read_file_max(const char *path, size_t max, size_t *len)
{
    /* O_NONBLOCK: opening a FIFO without a writer would wait for one */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    int e = fstat(fd, &st) != 0      ? errno
            : S_ISDIR(st.st_mode)    ? EISDIR
            : !S_ISREG(st.st_mode)   ? ENODEV
            : (uintmax_t)st.st_size > max ? EFBIG
                                     : 0;
    FILE *f = NULL;
    if (!e && (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
               !(f = fdopen(fd, "rb"))))
        e = errno;
    if (e) {
        close(fd);
        errno = e;
        return NULL;
    }
    return read_stream(f, max, len);
}
