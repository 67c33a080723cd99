# libgradscope and the gradscope program.
lib_LTLIBRARIES += core/libgradscope.la
core_libgradscope_la_SOURCES = \
	core/lib/internal.h core/lib/util.c core/lib/rng.c core/lib/kernels.c core/lib/gemm.c \
	core/lib/affinity.c \
	core/lib/registry.c core/lib/schema.c core/lib/cfgfile.c core/lib/host.c \
	core/lib/model.h core/lib/model.c \
	core/lib/experiment.h core/lib/experiment.c \
	core/lib/monitor.h core/lib/monitor.c core/lib/theory.c core/lib/npy.c \
	core/lib/rundir.h core/lib/rundir.c core/lib/csv.h core/lib/csv.c \
	core/lib/checkpoint.h core/lib/checkpoint.c \
	core/lib/trainer.c core/lib/optstep.c core/lib/check.c core/lib/testing.c core/include/gradscope/testing.h \
	core/lib/report.c core/lib/sweep.c core/lib/dataparallel.c
core_libgradscope_la_CPPFLAGS = $(AM_CPPFLAGS) -DGS_PLUGINDIR='"$(plugindir)"'
core_libgradscope_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(ZLIB_CFLAGS) -fvisibility=hidden
core_libgradscope_la_LIBADD = $(LIBCONFIG_LIBS) $(ZLIB_LIBS) -lm
core_libgradscope_la_LDFLAGS = -version-info 0:0:0 $(AM_LDFLAGS)

gradscopeincludedir = $(includedir)/gradscope
gradscopeinclude_HEADERS = core/include/gradscope/plugin.h core/include/gradscope/gradscope.h \
	core/include/gradscope/activation.h

bin_PROGRAMS += core/gradscope
core_gradscope_SOURCES = core/cli/main.c core/cli/report.c core/cli/newplugin.c \
	core/cli/sweep.c core/cli/sweep_mpi.h
core_gradscope_CFLAGS = $(AM_CFLAGS) $(MPI_CFLAGS)
core_gradscope_LDADD = core/libgradscope.la $(MPI_LIBS)
# MPI stays out of libgradscope: only the program (sweeps, data-parallel runs) links it.
if HAVE_MPI
core_gradscope_SOURCES += core/cli/sweep_mpi.c
endif

# Lets the uninstalled program find the build tree's plugins.
noinst_DATA = plugin-path.build
plugin-path.build: Makefile
	$(AM_V_GEN)echo '$(BUILD_PLUGIN_PATH)' > $@
CLEANFILES += plugin-path.build
