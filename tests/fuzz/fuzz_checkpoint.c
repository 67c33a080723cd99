/*
 * Fuzz target: the checkpoint reader.  It needs the library's internals, so
 * it is built from the library's sources rather than against libgradscope.
 *
 * Input: a mode byte, then a checkpoint image.  Mode bit 0 rewrites the
 * image's trailing CRC-32 to match, so that mutations reach the sections
 * behind the checksum.  The image is parsed (gs_checkpoint_parse) and then
 * loaded in full (gs_checkpoint_load) into the state of a small fixed
 * model: 4 inputs, dense 3 tanh, dense 2, Adam-sized optimizer state, ten
 * training examples.  Whatever it accepts must be safe to train on: the
 * example order may only hold indices of the training set.
 *
 * GS_FUZZ_CHECKPOINT_SEED=FILE makes the target write a valid image of that
 * model (mode byte 1) to FILE and exit: the seed corpus.
 */
#include "fuzz_common.h"
#include <zlib.h>
#include "engine/checkpoint.h"
#include "rundir/format.h"

#define N_ORDER 10
#define CONFIG_HASH 0x0123456789abcdefull

static const char components[] =
    "component dataset synthetic 1.0\ncomponent layer dense 1.0\ncomponent layer dense 1.0\n";

static gs_model *model;
static gs_ref *layer_refs[2];
static float *opt_state;
static size_t opt_floats;
static char *ckpt_path;
static volatile double sink;

typedef struct state {
    gs_position pos;
    gs_rng shuffle;
    size_t order[N_ORDER];
    gs_monitor mon;
    gs_theory theory;
    double t0, epoch_t0;
    gs_ckpt ck;
} state;

static void state_init(state *s)
{
    memset(s, 0, sizeof *s);
    gs_rng_seed(&s->shuffle, 1, 2);
    for (size_t i = 0; i < N_ORDER; i++)
        s->order[i] = i;
    gs_monitor_init(&s->mon, fuzz_dir(), model, 0);
    s->ck = (gs_ckpt){.config_hash = CONFIG_HASH, .components = components, .model = model,
                      .opt_state = opt_state, .opt_floats = opt_floats,
                      .shuffle = &s->shuffle, .order = s->order, .n_order = N_ORDER,
                      .pos = &s->pos, .mon = &s->mon, .theory = &s->theory,
                      .t0 = &s->t0, .epoch_t0 = &s->epoch_t0,
                      /* 10 examples in batches of 4: 3 steps an epoch */
                      .total_epochs = 3, .steps_per_epoch = 3, .batch_size = 4, .ranks = 1};
}

/* A checkpoint of the model part-way through an epoch, with monitor history. */
static void write_seed(const char *out)
{
    state s;
    state_init(&s);
    s.pos = (gs_position){.step = 4, .epoch = 1, .batch = 4, .shuffled = 1,
                          .epoch_loss = 2.5, .epoch_correct = 3};
    for (size_t i = 0; i < N_ORDER; i++)
        s.order[i] = N_ORDER - 1 - i;
    for (size_t i = 0; i < opt_floats; i++)
        opt_state[i] = 0.125f * (float)i;
    gs_monitor *m = &s.mon;
    m->n_monitored = m->cap_monitored = 2;
    m->hist = calloc(2, sizeof *m->hist);
    m->hist[1] = (gs_step_class){.step = 3, .kind = 1, .layer = 0, .ratio = 1e-4};
    m->first_norms[0] = 0.5;
    m->global0 = 1.5;
    s.theory.valid = 1;
    s.theory.last = 1;
    snprintf(s.theory.activation, sizeof s.theory.activation, "tanh");
    gs_error err;
    FUZZ_ASSERT(gs_monitor_open_logs(&s.mon, NULL, &err) == 0, "%s", err.msg);
    FUZZ_ASSERT(gs_checkpoint_save(fuzz_dir(), &s.ck, &err) == 0, "%s", err.msg);
    gs_monitor_close(&s.mon, NULL);
    FILE *in = fopen(ckpt_path, "rb"), *f = fopen(out, "wb");
    FUZZ_ASSERT(in && f, "%s", out);
    fputc(1, f);
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(c, f);
    fclose(in);
    FUZZ_ASSERT(fclose(f) == 0, "%s", out);
    exit(0);
}

static void release(void)
{
    gs_model_free(model);
    for (size_t i = 0; i < 2; i++)
        gs_ref_free(layer_refs[i]);
    free(opt_state);
    free(ckpt_path);
}

static int init(void)
{
    gs_registry *reg = fuzz_registry();
    gs_error err;
    gs_shape in = {.ndim = 1, .dims = {4}};
    model = gs_model_new(reg, GS_F32, 5, &in);
    static const char *const layers[] = {"units = 3; activation = \"tanh\";", "units = 2;"};
    for (size_t i = 0; i < 2; i++) {
        /* Kept for the model's lifetime: the process's. */
        gs_ref *r = layer_refs[i] = gs_ref_parse(reg, GS_KIND_LAYER, "dense", layers[i], &err);
        FUZZ_ASSERT(r && gs_model_add_layer(model, r, &err) == 0, "%s", err.msg);
    }
    FUZZ_ASSERT(gs_model_finalize(model, 4, &err) == 0, "%s", err.msg);
    opt_floats = model->total * 2;
    opt_state = calloc(opt_floats, sizeof(float));
    ckpt_path = fuzz_path(GS_FILE_CHECKPOINT);
    atexit(release);
    /* the logs a checkpoint's lengths are checked against: their headers,
       which the seed's lengths count */
    state s;
    state_init(&s);
    FUZZ_ASSERT(gs_monitor_open_logs(&s.mon, NULL, &err) == 0, "%s", err.msg);
    gs_monitor_close(&s.mon, NULL);
    const char *seed = getenv("GS_FUZZ_CHECKPOINT_SEED");
    if (seed)
        write_seed(seed);
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    uint8_t mode = fuzz_byte(&data, &size);
    unsigned char *img = malloc(size ? size : 1);
    if (size)
        memcpy(img, data, size);
    if ((mode & 1) && size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, img, (uInt)(size - 4));
        memcpy(img + size - 4, &crc, 4);
    }
    gs_error err;
    if (gs_checkpoint_parse(img, size, &err) < 0)
        FUZZ_ASSERT(err.msg[0], "parse failed without a message");
    fuzz_write(ckpt_path, img, size);
    free(img);

    state s;
    state_init(&s);
    uint64_t offsets[LOG_COUNT];
    int rc = gs_checkpoint_load(fuzz_dir(), &s.ck, offsets, &err);
    if (rc == 0) {
        FUZZ_ASSERT(s.pos.batch <= N_ORDER, "batch %llu", (unsigned long long)s.pos.batch);
        for (size_t i = 0; i < N_ORDER; i++)
            FUZZ_ASSERT(s.order[i] < N_ORDER, "order[%zu] = %zu is no training example", i,
                        s.order[i]);
        gs_monitor *m = &s.mon;
        /* Every history entry it claims must be there (the sanitizers check),
           and name a verdict and a layer that exist. */
        double sum = m->global0;
        for (size_t i = 0; i < m->n_layers; i++)
            sum += m->first_norms[i] + m->last_norms[i];
        for (size_t i = 0; i < m->n_monitored; i++) {
            const gs_step_class *h = &m->hist[i];
            FUZZ_ASSERT(h->kind >= 0 && h->kind <= 2 && h->layer >= -1 &&
                            h->layer < (int32_t)m->n_layers,
                        "history entry %zu: kind %d layer %d", i, h->kind, h->layer);
            sum += h->ratio + (double)h->step;
        }
        sink = sum;
    } else {
        FUZZ_ASSERT(rc < 0 && err.msg[0], "load failed without a message (%d)", rc);
        fuzz_note(err.msg);
    }
    gs_monitor_close(&s.mon, NULL);
}

FUZZ_DEFINE(checkpoint)
