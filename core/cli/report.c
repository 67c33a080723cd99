/* gradscope report: the command line of gs_report. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include "gradscope/gradscope.h"
#include "cli.h"


static void usage_report(FILE *f)
{
    fprintf(f, "Usage: gradscope report RUNDIR [RUNDIR...] [--out DIR] [--quiet]\n"
               "\n"
               "Draws the runs into DIR/report.html (self-contained: inline SVG, opens offline,\n"
               "no JavaScript) and DIR/gradflow.svg (per-layer gradient norms, runs overlaid).\n"
               "A RUNDIR is a run directory or a directory of variant runs (every variant is\n"
               "shown).  docs/REPORT.md explains the figures.\n"
               "\n"
               "  --out DIR   where to write (default: the first RUNDIR)\n"
               "  --quiet     print nothing but errors\n");
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    const char *out = NULL;
    int quiet = 0, o;
    optind = 1;
    opterr = 0;
    /* GNU getopt permutes: options may follow the run directories */
    while ((o = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
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
    int rc = gs_report(dirs, n, out, &err);
    if (rc != GS_EXIT_OK)
        fprintf(stderr, "gradscope: %s\n", err.msg);
    else if (!quiet)
        printf("wrote %s/report.html and %s/gradflow.svg\n", out ? out : dirs[0],
               out ? out : dirs[0]);
    return rc;
}
