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
# The plugins' GS_KERNEL_CLONES kernels, one build per instruction set,
# compared bit for bit (tests/clones.sh builds the copies with the flags
# `make clone-vars` prints, the stock plugins' own).
check_PROGRAMS += tests/clone_bits
tests_clone_bits_SOURCES = tests/clone_bits.c tests/bits.h
tests_clone_bits_LDADD = core/libgradscope.la -lm
TESTS += tests/clones.sh
EXTRA_DIST += tests/clones.sh
clone-vars:
	@echo "CC='$(CC)'"; \
	echo "CLONE_CFLAGS='-I$(abs_top_srcdir)/core/include $(CPPFLAGS) $(PLUGIN_CFLAGS) $(CFLAGS)'"; \
	echo "CLONE_LDFLAGS='-shared -fPIC $(SANITIZER_CFLAGS) $(LDFLAGS)'"; \
	echo "BUILD_PLUGIN_PATH='$(BUILD_PLUGIN_PATH)'"
.PHONY: clone-vars
