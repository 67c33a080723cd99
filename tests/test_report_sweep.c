/* gradscope report of a sweep directory: one group per setting with its
   seeds gathered into a median and a min-max band whose numbers are those
   of the runs' gradients.csv, runs of different lengths, non-finite values,
   pending and diverged runs, nested variants, a damaged index.csv, a
   byte-identical page for the same input. */
#include <math.h>
#include <sys/wait.h>
#include "testutil.h"

/* 2 learning rates x 3 seeds of a small tanh network: seconds. */
static const char *sweep_cfg =
    "name = \"sw\";\n"
    "seed = 1;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 6; classes = 3; samples = 200; "
    "test_samples = 60; };\n"
    "model = { layers = ( { type = \"dense\"; units = 12; activation = \"tanh\"; repeat = 4; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.05; };\n"
    "training = { epochs = 2; batch_size = 20; };\n"
    "monitor = { every = 3; };\n"
    "%s"
    "sweep = { grid = ( { key = \"optimizer.lr\"; values = [ 0.05, 0.5 ]; },\n"
    "                   { key = \"seed\"; values = [ 1, 2, 3 ]; } ); };\n";

static char *dir;

static void setup_once(void) { dir = tu_tempdir(); }

static void teardown_once(void)
{
    tu_rmrf(dir);
    free(dir);
}

static void shell(const char *fmt, ...)
{
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* Trains the sweep (variants: a variants = (...) line or "") into DIR/name. */
static char *make_sweep(const char *name, const char *variants)
{
    char *cfg = tu_path(dir, "sw.cfg"), *out = tu_path(dir, name);
    char text[4096];
    snprintf(text, sizeof text, sweep_cfg, variants);
    tu_write(cfg, text);
    shell("'%s/core/gradscope' sweep '%s' --out '%s' --quiet", tu_builddir(), cfg, out);
    free(cfg);
    return out;
}

static char *report(const char *sweep, const char *name)
{
    char *out = tu_path(dir, name), *hp = tu_path(out, "report.html");
    shell("'%s/core/gradscope' report '%s' --out '%s' --quiet", tu_builddir(), sweep, out);
    char *html = tu_read(hp, NULL);
    ck_assert_msg(html != NULL, "no %s", hp);
    free(out);
    free(hp);
    return html;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* grad_norm of layer `layer`'s weight at `step` in RUN/gradients.csv, the
   last layer with a weight when layer < 0; NaN when there is none. */
static double grad_at(const char *sweep, const char *run, long step, long layer)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/gradients.csv", sweep, run);
    char *text = tu_read(path, NULL);
    ck_assert_msg(text != NULL, "%s", path);
    double v = NAN;
    long best = -1;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long s, l;
        char tensor[64], num[64];
        if (sscanf(line + 1, "%ld,%ld,%63[^,],%63[^,]", &s, &l, tensor, num) != 4 || s != step ||
            strcmp(tensor, "weight"))
            continue;
        if (layer >= 0 ? l == layer : l > best) {
            best = l;
            v = strtod(num, NULL);
        }
    }
    free(text);
    return v;
}

/* The numbers of group `label`'s tooltip at `step` in panel `which` (0 the
   first layer's norm, 1 the first/last ratio); 0 when there is none. */
static int tip(const char *html, const char *label, long step, int which, double *med,
               double *lo, double *hi, size_t *k, size_t *n)
{
    char key[256];
    snprintf(key, sizeof key, "<title>%s, step %ld: ", label, step);
    const char *p = strstr(html, key);
    if (p && which)
        p = strstr(p + 1, key);
    if (!p)
        return 0;
    ck_assert_int_eq(sscanf(p + strlen(key), "median %lf, min %lf, max %lf (%zu of %zu runs)",
                            med, lo, hi, k, n),
                     5);
    return 1;
}

static void near(double got, double want, const char *what)
{
    ck_assert_msg(isfinite(want) && fabs(got - want) <= 1e-5 * fabs(want), "%s: %.9g, want %.9g",
                  what, got, want);
}

/* Checks group `label`'s tooltips at `step` against the runs given: the
   median, smallest and largest of their values from gradients.csv. */
static void check_band(const char *html, const char *sweep, const char *label, long step,
                       const char *const *runs, size_t nr, size_t members)
{
    for (int which = 0; which < 2; which++) {
        double v[16];
        for (size_t i = 0; i < nr; i++) {
            v[i] = grad_at(sweep, runs[i], step, 0);
            if (which)
                v[i] /= grad_at(sweep, runs[i], step, -1);
        }
        for (size_t i = 1; i < nr; i++) /* insertion sort: a handful */
            for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
                double t = v[j];
                v[j] = v[j - 1];
                v[j - 1] = t;
            }
        double med, lo, hi;
        size_t k, n;
        ck_assert_msg(tip(html, label, step, which, &med, &lo, &hi, &k, &n),
                      "no numbers for %s at step %ld (panel %d)", label, step, which);
        char what[256];
        snprintf(what, sizeof what, "%s step %ld panel %d", label, step, which);
        ck_assert_msg(k == nr && n == members, "%s: %zu of %zu runs, want %zu of %zu", what, k, n,
                      nr, members);
        near(lo, v[0], what);
        near(hi, v[nr - 1], what);
        near(med, nr % 2 ? v[nr / 2] : (v[nr / 2 - 1] + v[nr / 2]) / 2, what);
    }
}

/* The <tr> of group `label` in the groups table. */
static char *group_row(const char *html, const char *label)
{
    const char *t = strstr(html, "<table class=\"groups\">");
    ck_assert_msg(t != NULL, "no groups table");
    const char *end = strstr(t, "</table>");
    char key[256];
    snprintf(key, sizeof key, "</span>%s</td>", label);
    const char *r = strstr(t, key);
    ck_assert_msg(r && r < end, "no group %s", label);
    const char *e = strstr(r, "</tr>");
    return strndup(r, (size_t)(e - r));
}

START_TEST(groups_of_a_sweep)
{
    char *sw = make_sweep("sweep", "");
    static const char *const slow[] = {"lr=0.05,seed=1", "lr=0.05,seed=2", "lr=0.05,seed=3"};
    static const char *const fast[] = {"lr=0.5,seed=1", "lr=0.5,seed=2", "lr=0.5,seed=3"};
    char path[4096];
    /* a failed gradient: left out at its step */
    snprintf(path, sizeof path, "%s/%s", sw, slow[1]);
    shell("cd '%s' && awk -F, -v OFS=, '$1 == 9 && $2 == 0 && $3 == \"weight\" { $4 = \"nan\" } 1' "
          "gradients.csv >g && mv g gradients.csv",
          path);
    ck_assert_msg(isnan(grad_at(sw, slow[1], 9, 0)), "the NaN was not written");
    /* a run cut short at step 6 that diverged */
    snprintf(path, sizeof path, "%s/%s", sw, fast[2]);
    shell("cd '%s' && awk -F, 'NR == 1 || $1 <= 6' gradients.csv >g && mv g gradients.csv && "
          "sed -i 's/\"completed\"/\"diverged\"/' summary.json",
          path);
    /* a run not started: in index.csv, no directory */
    snprintf(path, sizeof path, "%s/index.csv", sw);
    char *index = tu_read(path, NULL);
    size_t il = strlen(index);
    index = realloc(index, il + 64);
    strcpy(index + il, "\"lr=0.05,seed=4\",,4,pending,0.05\n");
    tu_write(path, index);
    free(index);

    char *html = report(sw, "rep");
    /* one group per learning rate, a band and a median in each panel */
    const char *t = strstr(html, "<table class=\"groups\">");
    ck_assert_msg(t != NULL, "no groups table");
    ck_assert_uint_eq(count(t, "<tr><td>") - count(strstr(t, "</table>"), "<tr><td>"), 2);
    ck_assert_uint_eq(count(html, "class=\"band\""), 4);
    ck_assert_uint_eq(count(html, "<g class=\"median\" data-group=\"lr=0.05\">"), 2);
    ck_assert_uint_eq(count(html, "<g class=\"median\" data-group=\"lr=0.5\">"), 2);
    const char *fig = strstr(html, "<svg class=\"figure groups\"");
    ck_assert_msg(fig != NULL, "no groups figure");
    ck_assert_msg(strstr(fig, "10<tspan") != NULL, "no log axis");
    const char *med = strstr(fig, "<g class=\"median\"");
    ck_assert_msg(strstr(med, "<path d=\"M") != NULL, "no median line");

    /* the numbers are the runs' own */
    check_band(html, sw, "lr=0.05", 0, slow, 3, 4);
    check_band(html, sw, "lr=0.05", 17, slow, 3, 4);
    check_band(html, sw, "lr=0.5", 3, fast, 3, 3);
    /* past step 6 the short run has no value, at step 9 the failed one */
    check_band(html, sw, "lr=0.5", 17, fast, 2, 3);
    const char *const ok9[] = {slow[0], slow[2]};
    check_band(html, sw, "lr=0.05", 9, ok9, 2, 4);

    /* statuses counted, the pending run among them */
    char *row = group_row(html, "lr=0.05");
    ck_assert_msg(strstr(row, "<td>4</td><td>3 completed, 1 pending</td>"), "%s", row);
    free(row);
    row = group_row(html, "lr=0.5");
    ck_assert_msg(strstr(row, "<td>3</td><td>2 completed, 1 diverged</td>"), "%s", row);
    free(row);
    /* the per-run sections are still there */
    ck_assert_msg(strstr(html, "<h2 id=\"heatmaps\">"), "no heatmaps");
    ck_assert_uint_ge(count(html, "lr=0.5,seed=3"), 2);

    /* the same input, the same bytes */
    char *again = report(sw, "rep2");
    ck_assert_msg(!strcmp(html, again), "two reports of the same sweep differ");
    free(again);
    free(html);
    free(sw);
}
END_TEST

/* Variants in each combination (two levels down), and an index.csv that
   cannot be read: the runs are then found by scanning, and it is said. */
START_TEST(variants_and_a_damaged_index)
{
    char *sw = make_sweep("vsweep", "variants = ( { name = \"a\"; }, { name = \"b\"; set = ( "
                                    "\"optimizer.momentum=0.9\" ); } );\n");
    char *html = report(sw, "vrep");
    static const char *const groups[] = {"a, lr=0.05", "b, lr=0.05", "a, lr=0.5", "b, lr=0.5"};
    for (size_t i = 0; i < 4; i++) {
        char *row = group_row(html, groups[i]);
        ck_assert_msg(strstr(row, "<td>3</td><td>3 completed</td>"), "%s", row);
        free(row);
    }
    static const char *const b05[] = {"lr=0.05,seed=1/b", "lr=0.05,seed=2/b", "lr=0.05,seed=3/b"};
    check_band(html, sw, "b, lr=0.05", 12, b05, 3, 3);
    ck_assert_uint_eq(count(html, "class=\"band\""), 8);
    free(html);

    /* a sweep without variants whose index.csv lost its status column */
    char *plain = make_sweep("dsweep", "");
    char path[4096];
    snprintf(path, sizeof path, "%s/index.csv", plain);
    tu_write(path, "# gradscope format 2\npath,variant,seed\n\"lr=0.05,seed=1\",,1\n");
    html = report(plain, "drep");
    ck_assert_msg(strstr(html, "index.csv") && strstr(html, "runs found in the subdirectories"),
                  "the damaged index.csv is not said");
    ck_assert_msg(!strstr(html, "<table class=\"groups\">"), "groups from a damaged index");
    ck_assert_uint_ge(count(html, "lr=0.5,seed=3"), 1);
    free(html);
    free(plain);
    free(sw);
}
END_TEST

/* Dozens of runs: the groups stay in view, the per-run sections fold. */
START_TEST(many_runs_are_folded)
{
    char *sw = make_sweep("msweep", "");
    /* 18 runs: each run three times, under the names of seeds 1 to 9 */
    char path[4096];
    snprintf(path, sizeof path, "%s/index.csv", sw);
    FILE *f = fopen(path, "w");
    fprintf(f, "# gradscope format 2\npath,variant,seed,status,optimizer.lr\n");
    static const char *const lrs[] = {"0.05", "0.5"};
    for (int l = 0; l < 2; l++)
        for (int seed = 1; seed <= 9; seed++) {
            if (seed > 3)
                shell("cp -r '%s/lr=%s,seed=%d' '%s/lr=%s,seed=%d'", sw, lrs[l], (seed - 1) % 3 + 1,
                      sw, lrs[l], seed);
            fprintf(f, "\"lr=%s,seed=%d\",,%d,completed,%s\n", lrs[l], seed, seed, lrs[l]);
        }
    fclose(f);
    char *html = report(sw, "mrep");
    ck_assert_msg(strstr(html, "and 6 more</title>"), "the title lists every run");
    const char *groups = strstr(html, "<table class=\"groups\">");
    const char *fold = strstr(html, "<details class=\"runs\"><summary>Every run (18)");
    ck_assert_msg(groups && fold && groups < fold,
                  "the per-run sections are not folded after the groups");
    ck_assert_msg(strstr(fold, "<h2 id=\"heatmaps\">") && strstr(fold, "</details>"),
                  "the folded sections are missing");
    char *row = group_row(html, "lr=0.5");
    ck_assert_msg(strstr(row, "<td>9</td><td>9 completed</td>"), "%s", row);
    free(row);
    static const char *const nine[] = {"lr=0.5,seed=1", "lr=0.5,seed=2", "lr=0.5,seed=3",
                                       "lr=0.5,seed=4", "lr=0.5,seed=5", "lr=0.5,seed=6",
                                       "lr=0.5,seed=7", "lr=0.5,seed=8", "lr=0.5,seed=9"};
    check_band(html, sw, "lr=0.5", 12, nine, 9, 9);
    free(html);
    free(sw);
}
END_TEST

/* Nothing started yet: exit 2 naming the directory, nothing written. */
START_TEST(a_sweep_not_started)
{
    char *d = tu_path(dir, "pending");
    ck_assert_int_eq(mkdir(d, 0777), 0);
    char *p = tu_path(d, "index.csv");
    tu_write(p, "# gradscope format 2\npath,variant,seed,status,optimizer.lr\n"
                "\"lr=0.05,seed=1\",,1,pending,0.05\n");
    char cmd[8192], *errp = tu_path(dir, "pending.err");
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' report '%s' 2>'%s'", tu_builddir(), d, errp);
    int rc = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(rc), 2);
    char *err = tu_read(errp, NULL);
    ck_assert_msg(strstr(err, d) && strstr(err, "index.csv"), "%s", err);
    char *hp = tu_path(d, "report.html");
    ck_assert_msg(!tu_exists(hp), "wrote a report");
    free(hp);
    free(err);
    free(errp);
    free(p);
    free(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, groups_of_a_sweep);
    tcase_add_test(tc, variants_and_a_damaged_index);
    tcase_add_test(tc, many_runs_are_folded);
    tcase_add_test(tc, a_sweep_not_started);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
