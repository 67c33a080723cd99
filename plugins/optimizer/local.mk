# Optimizer plugins (issue 3), torch.optim semantics; docs/reference/optimizers.md.
# -fno-math-errno lets sqrtf vectorize: the arguments are never negative.

plugin_LTLIBRARIES += plugins/optimizer/opt_sgd.la
plugins_optimizer_opt_sgd_la_SOURCES = plugins/optimizer/opt_sgd.c
plugins_optimizer_opt_sgd_la_CFLAGS = $(PLUGIN_CFLAGS) -fno-math-errno
plugins_optimizer_opt_sgd_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_optimizer_opt_sgd_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/optimizer/opt_rmsprop.la
plugins_optimizer_opt_rmsprop_la_SOURCES = plugins/optimizer/opt_rmsprop.c
plugins_optimizer_opt_rmsprop_la_CFLAGS = $(PLUGIN_CFLAGS) -fno-math-errno
plugins_optimizer_opt_rmsprop_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_optimizer_opt_rmsprop_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/optimizer/opt_adam.la
plugins_optimizer_opt_adam_la_SOURCES = plugins/optimizer/opt_adam.c plugins/optimizer/opt_adam_impl.h
plugins_optimizer_opt_adam_la_CFLAGS = $(PLUGIN_CFLAGS) -fno-math-errno
plugins_optimizer_opt_adam_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_optimizer_opt_adam_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/optimizer/opt_adamw.la
plugins_optimizer_opt_adamw_la_SOURCES = plugins/optimizer/opt_adamw.c plugins/optimizer/opt_adam_impl.h
plugins_optimizer_opt_adamw_la_CFLAGS = $(PLUGIN_CFLAGS) -fno-math-errno
plugins_optimizer_opt_adamw_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_optimizer_opt_adamw_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/optimizer/opt_adagrad.la
plugins_optimizer_opt_adagrad_la_SOURCES = plugins/optimizer/opt_adagrad.c
plugins_optimizer_opt_adagrad_la_CFLAGS = $(PLUGIN_CFLAGS) -fno-math-errno
plugins_optimizer_opt_adagrad_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_optimizer_opt_adagrad_la_LIBADD = -lm
