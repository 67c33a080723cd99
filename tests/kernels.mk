# Kernel tests (issue 7): built from the kernel sources, so that the test
# can set the thread count and choose the portable implementation.
check_PROGRAMS += tests/test_kernels
TESTS += tests/test_kernels
tests_test_kernels_SOURCES = tests/test_kernels.c core/kernels/gemm.c core/kernels/gemm_avx2.c \
	core/kernels/gemm_avx512.c core/kernels/kernels.c \
	core/engine/optstep.c core/kernels/affinity.c core/base/util.c
tests_test_kernels_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_test_kernels_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBCONFIG_CFLAGS)
tests_test_kernels_LDADD = $(CHECK_LIBS) -lm
TESTS += tests/isa.sh
EXTRA_DIST += tests/isa.sh
