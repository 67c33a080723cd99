/*
 * Reading an experiment file with libconfig, without letting libconfig end
 * the process or read without bound.
 *
 * libconfig 1.5 (Debian's) opens an @include target with fopen, which
 * succeeds on a directory; the first read then fails inside the flex scanner,
 * whose fatal-error handler calls exit(2) with "input in flex scanner failed".
 * libconfig 1.7's include hook would let us refuse such a target, but 1.5 has
 * none, so every @include is checked here first, the same way the scanner
 * finds them: a line starting with optional blanks, "@include", blanks and a
 * quoted name (\\ and \" escapes), relative names taken from the include
 * directory, at most ten levels deep as in libconfig.  Targets that are not
 * regular files or are over GS_CONFIG_MAX_BYTES are refused here (a FIFO
 * would block, /dev/zero never ends, and the scanner is quadratic in the
 * length of a string); a missing file is left for libconfig to report in
 * its own words.
 *
 * 1.5 also prefixes every @include name with the include directory, an
 * absolute one too.  The experiment file's own text is therefore handed to
 * libconfig from memory (the bytes that were checked), with each absolute
 * name rewritten as "../" up to the root from the include directory.  An
 * included file is read by libconfig itself, so there an absolute name
 * cannot be rewritten and is refused with a message saying so.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "plugin/cfgfile.h"
#include "base/util.h"

enum { MAX_INCLUDE_DEPTH = 10 };

/* The @include on the line at p (up to end): its name, and in *q0, *q1 the
   span of the quoted text; NULL when the line has none. */
static char *include_name(const char *p, const char *end, const char **q0, const char **q1)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(end - p) < 9 || memcmp(p, "@include", 8) != 0)
        return NULL;
    p += 8;
    if (*p != ' ' && *p != '\t')
        return NULL;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p++ != '"')
        return NULL;
    *q0 = p;
    size_t cap = 64, n = 0;
    char *name = gs_xmalloc(cap);
    for (; p < end && *p != '"' && *p != '\n'; p++) {
        if (*p == '\\' && p + 1 < end && (p[1] == '\\' || p[1] == '"'))
            p++;
        if (n + 2 > cap)
            name = gs_xrealloc(name, cap *= 2);
        name[n++] = *p;
    }
    name[n] = '\0';
    *q1 = p;
    return name;
}

/* Why gs_read_file_max refused a file. */
static const char *read_error(int e)
{
    switch (e) {
    case EFBIG: return "larger than the " GS_CONFIG_MAX_TEXT " limit for experiment files";
    case ENODEV: return "not a regular file";
    default: return strerror(e);
    }
}

/* "../" once per name in dir (absolute): from dir up to the root. */
static char *up_to_root(const char *dir)
{
    size_t k = 0;
    for (const char *p = dir; *p;) {
        p += strspn(p, "/");
        size_t n = strcspn(p, "/");
        k += n > 0;
        p += n;
    }
    char *up = gs_xmalloc(3 * k + 1);
    for (size_t i = 0; i < k; i++)
        memcpy(up + 3 * i, "../", 3);
    up[3 * k] = '\0';
    return up;
}

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* One integer literal (text of n bytes): fits what libconfig 1.5 stores
   for it, an int without L (it keeps the low 32 bits of a larger one) or a
   64-bit int with L (it saturates)? */
static int int_fits(const char *t, size_t n)
{
    char buf[64];
    int wide = n > 0 && t[n - 1] == 'L';
    size_t m = n - (size_t)wide;
    if (m >= sizeof buf)
        return 0;
    memcpy(buf, t, m);
    buf[m] = '\0';
    const char *digits = buf + (buf[0] == '-' || buf[0] == '+');
    int hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
    errno = 0;
    if (hex) {
        unsigned long long v = strtoull(buf, NULL, 16);
        return errno == 0 && (wide || v <= 0xFFFFFFFFull);
    }
    long long v = strtoll(buf, NULL, 10);
    return errno == 0 && (wide || (v >= INT32_MIN && v <= INT32_MAX));
}

int gs_config_check_ints(const char *text, size_t len, const char *file, int first_line,
                         gs_error *err)
{
    const char *p = text, *end = text + len;
    int line = first_line;
    while (p < end) {
        char c = *p;
        if (c == '\n') {
            line++;
            p++;
        } else if (c == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (*p == '\n')
                    line++;
            }
            p++;
        } else if (c == '#' || (c == '/' && p + 1 < end && p[1] == '/')) {
            while (p < end && *p != '\n')
                p++;
        } else if (c == '/' && p + 1 < end && p[1] == '*') {
            for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
                line += *p == '\n';
            p += 2;
        } else if (isalpha((unsigned char)c) || c == '*' || c == '_') {
            while (p < end && is_name_char(*p))
                p++;
        } else if (isdigit((unsigned char)c) ||
                   ((c == '-' || c == '+' || c == '.') && p + 1 < end &&
                    isdigit((unsigned char)p[1]))) {
            const char *t = p++;
            int hex = (*t == '0' && p < end && (*p == 'x' || *p == 'X'));
            while (p < end && (isalnum((unsigned char)*p) || *p == '.' ||
                               ((*p == '-' || *p == '+') && !hex &&
                                (p[-1] == 'e' || p[-1] == 'E'))))
                p++;
            size_t n = (size_t)(p - t);
            /* floats are read as doubles; the schema refuses what overflows */
            int is_float = !hex && (memchr(t, '.', n) || memchr(t, 'e', n) || memchr(t, 'E', n));
            if (!is_float && !int_fits(t, n)) {
                int wide = t[n - 1] == 'L';
                char at[32] = "";
                if (first_line)
                    snprintf(at, sizeof at, ":%d", line);
                gs_err_set(err, "%s%s: integer %.*s does not fit in %d bits%s", file, at,
                           (int)(n > 40 ? 40 : n), t, wide ? 64 : 32,
                           wide ? "" : " (write it with L for 64 bits)");
                return -1;
            }
        } else {
            p++;
        }
    }
    return 0;
}

/* Checks the @include lines of text (the file path) and, recursively, of
   what they name.  out (the experiment file only): the text with absolute
   names rewritten from `up`, the include directory's way to the root. */
static int check_text(const char *path, const char *text, size_t len, const char *dir,
                      const char *up, int depth, FILE *out, gs_error *err)
{
    if (gs_config_check_ints(text, len, path, 1, err) < 0)
        return -1;
    int rc = 0, line = 1;
    const char *end = text + len;
    /* NUL is an ordinary character to libconfig's scanner: lengths, not strings */
    for (const char *p = text; p < end && rc == 0; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl + 1 : end, *q0 = NULL, *q1 = NULL;
        char *name = include_name(p, nl ? nl : end, &q0, &q1);
        int absolute = name && name[0] == '/' && up;
        if (out && !absolute)
            fwrite(p, 1, (size_t)(eol - p), out);
        if (!name) {
            p = eol;
            continue;
        }
        if (absolute && !out) {
            gs_err_set(err,
                       "%s:%d: @include \"%s\": an absolute name works only in the experiment "
                       "file itself (libconfig names an included file's includes from the "
                       "experiment file's directory); write it relative to that directory",
                       path, line, name);
            rc = -1;
        } else if (absolute) {
            fwrite(p, 1, (size_t)(q0 - p), out);
            fputs(up, out);
            for (const char *c = name + 1; *c; c++) {
                if (*c == '"' || *c == '\\')
                    fputc('\\', out);
                fputc(*c, out);
            }
            fwrite(q1, 1, (size_t)(eol - q1), out);
        }
        if (rc == 0) {
            char *target = name[0] == '/' || !dir ? gs_xstrdup(name)
                                                   : gs_xasprintf("%s/%s", dir, name);
            size_t tlen;
            char *ttext = gs_read_file_max(target, GS_CONFIG_MAX_BYTES, &tlen);
            if (!ttext && errno != ENOENT) {
                gs_err_set(err, "%s:%d: @include \"%s\": %s", path, line, name,
                           errno == EISDIR ? "is a directory" : read_error(errno));
                rc = -1;
            } else if (ttext && depth + 1 < MAX_INCLUDE_DEPTH) {
                /* deeper nesting is libconfig's error to report */
                rc = check_text(target, ttext, tlen, dir, up, depth + 1, NULL, err);
            }
            free(ttext);
            free(target);
        }
        free(name);
        p = eol;
    }
    return rc;
}

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* A bare word after '=' or ':' on the line of a syntax error (outside
   strings and comments), which is almost always a string written without
   quotes: `activation = relu;`.  libconfig's own booleans are not. */
static char *unquoted_word(const char *file, int line_no)
{
    size_t len;
    char *text = gs_read_file_max(file, GS_CONFIG_MAX_BYTES, &len);
    if (!text)
        return NULL;
    const char *p = text, *end = text + len;
    for (int l = 1; l < line_no && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    char *word = NULL;
    for (int in_str = 0; p < end && *p != '\n' && !word; p++) {
        if (in_str) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        if (*p == '"')
            in_str = 1;
        else if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/'))
            break;
        else if (*p == '=' || *p == ':') {
            const char *w = p + 1;
            while (w < end && (*w == ' ' || *w == '\t'))
                w++;
            const char *we = w;
            while (we < end && is_word_char(*we))
                we++;
            size_t n = (size_t)(we - w);
            if (n > 0 && (isalpha((unsigned char)*w) || *w == '_') &&
                !(n == 4 && strncasecmp(w, "true", 4) == 0) &&
                !(n == 5 && strncasecmp(w, "false", 5) == 0))
                word = gs_xasprintf("%.*s", (int)n, w);
        }
    }
    free(text);
    return word;
}

/* The name libconfig gives a file: an absolute @include rewritten from
   `up` is shown as written. */
static char *shown_name(const char *f, const char *up)
{
    size_t n = up ? strlen(up) : 0;
    if (n && !strncmp(f, up, n))
        return gs_xasprintf("/%s", f + n);
    return gs_xstrdup(f);
}

int gs_config_read_file(config_t *cfg, const char *path, const char *include_dir,
                        gs_error *err)
{
    size_t len;
    char *text = gs_read_file_max(path, GS_CONFIG_MAX_BYTES, &len);
    if (!text) {
        gs_err_set(err, "%s: cannot read experiment file: %s", path, read_error(errno));
        return -1;
    }
    /* Without an include directory libconfig opens names as written. */
    char *up = include_dir && include_dir[0] == '/' ? up_to_root(include_dir) : NULL;
    char *src = NULL;
    size_t src_len = 0;
    FILE *out = open_memstream(&src, &src_len);
    if (!out) {
        gs_err_set(err, "%s: %s", path, strerror(errno));
        free(text);
        free(up);
        return -1;
    }
    int rc = check_text(path, text, len, include_dir, up, 0, out, err);
    fclose(out);
    free(text);
    config_init(cfg);
    config_set_include_dir(cfg, include_dir);
    if (rc == 0) {
        /* fmemopen keeps NUL bytes, which config_read_string would end on */
        FILE *in = src_len ? fmemopen(src, src_len, "r") : NULL;
        int ok = in ? config_read(cfg, in) : config_read_string(cfg, "");
        if (in)
            fclose(in);
        if (!ok) {
            char *f = shown_name(config_error_file(cfg) ? config_error_file(cfg) : path, up);
            char *word = NULL;
            if (config_error_type(cfg) == CONFIG_ERR_PARSE) {
                /* libconfig names an included file as written, from the include directory */
                char *file = f[0] == '/' || !include_dir || !config_error_file(cfg)
                                 ? gs_xstrdup(config_error_file(cfg) ? f : path)
                                 : gs_xasprintf("%s/%s", include_dir, f);
                word = unquoted_word(file, config_error_line(cfg));
                free(file);
            }
            if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
                gs_err_set(err, "%s: cannot read experiment file", f);
            else if (word)
                gs_err_set(err, "%s:%d: %s; a string needs double quotes: \"%s\"", f,
                           config_error_line(cfg), config_error_text(cfg), word);
            else
                gs_err_set(err, "%s:%d: %s", f, config_error_line(cfg),
                           config_error_text(cfg));
            free(word);
            free(f);
            rc = -1;
        }
    }
    free(src);
    free(up);
    if (rc < 0)
        config_destroy(cfg);
    return rc;
}
