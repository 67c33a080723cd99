/*
 * Fuzz target: experiment files.  The input is an experiment file; it goes
 * through libconfig, variants, the core's section schemas and every
 * component's schema (gs_experiment_load), and its sweep section through
 * gs_sweep_load, which expands and validates every combination.  What
 * loads must resolve to a configuration that loads again to the same text.
 */
#include "fuzz_common.h"

static gs_registry *reg;
static char *exp_path, *resolved_path, *sweep_dir;

static int init(void)
{
    reg = fuzz_registry();
    exp_path = fuzz_path("experiment.cfg");
    resolved_path = fuzz_path("resolved.cfg");
    sweep_dir = fuzz_path("sweep");
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    fuzz_write(exp_path, data, size);
    gs_error err;
    gs_sweep_options sopt = {.dir = sweep_dir, .quiet = 1};
    gs_sweep *s = gs_sweep_load(reg, exp_path, &sopt, &err);
    if (s)
        gs_sweep_free(s);
    else
        FUZZ_ASSERT(err.msg[0], "sweep load failed without a message");
    gs_experiment *e = gs_experiment_load(reg, exp_path, NULL, &err);
    if (!e) {
        FUZZ_ASSERT(err.msg[0], "load failed without a message");
        fuzz_note(err.msg);
        return;
    }
    fuzz_check_resolved(reg, e, resolved_path);
    gs_experiment_free(e);
}

FUZZ_DEFINE(config)
