# gradscope report: the HTML/SVG report and its rendering in headless Chromium,
# the report of a sweep directory (groups of seeds), and the figure inside
# the dense blocks, and recurrent layers in the figures (rows, verdict through time).
check_PROGRAMS += tests/test_report
TESTS += tests/test_report
tests_test_report_SOURCES = tests/test_report.c tests/testutil.h
tests_test_report_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(ZLIB_CFLAGS)
tests_test_report_LDADD = core/libgradscope.la $(CHECK_LIBS) $(ZLIB_LIBS) -lm
check_PROGRAMS += tests/test_report_sweep
TESTS += tests/test_report_sweep
tests_test_report_sweep_SOURCES = tests/test_report_sweep.c tests/testutil.h
tests_test_report_sweep_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_report_sweep_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
check_PROGRAMS += tests/test_report_blocks
TESTS += tests/test_report_blocks
tests_test_report_blocks_SOURCES = tests/test_report_blocks.c tests/testutil.h
tests_test_report_blocks_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_report_blocks_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
check_PROGRAMS += tests/test_report_rnn
TESTS += tests/test_report_rnn
tests_test_report_rnn_SOURCES = tests/test_report_rnn.c tests/testutil.h
tests_test_report_rnn_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_test_report_rnn_LDADD = core/libgradscope.la $(CHECK_LIBS) -lm
