# Initializer plugins (issue 3): one component per module; init_he also
# registers "kaiming".

plugin_LTLIBRARIES += plugins/initializer/init_zeros.la
plugins_initializer_init_zeros_la_SOURCES = plugins/initializer/init_zeros.c
plugins_initializer_init_zeros_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_zeros_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_zeros_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_constant.la
plugins_initializer_init_constant_la_SOURCES = plugins/initializer/init_constant.c
plugins_initializer_init_constant_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_constant_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_constant_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_normal.la
plugins_initializer_init_normal_la_SOURCES = plugins/initializer/init_normal.c
plugins_initializer_init_normal_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_normal_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_normal_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_uniform.la
plugins_initializer_init_uniform_la_SOURCES = plugins/initializer/init_uniform.c
plugins_initializer_init_uniform_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_uniform_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_uniform_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_standard.la
plugins_initializer_init_standard_la_SOURCES = plugins/initializer/init_standard.c
plugins_initializer_init_standard_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_standard_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_standard_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_lecun.la
plugins_initializer_init_lecun_la_SOURCES = plugins/initializer/init_lecun.c
plugins_initializer_init_lecun_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_lecun_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_lecun_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_xavier.la
plugins_initializer_init_xavier_la_SOURCES = plugins/initializer/init_xavier.c
plugins_initializer_init_xavier_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_xavier_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_xavier_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_he.la
plugins_initializer_init_he_la_SOURCES = plugins/initializer/init_he.c
plugins_initializer_init_he_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_he_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_he_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/initializer/init_orthogonal.la
plugins_initializer_init_orthogonal_la_SOURCES = plugins/initializer/init_orthogonal.c
plugins_initializer_init_orthogonal_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_initializer_init_orthogonal_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_initializer_init_orthogonal_la_LIBADD = -lm
