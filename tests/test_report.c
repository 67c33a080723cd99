/* gradscope report: a self-contained page with the expected figures for a
   real run, tolerance of damaged logs, refusal of directories that are not
   runs, the command line, and (where Chromium is installed) a rendering
   that is not blank. */
#include <math.h>
#include <sys/wait.h>
#include <zlib.h>
#include "testutil.h"

/* Two variants of a small tanh network; one is initialized to vanish. */
static const char *small_cfg =
    "name = \"rep\";\n"
    "seed = 5;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 6; classes = 3; samples = 300; "
    "test_samples = 60; };\n"
    "model = { layers = ( { type = \"dense\"; units = 12; activation = \"tanh\"; repeat = 4; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.05; momentum = 0.9; };\n"
    "training = { epochs = 3; batch_size = 30; };\n"
    "monitor = { every = 3; };\n"
    "variants = ( { name = \"healthy\"; },\n"
    "             { name = \"tiny-init\";\n"
    "               set = ( \"model.layers.[0].init = { type = \\\"normal\\\"; std = 0.05; }\" ); "
    "} );\n";

static char *dir; /* made once for the whole suite, before the tests fork */
static char *run_dir;

static void setup_once(void)
{
    gs_registry *reg = tu_registry();
    dir = tu_tempdir();
    run_dir = tu_path(dir, "run");
    char *cfg = tu_path(dir, "rep.cfg");
    tu_write(cfg, small_cfg);
    gs_error err;
    gs_run_options opt = {.out_dir = run_dir, .threads = 1, .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, cfg, &opt, &err);
    if (!e)
        ck_abort_msg("%s", err.msg);
    if (gs_experiment_run(e, &opt, &err) != 0)
        ck_abort_msg("%s", err.msg);
    gs_experiment_free(e);
    gs_registry_free(reg);
    free(cfg);
}

static void teardown_once(void)
{
    tu_rmrf(dir);
    free(run_dir);
    free(dir);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Every tag closed in order (comments, declarations and "/>" allowed). */
static int balanced(const char *s, const char *end, char *why, size_t n)
{
    const char *stack[512];
    size_t sl[512], depth = 0;
    for (const char *p = s; p < end && (p = memchr(p, '<', (size_t)(end - p)));) {
        const char *q = memchr(p, '>', (size_t)(end - p));
        if (!q) {
            snprintf(why, n, "unterminated tag");
            return 0;
        }
        if (p[1] == '!' || p[1] == '?') {
            p = q + 1;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (closing) {
            if (!depth || sl[depth - 1] != len || strncmp(stack[depth - 1], name, len)) {
                snprintf(why, n, "</%.*s> does not close the open tag", (int)len, name);
                return 0;
            }
            depth--;
        } else if (q[-1] != '/') {
            if (depth == 512) {
                snprintf(why, n, "too deep");
                return 0;
            }
            stack[depth] = name;
            sl[depth++] = len;
        }
        p = q + 1;
    }
    if (depth)
        snprintf(why, n, "<%.*s> never closed", (int)sl[depth - 1], stack[depth - 1]);
    return depth == 0;
}

static double json_number(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p != NULL, "no %s in %s", key, json);
    return strtod(p + strlen(pat), NULL);
}

/* Distinct monitored steps and distinct layers with a "...weight" tensor. */
static void weight_grid(const char *gradients_csv, size_t *steps, size_t *layers)
{
    char *text = tu_read(gradients_csv, NULL);
    ck_assert_ptr_nonnull(text);
    long seen_steps[4096], seen_layers[256];
    size_t ns = 0, nl = 0;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long step, layer;
        char tensor[64];
        if (sscanf(line + 1, "%ld,%ld,%63[^,]", &step, &layer, tensor) != 3)
            continue;
        size_t tl = strlen(tensor);
        if (tl < 6 || strcmp(tensor + tl - 6, "weight"))
            continue;
        size_t i = 0;
        while (i < ns && seen_steps[i] != step)
            i++;
        if (i == ns && ns < 4096)
            seen_steps[ns++] = step;
        i = 0;
        while (i < nl && seen_layers[i] != layer)
            i++;
        if (i == nl && nl < 256)
            seen_layers[nl++] = layer;
    }
    free(text);
    *steps = ns;
    *layers = nl;
}

START_TEST(report_of_an_experiment)
{
    char *out = tu_path(dir, "out");
    char *html_path = tu_path(dir, "out/report.html");
    char *svg_path = tu_path(dir, "out/gradflow.svg");
    gs_error err;
    const char *dirs[] = {run_dir};
    ck_assert_msg(gs_report(dirs, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    size_t len;
    char *html = tu_read(html_path, &len);
    ck_assert_msg(html != NULL, "no %s", html_path);

    /* self-contained: nothing fetched, nothing scripted */
    const char *forbidden[] = {"<script", "http://", "https://", "src=", "@import", "url("};
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++)
        ck_assert_msg(!strstr(html, forbidden[i]), "report.html contains %s", forbidden[i]);
    ck_assert_msg(strncmp(html, "<!DOCTYPE html>", 15) == 0, "not an HTML5 page");

    /* both variants, the figures, the tables */
    ck_assert_msg(strstr(html, ">healthy<") && strstr(html, ">tiny-init<"), "variant labels");
    const char *expected[] = {"<svg class=\"figure training\"",
                              "<title>Loss and accuracy during training</title>",
                              "<svg class=\"figure gradflow\"",
                              "<svg class=\"figure signal\"",
                              "<svg class=\"figure activations\"",
                              "<table class=\"summary\">",
                              "<h2 id=\"gradflow\">Gradient flow</h2>",
                              "class=\"xlabel\">step</text>"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        ck_assert_msg(strstr(html, expected[i]) != NULL, "report.html lacks %s", expected[i]);
    ck_assert_uint_eq(count(html, "<svg class=\"figure heatmap\""), 2);
    ck_assert_uint_eq(count(html, "<svg "), count(html, "</svg>"));

    /* each heatmap has one row per layer with a weight and one column per
       monitored step, as counted here from gradients.csv */
    const char *variants[] = {"healthy", "tiny-init"};
    const char *p = html;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char *vdir = tu_path(run_dir, variants[v]);
        char *grads = tu_path(vdir, "gradients.csv");
        size_t steps, layers;
        weight_grid(grads, &steps, &layers);
        ck_assert_uint_eq(layers, 5);
        char want[160];
        snprintf(want, sizeof want, "heatmap\" data-layers=\"%zu\" data-steps=\"%zu\"", layers,
                 steps);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "%s: no %s", variants[v], want);
        /* the summary row shows summary.json's numbers */
        char *sp = tu_path(vdir, "summary.json");
        char *summary = tu_read(sp, NULL);
        char cell[64];
        snprintf(cell, sizeof cell, "<td>%.4g</td>", json_number(summary, "val_accuracy"));
        ck_assert_msg(strstr(html, cell) != NULL, "%s: no val accuracy cell %s", variants[v], cell);
        snprintf(cell, sizeof cell, "<td>%.4g</td>", json_number(summary, "grad_ratio_first_last"));
        ck_assert_msg(strstr(html, cell) != NULL, "%s: no grad ratio cell %s", variants[v], cell);
        free(summary);
        free(sp);
        free(grads);
        free(vdir);
    }

    /* every figure is well-formed */
    char why[256];
    for (const char *s = strstr(html, "<svg "); s; s = strstr(s + 1, "<svg ")) {
        const char *e = strstr(s, "</svg>");
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(balanced(s, e + 6, why, sizeof why), "unbalanced svg: %s", why);
    }
    ck_assert_msg(balanced(html, html + len, why, sizeof why), "report.html: %s", why);

    /* gradflow.svg stands alone: the three panels and the legend */
    size_t slen;
    char *svg = tu_read(svg_path, &slen);
    ck_assert_msg(svg != NULL, "no %s", svg_path);
    ck_assert_msg(strncmp(svg, "<svg ", 5) == 0, "gradflow.svg starts with %.20s", svg);
    ck_assert_msg(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL, "no namespace");
    ck_assert_msg(balanced(svg, svg + slen, why, sizeof why), "gradflow.svg: %s", why);
    ck_assert_uint_eq(count(svg, "<g class=\"panel\">"), 3);
    ck_assert_msg(strstr(svg, ">healthy</text>") && strstr(svg, ">tiny-init</text>"), "legend");
    ck_assert_msg(strstr(svg, "First monitored step (step 0)") != NULL, "panel titles");
    free(svg);
    free(html);
    free(html_path);
    free(svg_path);
    free(out);
}
END_TEST

/* A run directory by hand: optional files present, numbers non-finite. */
static void write_full_run(const char *d)
{
    ck_assert_int_eq(mkdir(d, 0777), 0);
    const char *files[][2] = {
        {"summary.json", "{\n  \"status\": \"diverged\",\n  \"detail\": \"step 4: \\\"loss\\\" "
                         "is inf\",\n  \"steps\": 5,\n  \"val_accuracy\": null,\n  \"verdict\": "
                         "\"exploding\",\n  \"verdict_layer\": 0,\n  \"verdict_step\": 2,\n  "
                         "\"format_version\": 1\n}\n"},
        {"metrics.csv", "step,epoch,loss,accuracy,lr,grad_norm\n0,0,1.5,0.25,0.1,2\n"
                        "2,0,nan,0.5,0.1,inf\n4,0,inf,nan,0.1,nan\n"},
        {"epochs.csv", "epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n"
                       "0,4,1.2,0.4,1.1,0.5,0.01\n"},
        /* layer 1 has no weight; layer 2's weight is its first tensor ending in "weight" */
        {"gradients.csv", "step,layer,tensor,grad_norm,weight_norm,grad_max_abs,update_ratio\n"
                          "0,0,weight,0.5,1,0.1,0.001\n0,2,f0.bias,9,1,1,0.1\n"
                          "0,2,f0.weight,0.25,1,0.1,0\n0,2,f1.weight,7,1,1,0.1\n"
                          "0,3,weight,0.1,1,0.1,0.01\n"
                          "2,0,weight,inf,1,inf,nan\n2,2,f0.weight,0,1,0,0\n"},
        {"layers.csv", "step,layer,type,input_grad_norm,act_mean,act_std,dead_fraction,"
                       "saturated_fraction\n0,0,dense,1,0.1,1,0.5,nan\n0,1,relu,0.5,0.2,0.9,0.25,"
                       "nan\n0,2,resnet,0.2,0.3,0.8,nan,0.1\n"},
        {"paths.csv", "step,layer,key,value\n0,2,shortcut_grad_norm,0.2\n"
                      "0,2,residual_grad_norm,0.02\n0,2,f.layer1_grad_norm,3\n"},
        {"theory.csv", "first_layer,last_layer,activation,sigma_w2,sigma_b2,q_star,"
                       "chi_predicted,chi_measured\n0,1,tanh,1.5,0.01,0.3,1.2,1.3\n"},
        {"histograms.csv", "step,layer,tensor,log10_lo,log10_hi,count\n"
                           "0,0,weight,-inf,-inf,3\n0,0,weight,-inf,-30,1\n0,0,weight,-3,-2,10\n"
                           "0,0,weight,2,inf,2\n0,2,f0.weight,-5,-4,4\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = tu_path(d, files[i][0]);
        tu_write(p, files[i][1]);
        free(p);
    }
}

/* Damaged logs: truncated summary and rows, garbage, an empty file, a
   column missing. */
static void write_broken_run(const char *d)
{
    ck_assert_int_eq(mkdir(d, 0777), 0);
    const char *files[][2] = {
        {"summary.json", "{\n  \"status\": \"completed\",\n  \"steps\": 4,\n  \"val_acc"},
        {"metrics.csv", "step,epoch,loss,accuracy,lr,grad_norm\n0,0,1.5,0.25,0.1,2\n"
                        "1,0,abc,0.3,0.1,2\n2,0,1.2\n3,0,1.1,0.5,0.1,2\n4,0,1.0,0"},
        {"epochs.csv", ""},
        {"gradients.csv", "step,layer,tensor,grad_norm,weight_norm,grad_max_abs\n"
                          "0,0,weight,1,1,1\n\n0,1,weight,0.1,1,1\n3,0,weight,1,1\n"},
        {"paths.csv", "step,layer,key\n0,2,shortcut_grad_norm\n"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = tu_path(d, files[i][0]);
        tu_write(p, files[i][1]);
        free(p);
    }
}

START_TEST(optional_and_damaged_logs)
{
    char *parent = tu_path(dir, "hand");
    ck_assert_int_eq(mkdir(parent, 0777), 0);
    char *full = tu_path(parent, "full"), *broken = tu_path(parent, "broken");
    write_full_run(full);
    write_broken_run(broken);
    gs_error err;
    const char *dirs[] = {parent};
    ck_assert_msg(gs_report(dirs, 1, NULL, &err) == GS_EXIT_OK, "%s", err.msg);
    char *hp = tu_path(parent, "report.html");
    size_t len;
    char *html = tu_read(hp, &len);
    ck_assert_ptr_nonnull(html);
    char why[256];
    ck_assert_msg(balanced(html, html + len, why, sizeof why), "%s", why);
    /* the parent stands for its variants, in name order */
    const char *b = strstr(html, ">broken<"), *f = strstr(html, ">full<");
    ck_assert_msg(b && f && b < f, "both hand-made runs, broken first");
    const char *expected[] = {
        /* what was damaged, said on the page */
        "metrics.csv: 3 malformed or truncated rows skipped (first at line 3)",
        "gradients.csv: 1 malformed or truncated row skipped (first at line 5)",
        "epochs.csv: no header row",
        "layers.csv: missing",
        "paths.csv: no column &quot;value&quot; in its header; file ignored",
        "summary.json: damaged (",
        "<td>damaged</td>",
        /* optional inputs drawn */
        "<svg class=\"figure paths\"",
        "<table class=\"theory\">",
        "<td>1.2</td><td>1.3</td>",
        "<svg class=\"figure histogram\"",
        ">Dead units</text>",
        ">Saturated activations</text>",
        "Update ratio",
        "theory (\u03c7 predicted)",
        /* non-finite and absent values */
        "inf / NaN",
        "not recorded",
        "zero (bottom color)",
        "<span class=\"badge exploding\">exploding</span>",
        "step 4: &quot;loss&quot; is inf",
        "<td>n/a</td>",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        ck_assert_msg(strstr(html, expected[i]) != NULL, "report.html lacks %s", expected[i]);
    /* a layer without a weight tensor gets no heatmap row */
    ck_assert_msg(strstr(html, "heatmap\" data-layers=\"3\" data-steps=\"2\"") != NULL,
                  "full run heatmap grid");
    ck_assert_msg(strstr(html, "heatmap\" data-layers=\"2\" data-steps=\"1\"") != NULL,
                  "broken run heatmap grid");
    free(html);
    free(hp);
    free(full);
    free(broken);
    free(parent);
}
END_TEST

START_TEST(directories_that_are_not_runs)
{
    gs_error err;
    char *missing = tu_path(dir, "no-such-dir");
    const char *d1[] = {missing};
    ck_assert_int_eq(gs_report(d1, 1, NULL, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, missing) && strstr(err.msg, "No such file"), "%s", err.msg);

    char *empty = tu_path(dir, "empty");
    ck_assert_int_eq(mkdir(empty, 0777), 0);
    char *sub = tu_path(empty, "sub");
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    const char *d2[] = {run_dir, empty};
    ck_assert_int_eq(gs_report(d2, 2, empty, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "not a run directory") != NULL, "%s", err.msg);
    char *html = tu_path(empty, "report.html");
    ck_assert_msg(!tu_exists(html), "wrote a report after an error");

    char *file = tu_path(dir, "rep.cfg");
    const char *d3[] = {file};
    ck_assert_int_eq(gs_report(d3, 1, NULL, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "not a directory") != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_report(NULL, 0, NULL, &err), GS_EXIT_INPUT);
    free(file);
    free(html);
    free(sub);
    free(empty);
    free(missing);
}
END_TEST

static int shell(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(command_line)
{
    char cmd[8192], *out = tu_path(dir, "cli");
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' report '%s' --out '%s' --quiet", tu_builddir(),
             run_dir, out);
    ck_assert_int_eq(shell(cmd), 0);
    char *html = tu_path(out, "report.html");
    ck_assert_msg(tu_exists(html), "%s", html);
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' report '%s/nothing-here' 2>/dev/null",
             tu_builddir(), dir);
    ck_assert_int_eq(shell(cmd), GS_EXIT_INPUT);
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' report 2>/dev/null", tu_builddir());
    ck_assert_int_eq(shell(cmd), GS_EXIT_INPUT);
    free(html);
    free(out);
}
END_TEST

/* Output of a shell command (stdout), run with sh -c. */
static char *shell_output(const char *cmd, const char *name)
{
    char *file = tu_path(dir, name), full[8192];
    snprintf(full, sizeof full, "%s > '%s' 2>&1", cmd, file);
    ck_assert_msg(shell(full) == 0, "%s failed", cmd);
    char *text = tu_read(file, NULL);
    ck_assert_ptr_nonnull(text);
    free(file);
    return text;
}

/* A loss of 1e40 (weights of 1e6, learning rate 0: finite, not diverged)
   keeps the end-of-run table's columns: no number of 30 digits. */
START_TEST(huge_loss_in_the_final_table)
{
    char *cfg = tu_path(dir, "huge.cfg"), *out = tu_path(dir, "huge"), cmd[8192];
    tu_write(cfg, "name = \"huge\";\nseed = 5;\n"
                  "data = { type = \"synthetic\"; set = \"blobs\"; features = 6; classes = 3; "
                  "samples = 60; test_samples = 30; };\n"
                  "model = { layers = ( { type = \"dense\"; units = 8; repeat = 2; init = { type "
                  "= \"constant\"; value = 1e6; }; },\n"
                  "  { type = \"dense\"; units = 3; init = { type = \"constant\"; value = 1e6; "
                  "}; } ); };\n"
                  "loss = \"mse\";\noptimizer = { type = \"sgd\"; lr = 0.0; };\n"
                  "training = { epochs = 1; batch_size = 30; };\nmonitor = { every = 1; };\n");
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' run '%s' --out '%s' --threads 1",
             tu_builddir(), cfg, out);
    char *text = shell_output(cmd, "huge.txt");
    const char *row = strstr(text, "\nrun ");
    ck_assert_msg(row != NULL, "no result row in:\n%s", text);
    size_t len = strcspn(row + 1, "\n");
    ck_assert_msg(len < 120, "result row of %zu characters: %.*s", len, (int)len, row + 1);
    ck_assert_msg(strstr(row, "e+") != NULL, "the huge loss is not in %%g: %s", text);
    size_t digits = 0, most = 0;
    for (const char *c = text; *c; c++) {
        digits = *c >= '0' && *c <= '9' ? digits + 1 : 0;
        most = digits > most ? digits : most;
    }
    ck_assert_msg(most < 12, "a number of %zu digits in:\n%s", most, text);
    free(text);
    free(cfg);
    free(out);
}
END_TEST

/* A run by hand: its summary, a metrics.csv with the given losses, and a
   gradients.csv of 4 layers x 4 steps with norms from lo to hi (log10). */
static void write_scaled_run(const char *d, const char *losses, double lo, double hi)
{
    ck_assert_int_eq(mkdir(d, 0777), 0);
    char *p = tu_path(d, "summary.json");
    tu_write(p, "{\n  \"status\": \"completed\",\n  \"steps\": 3,\n  \"val_accuracy\": 0.5,\n"
                "  \"test_accuracy\": 0.625,\n  \"format_version\": 1\n}\n");
    free(p);
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "step,epoch,loss,accuracy,lr,grad_norm\n");
    double l[3];
    ck_assert_int_eq(sscanf(losses, "%lf %lf %lf", &l[0], &l[1], &l[2]), 3);
    for (int s = 0; s < 3; s++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,0,%.17g,0.5,0.1,1\n", s, l[s]);
    p = tu_path(d, "metrics.csv");
    tu_write(p, buf);
    free(p);
    n = (size_t)snprintf(buf, sizeof buf,
                         "step,layer,tensor,grad_norm,weight_norm,grad_max_abs,update_ratio\n");
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 4; k++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,%d,weight,%.6g,1,1,0.001\n", s, k,
                                  pow(10, lo + (hi - lo) * (s * 4 + k) / 15.0));
    p = tu_path(d, "gradients.csv");
    tu_write(p, buf);
    free(p);
}

/* The color levels used by run `label`'s heatmap cells in the page. */
static size_t heatmap_levels(const char *html, const char *label)
{
    char key[128];
    snprintf(key, sizeof key, "<div class=\"fig\" data-run=\"%s\">", label);
    const char *a = strstr(html, key);
    ck_assert_msg(a != NULL, "no heatmap for %s", label);
    a = strstr(a, "<g class=\"cells\"");
    ck_assert_ptr_nonnull(a);
    const char *e = strstr(a, "</g>");
    size_t n = 0;
    for (const char *p = a; (p = strstr(p, "<path fill=")) && p < e; p++)
        n++;
    return n;
}

/* A normal run beside one that explodes to 1e35: on a shared color scale
   the normal one is one or two colors; on its own scale (the default
   here) it shows its gradient.  Also: scientific tick labels, the test
   accuracy. */
START_TEST(color_scale_ticks_and_test_accuracy)
{
    char *parent = tu_path(dir, "scales");
    ck_assert_int_eq(mkdir(parent, 0777), 0);
    char *normal = tu_path(parent, "normal"), *boom = tu_path(parent, "boom");
    write_scaled_run(normal, "0 1e-12 3e-12", -2, 0);
    write_scaled_run(boom, "1e5 2e5 3e5", -2, 35);
    const char *dirs[] = {parent};
    const char *outs[] = {"shared", "run", "auto"};
    const gs_color_scale how[] = {GS_COLOR_SCALE_SHARED, GS_COLOR_SCALE_RUN, GS_COLOR_SCALE_AUTO};
    size_t levels[3];
    for (int i = 0; i < 3; i++) {
        char *out = tu_path(parent, outs[i]), *hp = tu_path(out, "report.html");
        gs_error err;
        ck_assert_msg(gs_report_scaled(dirs, 1, out, how[i], &err) == GS_EXIT_OK, "%s", err.msg);
        char *html = tu_read(hp, NULL);
        ck_assert_ptr_nonnull(html);
        levels[i] = heatmap_levels(html, "normal");
        if (i == 0) {
            ck_assert_msg(strstr(html, "e+05</text>"), "no tick like 3e+05");
            ck_assert_msg(!strstr(html, "0.000000"), "a tick label in fixed notation");
            ck_assert_msg(strstr(html, "<th>test accuracy</th>"), "no test accuracy column");
            ck_assert_msg(strstr(html, "<td>0.625</td>"), "no test accuracy value");
            ck_assert_msg(strstr(html, "all on the same color scale"), "shared scale not said");
        } else {
            ck_assert_msg(strstr(html, "each on its own color scale"), "own scales not said");
        }
        free(html);
        free(hp);
        free(out);
    }
    /* losses 0..3e-12 alone: a linear axis in scientific notation */
    const char *alone[] = {normal};
    char *out = tu_path(parent, "ticks"), *hp = tu_path(out, "report.html");
    gs_error err;
    ck_assert_msg(gs_report(alone, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    char *html = tu_read(hp, NULL);
    ck_assert_ptr_nonnull(html);
    ck_assert_msg(strstr(html, ">1e\u221212</text>"), "no tick 1e-12");
    ck_assert_msg(strstr(html, ">2.5e\u221212</text>"), "no tick 2.5e-12");
    ck_assert_msg(!strstr(html, "0.000000"), "a tick label in fixed notation");
    free(html);
    free(hp);
    free(out);
    ck_assert_msg(levels[1] >= 4 * levels[0], "the normal run has %zu colors on the shared "
                  "scale, %zu on its own", levels[0], levels[1]);
    ck_assert_uint_eq(levels[2], levels[1]);
    free(normal);
    free(boom);
    free(parent);
}
END_TEST

/* DIR/theory.csv of the recurrent rows "layer,step,weight,rho,sigma_max\n"
   (the mean-field columns empty). */
static void write_theory(const char *d, const char *rows)
{
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf,
                                "first_layer,last_layer,activation,sigma_w2,sigma_b2,q_star,"
                                "chi_predicted,chi_measured,q_in,chi_path,stack,note,step,weight,"
                                "rho,sigma_max\n");
    for (const char *r = rows; *r;) {
        const char *e = strchr(r, '\n');
        int layer = atoi(r);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,%d,,,,,,,,,recurrent,,%.*s\n", layer,
                              layer, (int)(e - strchr(r, ',') - 1), strchr(r, ',') + 1);
        r = e + 1;
    }
    char *p = tu_path(d, "theory.csv");
    tu_write(p, buf);
    free(p);
}

/* Gradients through time: a run with bptt.csv gets a heatmap of
   log10 ||dL/dh_t|| over t and monitored step, cells colored as the data
   (one color per decade here, one cell per step in each), and the decay
   table: measured factor per step back, rho and sigma_max from theory.csv
   (the rnn's weight, not an lstm gate's).  A run without the file gets
   neither. */
START_TEST(bptt_heatmap_and_decay_table)
{
    char *parent = tu_path(dir, "bptt");
    ck_assert_int_eq(mkdir(parent, 0777), 0);
    char *rnn = tu_path(parent, "rnnrun"), *plain = tu_path(parent, "plain");
    write_scaled_run(rnn, "1 0.5 0.25", -2, 0);
    write_scaled_run(plain, "1 0.5 0.25", -2, 0);
    /* ||dL/dh_t|| = 10^(t - 5) at steps 0, 5, 10 (T = 6); at step 10, t = 0
       holds 0 and t = 1 a NaN norm */
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "step,layer,t,grad_norm\n");
    for (int s = 0; s <= 10; s += 5)
        for (int t = 0; t < 6; t++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d,1,%d,%s\n", s, t,
                                  s == 10 && t == 0   ? "0"
                                  : s == 10 && t == 1 ? "nan"
                                                      : (const char *[]){"1e-05", "0.0001",
                                                                         "0.001", "0.01", "0.1",
                                                                         "1"}[t]);
    char *p = tu_path(rnn, "bptt.csv");
    tu_write(p, buf);
    free(p);
    write_theory(rnn, "1,0,weight_hh_l0.f,7,\n1,0,weight_hh_l0,0.9,1.25\n3,0,weight_hh_l0,5,\n"
                      "1,10,weight_hh_l0,0.95,\n");
    const char *dirs[] = {parent};
    char *out = tu_path(parent, "out"), *hp = tu_path(out, "report.html");
    gs_error err;
    ck_assert_msg(gs_report(dirs, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    char *html = tu_read(hp, NULL);
    ck_assert_ptr_nonnull(html);
    ck_assert_msg(!strstr(html, "data-bptt-run=\"plain\""), "a bptt heatmap without bptt.csv");
    const char *fig = strstr(html, "<div class=\"fig\" data-bptt-run=\"rnnrun\">");
    ck_assert_msg(fig != NULL, "no bptt heatmap");
    ck_assert_msg(strstr(fig, "bptt-heatmap\" data-steps=\"3\" data-t=\"6\""), "%.300s", fig);
    const char *end = strstr(fig, "</svg>");
    ck_assert_ptr_nonnull(end);
    /* the cells: one color per decade 1e-5 .. 1 (0 takes the bottom one, a
       NaN norm the red of a failure), each in one cell per monitored step
       but for t = 1, whose step 10 is red */
    const char *cells = strstr(fig, "<g class=\"cells\"");
    const char *ce = strstr(cells, "</g>");
    size_t paths = 0, moves[16] = {0};
    for (const char *q = cells; (q = strstr(q, "<path fill=")) && q < ce; q++) {
        const char *d = strstr(q, " d=\""), *de = strstr(d, "\"/>");
        for (const char *m = d; (m = strchr(m, 'M')) && m < de; m++)
            moves[paths]++;
        paths++;
    }
    ck_assert_uint_eq(paths, 7);
    size_t threes = 0, twos = 0, ones = 0;
    for (size_t i = 0; i < paths; i++)
        threes += moves[i] == 3, twos += moves[i] == 2, ones += moves[i] == 1;
    ck_assert_msg(threes == 5 && twos == 1 && ones == 1, "%zu %zu %zu", threes, twos, ones);
    ck_assert_msg(strstr(fig, "#e8112d") && strstr(fig, "zero (bottom color)") &&
                      strstr(fig, "inf / NaN"),
                  "special levels not shown");
    ck_assert_msg(strstr(fig, "text-anchor=\"middle\">5</text>"), "no tick t = 5");
    /* the decay table: step 0, 1e-5 over 5 steps, 0.1 a step; rho 0.9 and
       sigma_max 1.25 of the rnn layer 1 at step 0, rho 0.95 at step 10 */
    const char *tab = strstr(html, "<table class=\"bptt\">");
    ck_assert_ptr_nonnull(tab);
    ck_assert_msg(strstr(tab, "<tr><td>rnnrun</td><td>1</td><td>0</td><td>6</td><td>1e-05</td>"
                              "<td>0.1</td><td>0.9</td><td>1.25</td></tr>"),
                  "%.900s", tab);
    ck_assert_msg(strstr(tab, "<td>10</td><td>6</td><td>0</td>"), "%.900s", tab);
    ck_assert_msg(strstr(tab, "<td>0.95</td><td>\u2014</td></tr>"), "%.900s", tab);
    ck_assert_msg(!strstr(tab, "<td>plain</td>"), "a decay row without bptt.csv");
    free(html);
    free(hp);
    free(out);
    free(rnn);
    free(plain);
    free(parent);
}
END_TEST

/* Every recurrent layer of a run gets a panel of one figure on one color
   scale, in model order: layer 1, an lstm of two stacked layers (the lower
   one's norms from series.csv), then layer 3, an rnn; a series of a layer
   without bptt.csv rows, or of another name, draws nothing.  The decay
   table measures each layer's own rate (10^-1, 10^-0.5 and 10^-0.25 per
   step back) beside rho and sigma_max of its own weight_hh_l<k>: each gate
   of the lstm's, the rnn's one. */
START_TEST(a_panel_and_a_decay_row_per_recurrent_layer)
{
    char *parent = tu_path(dir, "stacked");
    ck_assert_int_eq(mkdir(parent, 0777), 0);
    char *rnn = tu_path(parent, "deep");
    write_scaled_run(rnn, "1 0.5 0.25", -2, 0);
    /* ||dL/dh_t|| = 10^(slope (t - 3)), T = 4, at steps 0 and 4 */
    char bptt[2048], series[2048];
    size_t nb = (size_t)snprintf(bptt, sizeof bptt, "step,layer,t,grad_norm\n");
    size_t ns = (size_t)snprintf(series, sizeof series, "step,layer,name,axis,index,value\n");
    for (int s = 0; s <= 4; s += 4)
        for (int t = 0; t < 4; t++) {
            nb += (size_t)snprintf(bptt + nb, sizeof bptt - nb, "%d,3,%d,%.17g\n%d,1,%d,%.17g\n",
                                   s, t, pow(10, 0.25 * (t - 3)), s, t, pow(10, 0.5 * (t - 3)));
            ns += (size_t)snprintf(series + ns, sizeof series - ns,
                                   "%d,1,dL/dh_l0,time,%d,%.17g\n%d,5,dL/dh_l0,time,%d,1\n"
                                   "%d,1,dL/dh_l0x,time,%d,1\n%d,1,dL/dh_l0,band,%d,1\n",
                                   s, t, pow(10, t - 3.0), s, t, s, t, s, t);
        }
    char *p = tu_path(rnn, "bptt.csv");
    tu_write(p, bptt);
    free(p);
    p = tu_path(rnn, "series.csv");
    tu_write(p, series);
    free(p);
    write_theory(rnn, "1,0,weight_hh_l0.i,0.11,0.12\n1,0,weight_hh_l0.f,0.21,0.22\n"
                      "1,0,weight_hh_l1.i,0.31,0.32\n1,0,weight_hh_l1.f,0.41,0.42\n"
                      "3,0,weight_hh_l0,0.51,0.52\n3,4,weight_hh_l0,0.61,0.62\n");
    const char *dirs[] = {parent};
    char *out = tu_path(parent, "out"), *hp = tu_path(out, "report.html");
    gs_error err;
    ck_assert_msg(gs_report(dirs, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    char *html = tu_read(hp, NULL);
    ck_assert_ptr_nonnull(html);
    const char *fig = strstr(html, "<div class=\"fig\" data-bptt-run=\"deep\">");
    ck_assert_msg(fig != NULL, "no bptt heatmap");
    ck_assert_uint_eq(count(html, "data-bptt-run="), 1);
    const char *end = strstr(fig, "</svg>");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(strstr(fig, "bptt-heatmap\" data-steps=\"2\" data-t=\"4\" data-panels=\"3\""),
                  "%.300s", fig);
    const char *want[] = {"<g class=\"panel\" data-layer=\"1\" data-stacked=\"0\"",
                          "<g class=\"panel\" data-layer=\"1\" data-stacked=\"1\"",
                          "<g class=\"panel\" data-layer=\"3\" data-stacked=\"0\""};
    const char *q = fig;
    for (size_t i = 0; i < 3; i++) {
        q = strstr(q, want[i]);
        ck_assert_msg(q && q < end, "panel %zu: no %s", i, want[i]);
    }
    size_t panels = 0, bars = 0, captions = 0;
    for (q = fig; (q = strstr(q, "<g class=\"panel\"")) && q < end; q++)
        panels++;
    for (q = fig; (q = strstr(q, "<g class=\"colorbar\"")) && q < end; q++)
        bars++;
    for (q = fig; (q = strstr(q, "class=\"caption\"")) && q < end; q++)
        captions++;
    ck_assert_uint_eq(panels, 3);
    ck_assert_uint_eq(bars, 1);
    ck_assert_uint_eq(captions, 3);
    ck_assert_msg(strstr(fig, "layer 1, stacked layer 1 of 2 (its output)"), "%.2000s", fig);
    /* the decay per layer, each with its own weights */
    const char *tab = strstr(html, "<table class=\"bptt\">");
    ck_assert_ptr_nonnull(tab);
    const char *rows[] = {
        "<tr><td>deep</td><td>1 (l0)</td><td>0</td><td>4</td><td>0.001</td><td>0.1</td>"
        "<td class=\"gates\">i&#160;0.11<br/>f&#160;0.21</td>"
        "<td class=\"gates\">i&#160;0.12<br/>f&#160;0.22</td></tr>",
        "<tr><td>deep</td><td>1 (l1)</td><td>0</td><td>4</td><td>0.03162</td><td>0.3162</td>"
        "<td class=\"gates\">i&#160;0.31<br/>f&#160;0.41</td>"
        "<td class=\"gates\">i&#160;0.32<br/>f&#160;0.42</td></tr>",
        "<tr><td>deep</td><td>1 (l1)</td><td>4</td><td>4</td><td>0.03162</td><td>0.3162</td>"
        "<td>\u2014</td><td>\u2014</td></tr>",
        "<tr><td>deep</td><td>3</td><td>0</td><td>4</td><td>0.1778</td><td>0.5623</td>"
        "<td>0.51</td><td>0.52</td></tr>",
        "<tr><td>deep</td><td>3</td><td>4</td><td>4</td><td>0.1778</td><td>0.5623</td>"
        "<td>0.61</td><td>0.62</td></tr>",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ck_assert_msg(strstr(tab, rows[i]), "no row %s in %.2000s", rows[i], tab);
    ck_assert_msg(!strstr(tab, "<td>5"), "a row of a layer without bptt.csv rows");
    free(html);
    free(hp);
    free(out);
    free(rnn);
    free(parent);
}
END_TEST

/* GELU has no flat region, so no dead units: no panel of zeros for it;
   ReLU units of a small network die, and the panel shows them. */
START_TEST(dead_units_only_where_they_exist)
{
    char *cfg = tu_path(dir, "act.cfg"), *out = tu_path(dir, "act"), cmd[8192];
    tu_write(cfg, "name = \"act\";\nseed = 5;\n"
                  "data = { type = \"synthetic\"; set = \"blobs\"; features = 6; classes = 3; "
                  "samples = 120; test_samples = 60; };\n"
                  "model = { layers = ( { type = \"dense\"; units = 12; activation = \"gelu\"; "
                  "repeat = 2; }, { type = \"dense\"; units = 3; } ); };\n"
                  "optimizer = { type = \"sgd\"; lr = 0.05; };\n"
                  "training = { epochs = 1; batch_size = 30; };\nmonitor = { every = 2; };\n"
                  "variants = ( { name = \"gelu\"; }, { name = \"relu\"; set = ( "
                  "\"model.layers.[0].activation = relu\" ); } );\n");
    snprintf(cmd, sizeof cmd, "'%s/core/gradscope' run '%s' --out '%s' --threads 1 --quiet",
             tu_builddir(), cfg, out);
    free(shell_output(cmd, "act.txt"));
    const char *variants[] = {"gelu", "relu"};
    for (int i = 0; i < 2; i++) {
        char *run = tu_path(out, variants[i]), *hp = tu_path(run, "report.html");
        const char *dirs[] = {run};
        gs_error err;
        ck_assert_msg(gs_report(dirs, 1, NULL, &err) == GS_EXIT_OK, "%s", err.msg);
        char *html = tu_read(hp, NULL);
        ck_assert_ptr_nonnull(html);
        ck_assert_msg(strstr(html, "<svg class=\"figure activations\""), "%s", variants[i]);
        ck_assert_msg(!strstr(html, ">Dead units</text>") == !i,
                      "%s: the dead-units panel is %s", variants[i], i ? "missing" : "shown");
        free(html);
        free(hp);
        free(run);
    }
    free(cfg);
    free(out);
}
END_TEST

/* ---- a minimal PNG reader for the screenshot (8-bit RGB/RGBA) ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Decodes to packed RGB; NULL with a reason. */
static unsigned char *png_rgb(const unsigned char *png, size_t len, uint32_t *w, uint32_t *h,
                              char *why, size_t wn)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(png, sig, 8)) {
        snprintf(why, wn, "not a PNG");
        return NULL;
    }
    unsigned char *idat = NULL;
    size_t ni = 0;
    int depth = 0, type = -1, interlace = 0;
    *w = *h = 0;
    for (size_t p = 8; p + 12 <= len;) {
        uint32_t n = be32(png + p);
        const unsigned char *t = png + p + 4, *d = png + p + 8;
        if (p + 12 + n > len)
            break;
        if (!memcmp(t, "IHDR", 4)) {
            *w = be32(d);
            *h = be32(d + 4);
            depth = d[8];
            type = d[9];
            interlace = d[12];
        } else if (!memcmp(t, "IDAT", 4)) {
            idat = realloc(idat, ni + n);
            memcpy(idat + ni, d, n);
            ni += n;
        }
        p += 12 + n;
    }
    if (depth != 8 || (type != 2 && type != 6) || interlace || !*w || !*h) {
        snprintf(why, wn, "unsupported PNG: depth %d, color type %d, interlace %d", depth, type,
                 interlace);
        free(idat);
        return NULL;
    }
    size_t bpp = type == 6 ? 4 : 3, stride = *w * bpp;
    uLongf raw_len = (uLongf)(*h * (stride + 1));
    unsigned char *raw = malloc(raw_len);
    if (uncompress(raw, &raw_len, idat, (uLong)ni) != Z_OK || raw_len != *h * (stride + 1)) {
        snprintf(why, wn, "PNG data does not inflate to %u rows", *h);
        free(idat);
        free(raw);
        return NULL;
    }
    free(idat);
    unsigned char *img = malloc((size_t)*h * stride), *rgb = malloc((size_t)*w * *h * 3);
    for (uint32_t y = 0; y < *h; y++) {
        const unsigned char *src = raw + y * (stride + 1) + 1;
        unsigned char *row = img + y * stride, *up = y ? row - stride : NULL;
        int f = src[-1];
        for (size_t x = 0; x < stride; x++) {
            int a = x >= bpp ? row[x - bpp] : 0, b = up ? up[x] : 0;
            int c = up && x >= bpp ? up[x - bpp] : 0;
            int pred = f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : f == 4 ? paeth(a, b, c) : 0;
            row[x] = (unsigned char)(src[x] + pred);
        }
    }
    for (size_t i = 0; i < (size_t)*w * *h; i++)
        memcpy(rgb + 3 * i, img + bpp * i, 3);
    free(raw);
    free(img);
    return rgb;
}

START_TEST(renders_in_chromium)
{
    const char *chromium = "/usr/bin/chromium";
    if (access(chromium, X_OK) != 0) {
        printf("renders_in_chromium: %s not installed, rendering check skipped\n", chromium);
        return;
    }
    char *out = tu_path(dir, "render"), *profile = tu_path(dir, "chromium-profile");
    char *png_path = tu_path(dir, "report.png");
    gs_error err;
    const char *dirs[] = {run_dir};
    ck_assert_msg(gs_report(dirs, 1, out, &err) == GS_EXIT_OK, "%s", err.msg);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "HOME='%s' timeout 60 %s --headless --no-sandbox --disable-gpu --disable-quic "
             "--no-first-run --disable-background-networking --disable-component-update "
             "--disable-sync --disable-dev-shm-usage "
             "--user-data-dir='%s' --screenshot='%s' --window-size=1200,2000 "
             "'file://%s/report.html' >/dev/null 2>&1",
             profile, chromium, profile, png_path, out);
    ck_assert_int_eq(shell(cmd), 0);
    size_t len;
    unsigned char *png = (unsigned char *)tu_read(png_path, &len);
    ck_assert_msg(png != NULL, "no screenshot %s", png_path);
    uint32_t w, h;
    char why[160];
    unsigned char *rgb = png_rgb(png, len, &w, &h, why, sizeof why);
    ck_assert_msg(rgb != NULL, "%s", why);
    ck_assert_uint_eq(w, 1200);
    ck_assert_uint_eq(h, 2000);
    size_t ink = 0, distinct = 0;
    unsigned char *seen = calloc(1 << 21, 1); /* one bit per 24-bit color */
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const unsigned char *px = rgb + 3 * i;
        ink += px[0] < 235 || px[1] < 235 || px[2] < 235;
        uint32_t c = (uint32_t)px[0] << 16 | (uint32_t)px[1] << 8 | px[2];
        if (!(seen[c >> 3] & (1u << (c & 7)))) {
            seen[c >> 3] |= (unsigned char)(1u << (c & 7));
            distinct++;
        }
    }
    double frac = (double)ink / ((double)w * h);
    printf("renders_in_chromium: %ux%u, %.1f%% ink, %zu colors\n", w, h, 100 * frac, distinct);
    ck_assert_msg(frac > 0.01, "screenshot nearly blank: %.3f%% non-white", 100 * frac);
    ck_assert_msg(distinct >= 32, "screenshot has only %zu colors", distinct);
    free(seen);
    free(rgb);
    free(png);
    free(png_path);
    free(profile);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, report_of_an_experiment);
    tcase_add_test(tc, optional_and_damaged_logs);
    tcase_add_test(tc, directories_that_are_not_runs);
    tcase_add_test(tc, command_line);
    tcase_add_test(tc, huge_loss_in_the_final_table);
    tcase_add_test(tc, color_scale_ticks_and_test_accuracy);
    tcase_add_test(tc, dead_units_only_where_they_exist);
    tcase_add_test(tc, bptt_heatmap_and_decay_table);
    tcase_add_test(tc, a_panel_and_a_decay_row_per_recurrent_layer);
    tcase_add_test(tc, renders_in_chromium);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
