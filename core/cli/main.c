/* gradscope: the command-line front end of libgradscope. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gradscope/gradscope.h"
#include "cli.h"
#include "sweep_mpi.h"

typedef struct cli {
    const char **plugin_dirs;
    size_t n_plugin_dirs;
    const char **sets;
    size_t n_sets;
    const char **variants;
    size_t n_variants;
    const char *out_dir;
    int threads;
    long long seed;
    int quiet;
    int print_config;
    int fail_on_diverge;
    int force;
} cli;

static void cli_free(cli *c)
{
    free(c->plugin_dirs);
    free(c->sets);
    free(c->variants);
}

static void usage_main(FILE *f)
{
    fprintf(f,
            "Usage: gradscope COMMAND [OPTIONS]\n"
            "\n"
            "Train deep networks and record the gradient flow through every layer.\n"
            "\n"
            "Commands:\n"
            "  run CONFIG        train an experiment (every variant) into a run directory\n"
            "  validate CONFIG   check an experiment file without running it\n"
            "  plugins           list the installed components and their parameters\n"
            "  resume RUNDIR     continue a stopped run from its last checkpoint\n"
            "  check-plugin FILE.so|NAME  verify a plugin's gradients and definitions\n"
            "  new-plugin KIND NAME [DIR]  write a skeleton plugin and its Makefile\n"
            "  report RUNDIR...  draw runs into report.html and gradflow.svg\n"
            "  sweep CONFIG      train every combination of the file's sweep section\n"
            "\n"
            "Options for every command:\n"
            "  --plugin-path DIR   search DIR for plugins first (repeatable)\n"
            "  -h, --help          show help for a command\n"
            "  --version           print the version and plugin ABI\n"
            "\n"
            "Exit status: 0 success, 1 runtime failure, 2 usage or input error, 3 a run\n"
            "diverged (run and resume with --fail-on-diverge), 128 + N stopped by signal N.\n");
}

static void usage_run(FILE *f)
{
    fprintf(f,
            "Usage: gradscope run CONFIG [--out DIR] [--set KEY=VALUE]... [--variant NAME]...\n"
            "                    [--threads N] [--seed N] [--plugin-path DIR] [--quiet]\n"
            "                    [--fail-on-diverge] [--force]\n"
            "\n"
            "Trains every variant of the experiment in CONFIG, or only those that --variant\n"
            "names.  Each variant gets its own subdirectory of the run directory with\n"
            "config.cfg, metrics.csv, gradients.csv, layers.csv, paths.csv, epochs.csv and\n"
            "summary.json.\n"
            "\n"
            "  --out DIR          run directory (default: <output.dir>/<name>-<timestamp>)\n"
            "  --set KEY=VALUE    override a setting, e.g. optimizer.lr=0.1 or\n"
            "                     model.layers.[0].units=64 (validated like the file)\n"
            "  --variant NAME     train only this variant (repeatable)\n"
            "  --threads N        OpenMP threads (results do not depend on it)\n"
            "  --seed N           the one seed behind every random choice\n"
            "  --quiet            print nothing but errors\n"
            "  --fail-on-diverge  exit with status 3 when any variant diverged\n"
            "  --force            start over in a run directory that holds a run, finished\n"
            "                     or not (without it: refused; `gradscope resume DIR`\n"
            "                     continues an unfinished one)\n"
            "\n"
            "A run directory is locked (DIR/.lock) while a process writes it: a second\n"
            "run or resume of it exits with status 2, naming the holder's host and PID.\n"
            "\n"
            "Off a terminal, progress is a plain line every 5 seconds\n"
            "(GRADSCOPE_PROGRESS_INTERVAL=SECONDS to change it).\n");
}

static void usage_validate(FILE *f)
{
    fprintf(f, "Usage: gradscope validate CONFIG [--set KEY=VALUE]... [--variant NAME]...\n"
               "                         [--print-config] [--plugin-path DIR]\n"
               "\n"
               "Checks the experiment (every variant, or those --variant names): loads each\n"
               "variant's data, builds its model and prints a summary of it (layers with\n"
               "their shapes and parameters, steps per epoch); nothing is trained or written.\n"
               "\n"
               "  --print-config     print each variant's resolved configuration as well\n");
}

static void usage_resume(FILE *f)
{
    fprintf(f, "Usage: gradscope resume RUNDIR [--threads N] [--quiet] [--plugin-path DIR]\n"
               "                       [--fail-on-diverge]\n"
               "\n"
               "Continues a run stopped by a signal, a crash or the end of a job from its last\n"
               "checkpoint (RUNDIR/checkpoint.bin), or every unfinished variant of a run\n"
               "directory.  The result is bit-identical to a run that was never stopped.\n"
               "Exit status 2 while another process holds RUNDIR (RUNDIR/.lock: its host and\n"
               "PID are named), or for a checkpoint that is damaged, out of range or of\n"
               "another number of MPI ranks.\n"
               "Exit status 130/143 if interrupted again; 3 with --fail-on-diverge when any\n"
               "run of RUNDIR diverged.\n");
}

static void usage_plugins(FILE *f)
{
    fprintf(f, "Usage: gradscope plugins [KIND] [--plugin-path DIR]\n"
               "\n"
               "Lists every component (kind, name, plugin version, file) with its parameters,\n"
               "types and defaults.  KIND limits the list: activation, initializer, optimizer,\n"
               "layer, loss, dataset, schedule.  The first directory of the search path that\n"
               "has a component wins; a 'shadowed:' line names each later copy, which is not\n"
               "used, and the file used instead.  A 'skipped:' line names each .so without\n"
               "the plugin entry symbol.\n");
}

static void usage_check(FILE *f)
{
    fprintf(f, "Usage: gradscope check-plugin FILE.so|NAME [--plugin-path DIR]\n"
               "\n"
               "Runs gradscope's checks on every component of a plugin file, or on every\n"
               "component called NAME: backward passes against central finite differences in\n"
               "double precision, float against double kernels, initializer statistics,\n"
               "optimizer and loss sanity.  Exits 1 if any check fails.\n");
}

/* The uninstalled program in a build tree uses that tree's plugins. */
static char *build_tree_plugin_path(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *dir = dirname(exe);
    char candidate[PATH_MAX + 64];
    for (int up = 0; up < 3; up++) {
        snprintf(candidate, sizeof candidate, "%s/plugin-path.build", dir);
        FILE *f = fopen(candidate, "r");
        if (f) {
            char line[8192];
            char *ok = fgets(line, sizeof line, f);
            fclose(f);
            if (!ok)
                return NULL;
            line[strcspn(line, "\n")] = '\0';
            return strdup(line);
        }
        dir = dirname(dir);
    }
    return NULL;
}

/* FIRST, a plugin file named on the command line (or NULL), comes before the
   whole search path: the development copy of an installed plugin is the one
   its `make check` means. */
static gs_registry *load_registry(const cli *c, const char *first, gs_error *err)
{
    gs_registry *reg = gs_registry_new();
    if (!getenv("GRADSCOPE_PLUGIN_PATH")) {
        char *path = build_tree_plugin_path();
        if (path) {
            setenv("GRADSCOPE_PLUGIN_PATH", path, 1);
            setenv("GRADSCOPE_NO_INSTALLED_PLUGINS", "1", 1);
            free(path);
        }
    }
    if ((first && gs_registry_load_file(reg, first, err) < 0) ||
        gs_registry_load_default(reg, c->plugin_dirs, c->n_plugin_dirs, err) < 0) {
        gs_registry_free(reg);
        return NULL;
    }
    return reg;
}

gs_registry *cli_registry(const char **plugin_dirs, size_t n, gs_error *err)
{
    cli c = {.plugin_dirs = plugin_dirs, .n_plugin_dirs = n};
    return load_registry(&c, NULL, err);
}

enum { OPT_PLUGIN_PATH = 1000, OPT_SET, OPT_OUT, OPT_THREADS, OPT_SEED, OPT_QUIET, OPT_VERSION,
       OPT_VARIANT, OPT_PRINT_CONFIG, OPT_FAIL_ON_DIVERGE, OPT_FORCE };

static const struct option long_opts[] = {
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
    {"set", required_argument, NULL, OPT_SET},
    {"out", required_argument, NULL, OPT_OUT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"variant", required_argument, NULL, OPT_VARIANT},
    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
    {"fail-on-diverge", no_argument, NULL, OPT_FAIL_ON_DIVERGE},
    {"force", no_argument, NULL, OPT_FORCE},
    {0, 0, 0, 0},
};

int cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void print_version(void)
{
    printf("gradscope %s (plugin ABI %d.%d)\n", gs_version(), GS_ABI_MAJOR, GS_ABI_MINOR);
    const char *isa[3];
    int n = gs_isa_list(isa, 3);
    printf("kernels: %s (this processor runs", gs_isa_name());
    for (int i = 0; i < n; i++)
        printf(" %s", isa[i]);
    printf("; GRADSCOPE_ISA chooses)\n");
}

/* Parses options after the command; positional arguments land in pos. */
static int parse_options(int argc, char **argv, cli *c, const char **pos, int max_pos,
                         int *n_pos, const char *allowed, void (*usage)(FILE *))
{
    optind = 1;
    opterr = 0;
    int o;
    *n_pos = 0;
    while ((o = getopt_long(argc, argv, "-h", long_opts, NULL)) != -1) {
        if (o == 1) {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "gradscope: unexpected argument '%s'\n", optarg);
                return GS_EXIT_INPUT;
            }
            pos[(*n_pos)++] = optarg;
            continue;
        }
        if (o == 'h') {
            usage(stdout);
            exit(0);
        }
        if (o == OPT_VERSION) {
            print_version();
            exit(0);
        }
        if (o == '?' || o == ':') {
            fprintf(stderr, "gradscope: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return GS_EXIT_INPUT;
        }
        char code = (char)('a' + (o - OPT_PLUGIN_PATH));
        if (!strchr(allowed, code)) {
            fprintf(stderr, "gradscope: option '%s' does not apply to this command\n",
                    argv[optind - 1]);
            usage(stderr);
            return GS_EXIT_INPUT;
        }
        long long v;
        switch (o) {
        case OPT_PLUGIN_PATH:
            c->plugin_dirs = realloc(c->plugin_dirs, (c->n_plugin_dirs + 1) * sizeof(char *));
            c->plugin_dirs[c->n_plugin_dirs++] = optarg;
            break;
        case OPT_SET:
            c->sets = realloc(c->sets, (c->n_sets + 1) * sizeof(char *));
            c->sets[c->n_sets++] = optarg;
            break;
        case OPT_OUT: c->out_dir = optarg; break;
        case OPT_THREADS:
            if (cli_parse_int(optarg, 1, 1024, &v) < 0) {
                fprintf(stderr, "gradscope: --threads must be an integer in [1, 1024]\n");
                return GS_EXIT_INPUT;
            }
            c->threads = (int)v;
            break;
        case OPT_SEED:
            if (cli_parse_int(optarg, 0, 0x7fffffffffffffffLL, &v) < 0) {
                fprintf(stderr, "gradscope: --seed must be a non-negative integer\n");
                return GS_EXIT_INPUT;
            }
            c->seed = v;
            break;
        case OPT_QUIET: c->quiet = 1; break;
        case OPT_VARIANT:
            c->variants = realloc(c->variants, (c->n_variants + 1) * sizeof(char *));
            c->variants[c->n_variants++] = optarg;
            break;
        case OPT_PRINT_CONFIG: c->print_config = 1; break;
        case OPT_FAIL_ON_DIVERGE: c->fail_on_diverge = 1; break;
        case OPT_FORCE: c->force = 1; break;
        }
    }
    return 0;
}

/* A run stopped by a signal reports it; the checkpoint lets it resume. */
static int report_status(int rc, const gs_error *err)
{
    if (rc >= 128 && !err->msg[0])
        fprintf(stderr, "gradscope: interrupted by signal %d; continue with gradscope resume\n",
                rc - 128);
    else if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradscope: %s\n", err->msg);
    return rc;
}

/* Option letters: a plugin-path, b set, c out, d threads, e seed, f quiet,
   h variant, i print-config, j fail-on-diverge, k force (g, --version,
   applies everywhere). */

static int cmd_run(int argc, char **argv, int validate_only)
{
    cli c = {.seed = -1};
    const char *pos[1];
    int n_pos, rc;
    gs_error err = {{0}};
    if ((rc = parse_options(argc, argv, &c, pos, 1, &n_pos, validate_only ? "abhi" : "abcdefhjk",
                            validate_only ? usage_validate : usage_run)))
        goto out;
    if (n_pos != 1) {
        (validate_only ? usage_validate : usage_run)(stderr);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    gs_registry *reg = load_registry(&c, NULL, &err);
    if (!reg) {
        fprintf(stderr, "gradscope: %s\n", err.msg);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    /* Started by mpirun: one run trained by every rank (data parallel). */
    gs_comm comm;
    int parallel = !validate_only && gs_cli_mpi_comm(&comm);
    if (!validate_only && (rc = cli_slurm_tasks_check(parallel ? comm.size : 1, "train the run"))) {
        gs_registry_free(reg);
        sweep_mpi_finalize();
        goto out;
    }
    gs_run_options opt = {.comm = parallel ? &comm : NULL,
                          .out_dir = c.out_dir,
                          .sets = c.sets,
                          .n_sets = c.n_sets,
                          .variants = c.variants,
                          .n_variants = c.n_variants,
                          .threads = c.threads,
                          .seed = c.seed,
                          .quiet = c.quiet,
                          .fail_on_diverge = c.fail_on_diverge,
                          .force = c.force,
                          .out = stdout};
    gs_experiment *e = gs_experiment_load(reg, pos[0], &opt, &err);
    if (!e) {
        fprintf(stderr, "gradscope: %s\n", err.msg);
        rc = GS_EXIT_INPUT;
    } else if (validate_only) {
        rc = GS_EXIT_OK;
        for (size_t i = 0; i < gs_experiment_variants(e) && rc == GS_EXIT_OK; i++) {
            const char *name = gs_experiment_variant_name(e, i);
            if (c.print_config) {
                if (name[0])
                    printf("# ---- variant %s ----\n", name);
                gs_experiment_write_config(e, i, stdout);
            }
            rc = gs_experiment_describe(e, i, stdout, &err);
        }
        if (rc == GS_EXIT_OK)
            fprintf(stderr, "%s: valid (%zu variant%s)\n", pos[0], gs_experiment_variants(e),
                    gs_experiment_variants(e) == 1 ? "" : "s");
        else
            fprintf(stderr, "gradscope: %s\n", err.msg);
    } else {
        rc = gs_experiment_run(e, &opt, &err);
        if (!parallel || comm.rank == 0)
            report_status(rc, &err);
    }
    gs_experiment_free(e);
    gs_registry_free(reg);
    sweep_mpi_finalize(); /* also after MPI_Init with one rank */
out:
    cli_free(&c);
    return rc;
}

static int cmd_resume(int argc, char **argv)
{
    cli c = {.seed = -1};
    const char *pos[1];
    int n_pos, rc;
    gs_error err = {{0}};
    if ((rc = parse_options(argc, argv, &c, pos, 1, &n_pos, "adfj", usage_resume)))
        goto out;
    if (n_pos != 1) {
        usage_resume(stderr);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    gs_registry *reg = load_registry(&c, NULL, &err);
    if (!reg) {
        fprintf(stderr, "gradscope: %s\n", err.msg);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    gs_comm comm;
    int parallel = gs_cli_mpi_comm(&comm);
    if ((rc = cli_slurm_tasks_check(parallel ? comm.size : 1, "resume the run"))) {
        gs_registry_free(reg);
        sweep_mpi_finalize();
        goto out;
    }
    gs_run_options opt = {.comm = parallel ? &comm : NULL,
                          .threads = c.threads,
                          .seed = -1,
                          .quiet = c.quiet,
                          .fail_on_diverge = c.fail_on_diverge,
                          .out = stdout};
    rc = gs_resume(reg, pos[0], &opt, &err);
    if (!parallel || comm.rank == 0)
        report_status(rc, &err);
    gs_registry_free(reg);
    sweep_mpi_finalize(); /* also after MPI_Init with one rank */
out:
    cli_free(&c);
    return rc;
}

static void print_default(const gs_param_spec *s)
{
    if (s->flags & GS_REQUIRED) {
        printf("required");
        return;
    }
    switch (s->type) {
    case GS_P_INT: printf("%lld", (long long)s->def.i); break;
    case GS_P_FLOAT: printf("%g", s->def.f); break;
    case GS_P_BOOL: printf("%s", s->def.b ? "true" : "false"); break;
    case GS_P_FLOATS:
        printf("[");
        for (size_t i = 0; i < s->def.list.n; i++)
            printf("%s%g", i ? ", " : "", s->def.list.v[i]);
        printf("]");
        break;
    default: printf("\"%s\"", s->def.s ? s->def.s : ""); break;
    }
}

static int cmd_plugins(int argc, char **argv)
{
    cli c = {.seed = -1};
    const char *pos[1];
    int n_pos, rc;
    gs_error err;
    if ((rc = parse_options(argc, argv, &c, pos, 1, &n_pos, "a", usage_plugins)))
        goto out;
    gs_kind only = 0;
    if (n_pos == 1 && gs_kind_from_name(pos[0], &only) < 0) {
        fprintf(stderr,
                "gradscope: unknown kind '%s' (valid: activation, initializer, optimizer, "
                "layer, loss, dataset, schedule)\n",
                pos[0]);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    gs_registry *reg = load_registry(&c, NULL, &err);
    if (!reg) {
        fprintf(stderr, "gradscope: %s\n", err.msg);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    for (int k = 1; k < GS_KIND_COUNT_; k++) {
        if (only && (int)only != k)
            continue;
        for (size_t i = 0; i < gs_registry_count(reg); i++) {
            const gs_component_info *ci = gs_registry_at(reg, i);
            const gs_component *comp = ci->component;
            if ((int)comp->kind != k)
                continue;
            printf("%-11s %-22s %-6s %s\n", gs_kind_name(comp->kind), comp->name,
                   ci->plugin->version, ci->file);
            if (comp->doc)
                printf("    %s\n", comp->doc);
            for (const gs_param_spec *s = comp->params; s && s->name; s++) {
                printf("    %-22s %-10s default ", s->name,
                       s->type == GS_P_COMPONENT ? gs_kind_name(s->component_kind)
                                                 : gs_param_type_name(s->type));
                print_default(s);
                if (s->choices)
                    printf("  (one of %s)", s->choices);
                else if (s->min <= s->max && (s->type == GS_P_INT || s->type == GS_P_FLOAT ||
                                              s->type == GS_P_FLOATS))
                    printf("  [%g, %g]", s->min, s->max);
                if (s->doc)
                    printf("  %s", s->doc);
                putchar('\n');
            }
        }
    }
    for (size_t i = 0; i < gs_registry_shadowed_count(reg); i++) {
        const gs_component_info *ci = gs_registry_shadowed_at(reg, i);
        const gs_component *comp = ci->component;
        if (only && comp->kind != only)
            continue;
        printf("shadowed: %s %s in %s (%s comes first on the search path)\n",
               gs_kind_name(comp->kind), comp->name, ci->file,
               gs_registry_find(reg, comp->kind, comp->name)->file);
    }
    for (size_t i = 0; !only && i < gs_registry_skipped_count(reg); i++)
        printf("skipped: %s (no gradscope_plugin_entry: a helper library, not a plugin)\n",
               gs_registry_skipped_at(reg, i));
    gs_registry_free(reg);
out:
    cli_free(&c);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    cli c = {.seed = -1};
    const char *pos[1];
    int n_pos, rc;
    gs_error err;
    if ((rc = parse_options(argc, argv, &c, pos, 1, &n_pos, "a", usage_check)))
        goto out;
    if (n_pos != 1) {
        usage_check(stderr);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    const char *target = pos[0];
    size_t len = strlen(target);
    int is_file = len > 3 && strcmp(target + len - 3, ".so") == 0;
    gs_registry *reg = load_registry(&c, is_file ? target : NULL, &err);
    if (!reg) {
        fprintf(stderr, "gradscope: %s\n", err.msg);
        rc = GS_EXIT_INPUT;
        goto out;
    }
    char real[PATH_MAX];
    const char *file = is_file ? realpath(target, real) : NULL;
    size_t checked = 0, failed = 0;
    for (size_t i = 0; i < gs_registry_count(reg); i++) {
        const gs_component_info *ci = gs_registry_at(reg, i);
        if (file ? strcmp(ci->file, file) != 0 : strcmp(ci->component->name, target) != 0)
            continue;
        gs_check_result res;
        gs_check_component(reg, ci, &res);
        checked++;
        failed += !res.ok;
        printf("%-4s %-34s max rel err %.2e  %s\n", res.ok ? "ok" : "FAIL", res.component,
               res.max_rel_err, res.detail);
    }
    gs_registry_free(reg);
    if (!checked) {
        fprintf(stderr, "gradscope: no component matches '%s'\n", target);
        rc = GS_EXIT_INPUT;
    } else {
        printf("%zu checked, %zu failed\n", checked, failed);
        rc = failed ? GS_EXIT_RUNTIME : GS_EXIT_OK;
    }
out:
    cli_free(&c);
    return rc;
}


int main(int argc, char **argv)
{
    /* a line at a time also into a pipe or a file: a log shows how far a
       run is while it trains, and its lines interleave with stderr's */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage_main(stderr);
        return GS_EXIT_INPUT;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage_main(stdout);
        return 0;
    }
    gs_error isa_err;
    if (gs_isa_check(&isa_err) < 0) {
        fprintf(stderr, "gradscope: %s\n", isa_err.msg);
        return GS_EXIT_INPUT;
    }
    if (!strcmp(cmd, "--version")) {
        print_version();
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1, 0);
    if (!strcmp(cmd, "validate"))
        return cmd_run(argc - 1, argv + 1, 1);
    if (!strcmp(cmd, "plugins"))
        return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "resume"))
        return cmd_resume(argc - 1, argv + 1);
    if (!strcmp(cmd, "check-plugin"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "new-plugin"))
        return cmd_new_plugin(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep"))
        return cmd_sweep(argc - 1, argv + 1);
    fprintf(stderr, "gradscope: unknown command '%s' (valid: run, validate, resume, plugins, check-plugin, new-plugin, report, sweep)\n",
            cmd);
    return GS_EXIT_INPUT;
}
