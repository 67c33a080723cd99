"""Fixtures of the Python reader's tests: the run directories tests/python.sh
makes with the just-built gradscope (GRADSCOPE_FIXTURES)."""

import os
import shutil

import pytest


def _fixtures():
    d = os.environ.get("GRADSCOPE_FIXTURES")
    if not d:
        pytest.fail("GRADSCOPE_FIXTURES is not set: run tests/python.sh (make check)")
    return d


@pytest.fixture(scope="session")
def run_dir():
    return os.path.join(_fixtures(), "run")


@pytest.fixture(scope="session")
def quickstart_dir():
    return os.path.join(_fixtures(), "quickstart")


@pytest.fixture(scope="session")
def sweep_dir():
    return os.path.join(_fixtures(), "sweep")


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A copy of the run that a test may damage."""
    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    return str(d)
