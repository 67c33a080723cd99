# The Python reader (docs/PYTHON.md): pure Python, installed into the prefix's
# site directory ($(pkgpythondir), from AM_PATH_PYTHON) when configure found
# Python 3.9 or newer.
GS_PYTHON_FILES = python/gradscope/__init__.py python/gradscope/_format.py \
	python/gradscope/reader.py python/gradscope/analysis.py python/gradscope/plots.py
if HAVE_PYTHON
pkgpython_PYTHON = $(GS_PYTHON_FILES)
endif
EXTRA_DIST += $(GS_PYTHON_FILES)

# Its page, and the notebook beside the example plugins in $(docdir)/examples.
dist_doc_DATA += docs/PYTHON.md
nobase_dist_doc_DATA += examples/notebooks/gradscope.ipynb examples/notebooks/sweep.cfg

# tests/python.sh: pytest on runs the just-built gradscope writes.  format_json
# prints format.c's tables (built in, like tests/test_format) for the test
# that compares them with the package's.
TESTS += tests/python.sh
EXTRA_DIST += tests/python.sh tests/python/conftest.py tests/python/test_format_tables.py \
	tests/python/test_load.py tests/python/test_bad_input.py tests/python/test_notebook.py
check_PROGRAMS += tests/python/format_json
tests_python_format_json_SOURCES = tests/python/format_json.c core/rundir/format.c \
	core/rundir/rundir.c core/base/util.c
tests_python_format_json_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/core
tests_python_format_json_LDADD = -lm
AM_TESTS_ENVIRONMENT += PYTHON='$(PYTHON)'; export PYTHON;
