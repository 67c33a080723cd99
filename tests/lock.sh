#!/bin/sh
# Run-directory locks and runs that would overwrite another's progress: a
# second run or a resume of a directory in use exits 2 naming the holder's
# host and PID and leaves the first run's result as it would be alone; a
# lock left by a dead process of this host is taken over, another host's is
# not; `run` over a killed run's directory is refused with the resume
# command, and --force starts over.  With an MPI build, a resume on another
# number of ranks is refused.
set -u
. "$(dirname "$0")/shlib.sh"
host=$(hostname)

cat >"$tmp/exp.cfg" <<'CFG'
seed = 5;
data = { type = "synthetic"; set = "blobs"; features = 12; classes = 3; samples = 1500; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 48; activation = "tanh"; repeat = 4; },
                     { type = "dense"; units = 3; } ); };
optimizer = { type = "adam"; lr = 0.002; };
training = { epochs = 4; batch_size = 8; };
monitor = { every = 3; };
checkpoint = { every = 7; };
CFG

"$GS" run "$tmp/exp.cfg" --out "$tmp/ref" --quiet || bad "reference run"

# The run's results, without the one column that is a time.
results() { # DIR
    for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv model.csv config.cfg; do
        cat "$1/$f"
    done
    cut -d, -f1-8 "$1/epochs.csv"
    grep -v wall_time "$1/summary.json"
}
same_as_reference() { # DIR LABEL
    if [ "$(results "$tmp/ref" | md5sum)" = "$(results "$1" | md5sum)" ] &&
        [ "$(ls -A "$tmp/ref")" = "$(ls -A "$1")" ]; then
        ok
    else
        bad "$2: differs from the run alone ($(ls -A "$1" | tr '\n' ' '))"
    fi
}
# Waits for FILE to appear (up to a minute).
wait_for() {
    n=0
    while [ ! -e "$1" ] && [ $n -lt 3000 ]; do
        sleep 0.02
        n=$((n + 1))
    done
}

# A second run and a resume while the first runs (held still meanwhile):
# refused at once, naming the holder; the first finishes as if alone.
d="$tmp/busy"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet 2>"$tmp/first.err" &
pid=$!
wait_for "$d/checkpoint.bin"
kill -STOP "$pid"
[ -f "$d/.lock" ] && grep -qx "$host $pid" "$d/.lock" && ok || bad "no lock naming $host $pid"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "process $pid .*$host" "$tmp/err" && ok || bad "second run: $rc $(cat "$tmp/err")"
"$GS" resume "$d" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "process $pid .*$host" "$tmp/err" && ok || bad "resume while running: $rc $(cat "$tmp/err")"
kill -CONT "$pid"
wait "$pid"
rc=$?
[ $rc -eq 0 ] && ok || bad "the first run: exit $rc $(cat "$tmp/first.err")"
[ ! -e "$d/.lock" ] && ok || bad "lock left behind"
same_as_reference "$d" "run beside a refused run and resume"

# An experiment's variant directory is locked with its root.
cat "$tmp/exp.cfg" >"$tmp/var.cfg"
echo 'variants = ( { name = "a"; }, { name = "b"; optimizer = { lr = 0.001; }; } );' >>"$tmp/var.cfg"
d="$tmp/vars"
"$GS" run "$tmp/var.cfg" --out "$d" --quiet 2>/dev/null &
pid=$!
wait_for "$d/a/checkpoint.bin"
kill -STOP "$pid"
"$GS" resume "$d/b" --quiet 2>"$tmp/err"
rc=$?
kill -CONT "$pid"
[ $rc -eq 2 ] && grep -q "b: in use by gradscope process $pid" "$tmp/err" && ok ||
    bad "resume of a variant while its experiment runs: $rc $(cat "$tmp/err")"
wait "$pid" || bad "the experiment with variants"

# A sweep's worker goes through the same lock: one combination started
# twice (an array resubmitted while the old one runs) is refused.
cat "$tmp/exp.cfg" >"$tmp/sweep.cfg"
echo 'sweep = { grid = ( { key = "seed"; values = [ 3, 4 ]; } ); };' >>"$tmp/sweep.cfg"
d="$tmp/sweep"
"$GS" sweep "$tmp/sweep.cfg" --out "$d" --index 0 --quiet 2>/dev/null &
pid=$!
n=0
while [ -z "$(ls "$d"/*/checkpoint.bin 2>/dev/null)" ] && [ $n -lt 3000 ]; do
    sleep 0.02
    n=$((n + 1))
done
kill -STOP "$pid"
"$GS" sweep "$tmp/sweep.cfg" --out "$d" --index 0 --quiet 2>"$tmp/err"
rc=$?
kill -CONT "$pid"
[ $rc -eq 2 ] && grep -q "in use by gradscope process $pid" "$tmp/err" && ok ||
    bad "the same sweep combination twice: $rc $(cat "$tmp/err")"
wait "$pid" && ok || bad "the first sweep worker"

# A lock of a dead process of this host is taken over; another host's is not.
sh -c 'exit 0' &
dead=$!
wait "$dead"
mkdir "$tmp/stale"
echo "$host $dead" >"$tmp/stale/.lock"
"$GS" run "$tmp/exp.cfg" --out "$tmp/stale" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && grep -q "left by process $dead of this host, which no longer runs" "$tmp/err" && ok ||
    bad "stale lock: $rc $(cat "$tmp/err")"
same_as_reference "$tmp/stale" "run after a stale lock"
mkdir "$tmp/other"
echo "node17.example 4242" >"$tmp/other/.lock"
"$GS" run "$tmp/exp.cfg" --out "$tmp/other" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "process 4242 on host node17.example" "$tmp/err" &&
    grep -q "remove $tmp/other/.lock" "$tmp/err" && ok || bad "another host's lock: $rc $(cat "$tmp/err")"
[ "$(ls -A "$tmp/other")" = ".lock" ] && grep -qx "node17.example 4242" "$tmp/other/.lock" && ok ||
    bad "a refused run touched the directory: $(ls -A "$tmp/other")"
"$GS" resume "$tmp/busy" --quiet 2>/dev/null && ok || bad "resume of a finished run after the lock"

# `run` over a killed run: refused with the command that continues it;
# --force starts over.
d="$tmp/killed"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet 2>/dev/null &
pid=$!
wait_for "$d/checkpoint.bin"
kill -STOP "$pid"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
before=$(cat "$d"/*.csv "$d/checkpoint.bin" | md5sum)
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "unfinished run .*gradscope resume $d" "$tmp/err" && ok ||
    bad "run over a killed run: $rc $(cat "$tmp/err")"
[ "$before" = "$(cat "$d"/*.csv "$d/checkpoint.bin" | md5sum)" ] && ok ||
    bad "the refused run changed the killed run's files"
# the same after SIGINT (the summary says interrupted)
d2="$tmp/interrupted"
"$GS" run "$tmp/exp.cfg" --out "$d2" --quiet 2>/dev/null &
pid=$!
wait_for "$d2/checkpoint.bin"
kill -STOP "$pid"
kill -INT "$pid"
kill -CONT "$pid"
wait "$pid"
[ ! -e "$d2/.lock" ] && ok || bad "the lock outlived a run stopped by SIGINT"
"$GS" run "$tmp/exp.cfg" --out "$d2" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "gradscope resume $d2" "$tmp/err" && ok ||
    bad "run over an interrupted run: $rc $(cat "$tmp/err")"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet --force 2>"$tmp/err" && ok ||
    bad "--force over a killed run: $(cat "$tmp/err")"
same_as_reference "$d" "--force over a killed run"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "already holds a finished run" "$tmp/err" && ok ||
    bad "run over a finished run: $(cat "$tmp/err")"
"$GS" run "$tmp/exp.cfg" --out "$d" --quiet --force 2>"$tmp/err" && ok ||
    bad "--force over a finished run: $(cat "$tmp/err")"
same_as_reference "$d" "--force over a finished run"
"$GS" run --help | grep -q -- "--force" && ok || bad "--force not in the usage"

# Data-parallel: the checkpoint records the number of ranks; a resume on
# another number is refused, naming both.
if command -v mpirun >/dev/null 2>&1 &&
    grep -q '^#define HAVE_MPI 1' "${GRADSCOPE_TEST_BUILDDIR:-.}/config.h" 2>/dev/null; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    d="$tmp/mpi"
    mpirun --oversubscribe -n 2 "$GS" run "$tmp/exp.cfg" --out "$d" --quiet --threads 1 \
        --set training.epochs=1 2>/dev/null || bad "mpirun -n 2"
    # an unfinished checkpoint: the one at the end of the (only) epoch, as
    # if the run had been killed before its summary
    rm "$d/summary.json"
    mpirun --oversubscribe -n 3 "$GS" resume "$d" --quiet --threads 1 2>"$tmp/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "written by 2 data-parallel processes, this run has 3" "$tmp/err" &&
        ok || bad "resume on 3 ranks of a 2-rank run: $rc $(cat "$tmp/err")"
    "$GS" resume "$d" --quiet 2>"$tmp/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "written by 2 data-parallel processes, this run has 1" "$tmp/err" &&
        ok || bad "resume in one process of a 2-rank run: $rc $(cat "$tmp/err")"
    [ ! -e "$d/summary.json" ] && [ ! -e "$d/.lock" ] && ok || bad "a refused resume wrote"
    mpirun --oversubscribe -n 2 "$GS" resume "$d" --quiet --threads 1 2>"$tmp/err" && ok ||
        bad "resume on the same 2 ranks: $(cat "$tmp/err")"
else
    echo "note: the MPI part is skipped (no MPI build or no mpirun)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
