/*
 * Fuzz target: --set KEY=VALUE overrides.  Each line of the input is one
 * override, applied to every variant of a fixed valid experiment (the same
 * path as `gradscope run --set`).  What loads must resolve to a
 * configuration that loads again to the same text.
 */
#include "fuzz_common.h"

#define MAX_SETS 32

static const char base_config[] =
    "name = \"fz\";\n"
    "seed = 3;\n"
    "data = { type = \"synthetic\"; set = \"blobs\"; features = 4; classes = 3; samples = 64; "
    "test_samples = 16; };\n"
    "model = {\n"
    "  activation = \"tanh\";\n"
    "  layers = (\n"
    "    { type = \"dense\"; units = 8; repeat = 2; init = { type = \"normal\"; std = 0.5; }; },\n"
    "    { type = \"dense\"; units = 3; activation = \"identity\"; }\n"
    "  );\n"
    "};\n"
    "loss = \"softmax_cross_entropy\";\n"
    "optimizer = { type = \"sgd\"; lr = 0.1; momentum = 0.9; };\n"
    "schedule = { type = \"step\"; step_size = 5; gamma = 0.5; };\n"
    "training = { epochs = 2; batch_size = 16; validation = 0.25; };\n"
    "monitor = { every = 2; };\n"
    "checkpoint = { every = 10; };\n"
    "variants = (\n"
    "  { name = \"a\"; },\n"
    "  { name = \"b\"; set = ( \"optimizer.lr = 0.01\", \"model.layers.[0].units = 5\" ); }\n"
    ");\n";

static gs_registry *reg;
static char *exp_path, *resolved_path;

static int init(void)
{
    reg = fuzz_registry();
    exp_path = fuzz_path("experiment.cfg");
    resolved_path = fuzz_path("resolved.cfg");
    fuzz_write(exp_path, base_config, sizeof base_config - 1);
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, exp_path, NULL, &err);
    FUZZ_ASSERT(e, "the base experiment does not load: %s", err.msg);
    gs_experiment_free(e);
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *sets[MAX_SETS];
    size_t n = 0;
    for (char *line = text, *next; line && n < MAX_SETS; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        sets[n++] = line;
    }
    gs_run_options opt = {.sets = sets, .n_sets = n, .seed = -1};
    gs_error err;
    gs_experiment *e = gs_experiment_load(reg, exp_path, &opt, &err);
    if (e) {
        fuzz_check_resolved(reg, e, resolved_path);
        gs_experiment_free(e);
    } else {
        FUZZ_ASSERT(err.msg[0], "load failed without a message");
        fuzz_note(err.msg);
    }
    free(text);
}

FUZZ_DEFINE(set)
