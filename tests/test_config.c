/* Experiment files: strict validation with FILE:LINE messages, overrides,
   variants, includes and the resolved configuration. */
#include "testutil.h"

static const char *const base_lines[] = {
    "name = \"t\";",
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; classes = 3; samples = 200; "
    "test_samples = 50; };",
    "model = {",
    "  layers = (",
    "    { type = \"dense\"; units = 8; activation = \"tanh\"; },",
    "    { type = \"dense\"; units = 3; }",
    "  );",
    "};",
    "optimizer = { type = \"sgd\"; lr = 0.1; };",
    "training = { epochs = 2; batch_size = 16; };",
};
#define N_LINES (sizeof base_lines / sizeof base_lines[0])

static gs_registry *reg;
static char *dir;

static void setup(void)
{
    reg = tu_registry();
    dir = tu_tempdir();
}

static void teardown(void)
{
    gs_registry_free(reg);
    tu_rmrf(dir);
    free(dir);
}

/* Writes the base file with line `line` (1-based, 0 for none) replaced. */
static char *write_cfg(const char *name, int line, const char *replacement, const char *extra)
{
    char *path = tu_path(dir, name);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < N_LINES; i++)
        fprintf(f, "%s\n", (int)i + 1 == line ? replacement : base_lines[i]);
    if (extra)
        fputs(extra, f);
    fclose(f);
    return path;
}

static gs_experiment *load(const char *path, const char *const *sets, size_t n, gs_error *err)
{
    gs_run_options opt = {.sets = sets, .n_sets = n, .seed = -1};
    return gs_experiment_load(reg, path, &opt, err);
}

static char *resolved(gs_experiment *e, size_t i)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_int_eq(gs_experiment_write_config(e, i, f), 0);
    fclose(f);
    return buf;
}

static void expect_error(int line, const char *replacement, const char *extra, int err_line,
                         const char *const *needles)
{
    char *path = write_cfg("bad.cfg", line, replacement, extra);
    gs_error err = {{0}};
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e == NULL, "accepted a bad file (line %d: %s)", line, replacement);
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, err_line);
    ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "expected '%s...', got: %s",
                  prefix, err.msg);
    for (; needles && *needles; needles++)
        ck_assert_msg(strstr(err.msg, *needles) != NULL, "expected '%s' in: %s", *needles,
                      err.msg);
    free(path);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(valid_file_resolves_defaults)
{
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_uint_eq(gs_experiment_variants(e), 1);
    char *text = resolved(e, 0);
    /* defaults filled in: schema defaults of sgd, of dense, of the core sections */
    ck_assert_msg(strstr(text, "momentum = 0.0;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "type = \"standard\";") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "every = 10;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "type = \"softmax_cross_entropy\";") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    free(path);
}
END_TEST

START_TEST(unknown_key_with_suggestion)
{
    expect_error(5, "    { type = \"dense\"; unit = 8; activation = \"tanh\"; },", NULL, 5,
                 NEEDLES("unknown key 'unit'", "did you mean 'units'?"));
}
END_TEST

START_TEST(unknown_plugin_with_suggestion)
{
    expect_error(5, "    { type = \"dense\"; units = 8; activation = \"tahn\"; },", NULL, 5,
                 NEEDLES("unknown activation 'tahn'", "did you mean 'tanh'?", "valid: "));
    expect_error(6, "    { type = \"dens\"; units = 3; }", NULL, 6,
                 NEEDLES("'dens'", "did you mean 'dense'?"));
}
END_TEST

START_TEST(wrong_type_and_range)
{
    expect_error(9, "optimizer = { type = \"sgd\"; lr = \"fast\"; };", NULL, 9,
                 NEEDLES("lr must be a number"));
    expect_error(9, "optimizer = { type = \"sgd\"; lr = -1.0; };", NULL, 9,
                 NEEDLES("lr = -1 is out of range"));
    expect_error(10, "training = { epochs = 0; batch_size = 16; };", NULL, 10,
                 NEEDLES("training", "epochs = 0 is out of range"));
    expect_error(10, "training = { epochs = 2; batch_size = 1.5; };", NULL, 10,
                 NEEDLES("batch_size must be an int"));
}
END_TEST

START_TEST(component_validate_hook)
{
    expect_error(9, "optimizer = { type = \"sgd\"; lr = 0.1; nesterov = true; };", NULL, 9,
                 NEEDLES("optimizer 'sgd'", "nesterov = true requires momentum > 0"));
}
END_TEST

START_TEST(missing_required_key)
{
    expect_error(6, "    { type = \"dense\"; }", NULL, 6, NEEDLES("missing required key 'units'"));
}
END_TEST

START_TEST(unknown_top_level_key)
{
    expect_error(9, "optimiser = { type = \"sgd\"; };", NULL, 9,
                 NEEDLES("unknown key 'optimiser'", "did you mean 'optimizer'?"));
}
END_TEST

START_TEST(syntax_error_has_line)
{
    expect_error(3, "model = { oops", NULL, 4, NEEDLES("syntax error"));
}
END_TEST

START_TEST(string_choice_suggestion)
{
    expect_error(2,
                 "data = { type = \"synthetic\"; set = \"blob\"; features = 4; classes = 3; };",
                 NULL, 2, NEEDLES("set = \"blob\" is not valid", "did you mean \"blobs\"?"));
}
END_TEST

START_TEST(set_overrides_are_validated)
{
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    const char *good[] = {"optimizer.lr=0.5", "model.layers.[0].units=16", "monitor.every=3",
                          "model.layers.[0].activation = relu"};
    gs_experiment *e = load(path, good, 4, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *text = resolved(e, 0);
    ck_assert_msg(strstr(text, "lr = 0.5;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "units = 16;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "every = 3;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "type = \"relu\";") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);

    const char *bad[] = {"optimizer.lr=abc"};
    ck_assert_ptr_null(load(path, bad, 1, &err));
    ck_assert_msg(strstr(err.msg, "--set optimizer.lr=abc") && strstr(err.msg, "lr must be a number"),
                  "%s", err.msg);
    const char *bad_index[] = {"model.layers.[7].units=3"};
    ck_assert_ptr_null(load(path, bad_index, 1, &err));
    ck_assert_msg(strstr(err.msg, "[7]") != NULL, "%s", err.msg);
    const char *bad_key[] = {"optimizer.momentm=0.9"};
    ck_assert_ptr_null(load(path, bad_key, 1, &err));
    ck_assert_msg(strstr(err.msg, "--set optimizer.momentm=0.9") &&
                      strstr(err.msg, "did you mean 'momentum'?"),
                  "%s", err.msg);
    const char *no_eq[] = {"optimizer.lr"};
    ck_assert_ptr_null(load(path, no_eq, 1, &err));
    ck_assert_msg(strstr(err.msg, "KEY=VALUE") != NULL, "%s", err.msg);
    free(path);
}
END_TEST

START_TEST(variants_merge_and_set)
{
    const char *extra =
        "variants = (\n"
        "  { name = \"a\"; },\n"
        "  { name = \"b\"; optimizer = { lr = 0.25; }; set = ( \"model.layers.[0].units = 32\" ); }\n"
        ");\n";
    char *path = write_cfg("var.cfg", 0, NULL, extra);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_uint_eq(gs_experiment_variants(e), 2);
    ck_assert_str_eq(gs_experiment_variant_name(e, 1), "b");
    char *a = resolved(e, 0), *b = resolved(e, 1);
    ck_assert_msg(strstr(a, "lr = 0.1;") && strstr(a, "units = 8;"), "%s", a);
    /* merged: the group keeps type = "sgd" and gets the new lr */
    ck_assert_msg(strstr(b, "lr = 0.25;") && strstr(b, "type = \"sgd\"") && strstr(b, "units = 32;"),
                  "%s", b);
    ck_assert_msg(strstr(b, "name = \"t-b\";") != NULL, "%s", b);
    free(a);
    free(b);
    gs_experiment_free(e);
    free(path);
}
END_TEST

START_TEST(variant_errors_point_into_the_variant)
{
    const char *extra = "variants = (\n"
                        "  { name = \"a\"; },\n"
                        "  { name = \"b\"; optimizer = { lr = -2.0; }; }\n"
                        ");\n";
    expect_error(0, NULL, extra, (int)N_LINES + 3, NEEDLES("out of range"));
    const char *dup = "variants = ( { name = \"a\"; }, { name = \"a\"; } );\n";
    expect_error(0, NULL, dup, (int)N_LINES + 1, NEEDLES("duplicate variant name 'a'"));
    const char *bad_name = "variants = ( { name = \"../x\"; } );\n";
    expect_error(0, NULL, bad_name, (int)N_LINES + 1, NEEDLES("variant needs name"));
}
END_TEST

START_TEST(model_defaults_are_inherited)
{
    char *path = write_cfg("def.cfg", 8, "  init = \"he\";\n};", NULL);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *text = resolved(e, 0);
    ck_assert_msg(strstr(text, "type = \"he\"") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "type = \"standard\"") == NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    free(path);
    expect_error(8, "  colour = \"red\";\n};", NULL, 8,
                 NEEDLES("'colour' is neither 'layers' nor a parameter"));
}
END_TEST

START_TEST(include_is_relative_to_the_file)
{
    char *sub = tu_path(dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *inc = tu_path(sub, "optim.cfg");
    tu_write(inc, "optimizer = { type = \"sgd\"; lr = 0.125; };\n");
    char *path = tu_path(sub, "main.cfg");
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < N_LINES; i++)
        if (i != 8)
            fprintf(f, "%s\n", base_lines[i]);
    fputs("@include \"optim.cfg\"\n", f);
    fclose(f);
    /* run from another directory: the include must still resolve */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir("/"), 0);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *text = resolved(e, 0);
    ck_assert_msg(strstr(text, "lr = 0.125;") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    free(inc);
    free(path);
    free(sub);
}
END_TEST

START_TEST(include_of_a_directory_is_an_error)
{
    /* libconfig 1.5 would exit(2) from its scanner on this */
    char *sub = tu_path(dir, "incdir");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *inner = tu_path(sub, "inner.cfg");
    tu_write(inner, "seed = 3;\n  @include \"incdir\"\n");
    char *path = tu_path(dir, "incdir.cfg");
    tu_write(path, "# nested\n@include \"incdir/inner.cfg\"\n");
    gs_error err;
    ck_assert_ptr_null(load(path, NULL, 0, &err));
    char want[4200];
    snprintf(want, sizeof want, "%s:2: @include \"incdir\": is a directory", inner);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s", err.msg);
    free(path);
    free(inner);
    free(sub);
}
END_TEST

START_TEST(resolved_config_round_trips)
{
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    const char *sets[] = {"optimizer.lr=0.0123456789", "training.validation=0.2"};
    gs_experiment *e = load(path, sets, 2, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *first = resolved(e, 0);
    char *again = tu_path(dir, "again.cfg");
    tu_write(again, first);
    gs_experiment *e2 = load(again, NULL, 0, &err);
    ck_assert_msg(e2 != NULL, "%s\n%s", err.msg, first);
    char *second = resolved(e2, 0);
    ck_assert_str_eq(first, second);
    ck_assert_msg(strstr(first, "lr = 0.0123456789;") != NULL, "%s", first);
    free(first);
    free(second);
    gs_experiment_free(e);
    gs_experiment_free(e2);
    free(again);
    free(path);
}
END_TEST

START_TEST(missing_file)
{
    gs_error err;
    ck_assert_ptr_null(load("/nonexistent/x.cfg", NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.cfg") != NULL, "%s", err.msg);
}
END_TEST

/* A model-level default reaches only parameters of its type: prelu's
   numeric `init` (its starting slope) is not dense's initializer. */
START_TEST(model_defaults_match_by_type)
{
#define PRELU_FIRST "  layers = (\n    { type = \"prelu\"; },"
    char *path = write_cfg("he.cfg", 4, "  init = \"he\";\n" PRELU_FIRST, NULL);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *text = resolved(e, 0);
    ck_assert_msg(strstr(text, "type = \"he\"") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "init = 0.25;") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    free(path);
    path = write_cfg("slope.cfg", 4, "  init = 0.1;\n" PRELU_FIRST, NULL);
    e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    text = resolved(e, 0);
    ck_assert_msg(strstr(text, "init = 0.1;") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "type = \"standard\"") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    free(path);
    /* a default that fits no layer's parameter of that name is still an error */
    expect_error(8, "  init = true;\n};", NULL, 8,
                 NEEDLES("'init' is neither 'layers' nor a parameter of that type"));
#undef PRELU_FIRST
}
END_TEST

START_TEST(messages_say_what_to_do)
{
    /* swapped letters are one edit: gelu, not elu */
    expect_error(5, "    { type = \"dense\"; units = 8; activation = \"gleu\"; },", NULL, 5,
                 NEEDLES("did you mean 'gelu'?"));
    expect_error(5, "    { type = \"dense\"; units = 8; activation = tanh; },", NULL, 5,
                 NEEDLES("syntax error; a string needs double quotes: \"tanh\""));
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    const char *sets[] = {"model.layers.[7].units=3"};
    ck_assert_ptr_null(load(path, sets, 1, &err));
    ck_assert_msg(strstr(err.msg, "index 7 out of range: model.layers has 2 elements") != NULL,
                  "%s", err.msg);
    free(path);
    ck_assert_ptr_null(load(dir, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, ": cannot read experiment file: Is a directory") != NULL, "%s",
                  err.msg);
    ck_assert_ptr_null(load("/nonexistent/x.cfg", NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.cfg: cannot read experiment file: No such file"),
                  "%s", err.msg);
}
END_TEST

static void expect_set_error(const char *set, const char *needle);

/* libconfig reads 1e400 as inf, and config.cfg could not hold it. */
START_TEST(non_finite_numbers_are_refused)
{
    expect_error(9, "optimizer = { type = \"sgd\"; lr = 1e400; };", NULL, 9,
                 (const char *const[]){"optimizer 'sgd': lr = inf is not a finite number", NULL});
    expect_error(10, "training = { epochs = 2; clip_grad_norm = 1e400; };", NULL, 10,
                 (const char *const[]){"clip_grad_norm = inf", "not a finite number", NULL});
    expect_error(9, "optimizer = { type = \"sgd\"; lr = 0.1; momentum = -1e999; };", NULL, 9,
                 (const char *const[]){"momentum = -inf is not a finite number", NULL});
    /* libconfig 1.5 keeps the low 32 bits of an int, saturates an int64 */
    expect_error(10, "training = { epochs = 4294967297; };", NULL, 10,
                 (const char *const[]){"integer 4294967297 does not fit in 32 bits", NULL});
    expect_error(0, NULL, "seed = 99999999999999999999L;\n", 11,
                 (const char *const[]){"does not fit in 64 bits", NULL});
    expect_set_error("training.epochs=4294967297",
                     "--set training.epochs=4294967297: integer 4294967297 does not fit");
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    const char *sets[] = {"training.clip_grad_norm=1e400"};
    ck_assert_ptr_null(load(path, sets, 1, &err));
    ck_assert_msg(strstr(err.msg, "--set training.clip_grad_norm=1e400: training: "
                                  "clip_grad_norm = inf is not a finite number"),
                  "%s", err.msg);
    free(path);
}
END_TEST

/* Every value the writer puts in config.cfg reads back as itself: the
   smallest denormal, the largest double, -0, 64-bit seeds, and strings
   with quotes, backslashes, tabs and newlines. */
START_TEST(resolved_config_round_trips_extremes)
{
    char *path = write_cfg(
        "x.cfg", 1, "name = \"q\\\"b\\\\s\\tt\";",
        "seed = 9007199254740993L;\n"
        "schedule = { type = \"step\"; gamma = 4.9406564584124654e-324; step_size = 3; };\n");
    gs_error err;
    const char *sets[] = {"optimizer.lr=1.7976931348623157e308", "optimizer.momentum=-0.0",
                          "output.dir=\"a\\nb\""};
    gs_experiment *e = load(path, sets, 3, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *first = resolved(e, 0);
    char *again = tu_path(dir, "again.cfg");
    tu_write(again, first);
    gs_experiment *e2 = load(again, NULL, 0, &err);
    ck_assert_msg(e2 != NULL, "%s\n%s", err.msg, first);
    char *second = resolved(e2, 0);
    ck_assert_str_eq(first, second);
    ck_assert_msg(strstr(first, "gamma = 5.0e-324;") &&
                      strstr(first, "lr = 1.7976931348623157e+308;") &&
                      strstr(first, "seed = 9007199254740993L;") &&
                      strstr(first, "name = \"q\\\"b\\\\s\tt\";"),
                  "%s", first);
    free(first);
    free(second);
    gs_experiment_free(e);
    gs_experiment_free(e2);
    free(again);
    free(path);
}
END_TEST

static void expect_set_error(const char *set, const char *needle)
{
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err = {{0}};
    const char *sets[] = {set};
    gs_experiment *e = load(path, sets, 1, &err);
    ck_assert_msg(e == NULL, "accepted --set %s", set);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "expected '%s' in: %s", needle, err.msg);
    free(path);
}

START_TEST(one_override_is_one_key_value)
{
    expect_set_error("optimizer.lr=0.1; evil = 1",
                     "--set optimizer.lr=0.1; evil = 1: one override is one KEY=VALUE");
    expect_set_error("optimizer..lr=0.1", "--set optimizer..lr=0.1: empty name in the key");
    expect_set_error(".seed=3", "empty name in the key");
    expect_set_error("seed.=3", "empty name in the key");
    expect_set_error("seed=1\n  @include \"/dev/zero\"",
                     "@include is not allowed in a KEY=VALUE override");
    /* a quoted semicolon is part of one value */
    char *path = write_cfg("ok.cfg", 0, NULL, NULL);
    gs_error err;
    const char *sets[] = {"name=\"a;b\""};
    gs_experiment *e = load(path, sets, 1, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    gs_experiment_free(e);
    free(path);
}
END_TEST

START_TEST(include_in_a_variant_set_is_refused)
{
    char *path = write_cfg("inc.cfg", 0, NULL,
                           "variants = ( { name = \"v\";\n"
                           "  set = ( \"seed = 1\\n@include \\\"/dev/zero\\\"\" ); } );\n");
    gs_error err;
    ck_assert_ptr_null(load(path, NULL, 0, &err));
    char want[4200];
    snprintf(want, sizeof want, "%s:12: variant 'v' set", path);
    ck_assert_msg(strstr(err.msg, want) && strstr(err.msg, "@include is not allowed"), "%s",
                  err.msg);
    free(path);
}
END_TEST

/* The run directory is <output.dir>/<name>-<time>: a name is one file name. */
START_TEST(names_are_one_path_component)
{
    expect_error(1, "name = \"../../x\";", NULL, 1,
                 (const char *const[]){"name = \"../../x\" contains '/'", NULL});
    expect_error(1, "name = \"..\";", NULL, 1, (const char *const[]){"is not a name", NULL});
    expect_error(1, "name = \"\";", NULL, 1, (const char *const[]){"is empty", NULL});
    expect_set_error("name=a/b", "--set name=a/b: name = \"a/b\" contains '/'");
    expect_error(0, NULL, "variants = ( { name = \"..\"; } );\n", 11,
                 (const char *const[]){"each variant needs name", NULL});
    expect_error(0, NULL, "output = { dir = \"\"; };\n", 11,
                 (const char *const[]){"output: dir is empty", NULL});
}
END_TEST

START_TEST(run_directory_paths_are_checked)
{
    char *path = write_cfg("ok.cfg", 0, NULL, "variants = ( { name = \"v\"; } );\n");
    gs_error err;
    /* "" made the variant's run directory "/v" */
    gs_run_options opt = {.out_dir = "", .seed = -1};
    ck_assert_ptr_null(gs_experiment_load(reg, path, &opt, &err));
    ck_assert_msg(strstr(err.msg, "--out: empty directory name"), "%s", err.msg);
    char *longdir = malloc(5000);
    memset(longdir, 'd', 4999);
    longdir[4999] = '\0';
    opt.out_dir = longdir;
    ck_assert_ptr_null(gs_experiment_load(reg, path, &opt, &err));
    ck_assert_msg(strstr(err.msg, "--out: the run directory would be 5001 characters long"),
                  "%s", err.msg);
    ck_assert_ptr_null(gs_experiment_load(reg, longdir, NULL, &err));
    ck_assert_msg(strstr(err.msg, "cannot read experiment file: the name is 4999 characters"),
                  "%s", err.msg);
    ck_assert_ptr_null(gs_experiment_load(reg, "", NULL, &err));
    ck_assert_msg(strstr(err.msg, "empty experiment file name"), "%s", err.msg);
    /* a data path beyond PATH_MAX, which a reader would have cut short */
    char *extra = malloc(5100);
    snprintf(extra, 5100, "data = { type = \"csv\"; train = \"%s\"; };\n", longdir);
    expect_error(2, "seed = 1;", extra, 11,
                 (const char *const[]){"dataset 'csv': train is", "characters long", NULL});
    free(extra);
    free(longdir);
    free(path);
}
END_TEST

START_TEST(experiment_files_are_bounded)
{
    char *big = malloc((1 << 20) + 16);
    memset(big, '#', (1 << 20) + 15);
    big[(1 << 20) + 15] = '\0';
    big[0] = '\n';
    char *path = write_cfg("big.cfg", 0, NULL, big);
    gs_error err;
    ck_assert_ptr_null(load(path, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "big.cfg: cannot read experiment file: larger than the 1 MiB "
                                  "limit"),
                  "%s", err.msg);
    char *main = write_cfg("inc.cfg", 0, NULL, "@include \"big.cfg\"\n");
    ck_assert_ptr_null(load(main, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "inc.cfg:11: @include \"big.cfg\": larger than the 1 MiB"),
                  "%s", err.msg);
    free(main);
    /* neither waits for a writer nor reads without end */
    char *fifo = tu_path(dir, "fifo.cfg");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_ptr_null(load(fifo, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "fifo.cfg: cannot read experiment file: not a regular file"),
                  "%s", err.msg);
    ck_assert_ptr_null(load("/dev/zero", NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "/dev/zero: cannot read experiment file: not a regular file"),
                  "%s", err.msg);
    free(fifo);
    free(path);
    free(big);
}
END_TEST

START_TEST(absolute_include)
{
    char *inc = tu_path(dir, "optim.cfg");
    tu_write(inc, "optimizer = { type = \"sgd\"; lr = 0.25; };\n");
    char *sub = tu_path(dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *path = tu_path(sub, "main.cfg");
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < N_LINES; i++)
        if (i != 8)
            fprintf(f, "%s\n", base_lines[i]);
    fprintf(f, "@include \"%s\"\n", inc);
    fclose(f);
    gs_error err;
    gs_experiment *e = load(path, NULL, 0, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *text = resolved(e, 0);
    ck_assert_msg(strstr(text, "lr = 0.25;") != NULL, "%s", text);
    free(text);
    gs_experiment_free(e);
    /* checked as a relative one is: a directory is refused */
    char *bad = tu_path(dir, "bad.cfg");
    f = fopen(bad, "w");
    fprintf(f, "seed = 2;\n@include \"%s\"\n", sub);
    fclose(f);
    ck_assert_ptr_null(load(bad, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, ":2: @include") && strstr(err.msg, "is a directory"), "%s",
                  err.msg);
    /* in an included file libconfig would prefix it: refused with a reason */
    char *mid = tu_path(dir, "mid.cfg");
    f = fopen(mid, "w");
    fprintf(f, "@include \"%s\"\n", inc);
    fclose(f);
    tu_write(bad, "@include \"mid.cfg\"\n");
    ck_assert_ptr_null(load(bad, NULL, 0, &err));
    ck_assert_msg(strstr(err.msg, "mid.cfg:1: @include") &&
                      strstr(err.msg, "works only in the experiment file itself"),
                  "%s", err.msg);
    free(mid);
    free(bad);
    free(path);
    free(sub);
    free(inc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, valid_file_resolves_defaults);
    tcase_add_test(tc, unknown_key_with_suggestion);
    tcase_add_test(tc, unknown_plugin_with_suggestion);
    tcase_add_test(tc, wrong_type_and_range);
    tcase_add_test(tc, missing_required_key);
    tcase_add_test(tc, component_validate_hook);
    tcase_add_test(tc, unknown_top_level_key);
    tcase_add_test(tc, syntax_error_has_line);
    tcase_add_test(tc, string_choice_suggestion);
    tcase_add_test(tc, set_overrides_are_validated);
    tcase_add_test(tc, variants_merge_and_set);
    tcase_add_test(tc, variant_errors_point_into_the_variant);
    tcase_add_test(tc, model_defaults_are_inherited);
    tcase_add_test(tc, include_is_relative_to_the_file);
    tcase_add_test(tc, include_of_a_directory_is_an_error);
    tcase_add_test(tc, resolved_config_round_trips);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, model_defaults_match_by_type);
    tcase_add_test(tc, messages_say_what_to_do);
    tcase_add_test(tc, non_finite_numbers_are_refused);
    tcase_add_test(tc, resolved_config_round_trips_extremes);
    tcase_add_test(tc, one_override_is_one_key_value);
    tcase_add_test(tc, include_in_a_variant_set_is_refused);
    tcase_add_test(tc, names_are_one_path_component);
    tcase_add_test(tc, run_directory_paths_are_checked);
    tcase_add_test(tc, experiment_files_are_bounded);
    tcase_add_test(tc, absolute_include);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
