/*
 * Prints the run-directory format as core/rundir/format.c defines it, as one
 * JSON object: the version, every table's file and columns, summary.json's
 * keys (as gs_summary_write writes them) and the status and verdict names.
 * tests/python/test_format_tables.py compares the Python reader's table
 * (python/gradscope/_format.py) with it, so that the two cannot drift apart.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rundir/format.h"

/* Names here are plain identifiers and file names: nothing to escape. */
static void names(const char *const *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s\"%s\"", i ? ", " : "", v[i]);
    putchar(']');
}

/* {"file": ..., "columns": [...]} after `before`, then `after` */
static void table(const char *before, const gs_log_format *f, const char *after)
{
    printf("%s{\"file\": \"%s\", \"columns\": ", before, f->file);
    names(f->columns, f->n_columns);
    printf("}%s\n", after);
}

/* summary.json's keys in the order the writer writes them, every optional
   key present: written to a scratch directory and read back. */
static int summary_keys(void)
{
    char dir[] = "/tmp/gs-format-json-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    gs_summary s;
    gs_summary_init(&s);
    snprintf(s.detail, sizeof s.detail, "why");
    s.verdict_layer = 1;
    s.verdict_step = 2;
    gs_error err;
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/%s", dir, GS_FILE_SUMMARY);
    int rc = gs_summary_write(dir, &s, &err);
    FILE *f = rc == 0 ? fopen(path, "r") : NULL;
    if (!f) {
        fprintf(stderr, "format_json: %s\n", rc ? err.msg : path);
        rmdir(dir);
        return -1;
    }
    char line[1024];
    int n = 0;
    printf("  \"summary_keys\": [");
    while (fgets(line, sizeof line, f)) {
        char *q = strchr(line, '"'), *end = q ? strchr(q + 1, '"') : NULL;
        if (end)
            printf("%s\"%.*s\"", n++ ? ", " : "", (int)(end - q - 1), q + 1);
    }
    printf("],\n");
    fclose(f);
    unlink(path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    printf("{\n  \"format_version\": %d,\n  \"tables\": [\n", GS_FORMAT_VERSION);
    for (int k = 0; k < GS_LOG_COUNT; k++)
        table("    ", &gs_logs[k], ",");
    table("    ", &gs_model_format, "");
    table("  ],\n  \"index\": ", &gs_index_format, ",");
    if (summary_keys() < 0)
        return 1;
    const char *st[GS_STATUS_COUNT], *vd[GS_VERDICT_COUNT];
    for (int i = 0; i < GS_STATUS_COUNT; i++)
        st[i] = gs_status_name((gs_run_status)i);
    for (int i = 0; i < GS_VERDICT_COUNT; i++)
        vd[i] = gs_verdict_name((gs_verdict_kind)i);
    const char *ist[] = {GS_INDEX_UNFINISHED, GS_INDEX_PENDING, GS_INDEX_DAMAGED};
    printf("  \"statuses\": ");
    names(st, GS_STATUS_COUNT);
    printf(",\n  \"index_statuses\": ");
    names(ist, 3);
    printf(",\n  \"verdicts\": ");
    names(vd, GS_VERDICT_COUNT);
    printf("\n}\n");
    return 0;
}
