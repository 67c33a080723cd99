/* The gradscope program's commands, one file each, and what they share. */
#ifndef GS_CLI_H
#define GS_CLI_H

#include <stddef.h>
#include "gradscope/gradscope.h"

int cmd_report(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_new_plugin(int argc, char **argv);

/* The plugins of --plugin-path (plugin_dirs), then GRADSCOPE_PLUGIN_PATH,
   then the installed directory; NULL with err set when one fails to load. */
gs_registry *cli_registry(const char **plugin_dirs, size_t n, gs_error *err);

/* A decimal integer in [lo, hi], the whole of s; -1 when it is not. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);

#endif
