#!/bin/sh
# data.augment and resume: runs with random crops and flips, stopped
# (SIGINT in the first epoch, SIGKILL in a later one) and resumed, end
# bit-identical to a run never stopped, since each example's draw comes
# from (seed, epoch, example) alone.
set -u
. "$(dirname "$0")/shlib.sh"

cat >"$tmp/exp.cfg" <<'CFG'
seed = 5;
data = { type = "synthetic"; set = "images"; classes = 4; channels = 3; image_size = 16;
         samples = 1600; test_samples = 100;
         augment = { crop_padding = 3; flip = true; }; };
model = { layers = ( { type = "dense"; units = 64; activation = "relu"; },
                     { type = "dense"; units = 4; } ); };
optimizer = { type = "sgd"; lr = 0.05; momentum = 0.9; };
training = { epochs = 3; batch_size = 16; };
monitor = { every = 5; };
checkpoint = { every = 20; };
CFG

same_as_reference() { # DIR LABEL
    for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv; do
        cmp -s "$tmp/ref/$f" "$1/$f" || { bad "$2: $f differs"; return; }
    done
    cut -d, -f1-8 "$tmp/ref/epochs.csv" >"$tmp/e1"
    cut -d, -f1-8 "$1/epochs.csv" >"$tmp/e2"
    cmp -s "$tmp/e1" "$tmp/e2" || { bad "$2: epochs.csv differs"; return; }
    ok
}

"$GS" run "$tmp/exp.cfg" --out "$tmp/ref" --quiet || bad "reference run"
# without augmentation the run differs: the check below would see a lost draw
"$GS" run "$tmp/exp.cfg" --out "$tmp/plain" --quiet --set data.augment.flip=false \
    --set data.augment.crop_padding=0 || bad "run without augmentation"
cmp -s "$tmp/ref/metrics.csv" "$tmp/plain/metrics.csv" && bad "augmentation changed nothing"

# Starts the run into DIR, waits until FILE has LINES lines, then sends SIG
# while the run is held stopped (so it cannot finish first).
stop_at() { # SIG DIR FILE LINES
    "$GS" run "$tmp/exp.cfg" --out "$2" --quiet 2>/dev/null &
    pid=$!
    n=0
    while [ "$(cat "$2/$3" 2>/dev/null | wc -l)" -lt "$4" ] && [ $n -lt 6000 ]; do
        sleep 0.01
        n=$((n + 1))
    done
    kill -STOP "$pid"
    kill "-$1" "$pid"
    kill -CONT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
}

stop_at INT "$tmp/int" metrics.csv 3
[ $rc -eq 130 ] && ok || bad "SIGINT: exit status $rc (the run ended before the signal?)"
"$GS" resume "$tmp/int" --quiet || bad "resume after SIGINT"
same_as_reference "$tmp/int" "SIGINT"

# past the end of epoch 1: the draws of epoch 2 come after the resume
stop_at KILL "$tmp/kill" epochs.csv 3
[ $rc -eq 137 ] && ok || bad "SIGKILL: exit status $rc (the run ended before the signal?)"
"$GS" resume "$tmp/kill" --quiet || bad "resume after SIGKILL"
same_as_reference "$tmp/kill" "SIGKILL"

echo "augment_resume: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
