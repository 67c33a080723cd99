#!/bin/sh
# Data-parallel training: `mpirun -n 2 gradscope run` equals the one-process
# run with the same global batch to rounding (the gradient is summed from
# shards in rank order), is bit-identical to itself, and rank 0 alone writes.
# Skipped (exit 77) without an MPI build or mpirun.
set -u
unset SLURM_STEP_NUM_TASKS SLURM_PROCID
. "$(dirname "$0")/shlib.sh"
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: no mpirun"; exit 77; }
grep -q '^#define HAVE_MPI 1' "${GRADSCOPE_TEST_BUILDDIR:-.}/config.h" 2>/dev/null ||
    { echo "SKIP: built without --with-mpi"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
    OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI's components (loaded and unloaded with dlopen) leave allocations
# behind that LeakSanitizer reports under --enable-sanitizers; gradscope's
# own leaks are checked by the one-process tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

cat >"$tmp/exp.cfg" <<'CFG'
seed = 4;
data = { type = "synthetic"; set = "blobs"; features = 10; classes = 3; samples = 800; test_samples = 200; };
model = { layers = ( { type = "dense"; units = 32; activation = "tanh"; repeat = 3; }, { type = "dense"; units = 3; } ); };
optimizer = { type = "adam"; lr = 0.003; };
training = { epochs = 3; batch_size = 31; };
monitor = { every = 5; };
checkpoint = { every = 20; };
CFG

"$GS" run "$tmp/exp.cfg" --out "$tmp/one" --quiet || bad "one-process run"
mpirun --oversubscribe -n 2 "$GS" run "$tmp/exp.cfg" --out "$tmp/two" --quiet --threads 1 ||
    bad "mpirun -n 2"
mpirun --oversubscribe -n 2 "$GS" run "$tmp/exp.cfg" --out "$tmp/two-again" --quiet --threads 1 ||
    bad "mpirun -n 2 again"
mpirun --oversubscribe -n 3 "$GS" run "$tmp/exp.cfg" --out "$tmp/three" --quiet --threads 1 ||
    bad "mpirun -n 3"

# Same files, written once (by rank 0).
for f in config.cfg metrics.csv gradients.csv layers.csv epochs.csv summary.json checkpoint.bin; do
    [ -f "$tmp/two/$f" ] && ok || bad "two ranks: no $f"
done
[ "$(wc -l <"$tmp/two/metrics.csv")" -eq "$(wc -l <"$tmp/one/metrics.csv")" ] && ok ||
    bad "two ranks wrote a different number of metrics rows"
# Bit-identical for a fixed number of ranks.
cmp -s "$tmp/two/gradients.csv" "$tmp/two-again/gradients.csv" && ok || bad "two runs on 2 ranks differ"
# Equal to the one-process run to rounding: every number of gradients.csv
# within 1e-4 relative (or 1e-7 absolute) after three epochs.
for k in two three; do
    awk -F, 'NR == FNR { if (FNR > 1) for (i = 4; i <= NF; i++) a[FNR, i] = $i; next }
             FNR > 1 { for (i = 4; i <= NF; i++) { x = a[FNR, i]; y = $i;
                 if (x == "nan" || y == "nan") { if (x != y) bad++; continue }
                 d = x - y; if (d < 0) d = -d; s = (x < 0 ? -x : x);
                 if (d > 1e-4 * s + 1e-7) bad++ } }
             END { exit bad > 0 }' "$tmp/one/gradients.csv" "$tmp/$k/gradients.csv" && ok ||
        bad "$k ranks: gradients.csv differs from one process beyond rounding"
done
grep -h '"train_loss"' "$tmp/one/summary.json" "$tmp/two/summary.json" |
    awk '{ v[NR] = $2 + 0 } END { d = v[1] - v[2]; if (d < 0) d = -d; exit !(d <= 1e-4 * v[1] + 1e-7) }' &&
    ok || bad "final training loss differs"

# Stopped by SIGTERM and resumed across the same ranks: identical to the uninterrupted 2-rank run.
mpirun --oversubscribe -n 2 "$GS" run "$tmp/exp.cfg" --out "$tmp/stopped" --quiet --threads 1 &
pid=$!
n=0
while [ ! -f "$tmp/stopped/checkpoint.bin" ] && [ $n -lt 1500 ]; do sleep 0.02; n=$((n + 1)); done
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if grep -q '"completed"' "$tmp/stopped/summary.json" 2>/dev/null; then
    ok # finished before the signal: nothing to resume
else
    mpirun --oversubscribe -n 2 "$GS" resume "$tmp/stopped" --quiet --threads 1 || bad "resume on 2 ranks"
fi
cmp -s "$tmp/two/gradients.csv" "$tmp/stopped/gradients.csv" && ok || bad "stopped and resumed run differs"

# The mean-field theory is computed over the global batch like the
# gradients: theory.csv agrees to rounding at any rank count, also when a
# rank's shard of the first batch is empty (batch 2 on 3 ranks).
same_theory() { # DIR1 DIR2: every number within float32 rounding (1e-6 relative)
    awk -F, 'NR == FNR { if (FNR > 1) for (i = 4; i <= NF; i++) a[FNR, i] = $i; n = FNR; next }
             FNR > 1 { for (i = 4; i <= NF; i++) { x = a[FNR, i]; y = $i; d = x - y; if (d < 0) d = -d;
                 s = (x < 0 ? -x : x); if (d > 1e-6 * s + 1e-12) bad++ } }
             END { exit bad > 0 || FNR != n || n < 2 }' "$1/theory.csv" "$2/theory.csv"
}
for k in two three; do
    same_theory "$tmp/one" "$tmp/$k" && ok || { bad "$k ranks: theory.csv differs from one process"; cat "$tmp/one/theory.csv" "$tmp/$k/theory.csv"; }
done
sed 's/batch_size = 31;/batch_size = 2;/; s/samples = 800;/samples = 40;/' "$tmp/exp.cfg" >"$tmp/tiny.cfg"
"$GS" run "$tmp/tiny.cfg" --out "$tmp/tiny-one" --quiet || bad "one-process run, batch 2"
mpirun --oversubscribe -n 3 "$GS" run "$tmp/tiny.cfg" --out "$tmp/tiny-three" --quiet --threads 1 ||
    bad "mpirun -n 3, batch 2"
same_theory "$tmp/tiny-one" "$tmp/tiny-three" && ok ||
    bad "an empty shard changes theory.csv (batch 2 on 3 ranks)"

# Sequences of uneven lengths, padded and masked, with a target per step:
# the loss is the mean over the global batch's counted steps, so a rank's
# gradient weighs its counted steps, not its examples (the shards of a
# batch hold different fractions of padding).  The loss, the gradients and
# the epochs' training loss agree across 1, 2 and 3 ranks to rounding.
awk 'BEGIN { print "id,a,b,y"; for (i = 0; i < 30; i++) { len = (i * 7) % 6 + 1; if (i % 5 == 0) len = 6;
        for (t = 0; t < len; t++) printf "%d,%.3f,%.3f,%.3f\n", i, sin(i + t), cos(3 * i - t), sin(i * t) }}' \
    >"$tmp/seq.csv"
cat >"$tmp/seq.cfg" <<CFG
seed = 5;
data = { type = "csv"; train = "$tmp/seq.csv"; label = ""; targets = "y"; sequence = "id"; per_step = true; };
model = { layers = ( { type = "rnn"; units = 8; return = "sequence"; }, { type = "dense"; units = 1; per_step = true; } ); };
loss = { type = "mse"; };
optimizer = { type = "sgd"; lr = 0.1; };
training = { epochs = 2; batch_size = 6; validation = 0; };
monitor = { every = 1; };
CFG
close() { # FILE1 FILE2 FIRST [LAST]: the numbers of columns FIRST..LAST within 1e-5 relative
    awk -F, -v c="$3" -v l="${4:-0}" 'NR == FNR { if (FNR > 1) for (i = c; i <= NF; i++) a[FNR, i] = $i; n = FNR; next }
             FNR > 1 { for (i = c; i <= (l ? l : NF); i++) { x = a[FNR, i]; y = $i;
                 if (x == "nan" || y == "nan") { if (x != y) bad++; continue }
                 d = x - y; if (d < 0) d = -d; s = (x < 0 ? -x : x); if (d > 1e-5 * s + 1e-7) bad++ } }
             END { exit bad > 0 || FNR != n || n < 2 }' "$1" "$2"
}
"$GS" run "$tmp/seq.cfg" --out "$tmp/seq-one" --quiet || bad "masked sequences: one-process run"
for k in 2 3; do
    mpirun --oversubscribe -n $k "$GS" run "$tmp/seq.cfg" --out "$tmp/seq-$k" --quiet --threads 1 ||
        bad "masked sequences: mpirun -n $k"
    close "$tmp/seq-one/metrics.csv" "$tmp/seq-$k/metrics.csv" 3 && ok ||
        bad "masked sequences, $k ranks: metrics.csv differs from one process"
    close "$tmp/seq-one/gradients.csv" "$tmp/seq-$k/gradients.csv" 4 && ok ||
        bad "masked sequences, $k ranks: gradients.csv differs from one process"
    close "$tmp/seq-one/epochs.csv" "$tmp/seq-$k/epochs.csv" 3 8 && ok ||
        bad "masked sequences, $k ranks: epochs.csv differs from one process"
done

# One rank (mpirun -n 1): a one-process run that still ends MPI properly,
# or mpirun reports a failure for a run that completed.
mpirun -n 1 "$GS" run "$tmp/exp.cfg" --out "$tmp/np1" --quiet >"$tmp/out" 2>&1 && ok ||
    bad "mpirun -n 1 run (status $?): $(cat "$tmp/out")"
grep -q '"completed"' "$tmp/np1/summary.json" 2>/dev/null && ok || bad "mpirun -n 1: the run did not complete"
mpirun -n 1 "$GS" resume "$tmp/np1" --quiet >"$tmp/out" 2>&1 && ok ||
    bad "mpirun -n 1 resume (status $?): $(cat "$tmp/out")"
# Tasks of one srun step that are not one MPI job (worlds of one) are refused.
SLURM_STEP_NUM_TASKS=2 mpirun -n 1 "$GS" run "$tmp/exp.cfg" --out "$tmp/never" >"$tmp/out" 2>&1
[ $? -eq 2 ] && [ ! -e "$tmp/never" ] && grep -q "not one MPI job" "$tmp/out" && ok ||
    bad "a world of one in a step of two tasks: $(cat "$tmp/out")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
