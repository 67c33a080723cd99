# Tests of the resnet block on images (issue 21).  The PyTorch reference
# values are committed (tests/fixtures/resnet_reference.txt);
# tests/reference/resnet_reference.py rewrites them.
EXTRA_DIST += tests/fixtures/resnet_reference.txt tests/reference/resnet_reference.py
check_PROGRAMS += tests/test_resnet_conv
TESTS += tests/test_resnet_conv
tests_test_resnet_conv_SOURCES = tests/test_resnet_conv.c tests/testutil.h tests/reference.h
tests_test_resnet_conv_CFLAGS = $(TEST_CFLAGS)
tests_test_resnet_conv_LDADD = $(TEST_LDADD)
TESTS += tests/resnet_conv.sh
EXTRA_DIST += tests/resnet_conv.sh
