/* Reading a libconfig file without letting libconfig 1.5 exit on a bad @include. */
#ifndef GS_PLUGIN_CFGFILE_H
#define GS_PLUGIN_CFGFILE_H

#include <libconfig.h>
#include "gradscope/gradscope.h"

/* config_init + config_read_file, refusing @include targets that would make
   libconfig 1.5 exit; on failure cfg is destroyed and err says FILE:LINE. */
int gs_config_read_file(config_t *cfg, const char *path, const char *include_dir,
                        gs_error *err);

#endif
