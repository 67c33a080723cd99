/*
 * data.augment's image kernel (core/kernels/augment.c): every output is a
 * zero-padded crop of the input at one offset, mirrored or not; the draws
 * depend on (seed, epoch, example) alone and cover every offset.  The
 * expected images are found here by trying every offset, not recomputed
 * the way the kernel does it.
 */
#include "config.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/augment.h"

enum { C = 3, H = 5, W = 7 };
static const gs_shape shape = {.layout = GS_LAYOUT_IMAGE, .ndim = 3, .dims = {C, H, W}};

/* Pixel values all distinct and nonzero, so a copied pixel names its source. */
static void fill(float *x)
{
    for (size_t i = 0; i < C * H * W; i++)
        x[i] = (float)(i + 1);
}

/* Whether out is in padded by pad, cropped at (oy, ox), then mirrored. */
static int is_crop(const float *in, const float *out, size_t pad, size_t oy, size_t ox,
                   int mirror)
{
    for (size_t c = 0; c < C; c++)
        for (size_t y = 0; y < H; y++)
            for (size_t x = 0; x < W; x++) {
                size_t xs = mirror ? W - 1 - x : x; /* column before the mirror */
                long sy = (long)(y + oy) - (long)pad, sx = (long)(xs + ox) - (long)pad;
                float want = sy < 0 || sy >= H || sx < 0 || sx >= W
                                 ? 0.0f
                                 : in[(c * H + (size_t)sy) * W + (size_t)sx];
                if (out[(c * H + y) * W + x] != want)
                    return 0;
            }
    return 1;
}

/* The (oy, ox, mirror) that explains out, as oy*(2pad+1)*2 + ox*2 + mirror;
   -1 if none does. */
static int explain(const float *in, const float *out, size_t pad, int flip)
{
    for (size_t oy = 0; oy <= 2 * pad; oy++)
        for (size_t ox = 0; ox <= 2 * pad; ox++)
            for (int m = 0; m <= flip; m++)
                if (is_crop(in, out, pad, oy, ox, m))
                    return (int)((oy * (2 * pad + 1) + ox) * 2) + m;
    return -1;
}

static void augment(float *x, size_t pad, int flip, uint64_t seed, uint64_t epoch, uint64_t ex)
{
    float scratch[C * H * W];
    fill(x);
    gs_augment_image(x, &shape, pad, flip, seed, epoch, ex, scratch);
}

START_TEST(crop_is_a_shifted_copy)
{
    enum { PAD = 2 };
    const size_t pad = PAD;
    float in[C * H * W], out[C * H * W];
    fill(in);
    int seen[(2 * PAD + 1) * (2 * PAD + 1) * 2] = {0};
    for (uint64_t ex = 0; ex < 2000; ex++) {
        augment(out, pad, 1, 42, 3, ex);
        int k = explain(in, out, pad, 1);
        ck_assert_msg(k >= 0, "example %llu: output is no padded crop of the input",
                      (unsigned long long)ex);
        seen[k]++;
    }
    /* 50 outcomes, 2000 draws: each should turn up about 40 times */
    for (size_t k = 0; k < sizeof seen / sizeof *seen; k++)
        ck_assert_msg(seen[k] > 10, "offset/mirror %zu drawn %d times in 2000", k, seen[k]);
}
END_TEST

START_TEST(flip_mirrors)
{
    float in[C * H * W], out[C * H * W];
    fill(in);
    int mirrored = 0;
    for (uint64_t ex = 0; ex < 400; ex++) {
        augment(out, 0, 1, 7, 0, ex);
        int same = is_crop(in, out, 0, 0, 0, 0), mirror = is_crop(in, out, 0, 0, 0, 1);
        ck_assert(same != mirror);
        /* the mirror of a row: out[c][y][x] = in[c][y][W-1-x] */
        if (mirror)
            ck_assert_float_eq(out[(1 * H + 2) * W + 0], in[(1 * H + 2) * W + W - 1]);
        mirrored += mirror;
    }
    ck_assert_msg(mirrored > 150 && mirrored < 250, "%d of 400 mirrored", mirrored);
}
END_TEST

START_TEST(off_leaves_the_image)
{
    float in[C * H * W], out[C * H * W];
    fill(in);
    augment(out, 0, 0, 1, 2, 3);
    ck_assert(memcmp(in, out, sizeof in) == 0);
}
END_TEST

/* The draw is a function of (seed, epoch, example): the same triple gives
   the same image whatever came before; changing any one changes it. */
START_TEST(draws_depend_on_seed_epoch_example)
{
    enum { N = 64 };
    static float a[N][C * H * W], b[N][C * H * W];
    for (int ex = 0; ex < N; ex++)
        augment(a[ex], 4, 1, 5, 1, (uint64_t)ex);
    for (int ex = N; ex-- > 0;) /* the other order */
        augment(b[ex], 4, 1, 5, 1, (uint64_t)ex);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    int diff_seed = 0, diff_epoch = 0, diff_example = 0;
    float c[C * H * W];
    for (int ex = 0; ex < N; ex++) {
        augment(c, 4, 1, 6, 1, (uint64_t)ex);
        diff_seed += memcmp(a[ex], c, sizeof c) != 0;
        augment(c, 4, 1, 5, 2, (uint64_t)ex);
        diff_epoch += memcmp(a[ex], c, sizeof c) != 0;
        diff_example += memcmp(a[ex], a[(ex + 1) % N], sizeof c) != 0;
    }
    /* 162 outcomes: a few coincide by chance */
    ck_assert_int_ge(diff_seed, N - 4);
    ck_assert_int_ge(diff_epoch, N - 4);
    ck_assert_int_ge(diff_example, N - 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("augment");
    TCase *t = tcase_create("image");
    tcase_add_test(t, crop_is_a_shifted_copy);
    tcase_add_test(t, flip_mirrors);
    tcase_add_test(t, off_leaves_the_image);
    tcase_add_test(t, draws_depend_on_seed_epoch_example);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
