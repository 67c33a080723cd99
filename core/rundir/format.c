/*
 * The run-directory format (format.h): the tables of names, summary.json's
 * writer and reader, and the one CSV table reader every reader uses.
 */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rundir/format.h"
#include "base/util.h"
#include "rundir/rundir.h"

#define COLUMNS(...) (const char *const[]){__VA_ARGS__}
#define LOG(file, ...) \
    {file, COLUMNS(__VA_ARGS__), sizeof(COLUMNS(__VA_ARGS__)) / sizeof(const char *)}

const gs_log_format gs_logs[GS_LOG_COUNT] = {
    [GS_LOG_METRICS] = LOG("metrics.csv", "step", "epoch", "loss", "accuracy", "lr", "grad_norm",
                           "val_loss", "val_accuracy", "test_loss", "test_accuracy"),
    [GS_LOG_GRADIENTS] = LOG("gradients.csv", "step", "layer", "tensor", "grad_norm",
                             "weight_norm", "grad_max_abs", "update_ratio"),
    [GS_LOG_LAYERS] = LOG("layers.csv", "step", "layer", "type", "input_grad_norm", "act_mean",
                          "act_std", "dead_fraction", "saturated_fraction"),
    [GS_LOG_PATHS] = LOG("paths.csv", "step", "layer", "key", "value"),
    [GS_LOG_EPOCHS] = LOG("epochs.csv", "epoch", "step", "train_loss", "train_accuracy",
                          "val_loss", "val_accuracy", "test_loss", "test_accuracy", "seconds"),
    [GS_LOG_HISTOGRAMS] = LOG("histograms.csv", "step", "layer", "tensor", "log10_lo",
                              "log10_hi", "count"),
    [GS_LOG_DUMP_INDEX] = LOG("dump/index.csv", "step", "layer", "tensor", "kind", "file",
                              "shape"),
    [GS_LOG_SERIES] = LOG("series.csv", "step", "layer", "name", "axis", "index", "value"),
    [GS_LOG_BPTT] = LOG("bptt.csv", "step", "layer", "t", "grad_norm"),
    [GS_LOG_THEORY] = LOG(GS_FILE_THEORY, "first_layer", "last_layer", "activation", "sigma_w2",
                          "sigma_b2", "q_star", "chi_predicted", "chi_measured", "q_in",
                          "chi_path", "stack", "note", "step", "weight", "rho", "sigma_max"),
};

const gs_log_format gs_model_format = LOG("model.csv", "layer", "name", "type", "kind",
                                          "layout", "in_shape", "out_shape", "params");

const gs_log_format gs_index_format = LOG("index.csv", "path", "variant", "seed", "status");

const char *gs_log_header(gs_log_id id)
{
    /* Built once; the logs are opened from one thread before training. */
    static char headers[GS_LOG_COUNT][256];
    char *h = headers[id];
    if (!h[0]) {
        size_t len = 0;
        const gs_log_format *f = &gs_logs[id];
        for (size_t k = 0; k < f->n_columns; k++)
            len += (size_t)snprintf(h + len, sizeof headers[id] - len, "%s%s", k ? "," : "",
                                    f->columns[k]);
        snprintf(h + len, sizeof headers[id] - len, "\n");
    }
    return h;
}

/* ---- names ---- */

static const char *const status_names[GS_STATUS_COUNT] = {"completed", "diverged",
                                                          "interrupted"};
static const char *const verdict_names[GS_VERDICT_COUNT] = {"healthy", "vanishing",
                                                            "exploding"};

static int parse_name(const char *const *names, int n, const char *s, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) {
            *out = i;
            return 0;
        }
    return -1;
}

const char *gs_status_name(gs_run_status s)
{
    return (unsigned)s < GS_STATUS_COUNT ? status_names[s] : "unknown";
}

int gs_status_parse(const char *name, gs_run_status *out)
{
    int i;
    if (parse_name(status_names, GS_STATUS_COUNT, name, &i) < 0)
        return -1;
    *out = (gs_run_status)i;
    return 0;
}

int gs_status_finished(gs_run_status s)
{
    return s == GS_STATUS_COMPLETED || s == GS_STATUS_DIVERGED;
}

const char *gs_verdict_name(gs_verdict_kind v)
{
    return (unsigned)v < GS_VERDICT_COUNT ? verdict_names[v] : "unknown";
}

int gs_verdict_parse(const char *name, gs_verdict_kind *out)
{
    int i;
    if (parse_name(verdict_names, GS_VERDICT_COUNT, name, &i) < 0)
        return -1;
    *out = (gs_verdict_kind)i;
    return 0;
}

/* ---- summary.json ---- */

void gs_summary_init(gs_summary *s)
{
    memset(s, 0, sizeof *s);
    s->format_version = GS_FORMAT_VERSION;
    s->train_loss = s->train_accuracy = s->val_loss = s->val_accuracy = NAN;
    s->test_loss = s->test_accuracy = s->wall_time_s = s->grad_ratio_first_last = NAN;
    s->chi_predicted = s->chi_measured = s->chi_path = NAN;
    s->verdict_layer = -1;
    s->verdict_step = -1;
    s->verdict_t = -1;
}

int gs_summary_write(const char *dir, const gs_summary *s, gs_error *err)
{
    gs_json j;
    gs_json_begin(&j);
    gs_json_str(&j, "status", gs_status_name(s->status));
    if (s->detail[0])
        gs_json_str(&j, "detail", s->detail);
    gs_json_int(&j, "steps", (long long)s->steps);
    gs_json_num(&j, "train_loss", s->train_loss);
    gs_json_num(&j, "train_accuracy", s->train_accuracy);
    gs_json_num(&j, "val_loss", s->val_loss);
    gs_json_num(&j, "val_accuracy", s->val_accuracy);
    gs_json_num(&j, "test_loss", s->test_loss);
    gs_json_num(&j, "test_accuracy", s->test_accuracy);
    gs_json_num(&j, "wall_time_s", s->wall_time_s);
    gs_json_num(&j, "grad_ratio_first_last", s->grad_ratio_first_last);
    gs_json_str(&j, "verdict", gs_verdict_name(s->verdict));
    if (s->verdict_layer >= 0) {
        gs_json_int(&j, "verdict_layer", s->verdict_layer);
        gs_json_int(&j, "verdict_step", s->verdict_step);
    } else {
        gs_json_raw(&j, "verdict_layer", "null");
        gs_json_raw(&j, "verdict_step", "null");
    }
    if (s->verdict_t >= 0)
        gs_json_int(&j, "verdict_t", s->verdict_t);
    else
        gs_json_raw(&j, "verdict_t", "null");
    gs_json_str(&j, "verdict_detail", s->verdict_detail);
    gs_json_num(&j, "chi_predicted", s->chi_predicted);
    gs_json_num(&j, "chi_measured", s->chi_measured);
    gs_json_num(&j, "chi_path", s->chi_path);
    gs_json_str(&j, "gradscope_version", s->gradscope_version);
    gs_json_int(&j, "format_version", s->format_version);
    gs_json_end(&j);
    int rc = gs_write_atomic(dir, GS_FILE_SUMMARY, j.buf, j.len, err);
    gs_json_free(&j);
    return rc;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* A JSON string after its opening quote into out (truncated to n - 1
   bytes; \uXXXX outside ASCII becomes '?'); NULL when unterminated. */
static const char *json_string(const char *p, char *out, size_t n)
{
    size_t len = 0;
    for (; *p != '"'; p++) {
        if (!*p)
            return NULL;
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *++p;
                    int d = h >= '0' && h <= '9' ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0)
                        return NULL;
                    v = v * 16 + (unsigned)d;
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            case '\0': return NULL;
            default: c = *p; break;
            }
        }
        if (len + 1 < n)
            out[len++] = c;
    }
    out[len] = '\0';
    return p + 1;
}

enum { K_STRING, K_NUMBER, K_NULL };

static int set_key(gs_summary *s, const char *key, int kind, const char *text, double num)
{
    struct { const char *key; double *v; } nums[] = {
        {"train_loss", &s->train_loss},       {"train_accuracy", &s->train_accuracy},
        {"val_loss", &s->val_loss},           {"val_accuracy", &s->val_accuracy},
        {"test_loss", &s->test_loss},         {"test_accuracy", &s->test_accuracy},
        {"wall_time_s", &s->wall_time_s},     {"grad_ratio_first_last", &s->grad_ratio_first_last},
        {"chi_predicted", &s->chi_predicted}, {"chi_measured", &s->chi_measured},
        {"chi_path", &s->chi_path}};
    for (size_t i = 0; i < GS_ARRAY_LEN(nums); i++)
        if (!strcmp(key, nums[i].key)) {
            if (kind == K_STRING)
                return -1;
            *nums[i].v = kind == K_NULL ? NAN : num;
            return 0;
        }
    struct { const char *key; char *v; size_t n; } strs[] = {
        {"detail", s->detail, sizeof s->detail},
        {"verdict_detail", s->verdict_detail, sizeof s->verdict_detail},
        {"gradscope_version", s->gradscope_version, sizeof s->gradscope_version}};
    for (size_t i = 0; i < GS_ARRAY_LEN(strs); i++)
        if (!strcmp(key, strs[i].key)) {
            if (kind != K_STRING)
                return -1;
            snprintf(strs[i].v, strs[i].n, "%s", text);
            return 0;
        }
    if (!strcmp(key, "status"))
        return kind == K_STRING ? gs_status_parse(text, &s->status) : -1;
    if (!strcmp(key, "verdict"))
        return kind == K_STRING ? gs_verdict_parse(text, &s->verdict) : -1;
    if (!strcmp(key, "steps")) {
        if (kind != K_NUMBER || !(num >= 0) || num != floor(num))
            return -1;
        s->steps = (uint64_t)num;
        return 0;
    }
    if (!strcmp(key, "verdict_layer") || !strcmp(key, "verdict_step") ||
        !strcmp(key, "verdict_t")) {
        if (kind == K_STRING || (kind == K_NUMBER && (!(num >= 0) || num != floor(num))))
            return -1;
        if (key[8] == 'l')
            s->verdict_layer = kind == K_NULL ? -1 : (long)num;
        else if (key[8] == 's')
            s->verdict_step = kind == K_NULL ? -1 : (long long)num;
        else
            s->verdict_t = kind == K_NULL ? -1 : (long)num;
        return 0;
    }
    if (!strcmp(key, "format_version")) {
        if (kind != K_NUMBER || num < 1 || num != floor(num))
            return -1;
        s->format_version = (int)num;
        return 0;
    }
    return 0; /* unknown keys belong to a newer minor format: ignored */
}

int gs_summary_read(const char *dir, gs_summary *s, gs_error *err)
{
    gs_summary_init(s);
    s->format_version = 1; /* files before format 2 had no format_version */
    char *path = gs_xasprintf("%s/%s", dir, GS_FILE_SUMMARY);
    char *text = gs_read_file(path, NULL);
    int missing = !text && errno == ENOENT;
    if (!text) {
        if (!missing)
            gs_err_set(err, "%s: %s", path, strerror(errno));
        free(path);
        return missing ? 1 : -1;
    }
    const char *p = skip_ws(text), *why = NULL;
    int have_status = 0;
    if (*p != '{')
        why = "not a JSON object";
    else
        p = skip_ws(p + 1);
    while (!why && *p != '}') {
        char key[64], val[512];
        if (*p != '"' || !(p = json_string(p + 1, key, sizeof key))) {
            why = "expected a quoted key";
            break;
        }
        p = skip_ws(p);
        if (*p != ':') {
            why = "expected ':' after a key";
            break;
        }
        p = skip_ws(p + 1);
        int kind;
        double num = 0;
        if (*p == '"') {
            kind = K_STRING;
            if (!(p = json_string(p + 1, val, sizeof val))) {
                why = "unterminated string";
                break;
            }
        } else if (!strncmp(p, "null", 4)) {
            kind = K_NULL;
            p += 4;
        } else {
            char *end;
            errno = 0;
            num = strtod(p, &end);
            if (end == p || errno == ERANGE) {
                why = "a value is neither a string, a number nor null";
                break;
            }
            kind = K_NUMBER;
            p = end;
        }
        if (set_key(s, key, kind, val, num) < 0) {
            snprintf(val, sizeof val, "key \"%s\" has a value of the wrong kind", key);
            gs_err_set(err, "%s: %s", path, val);
            free(text);
            free(path);
            return -1;
        }
        have_status |= !strcmp(key, "status");
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p != '}')
            why = "expected ',' or '}'";
    }
    if (!why && *skip_ws(p + 1))
        why = "text after the object";
    if (!why && !have_status)
        why = "no \"status\"";
    if (!why && s->format_version > GS_FORMAT_VERSION) {
        gs_err_set(err, "%s: format version %d is newer than this gradscope's (%d)", path,
                   s->format_version, GS_FORMAT_VERSION);
        free(text);
        free(path);
        return -1;
    }
    if (why)
        gs_err_set(err, "%s: damaged (%s)", path, why);
    free(text);
    free(path);
    return why ? -1 : 0;
}

/* ---- tables ---- */

/* The fields of a line: with f, split in place (at most max kept in f);
   without, only counted, the line unchanged.  A field in double quotes
   keeps its commas and loses its quotes ("" is a quote).  Returns the
   number of fields, or (size_t)-1 for a quote left open or text after a
   closing quote. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *p = line;; p++) {
        char *field = p, *w;
        if (*p == '"') {
            w = p;
            for (p++;; p++) {
                if (!*p)
                    return (size_t)-1;
                if (*p == '"' && *++p != '"')
                    break;
                if (f)
                    *w = *p;
                w++;
            }
            if (*p && *p != ',')
                return (size_t)-1;
        } else {
            p += strcspn(p, ",");
            w = p;
        }
        char sep = *p;
        if (f) {
            if (n < max)
                f[n] = field;
            *w = '\0';
        }
        n++;
        if (!sep)
            return n;
    }
}

int gs_table_read(gs_table *t, const char *dir, const gs_log_format *fmt, gs_error *err)
{
    return gs_table_read_cols(t, dir, fmt, UINT64_MAX, err);
}

int gs_table_read_cols(gs_table *t, const char *dir, const gs_log_format *fmt, uint64_t required,
                       gs_error *err)
{
    memset(t, 0, sizeof *t);
    t->path = gs_xasprintf("%s/%s", dir, fmt->file);
    size_t len;
    t->text = gs_read_file(t->path, &len);
    int missing = !t->text && errno == ENOENT;
    if (!t->text) {
        if (!missing)
            gs_err_set(err, "%s: %s", t->path, strerror(errno));
        return missing ? 1 : -1;
    }
    if (memchr(t->text, '\0', len)) {
        gs_err_set(err, "%s: not a text file (NUL bytes)", t->path);
        return -1;
    }
    char *header = t->text;
    size_t line = 1;
    while (*header == '#' && strchr(header, '\n')) {
        header = strchr(header, '\n') + 1;
        line++;
    }
    char *nl = strchr(header, '\n');
    if (!nl || nl == header) {
        gs_err_set(err, "%s: no header row", t->path);
        return -1;
    }
    *nl = '\0';
    if (nl > header && nl[-1] == '\r')
        nl[-1] = '\0';
    t->ncol = split(header, NULL, 0);
    if (t->ncol == (size_t)-1) {
        gs_err_set(err, "%s:%zu: a quote in the header row is not closed", t->path, line);
        return -1;
    }
    t->names = gs_xmalloc(t->ncol * sizeof *t->names);
    split(header, t->names, t->ncol);
    t->col = gs_xmalloc((fmt->n_columns ? fmt->n_columns : 1) * sizeof *t->col);
    for (size_t k = 0; k < fmt->n_columns; k++) {
        t->col[k] = gs_table_find(t, fmt->columns[k]);
        if (t->col[k] < 0 && (k >= 64 || required & GS_COL(k))) {
            gs_err_set(err, "%s: no column \"%s\" in its header", t->path, fmt->columns[k]);
            return -1;
        }
    }
    size_t cap = 0;
    for (char *p = nl + 1; *p;) {
        line++;
        char *end = strchr(p, '\n');
        int complete = end != NULL;
        if (end)
            *end = '\0';
        char *next = end ? end + 1 : p + strlen(p);
        size_t n = strlen(p);
        if (n && p[n - 1] == '\r')
            p[--n] = '\0';
        if (!n && complete) {
            p = next;
            continue;
        }
        if (!complete || split(p, NULL, 0) != t->ncol) {
            if (!t->skipped++)
                t->first_skipped_line = line;
            p = next;
            continue;
        }
        if (t->rows == cap) {
            cap = cap ? 2 * cap : 64;
            t->cells = gs_xrealloc(t->cells, cap * t->ncol * sizeof *t->cells);
            t->line = gs_xrealloc(t->line, cap * sizeof *t->line);
        }
        split(p, t->cells + t->rows * t->ncol, t->ncol);
        t->line[t->rows++] = line;
        p = next;
    }
    return 0;
}

const char *gs_table_cell(const gs_table *t, size_t r, size_t k)
{
    int c = t->col[k];
    return c < 0 ? "" : t->cells[r * t->ncol + (size_t)c];
}

double gs_table_num(const gs_table *t, size_t r, size_t k)
{
    const char *s = gs_table_cell(t, r, k);
    char *end;
    double v = strtod(s, &end);
    return end == s || *end ? NAN : v;
}

int gs_table_find(const gs_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncol; i++)
        if (!strcmp(t->names[i], name))
            return (int)i;
    return -1;
}

void gs_table_free(gs_table *t)
{
    free(t->text);
    free(t->names);
    free(t->cells);
    free(t->col);
    free(t->line);
    free(t->path);
    memset(t, 0, sizeof *t);
}

/* ---- index.csv ---- */

void gs_csv_cell(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void gs_format_write_header(FILE *f, const gs_log_format *fmt, int versioned)
{
    if (versioned)
        fprintf(f, "# gradscope format %d\n", GS_FORMAT_VERSION);
    for (size_t k = 0; k < fmt->n_columns; k++)
        gs_csv_cell(f, fmt->columns[k], k == 0);
    fputc('\n', f);
}

/* A cell of index.csv; -1 for a line break, which a reader taking the table
   a line at a time could not take back. */
static int index_cell(FILE *f, const char *s, int first)
{
    if (strpbrk(s, "\n\r"))
        return -1;
    gs_csv_cell(f, s, first);
    return 0;
}

int gs_index_write(const char *dir, const gs_index_row *rows, size_t n,
                   const char *const *keys, size_t n_keys, gs_error *err)
{
    gs_memfile mf;
    gs_memfile_open(&mf);
    FILE *f = mf.f;
    fprintf(f, "# gradscope format %d\n", GS_FORMAT_VERSION);
    const char *bad_col = NULL;
    size_t bad_row = 0;
    for (size_t k = 0; k < gs_index_format.n_columns; k++)
        index_cell(f, gs_index_format.columns[k], k == 0);
    for (size_t k = 0; k < n_keys && !bad_col; k++)
        if (index_cell(f, keys[k], 0) < 0)
            bad_col = keys[k];
    fputc('\n', f);
    for (size_t r = 0; r < n && !bad_col; r++) {
        char seed[32];
        snprintf(seed, sizeof seed, "%lld", (long long)rows[r].seed);
        const char *fixed[GS_INDEX_FIXED_NCOLS] = {
            [GS_INDEX_PATH] = rows[r].path, [GS_INDEX_VARIANT] = rows[r].variant,
            [GS_INDEX_SEED] = seed, [GS_INDEX_STATUS] = rows[r].status};
        for (size_t k = 0; k < GS_INDEX_FIXED_NCOLS && !bad_col; k++)
            if (index_cell(f, fixed[k], k == 0) < 0)
                bad_col = gs_index_format.columns[k];
        for (size_t k = 0; k < n_keys && !bad_col; k++)
            if (index_cell(f, rows[r].values[k], 0) < 0)
                bad_col = keys[k];
        fputc('\n', f);
        bad_row = r + 1;
    }
    if (!bad_col)
        return gs_memfile_commit(&mf, dir, GS_FILE_INDEX, err);
    fclose(mf.f);
    free(mf.buf);
    if (bad_row)
        gs_err_set(err, "%s/%s: the %s of row %zu holds a line break, which a cell may not",
                   dir, GS_FILE_INDEX, bad_col, bad_row);
    else
        gs_err_set(err, "%s/%s: a column name holds a line break, which a cell may not", dir,
                   GS_FILE_INDEX);
    return -1;
}
