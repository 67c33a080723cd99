# gradscope report: the HTML/SVG report and its rendering in headless Chromium.
check_PROGRAMS += tests/test_report
TESTS += tests/test_report
tests_test_report_SOURCES = tests/test_report.c tests/testutil.h
tests_test_report_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(ZLIB_CFLAGS)
tests_test_report_LDADD = core/libgradscope.la $(CHECK_LIBS) $(ZLIB_LIBS) -lm
