#!/bin/sh
# The Python reader (python/gradscope) against run directories that the
# just-built gradscope writes: a run with dumps, the quickstart experiment
# (two variants, shortened) and examples/notebooks/sweep.cfg (a sweep with
# variants); then pytest runs tests/python/ on them, and the notebook.
# Skipped (77) without numpy, pandas or pytest.
set -u
SRC="${GRADSCOPE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}"
BUILD="${GRADSCOPE_TEST_BUILDDIR:-.}"
GS="$BUILD/core/gradscope"
# configure's Python (AM_PATH_PYTHON), else the system's, where Debian's
# python3-pandas lives when another python3 comes first in PATH
PY=""
for p in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$p" ] && [ "$p" != ":" ] &&
        "$p" -c 'import sys, numpy, pandas, pytest; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
        PY=$p
        break
    fi
done
if [ -z "$PY" ]; then
    echo "SKIP: the Python reader's tests need Python 3.9 or newer with numpy, pandas and" \
         "pytest (Debian: python3-numpy python3-pandas python3-pytest)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/run.cfg" <<'CFG'
name = "one";
seed = 11;
data = { type = "synthetic"; set = "blobs"; features = 6; classes = 3; samples = 200; test_samples = 40; };
model = { layers = ( { type = "dense"; units = 12; activation = "tanh"; repeat = 3; },
                     { type = "dense"; units = 3; } ); };
optimizer = { type = "sgd"; lr = 0.05; };
training = { epochs = 2; batch_size = 20; };
monitor = { every = 4; detail_every = 8; dump = true; };
CFG
"$GS" run "$tmp/run.cfg" --out "$tmp/run" --quiet >"$tmp/log" 2>&1 ||
    { echo "FAIL: gradscope run: $(cat "$tmp/log")"; exit 1; }
"$GS" run "$SRC/configs/quickstart.cfg" --out "$tmp/quickstart" --quiet \
    --set training.epochs=1 --set data.samples=640 >"$tmp/log" 2>&1 ||
    { echo "FAIL: gradscope run quickstart: $(cat "$tmp/log")"; exit 1; }
"$GS" sweep "$SRC/examples/notebooks/sweep.cfg" --out "$tmp/sweep" --quiet >"$tmp/log" 2>&1 ||
    { echo "FAIL: gradscope sweep: $(cat "$tmp/log")"; exit 1; }

GRADSCOPE_FIXTURES="$tmp" GRADSCOPE_FORMAT_JSON="$BUILD/tests/python/format_json" \
    GRADSCOPE_QUICKSTART="$tmp/quickstart" GRADSCOPE_SWEEP="$tmp/sweep" \
    MPLBACKEND=Agg MPLCONFIGDIR="$tmp/mpl" PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH="$SRC/python${PYTHONPATH:+:$PYTHONPATH}" \
    "$PY" -m pytest -q -p no:cacheprovider "$SRC/tests/python"
