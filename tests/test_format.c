/* The run-directory format (core/rundir/format.c): docs/FORMAT.md lists
   exactly the columns and keys the code writes; summary.json round-trips and
   a damaged, newer or missing one is told apart; the table reader names a
   missing column and skips a cut-off last row. */
#include <math.h>
#include "testutil.h"
#include "rundir/format.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }

static void teardown(void)
{
    tu_rmrf(dir);
    free(dir);
}

/* ---- docs/FORMAT.md against format.h ---- */

static char *read_doc(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/FORMAT.md", tu_srcdir());
    char *doc = tu_read(path, NULL);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    return doc;
}

/* The first cells, in backquotes, of the table rows in the section headed
   "### `title`", up to the next heading; the count, -1 without the section. */
static int doc_names(const char *doc, const char *title, char names[][64], int max)
{
    char heading[256];
    snprintf(heading, sizeof heading, "\n### `%s`\n", title);
    const char *p = strstr(doc, heading);
    if (!p)
        return -1;
    p += strlen(heading);
    int n = 0;
    while (*p && *p != '#') {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if (!strncmp(p, "| `", 3)) {
            const char *name = p + 3, *end = strchr(name, '`');
            ck_assert_msg(end && end < eol, "FORMAT.md, %s: unclosed name", title);
            ck_assert_int_lt(n, max);
            snprintf(names[n], 64, "%.*s", (int)(end - name), name);
            n++;
        }
        p = *eol ? eol + 1 : eol;
    }
    return n;
}

static void expect_names(const char *doc, const char *title, const char *const *want,
                         size_t n_want)
{
    char names[64][64];
    int n = doc_names(doc, title, names, 64);
    ck_assert_msg(n >= 0, "docs/FORMAT.md has no section \"### `%s`\"", title);
    for (size_t k = 0; k < n_want || k < (size_t)n; k++) {
        const char *code = k < n_want ? want[k] : "(nothing)";
        const char *text = k < (size_t)n ? names[k] : "(nothing)";
        ck_assert_msg(!strcmp(code, text),
                      "%s: entry %zu is \"%s\" in docs/FORMAT.md but \"%s\" in format.h", title,
                      k + 1, text, code);
    }
}

START_TEST(doc_lists_every_table_column)
{
    char *doc = read_doc();
    const gs_log_format *tables[GS_LOG_COUNT + 3];
    size_t n = 0;
    for (int k = 0; k < GS_LOG_COUNT; k++)
        tables[n++] = &gs_logs[k];
    tables[n++] = &gs_model_format;
    tables[n++] = &gs_index_format;
    for (size_t i = 0; i < n; i++)
        expect_names(doc, tables[i]->file, tables[i]->columns, tables[i]->n_columns);
    free(doc);
}
END_TEST

/* summary.json's keys as gs_summary_write writes them, every optional one
   present. */
static size_t written_keys(char keys[][64], size_t max)
{
    gs_summary s;
    gs_summary_init(&s);
    snprintf(s.detail, sizeof s.detail, "why");
    s.verdict_layer = 1;
    s.verdict_step = 2;
    gs_error err;
    ck_assert_msg(gs_summary_write(dir, &s, &err) == 0, "%s", err.msg);
    char *path = tu_path(dir, GS_FILE_SUMMARY);
    char *json = tu_read(path, NULL);
    free(path);
    size_t n = 0;
    for (const char *p = json; (p = strstr(p, "\n  \"")); n++) {
        p += 4;
        const char *end = strchr(p, '"');
        ck_assert_uint_lt(n, max);
        snprintf(keys[n], 64, "%.*s", (int)(end - p), p);
    }
    free(json);
    return n;
}

START_TEST(doc_lists_every_summary_key)
{
    char *doc = read_doc();
    char keys[64][64];
    size_t n = written_keys(keys, 64);
    ck_assert_uint_ge(n, 20);
    const char *want[64];
    for (size_t k = 0; k < n; k++)
        want[k] = keys[k];
    expect_names(doc, GS_FILE_SUMMARY, want, n);
    free(doc);
}
END_TEST

START_TEST(doc_names_the_version)
{
    char *doc = read_doc();
    char line[64];
    snprintf(line, sizeof line, "defines format version %d:", GS_FORMAT_VERSION);
    ck_assert_msg(strstr(doc, line) != NULL, "docs/FORMAT.md does not say \"%s\"", line);
    free(doc);
}
END_TEST

/* ---- summary.json ---- */

static void write_file(const char *name, const char *text)
{
    char *path = tu_path(dir, name);
    tu_write(path, text);
    free(path);
}

START_TEST(summary_round_trip)
{
    gs_summary s, back;
    gs_summary_init(&s);
    s.status = GS_STATUS_INTERRUPTED;
    snprintf(s.detail, sizeof s.detail, "stopped \"here\", by signal\n2");
    s.steps = 1234567;
    s.train_loss = 0.5;
    s.train_accuracy = 0.875;
    s.val_loss = 1e-7;
    s.val_accuracy = 0.25;
    s.test_loss = 3.125;
    s.test_accuracy = 1;
    s.wall_time_s = 12.5;
    s.grad_ratio_first_last = 2.5e-12;
    s.verdict = GS_VERDICT_VANISHING;
    s.verdict_layer = 3;
    s.verdict_step = 40;
    s.verdict_t = 17;
    snprintf(s.verdict_detail, sizeof s.verdict_detail, "layer 3 / layer 9 < 1e-3");
    s.chi_predicted = 0.75;
    s.chi_measured = 0.5;
    snprintf(s.gradscope_version, sizeof s.gradscope_version, "9.8.7");
    gs_error err;
    ck_assert_msg(gs_summary_write(dir, &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_summary_read(dir, &back, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(back.format_version, GS_FORMAT_VERSION);
    ck_assert_int_eq(back.status, GS_STATUS_INTERRUPTED);
    ck_assert_str_eq(back.detail, s.detail);
    ck_assert_uint_eq(back.steps, 1234567);
    const double pairs[][2] = {{s.train_loss, back.train_loss},
                               {s.train_accuracy, back.train_accuracy},
                               {s.val_loss, back.val_loss},
                               {s.val_accuracy, back.val_accuracy},
                               {s.test_loss, back.test_loss},
                               {s.test_accuracy, back.test_accuracy},
                               {s.wall_time_s, back.wall_time_s},
                               {s.grad_ratio_first_last, back.grad_ratio_first_last}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        ck_assert_msg(pairs[k][0] == pairs[k][1], "number %zu: %.17g read back as %.17g", k,
                      pairs[k][0], pairs[k][1]);
    ck_assert_int_eq(back.verdict, GS_VERDICT_VANISHING);
    ck_assert_int_eq(back.verdict_layer, 3);
    ck_assert_int_eq(back.verdict_step, 40);
    ck_assert_int_eq(back.verdict_t, 17);
    ck_assert_str_eq(back.verdict_detail, s.verdict_detail);
    ck_assert(back.chi_predicted == 0.75 && back.chi_measured == 0.5);
    ck_assert(isnan(back.chi_path));
    ck_assert_str_eq(back.gradscope_version, "9.8.7");
}
END_TEST

START_TEST(summary_absent_values_round_trip)
{
    gs_summary s, back;
    gs_summary_init(&s);
    gs_error err;
    ck_assert_msg(gs_summary_write(dir, &s, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_summary_read(dir, &back, &err) == 0, "%s", err.msg);
    ck_assert(isnan(back.train_loss) && isnan(back.wall_time_s) && isnan(back.chi_path));
    ck_assert_int_eq(back.verdict_layer, -1);
    ck_assert_int_eq(back.verdict_step, -1);
    ck_assert_int_eq(back.verdict_t, -1);
    ck_assert_str_eq(back.detail, "");
}
END_TEST

START_TEST(summary_missing_is_one)
{
    gs_summary s;
    gs_error err;
    ck_assert_int_eq(gs_summary_read(dir, &s, &err), 1);
}
END_TEST

START_TEST(summary_before_format_2_is_version_1)
{
    write_file(GS_FILE_SUMMARY, "{\n  \"status\": \"completed\",\n  \"steps\": 3\n}\n");
    gs_summary s;
    gs_error err;
    ck_assert_msg(gs_summary_read(dir, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.format_version, 1);
    ck_assert_int_eq(s.status, GS_STATUS_COMPLETED);
    ck_assert(gs_status_finished(s.status));
}
END_TEST

START_TEST(summary_damaged_is_refused)
{
    const char *bad[][2] = {
        {"{\n  \"status\": \"completed\",\n  \"steps\": ", "damaged"},
        {"", "not a JSON object"},
        {"{\"steps\": 3}", "no \"status\""},
        {"{\"status\": \"finished\"}", "\"status\""},
        {"{\"status\": \"completed\", \"steps\": \"many\"}", "\"steps\""},
        {"{\"status\": \"completed\"} {}", "text after the object"},
    };
    char *path = tu_path(dir, GS_FILE_SUMMARY);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(GS_FILE_SUMMARY, bad[i][0]);
        gs_summary s;
        gs_error err = {""};
        ck_assert_msg(gs_summary_read(dir, &s, &err) == -1, "accepted: %s", bad[i][0]);
        ck_assert_msg(strstr(err.msg, path) != NULL, "message without the file: %s", err.msg);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.msg);
    }
    free(path);
}
END_TEST

START_TEST(summary_newer_is_refused)
{
    char text[128];
    snprintf(text, sizeof text, "{\"status\": \"completed\", \"format_version\": %d}",
             GS_FORMAT_VERSION + 1);
    write_file(GS_FILE_SUMMARY, text);
    gs_summary s;
    gs_error err = {""};
    ck_assert_int_eq(gs_summary_read(dir, &s, &err), -1);
    char *path = tu_path(dir, GS_FILE_SUMMARY);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "newer"), "%s", err.msg);
    free(path);
    /* a key it does not know is a newer minor addition: ignored */
    write_file(GS_FILE_SUMMARY, "{\"status\": \"diverged\", \"new_key\": 1.5}");
    ck_assert_msg(gs_summary_read(dir, &s, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(s.status, GS_STATUS_DIVERGED);
}
END_TEST

/* ---- tables ---- */

START_TEST(table_names_a_missing_column)
{
    write_file("epochs.csv", "epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,"
                             "test_loss,seconds\n0,10,1,0.5,1,0.5,1,0.1\n");
    gs_table t;
    gs_error err = {""};
    ck_assert_int_eq(gs_table_read(&t, dir, &gs_logs[GS_LOG_EPOCHS], &err), -1);
    ck_assert_msg(strstr(err.msg, "epochs.csv") && strstr(err.msg, "\"test_accuracy\""), "%s",
                  err.msg);
    gs_table_free(&t);
    ck_assert_int_eq(gs_table_read(&t, dir, &gs_logs[GS_LOG_METRICS], &err), 1);
    gs_table_free(&t);
}
END_TEST

START_TEST(table_skips_a_cut_off_last_row)
{
    /* columns in another order and one more: found by name */
    write_file("paths.csv", "layer,step,key,value,extra\n"
                            "0,5,f.gain,1.5,x\n"
                            "1,5,f.gain\n"
                            "2,5,f.gain,2.5,y\n"
                            "3,5,f.ga");
    gs_table t;
    gs_error err;
    ck_assert_msg(gs_table_read(&t, dir, &gs_logs[GS_LOG_PATHS], &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(t.rows, 2);
    ck_assert_uint_eq(t.skipped, 2);
    ck_assert_uint_eq(t.first_skipped_line, 3);
    ck_assert_str_eq(gs_table_cell(&t, 1, GS_PATHS_LAYER), "2");
    ck_assert(gs_table_num(&t, 1, GS_PATHS_VALUE) == 2.5);
    ck_assert(gs_table_num(&t, 0, GS_PATHS_STEP) == 5);
    ck_assert_int_eq(gs_table_find(&t, "extra"), 4);
    gs_table_free(&t);
}
END_TEST

START_TEST(index_round_trip)
{
    const char *keys[] = {"model.layers.[0].init"};
    const char *v0[] = {"{type=normal,std=0.1}"}, *v1[] = {"he \"fan_in\""};
    gs_index_row rows[] = {
        {.path = "a,b/x", .variant = "", .seed = 7, .status = "completed", .values = v0},
        {.path = "c", .variant = "v", .seed = -1, .status = GS_INDEX_PENDING, .values = v1},
    };
    gs_error err;
    ck_assert_msg(gs_index_write(dir, rows, 2, keys, 1, &err) == 0, "%s", err.msg);
    gs_table t;
    ck_assert_msg(gs_table_read(&t, dir, &gs_index_format, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(t.rows, 2);
    ck_assert_str_eq(gs_table_cell(&t, 0, GS_INDEX_PATH), "a,b/x");
    ck_assert_str_eq(gs_table_cell(&t, 1, GS_INDEX_STATUS), "pending");
    ck_assert_str_eq(gs_table_cell(&t, 1, GS_INDEX_SEED), "-1");
    int k = gs_table_find(&t, keys[0]);
    ck_assert_int_eq(k, 4);
    ck_assert_str_eq(t.cells[0 * t.ncol + 4], v0[0]);
    ck_assert_str_eq(t.cells[1 * t.ncol + 4], v1[0]);
    gs_table_free(&t);
    const char *broken[] = {"two\nlines"};
    rows[0].values = broken;
    ck_assert_int_eq(gs_index_write(dir, rows, 1, keys, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "index.csv") != NULL, "%s", err.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("format");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, doc_lists_every_table_column);
    tcase_add_test(tc, doc_lists_every_summary_key);
    tcase_add_test(tc, doc_names_the_version);
    tcase_add_test(tc, summary_round_trip);
    tcase_add_test(tc, summary_absent_values_round_trip);
    tcase_add_test(tc, summary_missing_is_one);
    tcase_add_test(tc, summary_before_format_2_is_version_1);
    tcase_add_test(tc, summary_damaged_is_refused);
    tcase_add_test(tc, summary_newer_is_refused);
    tcase_add_test(tc, table_names_a_missing_column);
    tcase_add_test(tc, table_skips_a_cut_off_last_row);
    tcase_add_test(tc, index_round_trip);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
