# Regression inputs of the fuzzers, replayed by a normal test
# (tests/test_regress.c), which compiles the fuzz targets and the library's
# sources itself: the checkpoint target needs the library's internals.
check_PROGRAMS += tests/test_regress
TESTS += tests/test_regress
tests_test_regress_SOURCES = tests/test_regress.c tests/fuzz/fuzz_common.h \
	tests/fuzz/fuzz_config.c tests/fuzz/fuzz_set.c tests/fuzz/fuzz_idx.c \
	tests/fuzz/fuzz_csv.c tests/fuzz/fuzz_checkpoint.c $(core_libgradscope_la_SOURCES)
tests_test_regress_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core -DFUZZ_REPLAY \
	-DGS_PLUGINDIR='"$(plugindir)"'
tests_test_regress_CFLAGS = $(AM_CFLAGS) $(LIBCONFIG_CFLAGS) $(ZLIB_CFLAGS)
tests_test_regress_LDADD = $(LIBCONFIG_LIBS) $(ZLIB_LIBS) -lm
EXTRA_DIST += tests/regress

# `make check-valgrind`: the whole test suite under valgrind's memcheck
# (tests/valgrind-wrap); one log per process in tests/valgrind/.  Use a
# build without --enable-sanitizers: valgrind cannot run ASan's programs.
check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check LOG_COMPILER='$(SHELL) $(abs_top_srcdir)/tests/valgrind-wrap'
EXTRA_DIST += tests/valgrind-wrap tests/valgrind.supp
CLEANFILES += tests/valgrind/*.log
.PHONY: check-valgrind
