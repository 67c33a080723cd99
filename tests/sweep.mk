# gradscope sweep: expansion and validation (Check), the command on one
# machine (--jobs, restart, --index/--collect) and under mpirun.
check_PROGRAMS += tests/test_sweep
TESTS += tests/test_sweep
tests_test_sweep_SOURCES = tests/test_sweep.c tests/testutil.h
tests_test_sweep_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_sweep_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
TESTS += tests/sweep.sh tests/sweep_mpi.sh
EXTRA_DIST += tests/sweep.sh tests/sweep_mpi.sh
