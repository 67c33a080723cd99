/* End to end: a run directory with every documented file and column,
   training that learns, reproducibility from the seed at any thread count,
   and the flagship experiment's vanishing-versus-healthy contrast. */
#include <math.h>
#include "testutil.h"

static const char *small_cfg =
    "name = \"small\";\n"
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 6; classes = 3; samples = 600; "
    "test_samples = 100; };\n"
    "model = { layers = ( { type = \"dense\"; units = 16; activation = \"tanh\"; repeat = 3; },\n"
    "                     { type = \"dense\"; units = 3; } ); };\n"
    "optimizer = { type = \"sgd\"; lr = 0.05; momentum = 0.9; };\n"
    "training = { epochs = 4; batch_size = 20; };\n"
    "monitor = { every = 5; };\n";

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

static int run_cfg(const char *cfg_text, const char *out, const char *const *sets, size_t n_sets,
                   int threads, gs_error *err)
{
    char *path = tu_path(dir, "exp.cfg");
    tu_write(path, cfg_text);
    gs_run_options opt = {.out_dir = out, .sets = sets, .n_sets = n_sets, .threads = threads,
                          .seed = -1, .quiet = 1};
    gs_experiment *e = gs_experiment_load(reg, path, &opt, err);
    free(path);
    if (!e)
        return GS_EXIT_INPUT;
    int rc = gs_experiment_run(e, &opt, err);
    gs_experiment_free(e);
    return rc;
}

static char *file_in(const char *run, const char *name)
{
    char *p = tu_path(run, name);
    char *text = tu_read(p, NULL);
    ck_assert_msg(text != NULL, "missing %s", p);
    free(p);
    return text;
}

static double json_number(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    ck_assert_msg(p != NULL, "no %s in %s", key, json);
    return strtod(p + strlen(pat), NULL);
}

START_TEST(run_directory_has_documented_files)
{
    char *out = tu_path(dir, "run");
    gs_error err;
    ck_assert_msg(run_cfg(small_cfg, out, NULL, 0, 1, &err) == 0, "%s", err.msg);
    const char *headers[][2] = {
        {"metrics.csv", "step,epoch,loss,accuracy,lr,grad_norm,val_loss,val_accuracy,test_loss,"
                        "test_accuracy\n"},
        {"gradients.csv", "step,layer,tensor,grad_norm,weight_norm,grad_max_abs,update_ratio\n"},
        {"layers.csv",
         "step,layer,type,input_grad_norm,act_mean,act_std,dead_fraction,saturated_fraction\n"},
        {"histograms.csv", "step,layer,tensor,log10_lo,log10_hi,count\n"},
        {"theory.csv", "first_layer,last_layer,activation,sigma_w2,sigma_b2,q_star,chi_predicted,"
                       "chi_measured,q_in,chi_path,stack,note,step,weight,rho,sigma_max\n"},
        {"epochs.csv", "epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,"
                       "test_accuracy,seconds\n"},
        {"paths.csv", "step,layer,key,value\n"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *text = file_in(out, headers[i][0]);
        ck_assert_msg(strncmp(text, headers[i][1], strlen(headers[i][1])) == 0, "%s header: %s",
                      headers[i][0], text);
        free(text);
    }
    /* 4 layers x (weight, bias) per monitored step; tensor names are local to the layer */
    char *grads = file_in(out, "gradients.csv");
    ck_assert_msg(strstr(grads, "\n0,0,weight,") && strstr(grads, "\n0,3,bias,"), "%s", grads);
    size_t rows = 0;
    for (const char *p = grads; *p; p++)
        rows += *p == '\n';
    /* 540 training examples / 20 = 27 steps per epoch, 108 steps, monitored every 5 + last */
    ck_assert_uint_eq(rows - 1, 8 * 23);
    free(grads);
    char *layers = file_in(out, "layers.csv");
    ck_assert_msg(strstr(layers, "\n0,0,dense,") && strstr(layers, "\n0,3,dense,"), "%s", layers);
    free(layers);
    char *summary = file_in(out, "summary.json");
    const char *keys[] = {"\"status\": \"completed\"", "\"steps\": 108", "\"train_loss\"",
                          "\"train_accuracy\"", "\"val_loss\"", "\"val_accuracy\"", "\"test_loss\"",
                          "\"test_accuracy\"",
                          "\"wall_time_s\"", "\"grad_ratio_first_last\"", "\"verdict\"",
                          "\"verdict_layer\"", "\"verdict_step\"", "\"verdict_t\": null",
                          "\"chi_predicted\"",
                          "\"chi_measured\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(summary, keys[i]) != NULL, "%s not in %s", keys[i], summary);
    free(summary);
    char *cfg = file_in(out, "config.cfg");
    ck_assert_msg(strstr(cfg, "momentum = 0.9;") != NULL, "%s", cfg);
    free(cfg);
    /* A second run into the same directory is refused instead of overwriting it. */
    ck_assert_int_ne(run_cfg(small_cfg, out, NULL, 0, 1, &err), 0);
    ck_assert_msg(strstr(err.msg, "already holds") != NULL, "%s", err.msg);
    free(out);
}
END_TEST

/* model.csv: a row per top-level layer in the indices of the logs; an
   activation used as a layer is one, and buffers are not parameters. */
START_TEST(model_table_describes_every_layer)
{
    const char *sets[] = {"model.layers=({ type = \"dense\"; units = 16; activation = \"tanh\"; "
                          "repeat = 2; }, { type = \"batchnorm\"; }, { type = \"relu\"; }, "
                          "{ type = \"dense\"; units = 3; })",
                          "training.epochs=1"};
    char *out = tu_path(dir, "run");
    gs_error err;
    ck_assert_msg(run_cfg(small_cfg, out, sets, 2, 1, &err) == 0, "%s", err.msg);
    char *model = file_in(out, "model.csv");
    ck_assert_str_eq(model, "# gradscope format 3\n"
                            "layer,name,type,kind,layout,in_shape,out_shape,params\n"
                            "0,model.layers.[0]#0,dense,layer,vector,6,16,112\n"
                            "1,model.layers.[0]#1,dense,layer,vector,16,16,272\n"
                            "2,model.layers.[1],batchnorm,layer,vector,16,16,32\n"
                            "3,model.layers.[2],relu,activation,vector,16,16,0\n"
                            "4,model.layers.[3],dense,layer,vector,16,3,51\n");
    free(model);
    char *layers = file_in(out, "layers.csv");
    ck_assert_msg(strstr(layers, "\n0,3,relu,") && strstr(layers, "\n0,4,dense,"), "%s", layers);
    free(layers);
    free(out);
}
END_TEST

/* index.csv beside the variants' directories: each one's path, variant,
   seed and final status. */
START_TEST(experiment_index_lists_the_variants)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "%s"
             "variants = ( { name = \"calm\"; },\n"
             "  { name = \"wild\"; seed = 9; optimizer = { lr = 10.0; };\n"
             "    model = { layers = ( { type = \"dense\"; units = 16; activation = \"identity\"; "
             "repeat = 3; }, { type = \"dense\"; units = 3; } ); }; } );\n",
             small_cfg);
    const char *sets[] = {"training.epochs=1", "monitor.every=1"};
    char *out = tu_path(dir, "exp");
    gs_error err;
    ck_assert_msg(run_cfg(cfg, out, sets, 2, 1, &err) == 0, "%s", err.msg);
    char *index = file_in(out, "index.csv");
    ck_assert_str_eq(index, "# gradscope format 3\n"
                            "path,variant,seed,status\n"
                            "calm,calm,3,completed\n"
                            "wild,wild,9,diverged\n");
    free(index);
    free(out);
}
END_TEST

START_TEST(training_lowers_the_loss)
{
    char *out = tu_path(dir, "run");
    gs_error err;
    ck_assert_msg(run_cfg(small_cfg, out, NULL, 0, 1, &err) == 0, "%s", err.msg);
    char *summary = file_in(out, "summary.json");
    /* chance level for 3 balanced classes is ln 3 = 1.0986 */
    double loss = json_number(summary, "train_loss");
    double acc = json_number(summary, "val_accuracy");
    ck_assert_msg(loss < 0.5 * log(3.0), "train loss %g did not fall well below ln 3", loss);
    ck_assert_msg(acc > 0.9, "validation accuracy %g on separable blobs", acc);
    free(summary);
    char *metrics = file_in(out, "metrics.csv");
    /* first logged loss (step 0) versus the last */
    const char *first = strchr(metrics, '\n') + 1;
    double l0 = strtod(strchr(strchr(first, ',') + 1, ',') + 1, NULL);
    const char *last = metrics + strlen(metrics) - 2;
    while (last > metrics && *last != '\n')
        last--;
    double l1 = strtod(strchr(strchr(last + 1, ',') + 1, ',') + 1, NULL);
    ck_assert_msg(l1 < l0, "loss %g -> %g", l0, l1);
    free(metrics);
    free(out);
}
END_TEST

static char *run_and_read(const char *name, int threads, const char *const *sets, size_t n,
                          const char *file)
{
    char *out = tu_path(dir, name);
    gs_error err;
    ck_assert_msg(run_cfg(small_cfg, out, sets, n, threads, &err) == 0, "%s", err.msg);
    char *text = file_in(out, file);
    free(out);
    return text;
}

START_TEST(same_seed_same_gradients_at_any_thread_count)
{
    char *a = run_and_read("a", 1, NULL, 0, "gradients.csv");
    char *b = run_and_read("b", 1, NULL, 0, "gradients.csv");
    ck_assert_msg(strcmp(a, b) == 0, "same seed, different gradients.csv");
    for (int threads = 2; threads <= 4; threads++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", threads);
        char *c = run_and_read(name, threads, NULL, 0, "gradients.csv");
        ck_assert_msg(strcmp(a, c) == 0, "%d threads changed gradients.csv", threads);
        free(c);
    }
    const char *other[] = {"seed=4"};
    char *d = run_and_read("d", 1, other, 1, "gradients.csv");
    ck_assert_msg(strcmp(a, d) != 0, "a different seed gave the same gradients");
    free(a);
    free(b);
    free(d);
}
END_TEST

START_TEST(resolved_config_reproduces_the_run)
{
    char *out = tu_path(dir, "first");
    gs_error err;
    ck_assert_msg(run_cfg(small_cfg, out, NULL, 0, 1, &err) == 0, "%s", err.msg);
    char *cfg = file_in(out, "config.cfg");
    char *again = tu_path(dir, "again");
    ck_assert_msg(run_cfg(cfg, again, NULL, 0, 1, &err) == 0, "%s", err.msg);
    char *g1 = file_in(out, "gradients.csv"), *g2 = file_in(again, "gradients.csv");
    ck_assert_msg(strcmp(g1, g2) == 0, "rerunning config.cfg changed the gradients");
    free(g1);
    free(g2);
    free(cfg);
    free(out);
    free(again);
}
END_TEST

START_TEST(bad_input_writes_nothing)
{
    char *out = tu_path(dir, "never");
    gs_error err;
    const char *sets[] = {"model.layers.[1].units=4"}; /* 3 classes */
    ck_assert_int_eq(run_cfg(small_cfg, out, sets, 1, 1, &err), GS_EXIT_INPUT);
    ck_assert_msg(strstr(err.msg, "3 classes") != NULL, "%s", err.msg);
    ck_assert_msg(!tu_exists(out), "a failed validation created %s", out);
    free(out);
}
END_TEST

START_TEST(divergence_is_reported)
{
    char *out = tu_path(dir, "boom");
    gs_error err;
    /* a linear network at a huge learning rate: weights grow until they overflow */
    const char *sets[] = {"optimizer.lr=10.0", "model.layers.[0].activation=identity",
                          "monitor.every=1"};
    ck_assert_msg(run_cfg(small_cfg, out, sets, 3, 1, &err) == 0, "%s", err.msg);
    char *summary = file_in(out, "summary.json");
    ck_assert_msg(strstr(summary, "\"status\": \"diverged\"") != NULL, "%s", summary);
    ck_assert_msg(strstr(summary, "non-finite") != NULL, "%s", summary);
    free(summary);
    free(out);
}
END_TEST

START_TEST(flagship_shows_vanishing_versus_healthy)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/configs/quickstart.cfg", tu_srcdir());
    char *out = tu_path(dir, "quickstart");
    gs_run_options opt = {.out_dir = out, .seed = -1, .quiet = 1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, path, &opt, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_uint_eq(gs_experiment_variants(e), 2);
    ck_assert_int_eq(gs_experiment_run(e, &opt, &err), 0);
    double ratio[2];
    for (size_t i = 0; i < 2; i++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", out, gs_experiment_variant_name(e, i));
        char *summary = file_in(sub, "summary.json");
        ck_assert_msg(strstr(summary, "\"completed\"") != NULL, "%s", summary);
        ratio[i] = json_number(summary, "grad_ratio_first_last");
        ck_assert_msg(strstr(summary, i == 0 ? "\"verdict\": \"vanishing\""
                                             : "\"verdict\": \"healthy\"") != NULL,
                      "%s", summary);
        free(summary);
    }
    ck_assert_str_eq(gs_experiment_variant_name(e, 0), "sigmoid-normal");
    ck_assert_msg(ratio[0] < 1e-3, "sigmoid ratio %g", ratio[0]);
    ck_assert_msg(ratio[1] > 0.1 && ratio[1] < 10, "relu/he ratio %g", ratio[1]);
    gs_experiment_free(e);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, run_directory_has_documented_files);
    tcase_add_test(tc, model_table_describes_every_layer);
    tcase_add_test(tc, experiment_index_lists_the_variants);
    tcase_add_test(tc, training_lowers_the_loss);
    tcase_add_test(tc, same_seed_same_gradients_at_any_thread_count);
    tcase_add_test(tc, resolved_config_reproduces_the_run);
    tcase_add_test(tc, bad_input_writes_nothing);
    tcase_add_test(tc, divergence_is_reported);
    tcase_add_test(tc, flagship_shows_vanishing_versus_healthy);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
