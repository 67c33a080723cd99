/* The plugin loader against fixture modules: each way a plugin can be wrong
   is refused with a message naming the file and the reason. */
#include <errno.h>
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

/* What a 2.0 plugin sends every 2.x host: each struct exactly its 2.0 size,
   which for the optimizer table is less than this host's sizeof (the
   padding after `elementwise`).  It loads, and the host still reads every
   2.0 field. */
START_TEST(size_2_0_loads)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *path = tu_fixture("size20");
    ck_assert_msg(gs_registry_load_file(reg, path, &err) == 0, "%s", err.msg);
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_ptr_nonnull(ci);
    ck_assert_uint_eq(ci->component->size, GS_COMPONENT_SIZE_2_0);
    ck_assert_uint_eq(ci->plugin->size, GS_PLUGIN_DESC_SIZE_2_0);
    gs_check_result res;
    ck_assert_int_eq(gs_check_component(reg, ci, &res), 1);
    const gs_component_info *opt = gs_registry_find(reg, GS_KIND_OPTIMIZER, "fx_normalized");
    ck_assert_ptr_nonnull(opt);
    ck_assert_uint_lt(*(const size_t *)opt->component->ops, sizeof(gs_optimizer_ops));
    /* elementwise is read: the check cuts the tensor and catches the lie */
    ck_assert_int_eq(gs_check_component(reg, opt, &res), 0);
    ck_assert_msg(strstr(res.detail, "declares elementwise") != NULL, "%s", res.detail);
    free(path);
    gs_registry_free(reg);
}
END_TEST

/* Structs larger than this host's from a plugin of the host's own minor:
   the host reads what it knows and loads it. */
START_TEST(larger_structs_same_minor_load)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *path = tu_fixture("larger");
    ck_assert_msg(gs_registry_load_file(reg, path, &err) == 0, "%s", err.msg);
    const gs_component_info *ci = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_ptr_nonnull(ci);
    ck_assert_uint_gt(ci->component->size, sizeof(gs_component));
    ck_assert_uint_gt(ci->plugin->size, sizeof(gs_plugin_desc));
    gs_check_result res;
    ck_assert_int_eq(gs_check_component(reg, ci, &res), 1);
    free(path);
    gs_registry_free(reg);
}
END_TEST

START_TEST(larger_structs_newer_minor_refused) { expect_refused("largernewer", "upgrade gradscope"); }
END_TEST
START_TEST(undersized_component_refused) { expect_refused("undersized", "ABI 2.0 has"); }
END_TEST

/* The 2.0 sizes are frozen: appending a field must not move them, and a
   field inserted before the end would (these are the LP64 values). */
START_TEST(sizes_2_0_frozen)
{
#if UINTPTR_MAX == 0xffffffffffffffffu
    ck_assert_uint_eq(GS_PLUGIN_DESC_SIZE_2_0, 72);
    ck_assert_uint_eq(GS_COMPONENT_SIZE_2_0, 56);
    ck_assert_uint_eq(GS_ACTIVATION_OPS_SIZE_2_0, 80);
    ck_assert_uint_eq(GS_INITIALIZER_OPS_SIZE_2_0, 16);
    ck_assert_uint_eq(GS_OPTIMIZER_OPS_SIZE_2_0, 36);
    ck_assert_uint_eq(GS_LOSS_OPS_SIZE_2_0, 32);
    ck_assert_uint_eq(GS_LAYER_OPS_SIZE_2_0, 44);
    ck_assert_uint_eq(GS_DATASET_OPS_SIZE_2_0, 16);
    ck_assert_uint_eq(GS_SCHEDULE_OPS_SIZE_2_0, 16);
    ck_assert_uint_eq(GS_HOST_SIZE_2_0, 304);
#endif
    /* 2.0 itself: every size is its struct's, but for trailing padding */
    ck_assert_uint_le(sizeof(gs_loss_ops) - GS_LOSS_OPS_SIZE_2_0, 7);
    const gs_host *h = gs_host_table();
    ck_assert_uint_ge(h->size, GS_HOST_SIZE_2_0);
    ck_assert(GS_HOST_HAS(h, record_series));
    ck_assert_uint_eq(h->abi_major, 2);
}
END_TEST

/* Named on its own, a file without the entry symbol is a mistake worth an
   error; met in a directory scan it is a helper library (see below). */
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

/* DIR/NAME as a symbolic link to TARGET. */
static void link_to(const char *dir, const char *name, const char *target)
{
    char *path = tu_path(dir, name);
    ck_assert_msg(symlink(target, path) == 0, "symlink %s: %s", path, strerror(errno));
    free(path);
}

/* A directory holding links to fixtures, under one made by tu_tempdir. */
static char *fixture_dir(const char *top, const char *name, const char *link1,
                         const char *fixture1, const char *link2, const char *fixture2)
{
    char *dir = tu_path(top, name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *f = tu_fixture(fixture1);
    link_to(dir, link1, f);
    free(f);
    if (link2) {
        f = tu_fixture(fixture2);
        link_to(dir, link2, f);
        free(f);
    }
    return dir;
}

START_TEST(later_file_is_shadowed)
{
    gs_registry *reg = gs_registry_new();
    gs_error err;
    char *a = tu_fixture("valid"), *b = tu_fixture("twin");
    ck_assert_int_eq(gs_registry_load_file(reg, a, &err), 0);
    ck_assert_msg(gs_registry_load_file(reg, b, &err) == 0, "%s", err.msg);
    const gs_component_info *used = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_msg(strstr(used->file, "fx_valid.so") != NULL, "%s", used->file);
    ck_assert_uint_eq(gs_registry_count(reg), 1);
    ck_assert_uint_eq(gs_registry_shadowed_count(reg), 1);
    const gs_component_info *hidden = gs_registry_shadowed_at(reg, 0);
    ck_assert_msg(strstr(hidden->file, "fx_twin.so") != NULL, "%s", hidden->file);
    ck_assert_str_eq(hidden->component->name, "fx_double");
    ck_assert_ptr_null(gs_registry_shadowed_at(reg, 1));
    free(a);
    free(b);
    gs_registry_free(reg);
}
END_TEST

START_TEST(first_directory_wins)
{
    char *top = tu_tempdir();
    char *first = fixture_dir(top, "first", "double.so", "twin", NULL, NULL);
    char *second = fixture_dir(top, "second", "double.so", "valid", NULL, NULL);
    gs_registry *reg = gs_registry_new();
    gs_error err;
    ck_assert_msg(gs_registry_load_dir(reg, first, &err) == 0, "%s", err.msg);
    ck_assert_msg(gs_registry_load_dir(reg, second, &err) == 0, "%s", err.msg);
    const gs_component_info *used = gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double");
    ck_assert_msg(strstr(used->file, "fx_twin.so") != NULL, "links are followed: %s", used->file);
    ck_assert_uint_eq(gs_registry_shadowed_count(reg), 1);
    ck_assert_msg(strstr(gs_registry_shadowed_at(reg, 0)->file, "fx_valid.so") != NULL, "%s",
                  gs_registry_shadowed_at(reg, 0)->file);
    char searched[8192];
    snprintf(searched, sizeof searched, "%s:%s", first, second);
    ck_assert_str_eq(gs_registry_search_path(reg), searched);
    gs_registry_free(reg);
    tu_rmrf(top);
    free(first);
    free(second);
    free(top);
}
END_TEST

START_TEST(two_copies_in_one_directory_name_both)
{
    char *top = tu_tempdir();
    char *dir = fixture_dir(top, "plugins", "a.so", "valid", "b.so", "twin");
    gs_registry *reg = gs_registry_new();
    gs_error err;
    ck_assert_int_eq(gs_registry_load_dir(reg, dir, &err), -1);
    ck_assert_msg(strstr(err.msg, "fx_valid.so") && strstr(err.msg, "fx_twin.so"),
                  "both files must be named: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "activation 'fx_double'") != NULL, "%s", err.msg);
    gs_registry_free(reg);
    tu_rmrf(top);
    free(dir);
    free(top);
}
END_TEST

START_TEST(helper_library_passed_over)
{
    char *top = tu_tempdir();
    char *dir = fixture_dir(top, "plugins", "double.so", "valid", "libhelper.so", "noentry");
    gs_registry *reg = gs_registry_new();
    gs_error err;
    ck_assert_msg(gs_registry_load_dir(reg, dir, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(gs_registry_find(reg, GS_KIND_ACTIVATION, "fx_double"));
    ck_assert_uint_eq(gs_registry_skipped_count(reg), 1);
    ck_assert_msg(strstr(gs_registry_skipped_at(reg, 0), "fx_noentry.so") != NULL, "%s",
                  gs_registry_skipped_at(reg, 0));
    gs_registry_free(reg);
    tu_rmrf(top);
    free(dir);
    free(top);
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

/* Loading DIR fails naming CULPRIT, with GRADSCOPE_ALLOW_UNSAFE_PLUGINS
   unset, "0" or "", and succeeds with it "1". */
static void expect_unsafe(const char *dir, const char *culprit)
{
    static const char *const refusing[] = {NULL, "0", ""};
    gs_error err;
    for (size_t i = 0; i < sizeof refusing / sizeof refusing[0]; i++) {
        if (refusing[i])
            setenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS", refusing[i], 1);
        else
            unsetenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS");
        gs_registry *reg = gs_registry_new();
        ck_assert_int_eq(gs_registry_load_dir(reg, dir, &err), -1);
        ck_assert_msg(strstr(err.msg, "writable by other users") && strstr(err.msg, culprit),
                      "'%s' not refused: %s", culprit, err.msg);
        ck_assert_uint_eq(gs_registry_count(reg), 0);
        gs_registry_free(reg);
    }
    setenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS", "1", 1);
    gs_registry *reg = gs_registry_new();
    ck_assert_msg(gs_registry_load_dir(reg, dir, &err) == 0, "%s", err.msg);
    unsetenv("GRADSCOPE_ALLOW_UNSAFE_PLUGINS");
    gs_registry_free(reg);
}

START_TEST(world_writable_directory_refused)
{
    char *top = tu_tempdir();
    char *dir = fixture_dir(top, "plugins", "double.so", "valid", NULL, NULL);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    expect_unsafe(dir, dir);
    tu_rmrf(top);
    free(dir);
    free(top);
}
END_TEST

START_TEST(world_writable_parent_refused)
{
    char *top = tu_tempdir();
    char *parent = tu_path(top, "shared");
    ck_assert_int_eq(mkdir(parent, 0755), 0);
    char *dir = fixture_dir(parent, "plugins", "double.so", "valid", NULL, NULL);
    ck_assert_int_eq(chmod(parent, 0777), 0);
    expect_unsafe(dir, parent);
    /* Sticky, it keeps others from replacing the directory we own. */
    ck_assert_int_eq(chmod(parent, 01777), 0);
    gs_registry *reg = gs_registry_new();
    gs_error err;
    ck_assert_msg(gs_registry_load_dir(reg, dir, &err) == 0, "%s", err.msg);
    gs_registry_free(reg);
    tu_rmrf(top);
    free(dir);
    free(parent);
    free(top);
}
END_TEST

START_TEST(world_writable_file_refused)
{
    char *top = tu_tempdir();
    char *dir = tu_path(top, "plugins");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *src = tu_fixture("valid"), *copy = tu_path(dir, "double.so");
    size_t len;
    char *bytes = tu_read(src, &len);
    ck_assert_ptr_nonnull(bytes);
    FILE *f = fopen(copy, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(chmod(copy, 0666), 0);
    expect_unsafe(dir, copy);
    tu_rmrf(top);
    free(bytes);
    free(src);
    free(copy);
    free(dir);
    free(top);
}
END_TEST

START_TEST(link_into_world_writable_directory_refused)
{
    /* The link itself sits in a safe directory; its target's does not. */
    char *top = tu_tempdir();
    char *open_dir = fixture_dir(top, "open", "double.so", "valid", NULL, NULL);
    ck_assert_int_eq(chmod(open_dir, 0777), 0);
    char *dir = tu_path(top, "plugins");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char *target = tu_path(open_dir, "double.so");
    link_to(dir, "double.so", target);
    expect_unsafe(dir, open_dir);
    /* A linked directory is judged by where it leads, too. */
    char *link = tu_path(top, "linked");
    ck_assert_int_eq(symlink(open_dir, link), 0);
    expect_unsafe(link, open_dir);
    tu_rmrf(top);
    free(link);
    free(target);
    free(dir);
    free(open_dir);
    free(top);
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
    tcase_add_test(tc, size_2_0_loads);
    tcase_add_test(tc, larger_structs_same_minor_load);
    tcase_add_test(tc, larger_structs_newer_minor_refused);
    tcase_add_test(tc, undersized_component_refused);
    tcase_add_test(tc, sizes_2_0_frozen);
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
    tcase_add_test(tc, later_file_is_shadowed);
    tcase_add_test(tc, first_directory_wins);
    tcase_add_test(tc, two_copies_in_one_directory_name_both);
    tcase_add_test(tc, helper_library_passed_over);
    tcase_add_test(tc, not_a_shared_object);
    tcase_add_test(tc, world_writable_directory_refused);
    tcase_add_test(tc, world_writable_parent_refused);
    tcase_add_test(tc, world_writable_file_refused);
    tcase_add_test(tc, link_into_world_writable_directory_refused);
    tcase_add_test(tc, search_path_order_and_env);
    tcase_add_test(tc, check_plugin_catches_wrong_backward);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
