# gradscope sweep: expansion and validation (Check), the command on one
# machine (--jobs, restart, --index/--collect) and under mpirun.
check_PROGRAMS += tests/test_sweep
TESTS += tests/test_sweep
tests_test_sweep_SOURCES = tests/test_sweep.c tests/testutil.h
tests_test_sweep_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_sweep_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
TESTS += tests/sweep.sh tests/sweep_mpi.sh
EXTRA_DIST += tests/sweep.sh tests/sweep_mpi.sh
check_PROGRAMS += tests/test_dataparallel
TESTS += tests/test_dataparallel
tests_test_dataparallel_SOURCES = tests/test_dataparallel.c tests/testutil.h
tests_test_dataparallel_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -pthread
tests_test_dataparallel_LDADD = core/libgradscope.la $(CHECK_LIBS) -lpthread -lm
