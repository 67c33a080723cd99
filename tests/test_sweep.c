/* Sweeps: expansion of grid and zip, directory names, the overrides of each
   combination, validation of every combination before anything runs, and
   the index.csv and sweep.csv gathered from the run directories. */
#include "testutil.h"

static gs_registry *reg;
static char *tmp;

static void setup(void)
{
    reg = tu_registry();
    tmp = tu_tempdir();
}

static void teardown(void)
{
    tu_rmrf(tmp);
    free(tmp);
    gs_registry_free(reg);
}

#define BASE                                                                                  \
    "name = \"t\";\n"                                                                         \
    "data = { type = \"synthetic\"; samples = 120; test_samples = 0; features = 4; "         \
    "classes = 2; };\n"                                                                       \
    "model = { layers = ( { type = \"dense\"; units = 8; activation = \"tanh\"; },\n"        \
    "                     { type = \"dense\"; units = 2; } ); };\n"                           \
    "optimizer = { type = \"sgd\"; };\n"                                                   \
    "training = { epochs = 1; };\n"

/* Writes BASE + extra to tmp/NAME and loads its sweep into tmp/out. */
static gs_sweep *load(const char *name, const char *extra, gs_error *err, const char *const *sets,
                      size_t n_sets)
{
    char *path = tu_path(tmp, name);
    char *out = tu_path(tmp, "out");
    size_t n = strlen(BASE) + strlen(extra) + 1;
    char *text = malloc(n);
    snprintf(text, n, "%s%s", BASE, extra);
    tu_write(path, text);
    gs_sweep_options o = {.dir = out, .sets = sets, .n_sets = n_sets, .quiet = 1};
    gs_sweep *s = gs_sweep_load(reg, path, &o, err);
    free(text);
    free(out);
    free(path);
    return s;
}

START_TEST(grid_times_zip_in_order)
{
    gs_error err = {{0}};
    gs_sweep *s = load("g.cfg",
                       "sweep = {\n"
                       "  grid = ( { key = \"model.layers.[0].activation\"; values = [ \"relu\", "
                       "\"tanh\" ]; },\n"
                       "           { key = \"seed\"; values = [ 1, 2, 3 ]; } );\n"
                       "  zip = ( { key = \"optimizer.type\"; values = [ \"sgd\", \"adam\" ]; },\n"
                       "          { key = \"optimizer.lr\"; values = [ 0.01, 0.001 ]; } );\n"
                       "};\n",
                       &err, NULL, 0);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_uint_eq(gs_sweep_count(s), 2 * 3 * 2);
    ck_assert_uint_eq(gs_sweep_keys(s), 4);
    /* nested loops: the first grid key slowest, the zip fastest */
    const char *acts[] = {"relu", "tanh"}, *opts[] = {"sgd", "adam"}, *lrs[] = {"0.01", "0.001"};
    size_t i = 0;
    for (int a = 0; a < 2; a++)
        for (int seed = 1; seed <= 3; seed++)
            for (int z = 0; z < 2; z++, i++) {
                char want[256];
                snprintf(want, sizeof want, "activation=%s,seed=%d,optimizer=%s,lr=%s", acts[a],
                         seed, opts[z], lrs[z]);
                ck_assert_str_eq(gs_sweep_name(s, i), want);
                snprintf(want, sizeof want, "model.layers.[0].activation=\"%s\"", acts[a]);
                ck_assert_str_eq(gs_sweep_set(s, i, 0), want);
                snprintf(want, sizeof want, "seed=%d", seed);
                ck_assert_str_eq(gs_sweep_set(s, i, 1), want);
                snprintf(want, sizeof want, "optimizer.type=\"%s\"", opts[z]);
                ck_assert_str_eq(gs_sweep_set(s, i, 2), want);
                snprintf(want, sizeof want, "optimizer.lr=%s", lrs[z]);
                ck_assert_str_eq(gs_sweep_set(s, i, 3), want);
            }
    ck_assert_ptr_null(gs_sweep_name(s, i));
    char *out = tu_path(tmp, "out");
    ck_assert_str_eq(gs_sweep_dir(s), out);
    free(out);
    gs_sweep_free(s);
}
END_TEST

START_TEST(names_are_unique_and_safe)
{
    gs_error err = {{0}};
    /* two keys ending in "activation" are told apart by one more component;
       a group value reads as its type and parameters; '/' and ' ' are not
       kept in a directory name */
    gs_sweep *s = load("n.cfg",
                       "sweep = { grid = (\n"
                       "  { key = \"model.layers.[0].activation\"; values = [ \"relu\" ]; },\n"
                       "  { key = \"model.layers.[1].activation\"; values = [ \"tanh\" ]; },\n"
                       "  { key = \"model.layers.[0].init\"; values = ( \"he\", { type = \"he\"; "
                       "mode = \"fan_out\"; } ); },\n"
                       "  { key = \"output.dir\"; values = [ \"a/b c\" ]; } ); };\n",
                       &err, NULL, 0);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_uint_eq(gs_sweep_count(s), 2);
    ck_assert_str_eq(gs_sweep_name(s, 0), "0.activation=relu,1.activation=tanh,init=he,dir=a_b_c");
    ck_assert_str_eq(gs_sweep_name(s, 1),
                     "0.activation=relu,1.activation=tanh,init=he-mode-fan_out,dir=a_b_c");
    ck_assert_str_eq(gs_sweep_set(s, 1, 2),
                     "model.layers.[0].init={ type = \"he\"; mode = \"fan_out\"; }");
    gs_sweep_free(s);

    /* explicit names replace the values in directory names */
    s = load("m.cfg",
             "sweep = { grid = ( { key = \"optimizer.lr\"; values = [ 0.1, 1e-5 ];"
             " names = [ \"big\", \"tiny\" ]; } ); };\n",
             &err, NULL, 0);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_str_eq(gs_sweep_name(s, 0), "lr=big");
    ck_assert_str_eq(gs_sweep_name(s, 1), "lr=tiny");
    /* the value itself is kept exactly */
    const char *set = gs_sweep_set(s, 1, 0);
    ck_assert_msg(strtod(strchr(set, '=') + 1, NULL) == 1e-5, "%s", set);
    gs_sweep_free(s);
}
END_TEST

/* The error names the file, the line and what is wrong. */
static void expect_error(const char *extra, const char *const *sets, size_t n_sets,
                         const char *needle)
{
    gs_error err = {{0}};
    gs_sweep *s = load("bad.cfg", extra, &err, sets, n_sets);
    ck_assert_msg(s == NULL, "accepted: %s", extra);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
}

START_TEST(malformed_sweeps_are_refused)
{
    expect_error("sweep = { grid = ( { key = \"seed\"; values = [ 1, 2 ]; } );\n"
                 "  zip = ( { key = \"optimizer.lr\"; values = [ 0.1, 0.2 ]; },\n"
                 "          { key = \"optimizer.momentum\"; values = [ 0.9 ]; } ); };\n",
                 NULL, 0, "bad.cfg:9: sweep.zip: 'optimizer.momentum' has 1 values");
    expect_error("sweep = { grid = ( { key = \"seed\"; values = [ ]; } ); };\n", NULL, 0,
                 "bad.cfg:7: sweep.grid: key 'seed' needs values");
    expect_error("sweep = { grid = ( { key = \"seed\"; values = [ 1 ]; },\n"
                 "                   { key = \"seed\"; values = [ 2 ]; } ); };\n",
                 NULL, 0, "bad.cfg:8: sweep: key 'seed' is swept twice");
    expect_error("sweep = { grid = ( { key = \"seed\"; values = [ 1, 1 ]; } ); };\n", NULL, 0,
                 "values 1 and 2 of 'seed' are equal");
    expect_error("sweep = { grid = ( { key = \"seed\"; valeus = [ 1 ]; } ); };\n", NULL, 0,
                 "unknown key 'valeus'");
    expect_error("sweep = { gird = ( ); };\n", NULL, 0, "bad.cfg:7: sweep: unknown key 'gird'");
    expect_error("", NULL, 0, "no sweep section");
    const char *set[] = {"seed = 4"};
    expect_error("sweep = { grid = ( { key = \"seed\"; values = [ 1, 2 ]; } ); };\n", set, 1,
                 "'seed' is swept");
    /* index.csv is read a line at a time */
    expect_error("sweep = { grid = ( { key = \"name\";\n"
                 "  values = [ \"a\", \"b\\nc\" ]; } ); };\n",
                 NULL, 0, "bad.cfg:8: sweep.grid: value 2 of 'name' holds a line break");
}
END_TEST

START_TEST(every_combination_is_validated_first)
{
    /* the third combination has an unknown activation: the error names it
       and the sweep directory is never created */
    expect_error("sweep = { grid = ( { key = \"model.layers.[0].activation\";\n"
                 "  values = [ \"relu\", \"tanh\", \"sigmoud\" ]; } ); };\n",
                 NULL, 0, "sweep combination 2 (activation=sigmoud)");
    expect_error("sweep = { grid = ( { key = \"optimizer.lr\"; values = [ 0.1, -1.0 ]; } ); };\n",
                 NULL, 0, "sweep combination 1 (lr=-1.0)");
    char *out = tu_path(tmp, "out");
    ck_assert(!tu_exists(out));
    free(out);
}
END_TEST

START_TEST(the_experiment_loader_ignores_the_sweep)
{
    char *path = tu_path(tmp, "e.cfg");
    tu_write(path, BASE "sweep = { grid = ( { key = \"seed\"; values = [ 1 ]; } ); };\n");
    gs_error err = {{0}};
    gs_experiment *e = gs_experiment_load(reg, path, NULL, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    gs_experiment_free(e);
    tu_write(path, BASE "swep = { };\n");
    e = gs_experiment_load(reg, path, NULL, &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, "did you mean 'sweep'") != NULL, "%s", err.msg);
    free(path);
}
END_TEST

static const char *const SEEDS = "sweep = { grid = ( { key = \"seed\"; values = [ 1, 2 ]; } ); };\n";

START_TEST(runs_and_restarts)
{
    gs_error err = {{0}};
    gs_sweep *s = load("r.cfg", SEEDS, &err, NULL, 0);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_sweep_run(reg, s, &err), GS_EXIT_OK);
    char *csv_path = tu_path(gs_sweep_dir(s), "sweep.csv");
    char *csv = tu_read(csv_path, NULL);
    ck_assert_ptr_nonnull(csv);
    ck_assert_msg(strncmp(csv, "seed,dir,status,steps,train_loss,train_accuracy,val_loss,"
                               "val_accuracy,test_loss,test_accuracy,verdict,"
                               "grad_ratio_first_last,wall_time_s\n1,seed=1,completed,",
                          strlen("seed,dir,status,steps,train_loss,train_accuracy,val_loss,"
                                 "val_accuracy,test_loss,test_accuracy,verdict,"
                                 "grad_ratio_first_last,wall_time_s\n1,seed=1,completed,")) == 0,
                  "%s", csv);
    ck_assert_ptr_nonnull(strstr(csv, "\n2,seed=2,completed,"));
    free(csv);
    /* a swept seed is the index's seed column, not a column of its own */
    char *index_path = tu_path(gs_sweep_dir(s), "index.csv");
    char *index = tu_read(index_path, NULL);
    ck_assert_str_eq(index, "# gradscope format 3\n"
                            "path,variant,seed,status\n"
                            "seed=1,,1,completed\n"
                            "seed=2,,2,completed\n");
    free(index);
    free(index_path);
    /* the run trained what its combination says */
    char *cfg = tu_path(gs_sweep_dir(s), "seed=2/config.cfg");
    char *text = tu_read(cfg, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\nseed = 2;"));
    free(text);
    free(cfg);
    /* a finished run is skipped: its summary stays as it was */
    char *summary = tu_path(gs_sweep_dir(s), "seed=1/summary.json");
    tu_write(summary, "{\n  \"status\": \"completed\",\n  \"steps\": 99\n}\n");
    ck_assert_int_eq(gs_sweep_run_one(reg, s, 0, 1, &err), GS_EXIT_OK);
    text = tu_read(summary, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"steps\": 99"));
    free(text);
    free(summary);
    size_t left = 7;
    ck_assert_int_eq(gs_sweep_collect(s, &left, &err), GS_EXIT_OK);
    ck_assert_uint_eq(left, 0);
    csv = tu_read(csv_path, NULL);
    ck_assert_ptr_nonnull(strstr(csv, "\n1,seed=1,completed,99,nan,"));
    free(csv);
    free(csv_path);
    gs_sweep_free(s);

    /* a directory holding another configuration is refused before anything runs */
    const char *set[] = {"training.batch_size = 7"};
    s = load("r.cfg", SEEDS, &err, set, 1);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "holds a run of another configuration") != NULL, "%s",
                  err.msg);
}
END_TEST

/* One row per run: finished, started (config.cfg only) and not started;
   each variant's own seed; a value with a comma quoted. */
START_TEST(index_lists_every_run)
{
    gs_error err = {{0}};
    gs_sweep *s = load("i.cfg",
                       "variants = ( { name = \"a\"; }, { name = \"b\"; seed = 7; } );\n"
                       "sweep = { grid = (\n"
                       "  { key = \"model.layers.[0].activation\"; values = [ \"relu\", "
                       "\"tanh\" ]; },\n"
                       "  { key = \"name\"; values = [ \"x,y\" ]; } ); };\n",
                       &err, NULL, 0);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(gs_sweep_run_one(reg, s, 0, 1, &err), GS_EXIT_OK);
    char *started = tu_path(gs_sweep_dir(s), "activation=tanh,name=x_y");
    mkdir(started, 0777);
    char *a = tu_path(started, "a");
    mkdir(a, 0777);
    char *cfg = tu_path(a, "config.cfg");
    tu_write(cfg, "# started\n");
    size_t left = 0;
    ck_assert_int_eq(gs_sweep_collect(s, &left, &err), GS_EXIT_OK);
    ck_assert_uint_eq(left, 2);
    char *index_path = tu_path(gs_sweep_dir(s), "index.csv");
    char *index = tu_read(index_path, NULL);
    ck_assert_str_eq(index, "# gradscope format 3\n"
                            "path,variant,seed,status,model.layers.[0].activation,name\n"
                            "\"activation=relu,name=x_y/a\",a,1,completed,relu,\"x,y\"\n"
                            "\"activation=relu,name=x_y/b\",b,7,completed,relu,\"x,y\"\n"
                            "\"activation=tanh,name=x_y/a\",a,1,unfinished,tanh,\"x,y\"\n"
                            "\"activation=tanh,name=x_y/b\",b,7,pending,tanh,\"x,y\"\n");
    free(index);
    /* sweep.csv keeps its statuses: "missing" for a run never started */
    char *csv_path = tu_path(gs_sweep_dir(s), "sweep.csv");
    char *csv = tu_read(csv_path, NULL);
    ck_assert_ptr_nonnull(strstr(csv, "\ntanh,\"x,y\",b,\"activation=tanh,name=x_y/b\",missing,"));
    free(csv);

    /* a damaged summary is reported as such: by collect (which still
       writes both tables) and by a restart, which leaves it alone */
    char *summary = tu_path(gs_sweep_dir(s), "activation=relu,name=x_y/b/summary.json");
    tu_write(summary, "{\n  \"status\": \"completed\",\n  \"steps\": \n");
    ck_assert_int_eq(gs_sweep_collect(s, &left, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "activation=relu,name=x_y/b/summary.json: damaged") != NULL,
                  "%s", err.msg);
    ck_assert_uint_eq(left, 3);
    index = tu_read(index_path, NULL);
    ck_assert_ptr_nonnull(strstr(index, "\n\"activation=relu,name=x_y/b\",b,7,damaged,"));
    free(index);
    csv = tu_read(csv_path, NULL);
    ck_assert_ptr_nonnull(strstr(csv, "\"activation=relu,name=x_y/b\",damaged,nan,"));
    free(csv);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(gs_sweep_run_one(reg, s, 0, 1, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "summary.json: damaged") != NULL &&
                      strstr(err.msg, "remove it to resume the run") != NULL,
                  "%s", err.msg);
    char *text = tu_read(summary, NULL);
    ck_assert_str_eq(text, "{\n  \"status\": \"completed\",\n  \"steps\": \n");
    free(text);
    free(summary);
    free(csv_path);
    free(index_path);
    free(cfg);
    free(a);
    free(started);
    gs_sweep_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, grid_times_zip_in_order);
    tcase_add_test(tc, names_are_unique_and_safe);
    tcase_add_test(tc, malformed_sweeps_are_refused);
    tcase_add_test(tc, every_combination_is_validated_first);
    tcase_add_test(tc, the_experiment_loader_ignores_the_sweep);
    tcase_add_test(tc, runs_and_restarts);
    tcase_add_test(tc, index_lists_every_run);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
