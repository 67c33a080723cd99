# Tests of the image layers conv2d, maxpool, avgpool, global_avgpool and
# flatten (issue 21).  The PyTorch reference values are committed
# (tests/fixtures/conv_reference.txt); tests/reference/conv_reference.py
# rewrites them.  tests/conv.sh runs the command line on bad image models.
EXTRA_DIST += tests/fixtures/conv_reference.txt tests/reference/conv_reference.py
check_PROGRAMS += tests/test_conv
TESTS += tests/test_conv
tests_test_conv_SOURCES = tests/test_conv.c tests/testutil.h tests/reference.h
tests_test_conv_CFLAGS = $(TEST_CFLAGS)
tests_test_conv_LDADD = $(TEST_LDADD)
TESTS += tests/conv.sh
EXTRA_DIST += tests/conv.sh
