/*
 * What the image blocks keep from forward to backward (issue 21, memory
 * within 1.3x of the budget): the bytes a model allocates when it is
 * finalized for a batch, against what its layers must keep.  A batch norm
 * keeps no input-sized array (backward recomputes xhat from its input), a
 * resnet block writes F(x) where the sum goes instead of keeping a copy,
 * and a dense block keeps one concatenation buffer instead of every
 * layer's input (quadratic in depth).  Counted with glibc's mallinfo2;
 * where an allocator other than glibc's serves malloc (AddressSanitizer)
 * it sees nothing and the tests are skipped.
 */
#include <malloc.h>
#include <stdio.h>
#include "reference.h"

static gs_registry *reg;

static void setup(void) { reg = tu_registry(); }
static void teardown(void) { gs_registry_free(reg); }

static size_t in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Bytes that finalizing n layers on `in` for `batch` doubles allocates
   (0: this allocator is not glibc's); the model in *out. */
static size_t finalize_bytes(const char *const *types, const char *const *params, size_t n,
                             gs_shape in, size_t batch, gs_test_model **out)
{
    gs_error err;
    gs_test_model *t = gs_test_model_new(reg, GS_F64, 1, &in);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(gs_test_model_add(t, types[i], params[i], &err) == 0, "%s { %s }: %s",
                      types[i], params[i], err.msg);
    size_t before = in_use();
    ck_assert_msg(gs_test_model_finalize(t, batch, &err) == 0, "%s", err.msg);
    size_t after = in_use();
    *out = t;
    return after > before ? after - before : 0;
}

/* The bound for `values` doubles that must be kept: parameters and their
   gradients included by the caller, plus the allocator's bookkeeping. */
static size_t bound(size_t values) { return values * 8 + values * 8 / 50 + 16384; }

/* conv -> batchnorm -> relu: the three outputs and the input, the two
   activation-gradient buffers, the parameters and gradients.  An xhat
   kept by the batch norm is one more output-sized array. */
START_TEST(batchnorm_keeps_no_copy_of_its_input)
{
    const char *types[] = {"conv2d", "batchnorm", "relu"};
    const char *params[] = {"channels = 8; kernel = 3; padding = 1; bias = false;", "", ""};
    size_t N = 16, plane = 16 * 16, out = 8 * plane;
    gs_test_model *t;
    size_t got = finalize_bytes(types, params, 3, tu_image(2, 16, 16), N, &t);
    if (got == 0) {
        gs_test_model_free(t);
        return;
    }
    size_t params_n = gs_test_param_count(t);
    size_t want = N * (2 * plane + 3 * out + 2 * out) + 2 * params_n + 4 * 8;
    ck_assert_msg(got <= bound(want), "finalize allocated %zu bytes, at most %zu expected", got,
                  bound(want));
    gs_test_model_free(t);
}
END_TEST

/* A post-activation basic block with identity shortcut: conv, norm, act,
   conv, norm in the branch (four inner outputs, the fifth is written into
   the sum), the sum, the output; the input; two gradient buffers. */
START_TEST(resnet_block_keeps_no_copy_of_its_branch)
{
    const char *types[] = {"resnet"};
    const char *params[] = {"units = 8; form = \"post\"; norm = \"batchnorm\";"};
    size_t N = 16, act = 8 * 8 * 8;
    gs_test_model *t;
    size_t got = finalize_bytes(types, params, 1, tu_image(8, 8, 8), N, &t);
    if (got == 0) {
        gs_test_model_free(t);
        return;
    }
    size_t want = N * act * (4 + 1 + 1 + 1 + 2) + 2 * gs_test_param_count(t) + 8 * 8;
    ck_assert_msg(got <= bound(want), "finalize allocated %zu bytes, at most %zu expected", got,
                  bound(want));
    gs_test_model_free(t);
}
END_TEST

/* A dense block of L layers on C channels with growth k: per layer the
   norm's and the activation's outputs (its input's width) and its k new
   channels; one concatenation as wide as the last layer's input; the
   block's input and output, two gradient buffers.  Every layer's own
   copy of its input would add sum (C + (i-1)k) - C, quadratic in L. */
START_TEST(densenet_block_keeps_one_concatenation)
{
    const char *types[] = {"densenet"};
    const char *params[] = {"layers = 8; growth = 4; norm = \"batchnorm\";"};
    size_t N = 8, C = 4, k = 4, L = 8, plane = 8 * 8, widths = 0;
    for (size_t i = 0; i < L; i++)
        widths += C + i * k;
    gs_test_model *t;
    size_t got = finalize_bytes(types, params, 1, tu_image(C, 8, 8), N, &t);
    if (got == 0) {
        gs_test_model_free(t);
        return;
    }
    size_t out = C + L * k;
    size_t channels = 2 * widths + L * k + (C + (L - 1) * k) + C + out + 2 * out;
    size_t want = N * plane * channels + 2 * gs_test_param_count(t) + 8 * L * 8;
    ck_assert_msg(got <= bound(want), "finalize allocated %zu bytes, at most %zu expected", got,
                  bound(want));
    gs_test_model_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("block_memory");
    TCase *tc = tu_tcase(s, "memory", setup, teardown, 0);
    tcase_add_test(tc, batchnorm_keeps_no_copy_of_its_input);
    tcase_add_test(tc, resnet_block_keeps_no_copy_of_its_branch);
    tcase_add_test(tc, densenet_block_keeps_one_concatenation);
    return tu_run(s);
}
