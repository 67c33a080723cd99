#!/bin/sh
# Checkpoints and resume: runs killed (SIGKILL, SIGINT, SIGTERM) at random
# moments and resumed end bit-identical to a run never stopped; damaged,
# foreign or edited checkpoints, and those of older formats, are refused
# without touching anything.
set -u
. "$(dirname "$0")/shlib.sh"

cat >"$tmp/exp.cfg" <<'CFG'
seed = 11;
data = { type = "synthetic"; set = "blobs"; features = 12; classes = 3; samples = 1500; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 48; activation = "tanh"; repeat = 5; },
                     { type = "batchnorm"; }, { type = "dropout"; p = 0.2; },
                     { type = "dense"; units = 48; activation = "prelu"; },
                     { type = "dense"; units = 3; } ); };
optimizer = { type = "adam"; lr = 0.002; };
training = { epochs = 4; batch_size = 8; };
monitor = { every = 3; };
checkpoint = { every = 7; };
variants = ( { name = "a"; }, { name = "b"; optimizer = { lr = 0.001; }; } );
CFG

same_as_reference() { # DIR LABEL [REFERENCE-DIR]
    ref=${3:-$tmp/ref}
    for v in a b; do
        for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv model.csv; do
            cmp -s "$ref/$v/$f" "$1/$v/$f" || { bad "$2: $v/$f differs"; return; }
        done
        cut -d, -f1-8 "$ref/$v/epochs.csv" >"$tmp/e1"
        cut -d, -f1-8 "$1/$v/epochs.csv" >"$tmp/e2"
        cmp -s "$tmp/e1" "$tmp/e2" || { bad "$2: $v/epochs.csv differs"; return; }
        grep -v wall_time "$ref/$v/summary.json" >"$tmp/s1"
        grep -v wall_time "$1/$v/summary.json" >"$tmp/s2"
        cmp -s "$tmp/s1" "$tmp/s2" || { bad "$2: $v/summary.json differs"; return; }
    done
    cmp -s "$ref/index.csv" "$1/index.csv" || { bad "$2: index.csv differs"; return; }
    ok
}

start=$(date +%s%N)
"$GS" run "$tmp/exp.cfg" --out "$tmp/ref" --quiet || bad "reference run"
ms=$(( ($(date +%s%N) - start) / 1000000 ))

# Starts a run of CONFIG (exp.cfg) into DIR, waits for its first checkpoint,
# waits FRACTION of the reference run's time more, then sends SIG (whether or
# not it has finished).
start_and_kill() { # SIG DIR FRACTION [CONFIG]
    "$GS" run "${4:-$tmp/exp.cfg}" --out "$2" --quiet 2>"$tmp/stop.err" &
    pid=$!
    n=0
    while [ -z "$(ls "$2"/*/checkpoint.bin 2>/dev/null)" ] && [ $n -lt 3000 ]; do
        sleep 0.02
        n=$((n + 1))
    done
    sleep "$(awk -v f="$3" -v ms="$ms" 'BEGIN { printf "%.3f", f * ms / 1000 }')"
    kill "-$1" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
}

# SIGKILL at random moments.
for i in 1 2 3 4; do
    d="$tmp/kill$i"
    start_and_kill KILL "$d" "$(awk -v s="$i" 'BEGIN { srand(s * 7919); printf "%.3f", rand() * 0.7 }')"
    # logs hold whole rows only
    for f in "$d"/*/metrics.csv "$d"/*/gradients.csv; do
        [ -f "$f" ] || continue
        [ -z "$(tail -c 1 "$f")" ] || bad "kill $i: $f ends inside a row"
    done
    "$GS" resume "$d" --quiet 2>"$tmp/err" || bad "kill $i: resume failed: $(cat "$tmp/err")"
    same_as_reference "$d" "kill $i"
done

# SIGINT and SIGTERM must find the run training, however fast the machine (a
# run that had finished exits 0): slow.cfg adds the fixture layer fx_gain
# (y = g x), which sleeps delay_ms in each training step, 60 steps a variant,
# and the signal comes right after the first checkpoint (step 7), some 1.3 s
# before variant a could end.  The sleep changes no bits: the reference is
# the same experiment with delay_ms = 0.
mkdir "$tmp/slow"
cp "${GRADSCOPE_TEST_BUILDDIR:-.}/tests/fixtures/.libs/fx_f32only.so" "$tmp/slow/" ||
    bad "no fixture plugin fx_f32only.so"
GRADSCOPE_PLUGIN_PATH="$tmp/slow${GRADSCOPE_PLUGIN_PATH:+:$GRADSCOPE_PLUGIN_PATH}"
export GRADSCOPE_PLUGIN_PATH
sed 's/samples = 1500;/samples = 240;/; s/epochs = 4;/epochs = 2;/
     s/{ type = "dense"; units = 3; }/{ type = "fx_gain"; delay_ms = DELAY; }, { type = "dense"; units = 3; }/' \
    "$tmp/exp.cfg" >"$tmp/slow.tmpl"
sed 's/DELAY/25/' "$tmp/slow.tmpl" >"$tmp/slow.cfg"
sed 's/DELAY/0/' "$tmp/slow.tmpl" >"$tmp/fast.cfg"
grep -q 'delay_ms = 25' "$tmp/slow.cfg" && grep -q 'samples = 240;' "$tmp/slow.cfg" || bad "slow.cfg has no slow layer"
"$GS" run "$tmp/fast.cfg" --out "$tmp/ref-slow" --quiet || bad "reference run of slow.cfg"

# SIGINT: finish the step, checkpoint, exit 130, status interrupted.
d="$tmp/int"
start_and_kill INT "$d" 0 "$tmp/slow.cfg"
[ $rc -eq 130 ] && ok || bad "SIGINT exit status $rc"
grep -qxF "gradscope: interrupted by signal 2; continue with: gradscope resume $d" "$tmp/stop.err" && ok ||
    bad "SIGINT resume command: $(cat "$tmp/stop.err")"
grep -q '"status": "interrupted"' "$d"/*/summary.json && ok || bad "no interrupted status"
grep -q '^[ab],[ab],11,interrupted$' "$d/index.csv" && ok || bad "index.csv: $(cat "$d/index.csv")"
"$GS" resume "$d" --quiet || bad "resume after SIGINT"
same_as_reference "$d" "SIGINT" "$tmp/ref-slow"

# SIGTERM: 143.
d="$tmp/term"
start_and_kill TERM "$d" 0 "$tmp/slow.cfg"
[ $rc -eq 143 ] && ok || bad "SIGTERM exit status $rc"
grep -q '"status": "interrupted"' "$d"/*/summary.json && ok || bad "SIGTERM: no interrupted status"
"$GS" resume "$d" --quiet || bad "resume after SIGTERM"
same_as_reference "$d" "SIGTERM" "$tmp/ref-slow"

# Times count every piece of a resumed run: a first piece made longer than
# the whole of variant a (stopped, then SIGINT) is in its wall_time_s and in
# its epoch's seconds after the resume.
d="$tmp/wall"
"$GS" run "$tmp/exp.cfg" --variant a --out "$d" --quiet &
pid=$!
n=0
while [ ! -f "$d/a/checkpoint.bin" ] && [ $n -lt 3000 ]; do
    sleep 0.02
    n=$((n + 1))
done
pause=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 + 1 }')
kill -STOP "$pid"
sleep "$pause"
kill -CONT "$pid"
kill -INT "$pid"
wait "$pid"
rc=$?
[ $rc -eq 130 ] && ok || bad "stopped run: exit status $rc"
[ ! -d "$d/b" ] && ok || bad "--variant a also trained b"
wall() { sed -n 's/.*"wall_time_s": \([0-9.e+-]*\).*/\1/p' "$1"; }
first=$(wall "$d/a/summary.json")
"$GS" resume "$d" --quiet || bad "resume of the paused run"
after=$(wall "$d/a/summary.json")
awk -v a="$after" -v f="$first" -v p="$pause" 'BEGIN { exit !(a >= f && a >= p) }' && ok ||
    bad "wall_time_s after resume $after, first piece $first, pause $pause"
longest=$(awk -F, 'NR > 1 && $9 > m { m = $9 } END { print m + 0 }' "$d/a/epochs.csv")
awk -v l="$longest" -v p="$pause" 'BEGIN { exit !(l >= p) }' && ok ||
    bad "the paused epoch's seconds $longest < pause $pause"

# The final table lists every variant, the finished ones too.
cp -r "$tmp/ref" "$tmp/part"
rm "$tmp/part/b/summary.json"
"$GS" resume "$tmp/part" >"$tmp/out" 2>&1 || bad "resume of a partly finished run"
grep -q '^a  *completed' "$tmp/out" && grep -q '^b  *completed' "$tmp/out" && ok ||
    bad "final table after resume: $(cat "$tmp/out")"

# A finished run is left alone.
"$GS" resume "$tmp/ref" >"$tmp/out" 2>&1 && grep -q "already finished" "$tmp/out" && ok ||
    bad "resume of a finished run"

# A summary.json that cannot be read, or of a newer format, is refused by name.
cp -r "$tmp/ref" "$tmp/sum"
printf '{\n  "status": "completed",\n  "steps": ' >"$tmp/sum/a/summary.json"
"$GS" resume "$tmp/sum" --quiet 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "sum/a/summary.json: damaged" "$tmp/err" && ok ||
    bad "damaged summary: $(cat "$tmp/err")"
sed 's/"format_version": [0-9]*/"format_version": 99/' "$tmp/ref/a/summary.json" >"$tmp/sum/a/summary.json"
"$GS" resume "$tmp/sum/a" --quiet 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "summary.json: format version 99 is newer" "$tmp/err" && ok ||
    bad "newer summary: $(cat "$tmp/err")"

# Damaged, foreign and orphaned checkpoints: refused, nothing changes.
d="$tmp/dmg"
start_and_kill KILL "$d" 0
ck=$(ls "$d"/*/checkpoint.bin | head -1)
v=$(dirname "$ck")
if [ -n "$ck" ]; then
    before=$(cat "$v"/* | md5sum)
    cp "$ck" "$tmp/ck.bak"
    printf '\377' | dd of="$ck" bs=1 seek=200 conv=notrunc 2>/dev/null
    "$GS" resume "$v" --quiet 2>"$tmp/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "checksum mismatch" "$tmp/err" && ok || bad "damaged checkpoint: $rc $(cat "$tmp/err")"
    head -c 100 "$tmp/ck.bak" >"$ck"
    "$GS" resume "$v" --quiet 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "checkpoint" "$tmp/err" && ok || bad "truncated checkpoint accepted"
    cp "$tmp/ck.bak" "$ck"
    sed -i 's/units = 48;/units = 40;/' "$v/config.cfg"
    "$GS" resume "$v" --quiet 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "different experiment" "$tmp/err" && ok || bad "foreign checkpoint: $(cat "$tmp/err")"
    sed -i 's/units = 40;/units = 48;/' "$v/config.cfg"
    GRADSCOPE_PLUGIN_PATH="$(echo "$GRADSCOPE_PLUGIN_PATH" | tr ':' '\n' | grep -v '/activation/' | paste -sd:)" \
        "$GS" resume "$v" --quiet 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "config.cfg:[0-9]*: .*activation.*not installed\|unknown activation" "$tmp/err" && ok || bad "missing plugin: $(cat "$tmp/err")"
    after=$(cat "$v"/* | md5sum)
    [ "$before" = "$after" ] && ok || bad "a refused resume changed the run directory"
else
    bad "no checkpoint written"
fi

# A checkpoint edited with a valid CRC-32 (gzip's trailer is the same
# checksum) is refused by its range checks, and nothing changes.
recrc() { # SED-SCRIPT [VERSION]: rewrites $ck with the edit (and format VERSION) and a matching checksum
    head -c -4 "$tmp/ck.bak" | LC_ALL=C sed "$1" >"$tmp/body"
    # the version: a little-endian u32 after the 8 bytes of magic
    [ -z "${2:-}" ] || printf "\\$(printf %03o "$2")" | dd of="$tmp/body" bs=1 seek=8 conv=notrunc 2>/dev/null
    cat "$tmp/body" >"$ck"
    gzip -c "$tmp/body" | tail -c 8 | head -c 4 >>"$ck"
}
if [ -n "$ck" ]; then
    recrc ''
    cmp -s "$ck" "$tmp/ck.bak" && ok || bad "recrc does not reproduce the checkpoint"
    before=$(cat "$v"/* | md5sum)
    for edit in 's/^epoch=[0-9]*$/epoch=9/:past the run' \
        's/^step=\([0-9]*\)[0-8]$/step=\19/;t;s/^step=\([0-9]*\)9$/step=\18/:does not match epoch' \
        's/^batch=\([0-9]*\)[0-9]$/batch=\13/:batch offset' \
        's/^ranks=1$/ranks=2/:written by 2 data-parallel processes, this run has 1' \
        's/^total_epochs=4$/total_epochs=5/:different experiment'; do
        recrc "${edit%%:*}"
        cmp -s "$ck" "$tmp/ck.bak" && bad "edit ${edit%%:*} changed nothing"
        "$GS" resume "$v" --quiet 2>"$tmp/err"
        rc=$?
        [ $rc -eq 2 ] && grep -q "${edit#*:}" "$tmp/err" && ok || bad "edited checkpoint (${edit%%:*}): $rc $(cat "$tmp/err")"
    done

    # The formats of older gradscopes that this one cannot continue exactly
    # (3: no rank count, 4: no length of bptt.csv, 5: none of theory.csv)
    # are refused by name, each with its reason, and an unknown one by its
    # number; the run directory stays as it was, no file added.
    for old in '3:from an older gradscope, does not record how many MPI ranks wrote it' \
        '4:from an older gradscope, has no length of bptt.csv' \
        '5:from an older gradscope, has no length of theory.csv' '99:this gradscope reads'; do
        n=${old%%:*}
        recrc '' "$n"
        od -A n -t u4 -j 8 -N 4 "$ck" | grep -q "^ *$n$" || bad "recrc did not write format $n"
        listed=$(ls -A "$v" | md5sum) held=$(cat "$v"/* | md5sum)
        "$GS" resume "$v" --quiet 2>"$tmp/err"
        rc=$?
        [ $rc -eq 2 ] && grep -q -F "$ck: checkpoint format $n, ${old#*:}" "$tmp/err" && ok ||
            bad "checkpoint format $n: $rc $(cat "$tmp/err")"
        [ "$listed $held" = "$(ls -A "$v" | md5sum) $(cat "$v"/* | md5sum)" ] && ok ||
            bad "the refused format $n changed the run directory"
    done
    cp "$tmp/ck.bak" "$ck"
    [ "$before" = "$(cat "$v"/* | md5sum)" ] && ok || bad "a refused resume changed the run directory"

    # A missing log: refused by name, and not created.
    mv "$v/metrics.csv" "$tmp/metrics.bak"
    "$GS" resume "$d" --quiet 2>"$tmp/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "$v/metrics.csv: No such file" "$tmp/err" && ok ||
        bad "missing metrics.csv: $rc $(cat "$tmp/err")"
    [ ! -e "$v/metrics.csv" ] && ok || bad "resume created metrics.csv"
    mv "$tmp/metrics.bak" "$v/metrics.csv"
    "$GS" resume "$d" --quiet 2>"$tmp/err" || bad "resume after the refusals: $(cat "$tmp/err")"
    same_as_reference "$d" "resume after the refusals"
fi

# A summary that says the run finished while its checkpoint and logs say it
# did not, or one that cannot be read beside a checkpoint part-way: resumed.
for how in completed diverged damaged; do
    d="$tmp/sum-$how"
    start_and_kill INT "$d" 0.1
    s=$(grep -l '"status": "interrupted"' "$d"/*/summary.json | head -1)
    case $how in
    damaged) printf '{\n  "status": "comp' >"$s" ;;
    *) sed -i "s/\"status\": \"interrupted\"/\"status\": \"$how\"/" "$s" ;;
    esac
    "$GS" resume "$d" >"$tmp/out" 2>&1 || bad "$how summary of an interrupted run: $(cat "$tmp/out")"
    grep -q "^$(dirname "$s"): already finished" "$tmp/out" && bad "$how summary: $(cat "$tmp/out")"
    same_as_reference "$d" "resume of an interrupted run with a $how summary"
done

"$GS" resume "$tmp/nothing-here" --quiet 2>/dev/null
[ $? -eq 2 ] && ok || bad "resume of a missing directory"
mkdir "$tmp/empty"
"$GS" resume "$tmp/empty" --quiet 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "empty: not a run directory" "$tmp/err" && ok ||
    bad "resume of an empty directory: $(cat "$tmp/err")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
