/* The plugin loader against fixture modules: each way a plugin can be wrong
   is refused with a message naming the file and the reason. */
#include "testutil.h"

static void expect_refused(const char *fixture, const char *reason)
{
    gs_registry *reg = gs_registry_new();
    gs_error err = {{0}};
    char *path = tu_fixture(fixture);
    ck_assert_int_eq(gs_registry_load_file(reg, path, &err), -1);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "expected '%s' in: %s", reason, err.msg);
    ck_assert_ptr_null(gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double"));
    free(path);
    gs_registry_free(reg);
}

START_TEST(valid_plugin_loads)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *path = tu_fixture("valid");
    ck_assert_msg(gs_registry_load_file(reg, path, &err) == 0, "%s", err.msg);
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_ptr_nonnull(ci);
    ck_assert_str_eq(ci->plugin->name, "fixture");
    ck_assert_msg(strstr(ci->file, "fx_valid.so") != NULL, "%s", ci->file);
    /* Loading the same file twice is not a duplicate. */
    ck_assert_int_eq(gs_registry_load_file(reg, path, &err), 0);
    ck_assert_uint_eq(gs_registry_count(reg), 1);
    free(path);
    gs_registry_free(reg);
}
END_TEST

START_TEST(older_minor_still_loads)
{
    /* Built against ABI 1.0: no validate hook, a shorter component struct. */
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *path = tu_fixture("oldminor");
    ck_assert_msg(gs_registry_load_file(reg, path, &err) == 0, "%s", err.msg);
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_ptr_nonnull(ci);
    ck_assert_uint_eq(ci->plugin->abi_minor, 0);
    ck_assert_uint_eq(ci->component->size, GS_COMPONENT_SIZE_1_0);
    gs_ref *r = gs_ref_parse(reg, GS_KIND_ACTIVATION, "fx_double", "", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    gs_check_result res;
    ck_assert_int_eq(gs_check_ref(reg, r, &res), 1);
    gs_ref_free(r);
    free(path);
    gs_registry_free(reg);
}
END_TEST

START_TEST(no_entry_symbol) { expect_refused("noentry", "no symbol gradscope_plugin_entry"); }
END_TEST
START_TEST(bad_magic) { expect_refused("badmagic", "bad magic"); }
END_TEST
START_TEST(abi_major_mismatch) { expect_refused("abimajor", "rebuild the plugin"); }
END_TEST
START_TEST(newer_minor_refused) { expect_refused("newerminor", "upgrade gradscope"); }
END_TEST
START_TEST(null_component_name) { expect_refused("nullname", "invalid descriptor"); }
END_TEST
START_TEST(duplicate_parameter) { expect_refused("dupparam", "duplicate parameter name 'unused'"); }
END_TEST
START_TEST(init_failure) { expect_refused("initfails", "always refuses to initialize"); }
END_TEST
START_TEST(duplicate_in_one_plugin) { expect_refused("dupcomponent", "defined twice"); }
END_TEST
START_TEST(unknown_kind) { expect_refused("badkind", "unknown kind 99"); }
END_TEST

START_TEST(duplicate_across_files_names_both)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *a = tu_fixture("valid"), *b = tu_fixture("twin");
    ck_assert_int_eq(gs_registry_load_file(reg, a, &err), 0);
    ck_assert_int_eq(gs_registry_load_file(reg, b, &err), -1);
    ck_assert_msg(strstr(err.msg, "fx_valid.so") && strstr(err.msg, "fx_twin.so"),
                  "both files must be named: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "activation 'fx_double'") != NULL, "%s", err.msg);
    free(a);
    free(b);
    gs_registry_free(reg);
}
END_TEST

START_TEST(not_a_shared_object)
{
    char *dir = tu_tempdir();
    char *path = tu_path(dir, "junk.so");
    tu_write(path, "this is not an ELF file\n");
    gs_registry *reg = gs_registry_new();
    gs_error err;
    ck_assert_int_eq(gs_registry_load_file(reg, path, &err), -1);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "cannot load plugin"), "%s", err.msg);
    /* A directory scan stops at the same file, naming it. */
    ck_assert_int_eq(gs_registry_load_dir(reg, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, "junk.so") != NULL, "%s", err.msg);
    gs_registry_free(reg);
    tu_rmrf(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(world_writable_directory_refused)
{
    char *dir = tu_tempdir();
    ck_assert_int_eq(chmod(dir, 0777), 0);
    gs_registry *reg = gs_registry_new();
    gs_error err;
    unsetenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS");
    ck_assert_int_eq(gs_registry_load_dir(reg, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, "writable by other users") != NULL, "%s", err.msg);
    setenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS", "1", 1);
    ck_assert_int_eq(gs_registry_load_dir(reg, dir, &err), 0);
    unsetenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS");
    gs_registry_free(reg);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(search_path_order_and_env)
{
    /* The build tree's plugins come through GRADSCOPE_PLUGIN_PATH. */
    gs_registry *reg = tu_registry();
    const char *kinds[][2] = {{"activation", "relu"},  {"initializer", "he"},
                              {"optimizer", "sgd"},    {"layer", "dense"},
                              {"loss", "mse"},         {"dataset", "synthetic"}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        gs_kind k;
        ck_assert_int_eq(gs_kind_from_name(kinds[i][0], &k), 0);
        ck_assert_msg(gs_registry_find(reg, k, kinds[i][1]) != NULL, "%s %s missing",
                      kinds[i][0], kinds[i][1]);
    }
    ck_assert_str_eq(gs_registry_suggest(reg, GS_KIND_ACTIVATION, "sigmoud"), "sigmoid");
    ck_assert_ptr_null(gs_registry_suggest(reg, GS_KIND_ACTIVATION, "completely-different"));
    gs_registry_free(reg);
}
END_TEST

START_TEST(check_plugin_catches_wrong_backward)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *good = tu_fixture("valid"), *bad = tu_fixture("wrongbackward");
    ck_assert_int_eq(gs_registry_load_file(reg, good, &err), 0);
    ck_assert_int_eq(gs_registry_load_file(reg, bad, &err), 0);
    gs_check_result res;
    ck_assert_int_eq(gs_check_component(reg, gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double"), &res), 1);
    ck_assert_int_eq(gs_check_component(reg, gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_wrong"), &res), 0);
    ck_assert_msg(strstr(res.detail, "finite differences") != NULL, "%s", res.detail);
    ck_assert(res.max_rel_err > 0.1);
    free(good);
    free(bad);
    gs_registry_free(reg);
}
END_TEST

START_TEST(check_plugin_catches_false_elementwise)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *path = tu_fixture("falseelementwise");
    ck_assert_msg(gs_registry_load_file(reg, path, &err) == 0, "%s", err.msg);
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_OPTIMIZER, "fx_normalized");
    ck_assert_ptr_nonnull(ci);
    gs_check_result res;
    ck_assert_int_eq(gs_check_component(reg, ci, &res), 0);
    ck_assert_msg(strstr(res.detail, "declares elementwise") != NULL, "%s", res.detail);
    /* the in-tree optimizers keep their promise */
    gs_registry *all = tu_registry();
    ci = gs_registry_find(all, GS_KIND_OPTIMIZER, "adam");
    ck_assert_int_eq(gs_check_component(all, ci, &res), 1);
    ck_assert_msg(strstr(res.detail, "element-wise (ranges match)") != NULL, "%s", res.detail);
    gs_registry_free(all);
    free(path);
    gs_registry_free(reg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, valid_plugin_loads);
    tcase_add_test(tc, older_minor_still_loads);
    tcase_add_test(tc, no_entry_symbol);
    tcase_add_test(tc, bad_magic);
    tcase_add_test(tc, abi_major_mismatch);
    tcase_add_test(tc, newer_minor_refused);
    tcase_add_test(tc, check_plugin_catches_false_elementwise);
    tcase_add_test(tc, null_component_name);
    tcase_add_test(tc, duplicate_parameter);
    tcase_add_test(tc, init_failure);
    tcase_add_test(tc, duplicate_in_one_plugin);
    tcase_add_test(tc, unknown_kind);
    tcase_add_test(tc, duplicate_across_files_names_both);
    tcase_add_test(tc, not_a_shared_object);
    tcase_add_test(tc, world_writable_directory_refused);
    tcase_add_test(tc, search_path_order_and_env);
    tcase_add_test(tc, check_plugin_catches_wrong_backward);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
