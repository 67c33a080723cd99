#!/bin/sh
# Resume of a masked sequence run: variable-length CSV sequences with a
# target per step (padding masked out of the loss), a stacked LSTM and a
# tanh RNN, stopped in the middle of epochs (SIGINT, again after every
# resume) and resumed until done, end byte-identical to the run never
# stopped: metrics, gradients through time (bptt.csv, and series.csv with
# the stacked layer below the top one), the spectral rows of theory.csv,
# and the final checkpoint but for the configuration's hash and the times.
set -u
GS="${GRADSCOPE_TEST_BUILDDIR:-.}/core/gradscope"
. "$(dirname "$0")/shlib.sh"

# The fixture layer fx_gain (y = g x) raises SIGINT in its process's
# STOPth training forward: the run stops at a known step, mid-epoch, with
# no race against a fast machine.
mkdir "$tmp/fx"
cp "${GRADSCOPE_TEST_BUILDDIR:-.}/tests/fixtures/.libs/fx_f32only.so" "$tmp/fx/" ||
    bad "no fixture plugin fx_f32only.so"
GRADSCOPE_PLUGIN_PATH="$tmp/fx${GRADSCOPE_PLUGIN_PATH:+:$GRADSCOPE_PLUGIN_PATH}"
export GRADSCOPE_PLUGIN_PATH

# 60 sequences of 2 to 9 steps, one feature and a target per step: the
# running sum of the inputs so far, so the state has to carry it.
awk 'BEGIN {
    print "id,x,y"
    for (s = 0; s < 60; s++) {
        len = 2 + (s * 5) % 8
        sum = 0
        for (t = 0; t < len; t++) {
            x = ((s * 37 + t * 11) % 19) / 9.5 - 1
            sum += x
            printf "%d,%.4f,%.4f\n", s, x, sum / 3
        }
    }
}' >"$tmp/seq.csv"

# 54 training sequences in batches of 4: 14 steps an epoch, 42 in all;
# stopped after 9, 18, 27 and 36 steps, none of them an epoch's end.
cat >"$tmp/exp.tmpl" <<CFG
seed = 4;
data = { type = "csv"; train = "$tmp/seq.csv"; label = ""; targets = "y";
         sequence = "id"; per_step = true; };
model = { layers = ( { type = "lstm"; units = 6; layers = 2; return = "sequence"; },
                     { type = "fx_gain"; interrupt_after = STOP; },
                     { type = "rnn"; units = 5; return = "sequence"; },
                     { type = "dense"; units = 1; per_step = true; } ); };
loss = { type = "mse"; };
optimizer = { type = "adam"; lr = 0.01; };
training = { epochs = 3; batch_size = 4; };
monitor = { every = 2; detail_every = 4; };
checkpoint = { every = 5; };
CFG
sed 's/STOP/0/' "$tmp/exp.tmpl" >"$tmp/ref.cfg"
sed 's/STOP/9/' "$tmp/exp.tmpl" >"$tmp/cut.cfg"

"$GS" run "$tmp/ref.cfg" --out "$tmp/ref" --quiet || bad "reference run"
for f in bptt.csv series.csv theory.csv; do
    [ -s "$tmp/ref/$f" ] || bad "the reference run has no $f"
done
grep -q '^[0-9]*,0,dL/dh_l0,time,' "$tmp/ref/series.csv" ||
    bad "no gradient through time of the LSTM's lower stacked layer in series.csv"
grep -q '^[0-9]*,2,' "$tmp/ref/bptt.csv" || bad "no bptt.csv rows of the RNN (layer 2)"
steps=$(sed -n 's/.*"steps": \([0-9]*\).*/\1/p' "$tmp/ref/summary.json")
[ "$steps" = 42 ] || bad "the reference run took ${steps:-no} steps, not 42"

"$GS" run "$tmp/cut.cfg" --out "$tmp/cut" --quiet 2>"$tmp/err"
rc=$?
[ $rc -eq 130 ] && ok || bad "first piece: exit status $rc: $(cat "$tmp/err")"
# stopped in epoch 1 after its 9th step (steps 0 to 8), no epoch finished
grep -q '"steps": 9,' "$tmp/cut/summary.json" && ok ||
    bad "first piece: $(grep '"steps"' "$tmp/cut/summary.json")"
[ "$(tail -1 "$tmp/cut/metrics.csv" | cut -d, -f1)" = 8 ] && ok ||
    bad "first piece: last metrics row $(tail -1 "$tmp/cut/metrics.csv")"
[ "$(sed 1d "$tmp/cut/epochs.csv" 2>/dev/null | wc -l)" -eq 0 ] && ok ||
    bad "first piece: an epoch finished"
pieces=1
while [ $rc -eq 130 ] && [ $pieces -lt 10 ]; do
    "$GS" resume "$tmp/cut" --quiet 2>"$tmp/err"
    rc=$?
    pieces=$((pieces + 1))
done
[ $rc -eq 0 ] && ok || bad "resume: exit status $rc: $(cat "$tmp/err")"
[ $pieces -eq 5 ] && ok || bad "$pieces pieces, not 5 (stops after 9, 18, 27, 36 steps)"

for f in metrics.csv gradients.csv layers.csv paths.csv series.csv bptt.csv theory.csv \
    histograms.csv model.csv; do
    cmp -s "$tmp/ref/$f" "$tmp/cut/$f" && ok || bad "$f differs after the resumes"
done
# The final checkpoints: the same bytes but for the configuration's hash
# (the two differ in interrupt_after), the TIME section (wall times; the
# last one) and the CRC after it.
same_checkpoint() { # REF OTHER
    h=$(grep -abo 'config_hash=' "$1" | head -1 | cut -d: -f1)
    t=$(grep -abo 'TIME' "$1" | tail -1 | cut -d: -f1)
    [ -n "$h" ] && [ -n "$t" ] && [ "$(wc -c <"$1")" -eq "$(wc -c <"$2")" ] || return 1
    cmp -l "$1" "$2" | awk -v a=$((h + 13)) -v b=$((h + 28)) -v t="$t" '
        ($1 < a || $1 > b) && $1 <= t { n++ } END { exit n > 0 }'
}
same_checkpoint "$tmp/ref/checkpoint.bin" "$tmp/cut/checkpoint.bin" && ok ||
    bad "checkpoint.bin differs after the resumes (beyond the config hash and the times)"
cut -d, -f1-8 "$tmp/ref/epochs.csv" >"$tmp/e1"
cut -d, -f1-8 "$tmp/cut/epochs.csv" >"$tmp/e2"
cmp -s "$tmp/e1" "$tmp/e2" && ok || bad "epochs.csv differs after the resumes"
grep -v wall_time "$tmp/ref/summary.json" >"$tmp/s1"
grep -v wall_time "$tmp/cut/summary.json" >"$tmp/s2"
cmp -s "$tmp/s1" "$tmp/s2" && ok || bad "summary.json differs after the resumes"

echo "rnn_resume: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
