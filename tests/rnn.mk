# Tests of the recurrent layers rnn, lstm, gru (issue 22).  The PyTorch
# reference values are committed (tests/fixtures/rnn_reference.txt);
# tests/reference/rnn_reference.py rewrites them.
EXTRA_DIST += tests/fixtures/rnn_reference.txt tests/reference/rnn_reference.py
check_PROGRAMS += tests/test_rnn
TESTS += tests/test_rnn
tests_test_rnn_SOURCES = tests/test_rnn.c tests/testutil.h tests/reference.h
tests_test_rnn_CFLAGS = $(TEST_CFLAGS)
tests_test_rnn_LDADD = $(TEST_LDADD)

# Sequence data end to end: per-step targets and masks through the trainer,
# the refusals of mismatched data and models.
check_PROGRAMS += tests/test_sequence
TESTS += tests/test_sequence
tests_test_sequence_SOURCES = tests/test_sequence.c tests/testutil.h
tests_test_sequence_CFLAGS = $(TEST_CFLAGS)
tests_test_sequence_LDADD = $(TEST_LDADD)

# A masked sequence run stopped mid-epoch and resumed ends byte-identical.
TESTS += tests/rnn_resume.sh
EXTRA_DIST += tests/rnn_resume.sh
