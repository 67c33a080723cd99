/* gradscope report: the figure inside the dense blocks (blocks.c).  A small
   run with two densenet blocks on images draws one panel per block with a
   curve per monitored step (first, middle, last) and a point per inner
   layer; a run without densenet blocks draws no such figure. */
#include "testutil.h"

static const char *cfg_fmt =
    "name = \"%s\";\n"
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"images\"; classes = 3; channels = 1; "
    "image_size = 6; samples = 48; test_samples = 0; };\n"
    "model = { norm = \"batchnorm\"; layers = (\n"
    "  { type = \"conv2d\"; channels = 4; kernel = 3; padding = 1; bias = false; },\n"
    "  %s\n"
    "  { type = \"global_avgpool\"; },\n"
    "  { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.05; momentum = 0.9; };\n"
    "training = { epochs = 3; batch_size = 16; };\n"
    "monitor = { every = 2; };\n";

static char *dir;

/* Trains the model with `middle` layers into dir/name; its report.html. */
static char *run_and_report(const char *name, const char *middle)
{
    gs_registry *reg = tu_registry();
    char *cfg = tu_path(dir, "b.cfg"), *out = tu_path(dir, name);
    char text[2048];
    snprintf(text, sizeof text, cfg_fmt, name, middle);
    tu_write(cfg, text);
    gs_error err;
    gs_run_options opt = {.out_dir = out, .threads = 1, .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, cfg, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_msg(gs_experiment_run(e, &opt, &err) == 0, "%s", err.msg);
    gs_experiment_free(e);
    gs_registry_free(reg);
    const char *dirs[] = {out};
    ck_assert_msg(gs_report(dirs, 1, NULL, &err) == GS_EXIT_OK, "%s", err.msg);
    char *hp = tu_path(out, "report.html");
    size_t len;
    char *html = tu_read(hp, &len);
    ck_assert_ptr_nonnull(html);
    free(hp);
    free(cfg);
    free(out);
    return html;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The part of html from the blocks figure to its end. */
static char *blocks_figure(const char *html)
{
    const char *a = strstr(html, "<svg class=\"figure blocks\"");
    ck_assert_msg(a != NULL, "no blocks figure");
    const char *z = strstr(a, "</svg>");
    ck_assert_ptr_nonnull(z);
    return strndup(a, (size_t)(z - a));
}

START_TEST(a_panel_per_dense_block)
{
    dir = tu_tempdir();
    char *html = run_and_report("dense",
                                "{ type = \"densenet\"; layers = 3; growth = 2; },\n"
                                "  { type = \"transition\"; compression = 0.5; },\n"
                                "  { type = \"densenet\"; layers = 4; growth = 2; },");
    ck_assert_msg(strstr(html, "<h2 id=\"blocks\">Inside the dense blocks</h2>") != NULL,
                  "no section");
    char *fig = blocks_figure(html);
    /* model layers 1 and 3 are the blocks */
    ck_assert_msg(strstr(fig, "block 1 (layer 1)") && strstr(fig, "block 2 (layer 3)"),
                  "panel titles");
    ck_assert_uint_eq(count(fig, "block 3"), 0);
    /* 3 monitored steps per panel (first, middle, last), each one line
       with a marker per inner layer: the last step's large, the others' small */
    ck_assert_uint_eq(count(fig, "fill=\"none\" stroke="), 6);
    ck_assert_uint_eq(count(fig, "r=\"2.6\""), 3 + 4);
    ck_assert_uint_eq(count(fig, "r=\"2\""), 2 * (3 + 4));
    ck_assert_msg(strstr(fig, "first monitored step") != NULL, "legend");
    free(fig);
    free(html);
    /* without densenet blocks: no section, no figure */
    html = run_and_report("plain", "{ type = \"resnet\"; form = \"post\"; norm = \"batchnorm\"; },");
    ck_assert_msg(strstr(html, "class=\"figure blocks\"") == NULL, "a blocks figure without blocks");
    ck_assert_msg(strstr(html, "id=\"blocks\"") == NULL, "a blocks section without blocks");
    ck_assert_msg(strstr(html, "<svg class=\"figure paths\"") != NULL, "the resnet's paths figure");
    free(html);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_blocks");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_panel_per_dense_block);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
