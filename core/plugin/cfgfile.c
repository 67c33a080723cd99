/*
 * Reading an experiment file with libconfig, without letting libconfig end
 * the process.
 *
 * libconfig 1.5 (Debian's) opens an @include target with fopen, which
 * succeeds on a directory; the first read then fails inside the flex scanner,
 * whose fatal-error handler calls exit(2) with "input in flex scanner failed".
 * libconfig 1.7's include hook would let us refuse such a target, but 1.5 has
 * none, so every @include is checked here first, the same way the scanner
 * finds them: a line starting with optional blanks, "@include", blanks and a
 * quoted name (\\ and \" escapes), relative names taken from the include
 * directory, at most ten levels deep as in libconfig.  Only targets that are
 * not regular files are refused here; a missing file is left for libconfig
 * to report in its own words.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "plugin/cfgfile.h"
#include "base/util.h"

enum { MAX_INCLUDE_DEPTH = 10 };

/* The name of an @include on the line at p (up to end), or NULL when the
   line has none. */
static char *include_name(const char *p, const char *end)
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
    return name;
}

static int check_file(const char *path, const char *dir, int depth, gs_error *err)
{
    size_t len;
    char *text = gs_read_file(path, &len);
    if (!text)
        return 0; /* libconfig reports unreadable files itself */
    int rc = 0, line = 1;
    const char *end = text + len;
    /* NUL is an ordinary character to libconfig's scanner: lengths, not strings */
    for (const char *p = text; p < end && rc == 0; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char *name = include_name(p, nl ? nl : end);
        if (name) {
            char *target = name[0] == '/' || !dir ? gs_xstrdup(name)
                                                   : gs_xasprintf("%s/%s", dir, name);
            struct stat st;
            if (stat(target, &st) == 0) {
                if (!S_ISREG(st.st_mode)) {
                    gs_err_set(err, "%s:%d: @include \"%s\": %s", path, line, name,
                               S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
                    rc = -1;
                } else if (depth + 1 < MAX_INCLUDE_DEPTH) {
                    /* deeper nesting is libconfig's error to report */
                    rc = check_file(target, dir, depth + 1, err);
                }
            }
            free(target);
            free(name);
        }
        p = nl ? nl + 1 : end;
    }
    free(text);
    return rc;
}

/* libconfig says only "file I/O error", so the system's reason is found
   first: a missing file, a directory, no permission. */
static int check_readable(const char *path, gs_error *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    int e = 0;
    if (!f)
        e = errno;
    else if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
        e = EISDIR;
    if (f)
        fclose(f);
    if (e)
        gs_err_set(err, "%s: cannot read experiment file: %s", path, strerror(e));
    return e ? -1 : 0;
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
    char *text = gs_read_file(file, &len);
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

int gs_config_read_file(config_t *cfg, const char *path, const char *include_dir,
                        gs_error *err)
{
    if (check_readable(path, err) < 0)
        return -1;
    config_init(cfg);
    config_set_include_dir(cfg, include_dir);
    if (check_file(path, include_dir, 0, err) < 0) {
        config_destroy(cfg);
        return -1;
    }
    if (!config_read_file(cfg, path)) {
        const char *f = config_error_file(cfg) ? config_error_file(cfg) : path;
        if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
            gs_err_set(err, "%s: cannot read experiment file", path);
        else {
            char *word = config_error_type(cfg) == CONFIG_ERR_PARSE
                             ? unquoted_word(f, config_error_line(cfg))
                             : NULL;
            if (word)
                gs_err_set(err, "%s:%d: %s; a string needs double quotes: \"%s\"", f,
                           config_error_line(cfg), config_error_text(cfg), word);
            else
                gs_err_set(err, "%s:%d: %s", f, config_error_line(cfg),
                           config_error_text(cfg));
            free(word);
        }
        config_destroy(cfg);
        return -1;
    }
    return 0;
}
