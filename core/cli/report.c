/* gradscope report: the command line of gs_report. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "gradscope/gradscope.h"
#include "cli.h"


static void usage_report(FILE *f)
{
    fprintf(f, "Usage: gradscope report RUNDIR [RUNDIR...] [--out DIR] [--color-scale auto|shared|run]\n"
               "                        [--quiet]\n"
               "\n"
               "Draws the runs into DIR/report.html (self-contained: inline SVG, opens offline,\n"
               "no JavaScript) and DIR/gradflow.svg (per-layer gradient norms, runs overlaid).\n"
               "A RUNDIR is a run directory or a directory of runs (an experiment's variants,\n"
               "a sweep: its index.csv's runs, with the seeds of each setting drawn as a\n"
               "median and a min-max band over steps).  docs/REPORT.md explains the figures.\n"
               "\n"
               "  --out DIR   where to write (default: the first RUNDIR)\n"
               "  --color-scale auto|shared|run\n"
               "              the heatmaps' colors: one scale for all runs, one per run, or\n"
               "              (auto, the default) shared unless a run would be left a single\n"
               "              color, as beside a run that explodes\n"
               "  --quiet     print nothing but errors\n");
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"color-scale", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *out = NULL;
    int quiet = 0, o;
    gs_color_scale scale = GS_COLOR_SCALE_AUTO;
    optind = 1;
    opterr = 0;
    /* GNU getopt permutes: options may follow the run directories */
    while ((o = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'c':
            if (!strcmp(optarg, "auto"))
                scale = GS_COLOR_SCALE_AUTO;
            else if (!strcmp(optarg, "shared"))
                scale = GS_COLOR_SCALE_SHARED;
            else if (!strcmp(optarg, "run"))
                scale = GS_COLOR_SCALE_RUN;
            else {
                fprintf(stderr, "gradscope: --color-scale: '%s' is not auto, shared or run\n",
                        optarg);
                return GS_EXIT_INPUT;
            }
            break;
        case 'h': usage_report(stdout); return GS_EXIT_OK;
        default:
            fprintf(stderr, "gradscope: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage_report(stderr);
            return GS_EXIT_INPUT;
        }
    }
    const char *const *dirs = (const char *const *)argv + optind;
    size_t n = (size_t)(argc - optind);
    if (!n) {
        usage_report(stderr);
        return GS_EXIT_INPUT;
    }
    gs_error err = {{0}};
    int rc = gs_report_scaled(dirs, n, out, scale, &err);
    if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradscope: %s\n", err.msg);
    else if (!quiet)
        printf("wrote %s/report.html and %s/gradflow.svg\n", out ? out : dirs[0],
               out ? out : dirs[0]);
    return rc;
}
