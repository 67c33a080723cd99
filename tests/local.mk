# Test programs (Check).  Each area owns a fragment.
AM_TESTS_ENVIRONMENT = \
	GRADSCOPE_PLUGIN_PATH='$(BUILD_PLUGIN_PATH)'; export GRADSCOPE_PLUGIN_PATH; \
	GRADSCOPE_NO_INSTALLED_PLUGINS=1; export GRADSCOPE_NO_INSTALLED_PLUGINS; \
	GRADSCOPE_TEST_SRCDIR='$(abs_top_srcdir)'; export GRADSCOPE_TEST_SRCDIR; \
	GRADSCOPE_TEST_BUILDDIR='$(abs_top_builddir)'; export GRADSCOPE_TEST_BUILDDIR; \
	CK_DEFAULT_TIMEOUT=600; export CK_DEFAULT_TIMEOUT; \
	OMP_NUM_THREADS=2; export OMP_NUM_THREADS;

include $(srcdir)/tests/catalogue.mk
include $(srcdir)/tests/optim.mk
include $(srcdir)/tests/data.mk
include $(srcdir)/tests/fixtures.mk

# Foundation tests.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
EXTRA_DIST += tests/testutil.h tests/reference.h tests/shlib.sh
check_PROGRAMS += tests/test_loader
TESTS += tests/test_loader
tests_test_loader_SOURCES = tests/test_loader.c tests/testutil.h
tests_test_loader_CFLAGS = $(TEST_CFLAGS)
tests_test_loader_LDADD = $(TEST_LDADD)
check_PROGRAMS += tests/test_config
TESTS += tests/test_config
tests_test_config_SOURCES = tests/test_config.c tests/testutil.h
tests_test_config_CFLAGS = $(TEST_CFLAGS)
tests_test_config_LDADD = $(TEST_LDADD)
check_PROGRAMS += tests/test_run
TESTS += tests/test_run
tests_test_run_SOURCES = tests/test_run.c tests/testutil.h
tests_test_run_CFLAGS = $(TEST_CFLAGS)
tests_test_run_LDADD = $(TEST_LDADD)
include $(srcdir)/tests/blocks.mk
include $(srcdir)/tests/rnn.mk
include $(srcdir)/tests/conv.mk
include $(srcdir)/tests/densenet_conv.mk
include $(srcdir)/tests/resnet_conv.mk
# The recurrent weights' spectral radius and sigma_max (core/engine/spectral.c).
check_PROGRAMS += tests/test_spectral
TESTS += tests/test_spectral
tests_test_spectral_SOURCES = tests/test_spectral.c tests/testutil.h core/engine/spectral.c \
	core/base/util.c
tests_test_spectral_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_test_spectral_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_spectral_LDADD = $(CHECK_LIBS) -lm
# The recurrent layers' gradient contributions by band of time steps.
check_PROGRAMS += tests/test_rnn_bands
TESTS += tests/test_rnn_bands
tests_test_rnn_bands_SOURCES = tests/test_rnn_bands.c tests/testutil.h
tests_test_rnn_bands_CFLAGS = $(TEST_CFLAGS)
tests_test_rnn_bands_LDADD = $(TEST_LDADD)
check_PROGRAMS += tests/test_monitor
TESTS += tests/test_monitor
tests_test_monitor_SOURCES = tests/test_monitor.c tests/testutil.h
tests_test_monitor_CFLAGS = $(TEST_CFLAGS)
tests_test_monitor_LDADD = $(TEST_LDADD)
TESTS += tests/cli.sh
EXTRA_DIST += tests/cli.sh
include $(srcdir)/tests/report.mk
TESTS += tests/resume.sh
EXTRA_DIST += tests/resume.sh
TESTS += tests/lock.sh
EXTRA_DIST += tests/lock.sh
include $(srcdir)/tests/sdk.mk
check_PROGRAMS += tests/test_training
TESTS += tests/test_training
tests_test_training_SOURCES = tests/test_training.c tests/testutil.h
tests_test_training_CFLAGS = $(TEST_CFLAGS)
tests_test_training_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_test_training_LDADD = $(TEST_LDADD)
include $(srcdir)/tests/sweep.mk
include $(srcdir)/tests/regress.mk
TESTS += tests/dataparallel_mpi.sh
EXTRA_DIST += tests/dataparallel_mpi.sh
# The Slurm recipes (examples/slurm/, shown in docs/CLUSTERS.md) on a
# one-node Slurm the test starts; skipped without root, slurm-wlm or munge.
TESTS += tests/slurm.sh
EXTRA_DIST += tests/slurm.sh examples/slurm/sweep.sbatch examples/slurm/submit.sh \
	examples/slurm/mpi.sbatch
include $(srcdir)/tests/kernels.mk
TESTS += tests/layering.sh
EXTRA_DIST += tests/layering.sh
TESTS += tests/plugin_path.sh
EXTRA_DIST += tests/plugin_path.sh
# The run-directory format (core/rundir/format.c, built in) and docs/FORMAT.md.
check_PROGRAMS += tests/test_format
TESTS += tests/test_format
tests_test_format_SOURCES = tests/test_format.c tests/testutil.h core/rundir/format.c \
	core/rundir/rundir.c core/base/util.c
tests_test_format_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_test_format_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_format_LDADD = $(CHECK_LIBS) -lm
