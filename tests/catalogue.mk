# Tests of the activation and initializer catalogues (issue 3).

check_PROGRAMS += tests/test_activations
TESTS += tests/test_activations
tests_test_activations_SOURCES = tests/test_activations.c
tests_test_activations_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_activations_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

check_PROGRAMS += tests/test_initializers
TESTS += tests/test_initializers
tests_test_initializers_SOURCES = tests/test_initializers.c
tests_test_initializers_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_initializers_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

# gs_erfcf and the GELU kernels that use it (issue 25): built with the
# plugins' -fno-trapping-math, which its loops need to vectorize.
check_PROGRAMS += tests/test_erfc
TESTS += tests/test_erfc
tests_test_erfc_SOURCES = tests/test_erfc.c tests/bits.h
tests_test_erfc_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
tests_test_erfc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -fno-trapping-math
