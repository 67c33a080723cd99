"""The Python reader's table of the format (python/gradscope/_format.py) is
the C program's (core/rundir/format.c, printed by tests/python/format_json):
same version, files, columns in order, summary keys, status names."""

import json
import os
import subprocess

import pytest

from gradscope import _format as fmt


@pytest.fixture(scope="module")
def c_format():
    prog = os.environ.get("GRADSCOPE_FORMAT_JSON")
    if not prog:
        pytest.fail("GRADSCOPE_FORMAT_JSON is not set: run tests/python.sh (make check)")
    out = subprocess.run([prog], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_version(c_format):
    assert fmt.FORMAT_VERSION == c_format["format_version"]


def test_every_table_and_column(c_format):
    c_tables = {t["file"]: t["columns"] for t in c_format["tables"]}
    py_tables = {file: list(cols) for file, cols in fmt.TABLES.values()}
    assert set(py_tables) == set(c_tables), "files in format.c but not in _format.py, or back"
    for file, cols in c_tables.items():
        assert py_tables[file] == cols, f"{file}: columns differ from format.c"


def test_index(c_format):
    assert fmt.INDEX[0] == c_format["index"]["file"]
    assert list(fmt.INDEX[1]) == c_format["index"]["columns"]


def test_summary_keys(c_format):
    assert list(fmt.SUMMARY_KEYS) == c_format["summary_keys"]


def test_names(c_format):
    assert list(fmt.STATUSES) == c_format["statuses"]
    assert list(fmt.INDEX_STATUSES) == c_format["index_statuses"]
    assert list(fmt.VERDICTS) == c_format["verdicts"]


def test_text_columns_are_columns():
    every = {c for _, cols in fmt.TABLES.values() for c in cols} | set(fmt.INDEX[1])
    assert fmt.TEXT_COLUMNS <= every


def test_a_written_summary_has_the_keys(run_dir):
    with open(os.path.join(run_dir, fmt.FILE_SUMMARY)) as f:
        keys = list(json.load(f))
    # "detail" is written only when a run stops early
    assert keys == [k for k in fmt.SUMMARY_KEYS if k != "detail"]
