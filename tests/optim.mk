# Optimizer, loss and schedule tests (issue 3).
check_PROGRAMS += tests/test_optimizers tests/test_losses tests/test_schedules
TESTS += tests/test_optimizers tests/test_losses tests/test_schedules

tests_test_optimizers_SOURCES = tests/test_optimizers.c
tests_test_optimizers_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_optimizers_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

tests_test_losses_SOURCES = tests/test_losses.c
tests_test_losses_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_losses_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

tests_test_schedules_SOURCES = tests/test_schedules.c
tests_test_schedules_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_schedules_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
