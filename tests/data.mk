check_PROGRAMS += tests/test_datasets
TESTS += tests/test_datasets
tests_test_datasets_SOURCES = tests/test_datasets.c
tests_test_datasets_LDADD = core/libgradscope.la $(CHECK_LIBS) $(ZLIB_LIBS) -lm
tests_test_datasets_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(ZLIB_CFLAGS)
