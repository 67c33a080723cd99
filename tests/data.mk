check_PROGRAMS += tests/test_datasets
TESTS += tests/test_datasets
tests_test_datasets_SOURCES = tests/test_datasets.c
tests_test_datasets_LDADD = core/libgradscope.la $(CHECK_LIBS) $(ZLIB_LIBS) -lm
tests_test_datasets_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(ZLIB_CFLAGS)

# data.augment's kernel, built from its sources (libgradscope hides it).
check_PROGRAMS += tests/test_augment
TESTS += tests/test_augment
tests_test_augment_SOURCES = tests/test_augment.c core/kernels/augment.c core/base/rng.c \
	core/base/util.c
tests_test_augment_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_test_augment_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_test_augment_LDADD = $(CHECK_LIBS) -lm

TESTS += tests/augment_resume.sh
EXTRA_DIST += tests/augment_resume.sh
