# Tests of the densenet block and the transition layer on images (issue
# 21).  The PyTorch reference values are committed
# (tests/fixtures/densenet_reference.txt);
# tests/reference/densenet_reference.py rewrites them.
EXTRA_DIST += tests/fixtures/densenet_reference.txt tests/reference/densenet_reference.py
check_PROGRAMS += tests/test_densenet_conv
TESTS += tests/test_densenet_conv
tests_test_densenet_conv_SOURCES = tests/test_densenet_conv.c tests/reference.h tests/testutil.h
tests_test_densenet_conv_CFLAGS = $(TEST_CFLAGS)
tests_test_densenet_conv_LDADD = $(TEST_LDADD)

# What the image blocks keep from forward to backward (issue 21, memory).
check_PROGRAMS += tests/test_block_memory
TESTS += tests/test_block_memory
tests_test_block_memory_SOURCES = tests/test_block_memory.c tests/reference.h tests/testutil.h
tests_test_block_memory_CFLAGS = $(TEST_CFLAGS)
tests_test_block_memory_LDADD = $(TEST_LDADD)
