# Tests of the architecture blocks (issue 4).

check_PROGRAMS += tests/test_blocks
TESTS += tests/test_blocks
tests_test_blocks_SOURCES = tests/test_blocks.c tests/testutil.h
tests_test_blocks_LDADD = $(TEST_LDADD)
tests_test_blocks_CFLAGS = $(TEST_CFLAGS)
