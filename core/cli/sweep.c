/* gradscope sweep: every combination of an experiment's `sweep` section, on
   one machine (--jobs), as Slurm array tasks (--index, --collect) or under
   mpirun (sweep_mpi.c). */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gradscope/gradscope.h"
#include "cli.h"
#include "sweep_mpi.h"


static void usage_sweep(FILE *f)
{
    fprintf(f,
            "Usage: gradscope sweep CONFIG [--out DIR] [--jobs N] [--set KEY=VALUE]...\n"
            "                      [--threads N] [--quiet] [--plugin-path DIR]\n"
            "       gradscope sweep CONFIG --index I | --collect | --list [--out DIR]\n"
            "                      [--index-offset N]\n"
            "       mpirun -n K gradscope sweep CONFIG [--out DIR] [--threads N]\n"
            "\n"
            "Trains every combination of the values in CONFIG's sweep section, each into\n"
            "its own subdirectory of the sweep directory (named by its values), and writes\n"
            "DIR/sweep.csv: one row per run with the swept values, status, final metrics,\n"
            "verdict and gradient ratio, and DIR/index.csv: each run's path, variant, seed,\n"
            "status and swept values.  Every combination is validated first.  Started\n"
            "again, a sweep skips finished runs and resumes stopped ones.\n"
            "\n"
            "  --out DIR        sweep directory (default: <output.dir>/<name>-sweep)\n"
            "  --jobs N         runs at a time on this machine, the threads divided\n"
            "                   between them (results do not depend on it)\n"
            "  --index I        run combination I only (0-based; see --list); without\n"
            "                   --index, --jobs, --collect and --list: SLURM_ARRAY_TASK_ID\n"
            "                   (not under MPI, where the ranks share the whole sweep)\n"
            "  --index-offset N run combination N + I (I from --index or\n"
            "                   SLURM_ARRAY_TASK_ID): arrays of at most Slurm's\n"
            "                   MaxArraySize tasks cover a larger sweep\n"
            "  --collect        write sweep.csv and index.csv from the run directories as\n"
            "                   they are (exit 1 if some runs are not finished, 2 if a\n"
            "                   summary.json is damaged)\n"
            "  --list           print each combination's index, directory and settings\n"
            "  --set KEY=VALUE  override a setting in every combination\n"
            "  --threads N      threads in all (divided between --jobs; per MPI rank)\n"
            "  --quiet          print nothing but errors\n"
            "\n"
            "Under mpirun (or srun --mpi=pmix) rank 0 hands the combinations out to the\n"
            "other ranks as they become free and writes the tables.  Several Slurm tasks\n"
            "that are not one MPI job (srun -n K without --mpi=pmix) are refused: each\n"
            "would run the whole sweep.  docs/CLUSTERS.md has examples for Slurm and MPI.\n"
            "MPI: %s.\n",
            sweep_mpi_available() ? "built in" : "not built in (configure --with-mpi)");
}

enum { O_OUT = 1000, O_JOBS, O_INDEX, O_COLLECT, O_LIST, O_SET, O_THREADS, O_QUIET,
       O_PLUGIN_PATH, O_INDEX_OFFSET };

typedef struct sweep_cli {
    const char *config, *out;
    long long jobs, index, threads;
    long long offset; /* --index-offset; -1 without */
    int collect, list, quiet;
    int from_array; /* the index is SLURM_ARRAY_TASK_ID's */
    const char **sets, **plugin_dirs;
    size_t n_sets, n_plugin_dirs;
} sweep_cli;

static int parse(int argc, char **argv, sweep_cli *c)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, O_OUT},
        {"jobs", required_argument, NULL, O_JOBS},
        {"index", required_argument, NULL, O_INDEX},
        {"index-offset", required_argument, NULL, O_INDEX_OFFSET},
        {"collect", no_argument, NULL, O_COLLECT},
        {"list", no_argument, NULL, O_LIST},
        {"set", required_argument, NULL, O_SET},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, O_QUIET},
        {"plugin-path", required_argument, NULL, O_PLUGIN_PATH},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
        switch (o) {
        case 1:
            if (c->config) {
                fprintf(stderr, "gradscope: unexpected argument '%s'\n", optarg);
                return GS_EXIT_INPUT;
            }
            c->config = optarg;
            break;
        case 'h': usage_sweep(stdout); exit(0);
        case O_OUT: c->out = optarg; break;
        case O_JOBS:
            if (cli_parse_int(optarg, 1, 4096, &c->jobs) < 0) {
                fprintf(stderr, "gradscope: --jobs must be an integer in [1, 4096]\n");
                return GS_EXIT_INPUT;
            }
            break;
        case O_INDEX:
            if (cli_parse_int(optarg, 0, 1LL << 40, &c->index) < 0) {
                fprintf(stderr, "gradscope: --index must be a non-negative integer\n");
                return GS_EXIT_INPUT;
            }
            break;
        case O_INDEX_OFFSET:
            if (cli_parse_int(optarg, 0, 1LL << 40, &c->offset) < 0) {
                fprintf(stderr, "gradscope: --index-offset must be a non-negative integer\n");
                return GS_EXIT_INPUT;
            }
            break;
        case O_THREADS:
            if (cli_parse_int(optarg, 1, 1024, &c->threads) < 0) {
                fprintf(stderr, "gradscope: --threads must be an integer in [1, 1024]\n");
                return GS_EXIT_INPUT;
            }
            break;
        case O_COLLECT: c->collect = 1; break;
        case O_LIST: c->list = 1; break;
        case O_QUIET: c->quiet = 1; break;
        case O_SET:
            c->sets = realloc(c->sets, (c->n_sets + 1) * sizeof *c->sets);
            c->sets[c->n_sets++] = optarg;
            break;
        case O_PLUGIN_PATH:
            c->plugin_dirs = realloc(c->plugin_dirs, (c->n_plugin_dirs + 1) * sizeof(char *));
            c->plugin_dirs[c->n_plugin_dirs++] = optarg;
            break;
        default:
            fprintf(stderr, "gradscope: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage_sweep(stderr);
            return GS_EXIT_INPUT;
        }
    }
    if (!c->config) {
        usage_sweep(stderr);
        return GS_EXIT_INPUT;
    }
    if (c->collect + c->list + (c->index >= 0) > 1) {
        fprintf(stderr, "gradscope: --index, --collect and --list exclude each other\n");
        return GS_EXIT_INPUT;
    }
    if (c->jobs && (c->collect || c->list || c->index >= 0)) {
        fprintf(stderr, "gradscope: --jobs applies to a whole sweep only\n");
        return GS_EXIT_INPUT;
    }
    if (c->offset >= 0 && (c->jobs || c->collect || c->list)) {
        fprintf(stderr, "gradscope: --index-offset applies to one combination (--index or "
                        "SLURM_ARRAY_TASK_ID), not with --jobs, --collect or --list\n");
        return GS_EXIT_INPUT;
    }
    return 0;
}

/* Slurm array tasks name their combination in the environment; --index-offset
   shifts it (or --index) past MaxArraySize.  Only for a process on its own:
   under MPI the ranks share out the whole sweep. */
static int index_from_slurm(sweep_cli *c)
{
    const char *task = getenv("SLURM_ARRAY_TASK_ID");
    long long base = c->index;
    if (base < 0 && task && !c->collect && !c->list && !c->jobs &&
        cli_parse_int(task, 0, 1LL << 40, &base) < 0) {
        fprintf(stderr, "gradscope: SLURM_ARRAY_TASK_ID='%s' is not a combination index\n",
                task);
        return GS_EXIT_INPUT;
    }
    if (c->offset >= 0 && base < 0) {
        fprintf(stderr, "gradscope: --index-offset needs --index or a Slurm array task "
                        "(SLURM_ARRAY_TASK_ID)\n");
        return GS_EXIT_INPUT;
    }
    if (base >= 0) {
        c->from_array = c->index < 0;
        c->index = base + (c->offset > 0 ? c->offset : 0);
    }
    return 0;
}

/* Where the combination index came from, for messages. */
static void index_source(const sweep_cli *c, char *buf, size_t n)
{
    long long off = c->offset > 0 ? c->offset : 0;
    const char *what = c->from_array ? "SLURM_ARRAY_TASK_ID" : "--index";
    if (c->offset >= 0)
        snprintf(buf, n, "combination %lld (--index-offset %lld + %s %lld)", c->index, off,
                 what, c->index - off);
    else
        snprintf(buf, n, "%s %lld", what, c->index);
}

/* srun without an MPI plugin (MpiDefault=none), or with one the MPI library
   cannot use, starts SLURM_STEP_NUM_TASKS processes that each see no MPI
   world or a world of one: each would do the whole job into the same
   directory.  SLURM_NTASKS alone says nothing: a batch script of a
   --ntasks=K job has it, and one process started there is right. */
int cli_slurm_tasks_check(int mpi_size, const char *what)
{
    const char *v = getenv("SLURM_STEP_NUM_TASKS");
    long long tasks = 0;
    if (mpi_size > 1 || !v || cli_parse_int(v, 1, 1LL << 30, &tasks) < 0 || tasks <= 1)
        return 0;
    const char *id = getenv("SLURM_PROCID");
    if (!id || !strcmp(id, "0"))
        fprintf(stderr,
                "gradscope: srun started %lld tasks (SLURM_STEP_NUM_TASKS) that are not one "
                "MPI job: each would %s into the same directory.  %s, or start one task "
                "(srun -n 1); see docs/CLUSTERS.md\n",
                tasks, what,
                sweep_mpi_available()
                    ? "Start them as one MPI job with srun --mpi=pmix (srun --mpi=list shows "
                      "what this Slurm offers) or mpirun"
                    : "Build gradscope with MPI (configure --with-mpi) and start them with "
                      "srun --mpi=pmix");
    return GS_EXIT_INPUT;
}

static void list(const gs_sweep *s)
{
    for (size_t i = 0; i < gs_sweep_count(s); i++) {
        printf("%zu\t%s", i, gs_sweep_name(s, i));
        for (size_t k = 0; k < gs_sweep_keys(s); k++)
            printf("\t%s", gs_sweep_set(s, i, k));
        putchar('\n');
    }
    size_t n = gs_sweep_count(s);
    /* Slurm's default MaxArraySize (1001) allows indices 0 to 1000 */
    if (n <= 1001)
        fprintf(stderr, "%zu combinations into %s (Slurm: sbatch --array=0-%zu)\n", n,
                gs_sweep_dir(s), n - 1);
    else
        fprintf(stderr,
                "%zu combinations into %s (Slurm: %zu arrays of at most 1000 tasks, with "
                "--index-offset 0, 1000, ..., %zu, as examples/slurm/submit.sh submits them)\n",
                n, gs_sweep_dir(s), (n + 999) / 1000, (n - 1) / 1000 * 1000);
}

static int run(const sweep_cli *c, int mpi_size, int mpi_rank)
{
    gs_error err = {{0}};
    int leader = mpi_rank == 0;
    gs_registry *reg = cli_registry(c->plugin_dirs, c->n_plugin_dirs, &err);
    gs_sweep *s = NULL;
    if (reg) {
        gs_sweep_options so = {.dir = c->out,
                               .sets = c->sets,
                               .n_sets = c->n_sets,
                               .threads = (int)c->threads,
                               .jobs = (int)c->jobs,
                               .quiet = c->quiet,
                               .out = stdout};
        s = gs_sweep_load(reg, c->config, &so, &err);
    }
    /* every rank reads the same file; one message is enough */
    if (!sweep_mpi_agree(s != NULL)) {
        if (leader && err.msg[0])
            fprintf(stderr, "gradscope: %s\n", err.msg);
        gs_sweep_free(s);
        gs_registry_free(reg);
        return GS_EXIT_INPUT;
    }
    int rc;
    if (mpi_size > 1) {
        rc = sweep_mpi_run(reg, s, (int)c->threads, c->quiet, &err);
    } else if (c->list) {
        list(s);
        rc = GS_EXIT_OK;
    } else if (c->collect) {
        size_t left = 0;
        rc = gs_sweep_collect(s, &left, &err);
        if (rc == GS_EXIT_OK && left) {
            snprintf(err.msg, sizeof err.msg,
                     "%zu of the sweep's runs are not finished (see the status column)", left);
            rc = GS_EXIT_RUNTIME;
        }
    } else if (c->index >= 0) {
        if ((size_t)c->index >= gs_sweep_count(s)) {
            char src[160];
            index_source(c, src, sizeof src);
            snprintf(err.msg, sizeof err.msg,
                     "%s: the sweep has %zu combinations (0 to %zu; see --list)", src,
                     gs_sweep_count(s), gs_sweep_count(s) - 1);
            rc = GS_EXIT_INPUT;
        } else {
            rc = gs_sweep_run_one(reg, s, (size_t)c->index, (int)c->threads, &err);
        }
    } else {
        rc = gs_sweep_run(reg, s, &err);
    }
    if (leader) {
        if (rc >= 128)
            fprintf(stderr, "gradscope: interrupted by signal %d; run the same command again "
                            "to continue\n",
                    rc - 128);
        else if (rc != GS_EXIT_OK)
            fprintf(stderr, "gradscope: %s\n", err.msg);
    }
    gs_sweep_free(s);
    gs_registry_free(reg);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    sweep_cli c = {.index = -1, .offset = -1};
    int rc = parse(argc, argv, &c);
    if (rc == 0) {
        int size = 1, rank = 0;
        sweep_mpi_init(&size, &rank);
        if (size > 1 && (c.jobs || c.index >= 0 || c.offset >= 0 || c.collect || c.list)) {
            if (rank == 0)
                fprintf(stderr, "gradscope: under MPI a sweep takes no --jobs, --index, "
                                "--index-offset, --collect or --list (rank 0 schedules the "
                                "runs)\n");
            rc = GS_EXIT_INPUT;
        } else if (!(rc = cli_slurm_tasks_check(size, "run the whole sweep"))) {
            if (size == 1)
                rc = index_from_slurm(&c);
            if (rc == 0)
                rc = run(&c, size, rank);
        }
        /* the other ranks' statuses would only repeat rank 0's */
        if (rank != 0 && rc < 128)
            rc = GS_EXIT_OK;
        sweep_mpi_finalize();
    }
    free(c.sets);
    free(c.plugin_dirs);
    return rc;
}
