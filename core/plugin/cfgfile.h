/* Reading a libconfig file without letting libconfig 1.5 exit on a bad @include. */
#ifndef GS_PLUGIN_CFGFILE_H
#define GS_PLUGIN_CFGFILE_H

#include <libconfig.h>
#include "gradscope/gradscope.h"

/* The largest experiment file or included file read (docs/CONFIG.md):
   libconfig's scanner takes time quadratic in a string's length. */
#define GS_CONFIG_MAX_BYTES ((size_t)1 << 20)
#define GS_CONFIG_MAX_TEXT "1 MiB"

/* config_init + config_read_file, refusing files that are not regular or
   are over GS_CONFIG_MAX_BYTES, and @include targets that would make
   libconfig 1.5 exit; absolute @include names work in the file itself.  On
   failure cfg is destroyed and err says FILE:LINE. */
int gs_config_read_file(config_t *cfg, const char *path, const char *include_dir,
                        gs_error *err);

/* Refuses an integer literal of libconfig text that libconfig 1.5 would
   silently change: past 32 bits without L (it keeps the low bits, so
   4294967297 reads as 1), past 64 bits with L (it saturates).  err says
   FILE:LINE, lines counted from first_line (0: FILE alone). */
int gs_config_check_ints(const char *text, size_t len, const char *file, int first_line,
                         gs_error *err);

#endif
