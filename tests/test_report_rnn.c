/* gradscope report: recurrent layers in the figures.  A real run of a
   two-level stacked linear RNN whose gradient vanishes through time, beside
   a healthy one-level run: the weight-gradient heatmap and the histogram
   have a row per stacked layer (its weight_hh_l<k>), and the bptt heatmap
   marks where the verdict says the gradient starts to vanish, on the top
   stacked layer's panel; the healthy run's has no mark.  Runs by hand: a
   row is the recurrent matrix, not weight_ih_l<k> or a bias; an exploding
   verdict is marked from its step on; a verdict of a layer without a panel
   marks nothing. */
#include <math.h>
#include "testutil.h"

/* 0.7 per step back through an orthogonal linear RNN: below 1e-3 of the
   last step's norm 20 steps back, t = 19 of T = 40. */
static const char *rnn_cfg =
    "name = \"rnnrep\";\n"
    "seed = 5;\n"
    "data = { type = \"adding\"; length = 40; samples = 128; test_samples = 32; };\n"
    "model = { layers = (\n"
    "  { type = \"rnn\"; units = 8; activation = \"identity\"; layers = 2;\n"
    "    recurrent_init = { type = \"orthogonal\"; gain = 0.7; }; },\n"
    "  { type = \"dense\"; units = 1; } ); };\n"
    "loss = \"mse\";\n"
    "optimizer = { type = \"sgd\"; lr = 0.01; };\n"
    "training = { epochs = 1; batch_size = 32; };\n"
    "monitor = { every = 1; };\n"
    "variants = ( { name = \"vanish\"; },\n"
    "  { name = \"healthy\"; set = ( \"model.layers.[0].layers = 1\", "
    "\"model.layers.[0].recurrent_init.gain = 1.0\", \"data.length = 8\" ); } );\n";

static char *dir; /* made once for the whole suite, before the tests fork */
static char *html; /* the report of both runs */

static void setup_once(void)
{
    gs_registry *reg = tu_registry();
    dir = tu_tempdir();
    char *runs = tu_path(dir, "runs"), *cfg = tu_path(dir, "rnn.cfg");
    tu_write(cfg, rnn_cfg);
    gs_error err;
    gs_run_options opt = {.out_dir = runs, .threads = 1, .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, cfg, &opt, &err);
    if (!e)
        ck_abort_msg("%s", err.msg);
    if (gs_experiment_run(e, &opt, &err) != 0)
        ck_abort_msg("%s", err.msg);
    gs_experiment_free(e);
    gs_registry_free(reg);
    const char *dirs[] = {runs};
    char *out = tu_path(dir, "report"), *hp = tu_path(out, "report.html");
    if (gs_report(dirs, 1, out, &err) != GS_EXIT_OK)
        ck_abort_msg("%s", err.msg);
    html = tu_read(hp, NULL);
    free(hp);
    free(out);
    free(cfg);
    free(runs);
}

static void teardown_once(void)
{
    tu_rmrf(dir);
    free(dir);
    free(html);
}

/* The <svg> ... </svg> of the figure that follows the first `key` in h,
   a copy. */
static char *figure(const char *h, const char *key)
{
    const char *a = strstr(h, key);
    ck_assert_msg(a != NULL, "no %s", key);
    const char *e = strstr(a, "</svg>");
    ck_assert_ptr_nonnull(e);
    size_t n = (size_t)(e - a);
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = 0;
    return s;
}

/* The labels of a heatmap's rows (end-anchored tick text), bottom up as
   drawn, joined by '|'. */
static void row_labels(const char *fig, char *out, size_t n)
{
    static const char tag[] = "text-anchor=\"end\">";
    size_t used = 0;
    out[0] = 0;
    for (const char *p = fig; (p = strstr(p, tag)); p += sizeof tag - 1) {
        const char *l = p + sizeof tag - 1;
        used += (size_t)snprintf(out + used, n - used, "%s%.*s", used ? "|" : "",
                                 (int)strcspn(l, "<"), l);
        ck_assert_uint_lt(used, n);
    }
}

/* ||dL/dh_t|| at step `step` of layer `layer` from bptt.csv, t = 0..T-1. */
static size_t read_bptt(const char *run, long step, long layer, double *v, size_t max)
{
    char *p = tu_path(run, "bptt.csv");
    char *text = tu_read(p, NULL);
    ck_assert_ptr_nonnull(text);
    size_t T = 0;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long s, l, t;
        double g;
        if (sscanf(line + 1, "%ld,%ld,%ld,%lf", &s, &l, &t, &g) == 4 && s == step &&
            l == layer && t >= 0 && (size_t)t < max) {
            v[t] = g;
            T = (size_t)t + 1 > T ? (size_t)t + 1 : T;
        }
    }
    free(text);
    free(p);
    return T;
}

START_TEST(a_row_per_stacked_layer)
{
    char labels[512];
    char *fig = figure(html, "<div class=\"fig\" data-run=\"vanish\">");
    ck_assert_msg(strstr(fig, "data-layers=\"3\""), "%.300s", fig);
    row_labels(fig, labels, sizeof labels);
    ck_assert_str_eq(labels, "0 (l0)|0 (l1)|1");
    ck_assert_msg(strstr(fig, "class=\"recurrent-note\""), "rows not explained");
    /* through time, the verdict's circle is on the top stacked layer */
    const char *mark = strstr(fig, "class=\"verdict-mark\"");
    ck_assert_msg(mark && strstr(mark, ">vanishing through time</text>"), "%.3000s", fig);
    free(fig);
    fig = figure(html, "<div class=\"fig\" data-run=\"healthy\">");
    ck_assert_msg(strstr(fig, "data-layers=\"2\""), "%.300s", fig);
    row_labels(fig, labels, sizeof labels);
    ck_assert_str_eq(labels, "0|1");
    ck_assert_msg(strstr(fig, "class=\"recurrent-note\""), "rows not explained");
    free(fig);
    /* the histograms, in the runs' order */
    fig = figure(html, "class=\"figure histogram\"");
    ck_assert_msg(strstr(fig, "vanish: where the elements"), "%.300s", fig);
    row_labels(fig, labels, sizeof labels);
    ck_assert_str_eq(labels, "0 (l0)|0 (l1)|1");
    free(fig);
    const char *second = strstr(strstr(html, "class=\"figure histogram\"") + 1,
                                "class=\"figure histogram\"");
    fig = figure(second, "class=\"figure histogram\"");
    row_labels(fig, labels, sizeof labels);
    ck_assert_str_eq(labels, "0|1");
    free(fig);
}
END_TEST

START_TEST(the_verdict_through_time_on_its_panel)
{
    /* where the rule of the verdict (CONFIG.md#verdict) puts it, from
       bptt.csv: going back from T-1, the first t whose norm is below 1e-3
       times the last one's, at the verdict's step (0: vanishing from the
       start) */
    char *run = tu_path(dir, "runs/vanish"), *sp = tu_path(run, "summary.json");
    char *summary = tu_read(sp, NULL);
    ck_assert_msg(strstr(summary, "\"verdict\": \"vanishing\"") &&
                      strstr(summary, "\"verdict_layer\": 0,") &&
                      strstr(summary, "\"verdict_step\": 0,") &&
                      strstr(summary, "\"verdict_t\": 19,"),
                  "%s", summary);
    double v[64];
    size_t T = read_bptt(run, 0, 0, v, 64);
    ck_assert_uint_eq(T, 40);
    size_t t = T - 1;
    while (t > 0 && !(v[t] < 1e-3 * v[T - 1]))
        t--;
    ck_assert_uint_eq(t, 19);
    char *fig = figure(html, "<div class=\"fig\" data-bptt-run=\"vanish\">");
    const char *top = strstr(fig, "<g class=\"panel\" data-layer=\"0\" data-stacked=\"1\"");
    const char *low = strstr(fig, "<g class=\"panel\" data-layer=\"0\" data-stacked=\"0\"");
    ck_assert_msg(top && low && low < top, "%.500s", fig);
    const char *mark = strstr(fig, "<g class=\"verdict-mark\"");
    ck_assert_msg(mark && mark > top, "no mark on the top stacked layer's panel");
    ck_assert_ptr_null(strstr(mark + 1, "<g class=\"verdict-mark\""));
    char want[256];
    /* the middle of column t of the 860 pixels from x = 70 */
    double x = 70 + 860.0 / (double)T * ((double)t + 0.5);
    snprintf(want, sizeof want, "<g class=\"verdict-mark\" data-t=\"%zu\"><line x1=\"%.1f\"", t,
             x);
    ck_assert_msg(!strncmp(mark, want, strlen(want)), "want %s in %.300s", want, mark);
    snprintf(want, sizeof want, ">vanishing through time from t = %zu</text>", t);
    ck_assert_msg(strstr(mark, want), "%.600s", mark);
    ck_assert_msg(strstr(fig, "the run&#39;s verdict: vanishing through time from t = 19 in "
                              "layer 0 (l1), from step 0 on"),
                  "no legend");
    free(fig);
    /* healthy: no mark, no legend */
    fig = figure(html, "<div class=\"fig\" data-bptt-run=\"healthy\">");
    ck_assert_msg(strstr(fig, "data-panels=\"1\""), "%.300s", fig);
    ck_assert_ptr_null(strstr(fig, "verdict-mark"));
    ck_assert_ptr_null(strstr(fig, "verdict-legend"));
    free(fig);
    free(summary);
    free(sp);
    free(run);
}
END_TEST

/* A run by hand: summary.json with the verdict given, metrics.csv,
   gradients.csv and histograms.csv of an rnn (layer 0, one level) and a
   dense layer 1 at steps 0..3, and bptt.csv of layer 0 with T = 8. */
static char *hand_run(const char *name, const char *verdict, long layer, long step, long t,
                      const char *detail)
{
    char *d = tu_path(dir, name);
    ck_assert_int_eq(mkdir(d, 0777), 0);
    char buf[8192], *p = tu_path(d, "summary.json"), num[3][24];
    const long given[3] = {layer, step, t}; /* -1: null */
    for (int i = 0; i < 3; i++)
        if (given[i] < 0)
            snprintf(num[i], sizeof num[i], "null");
        else
            snprintf(num[i], sizeof num[i], "%ld", given[i]);
    snprintf(buf, sizeof buf,
             "{\n  \"status\": \"completed\",\n  \"steps\": 4,\n  \"verdict\": \"%s\",\n"
             "  \"verdict_layer\": %s,\n  \"verdict_step\": %s,\n  \"verdict_t\": %s,\n"
             "  \"verdict_detail\": \"%s\",\n  \"format_version\": 3\n}\n",
             verdict, num[0], num[1], num[2], detail);
    tu_write(p, buf);
    free(p);
    p = tu_path(d, "metrics.csv");
    tu_write(p, "step,epoch,loss,accuracy,lr,grad_norm\n0,0,1,,0.1,1\n3,0,0.5,,0.1,1\n");
    free(p);
    /* the rnn's input weights and biases have NaN gradients, which the
       heatmap would draw red; its recurrent matrix's are finite */
    size_t n = (size_t)snprintf(buf, sizeof buf, "step,layer,tensor,grad_norm,weight_norm,"
                                                 "grad_max_abs,update_ratio\n");
    for (int s = 0; s < 4; s++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "%d,0,weight_ih_l0,nan,1,1,0.001\n%d,0,weight_hh_l0,0.01,1,1,0.001\n"
                              "%d,0,bias_ih_l0,nan,1,1,0.001\n%d,0,bias_hh_l0,nan,1,1,0.001\n"
                              "%d,1,weight,0.1,1,1,0.001\n%d,1,bias,0.1,1,1,0.001\n",
                              s, s, s, s, s, s);
    p = tu_path(d, "gradients.csv");
    tu_write(p, buf);
    free(p);
    /* weight_ih_l0's elements alone reach down to 1e-20 */
    p = tu_path(d, "histograms.csv");
    tu_write(p, "step,layer,tensor,log10_lo,log10_hi,count\n"
                "3,0,weight_ih_l0,-20,-19,5\n3,0,weight_hh_l0,-3,-2,64\n"
                "3,0,bias_hh_l0,-19,-18,8\n3,1,weight,-2,-1,8\n");
    free(p);
    n = (size_t)snprintf(buf, sizeof buf, "step,layer,t,grad_norm\n");
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 8; t++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,0,%d,%g\n", s, t,
                                  pow(10, 7 - t));
    p = tu_path(d, "bptt.csv");
    tu_write(p, buf);
    free(p);
    return d;
}

static char *report_of(const char *run)
{
    char *out = tu_path(run, "out"), *hp = tu_path(out, "report.html");
    const char *dirs[] = {run};
    gs_error err;
    ck_assert_msg(gs_report(dirs, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    char *h = tu_read(hp, NULL);
    ck_assert_ptr_nonnull(h);
    free(hp);
    free(out);
    return h;
}

START_TEST(the_recurrent_matrix_is_the_row)
{
    char *run = hand_run("byhand", "healthy", -1, -1, -1, "fine");
    char *h = report_of(run);
    char *fig = figure(h, "<div class=\"fig\" data-run=\"byhand\">");
    ck_assert_msg(strstr(fig, "data-layers=\"2\""), "%.300s", fig);
    ck_assert_msg(!strstr(fig, "inf / NaN") && !strstr(fig, "#e8112d"),
                  "an input weight's or a bias's gradient drawn: %.3000s", fig);
    free(fig);
    fig = figure(h, "class=\"figure histogram\"");
    ck_assert_msg(strstr(fig, "\u2212""3</tspan>") && !strstr(fig, "\u2212""19</tspan>") &&
                      !strstr(fig, "\u2212""20</tspan>"),
                  "not weight_hh_l0's decades: %.3000s", fig);
    free(fig);
    free(h);
    free(run);
}
END_TEST

/* Exploding through time at t = 5 from step 2: the line spans the rows of
   steps 2 and 3 only (the top half of the panel); a verdict naming a layer
   without bptt.csv rows (a dense one) marks no panel. */
START_TEST(exploding_from_a_step_and_no_panel)
{
    char *run = hand_run("boom", "exploding", 0, 2, 5,
                         "exploding through time from t = 5 (from step 2): layer 0's ...");
    char *h = report_of(run);
    char *fig = figure(h, "<div class=\"fig\" data-bptt-run=\"boom\">");
    const char *mark = strstr(fig, "<g class=\"verdict-mark\" data-t=\"5\">");
    ck_assert_msg(mark != NULL, "%.4000s", fig);
    double x1, y1, x2, y2;
    ck_assert_int_eq(sscanf(strstr(mark, "<line"), "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" "
                                                   "y2=\"%lf\"",
                            &x1, &y1, &x2, &y2),
                     4);
    /* one panel of 4 rows, 140 pixels high from y = 40; 8 columns */
    ck_assert_double_eq_tol(x1, 70 + 860.0 / 8 * 5.5, 0.06);
    ck_assert_double_eq_tol(y1, 40, 0.06);
    ck_assert_double_eq_tol(y2, 40 + 70, 0.06);
    ck_assert_msg(strstr(mark, ">exploding through time from t = 5</text>"), "%.500s", mark);
    free(fig);
    free(h);
    free(run);
    run = hand_run("dense-verdict", "vanishing", 1, 0, 5,
                   "vanishing through time from t = 5 (from step 0): layer 1's ...");
    h = report_of(run);
    fig = figure(h, "<div class=\"fig\" data-bptt-run=\"dense-verdict\">");
    ck_assert_ptr_null(strstr(fig, "verdict-mark"));
    ck_assert_ptr_null(strstr(fig, "verdict-legend"));
    free(fig);
    free(h);
    free(run);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_rnn");
    TCase *tc = tcase_create("report_rnn");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_row_per_stacked_layer);
    tcase_add_test(tc, the_verdict_through_time_on_its_panel);
    tcase_add_test(tc, the_recurrent_matrix_is_the_row);
    tcase_add_test(tc, exploding_from_a_step_and_no_panel);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
