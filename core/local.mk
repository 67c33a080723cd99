# libgradscope and the gradscope program.
lib_LTLIBRARIES += core/libgradscope.la
# One folder per layer, from the bottom: each includes only the folders below it
# (tests/layering.sh checks it; docs/ARCHITECTURE.md draws it).
core_libgradscope_la_SOURCES = \
	core/base/util.h core/base/util.c core/base/rng.h core/base/rng.c \
	core/kernels/kernels.h core/kernels/kernels.c core/kernels/kernels_isa.h core/kernels/gemm.h core/kernels/gemm.c core/kernels/gemm_tile.h \
	core/kernels/gemm_avx2.c core/kernels/gemm_avx512.c \
	core/kernels/affinity.h core/kernels/affinity.c \
	core/kernels/augment.h core/kernels/augment.c \
	core/plugin/registry.h core/plugin/registry.c core/plugin/schema.h core/plugin/schema.c \
	core/plugin/cfgfile.h core/plugin/cfgfile.c \
	core/rundir/rundir.h core/rundir/rundir.c core/rundir/csv.h core/rundir/csv.c \
	core/rundir/npy.h core/rundir/npy.c core/rundir/format.h core/rundir/format.c \
	core/rundir/lock.h core/rundir/lock.c \
	core/engine/model.h core/engine/model.c core/engine/host.c \
	core/engine/experiment.h core/engine/experiment.c \
	core/engine/monitor.h core/engine/monitor.c core/engine/theory.h core/engine/theory.c \
	core/engine/spectral.h core/engine/spectral.c \
	core/engine/checkpoint.h core/engine/checkpoint.c \
	core/engine/optstep.h core/engine/optstep.c core/engine/dataparallel.c \
	core/engine/trainer.h core/engine/pace.h core/engine/trainer.c core/engine/train_step.c core/engine/evaluate.c \
	core/engine/prepare.c core/engine/runfiles.c core/engine/run.c \
	core/tools/gradcheck.h core/tools/check.c core/tools/testing.c core/include/gradscope/testing.h \
	core/tools/report/sbuf.h core/tools/report/sbuf.c core/tools/report/run.h \
	core/tools/report/load.c core/tools/report/discover.c core/tools/report/svg.h \
	core/tools/report/svg.c core/tools/report/figures.h core/tools/report/heatmap.c \
	core/tools/report/lines.c core/tools/report/page.c core/tools/report/groups.c \
	core/tools/report/bptt.c core/tools/report/blocks.c \
	core/tools/sweep.h core/tools/sweep.c core/tools/sweep_expand.c \
	core/tools/sweep_pool.c core/tools/sweep_collect.c
core_libgradscope_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core -DGS_PLUGINDIR='"$(plugindir)"'
core_libgradscope_la_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(ZLIB_CFLAGS) -fvisibility=hidden
core_libgradscope_la_LIBADD = $(LIBCONFIG_LIBS) $(ZLIB_LIBS) -lm
core_libgradscope_la_LDFLAGS = -version-info 0:0:0 $(AM_LDFLAGS)

gradscopeincludedir = $(includedir)/gradscope
gradscopeinclude_HEADERS = core/include/gradscope/plugin.h core/include/gradscope/gradscope.h \
	core/include/gradscope/activation.h core/include/gradscope/layer.h

bin_PROGRAMS += core/gradscope
core_gradscope_SOURCES = core/cli/main.c core/cli/report.c core/cli/newplugin.c \
	core/cli/sweep.c core/cli/sweep_mpi.h core/cli/cli.h
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
