# Learning-rate schedules (issue 3); docs/reference/schedules.md.

plugin_LTLIBRARIES += plugins/schedule/sched_constant.la
plugins_schedule_sched_constant_la_SOURCES = plugins/schedule/sched_constant.c plugins/schedule/sched_warmup.h
plugins_schedule_sched_constant_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_schedule_sched_constant_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_schedule_sched_constant_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/schedule/sched_step.la
plugins_schedule_sched_step_la_SOURCES = plugins/schedule/sched_step.c plugins/schedule/sched_warmup.h
plugins_schedule_sched_step_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_schedule_sched_step_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_schedule_sched_step_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/schedule/sched_exponential.la
plugins_schedule_sched_exponential_la_SOURCES = plugins/schedule/sched_exponential.c plugins/schedule/sched_warmup.h
plugins_schedule_sched_exponential_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_schedule_sched_exponential_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_schedule_sched_exponential_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/schedule/sched_cosine.la
plugins_schedule_sched_cosine_la_SOURCES = plugins/schedule/sched_cosine.c plugins/schedule/sched_warmup.h
plugins_schedule_sched_cosine_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_schedule_sched_cosine_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_schedule_sched_cosine_la_LIBADD = -lm
