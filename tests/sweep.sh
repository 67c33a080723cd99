#!/bin/sh
# gradscope sweep on one machine: --list, validation before anything runs,
# --jobs 2 equal to --jobs 1, restart after SIGTERM and SIGKILL (finished runs
# skipped, stopped ones resumed bit-identically), --index/--collect and
# SLURM_ARRAY_TASK_ID, variants, index.csv (the map of the runs) beside
# sweep.csv, damaged summaries, and the report of a sweep directory;
# --index-offset, and several srun tasks without MPI refused.
set -u
# the tests say which Slurm variables they mean, also inside a Slurm job
unset SLURM_ARRAY_TASK_ID SLURM_STEP_NUM_TASKS SLURM_PROCID
. "$(dirname "$0")/shlib.sh"

cat >"$tmp/exp.cfg" <<'CFG'
name = "grid";
data = { type = "synthetic"; set = "blobs"; features = 8; classes = 3; samples = 2000; test_samples = 90; };
model = { layers = ( { type = "dense"; units = 32; activation = "tanh"; repeat = 3; },
                     { type = "dense"; units = 3; } ); };
optimizer = { type = "sgd"; lr = 0.01; };
training = { epochs = 8; batch_size = 8; };
monitor = { every = 5; };
checkpoint = { every = 100; };
sweep = {
  grid = ( { key = "model.layers.[0].activation"; values = [ "relu", "tanh" ]; },
           { key = "seed"; values = [ 1, 2 ]; } );
  zip = ( { key = "optimizer.type"; values = [ "sgd", "adam" ]; },
          { key = "optimizer.lr"; values = [ 0.01, 0.001 ]; } );
};
CFG
N=8
# every file of a run but its timings
same_runs() { # DIR-A DIR-B LABEL
    for d in "$1"/*/; do
        r=$(basename "$d")
        for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv; do
            if ! cmp -s "$1/$r/$f" "$2/$r/$f"; then bad "$3: $r/$f differs"; return; fi
        done
        # config.cfg records the threads a run had
        grep -v '^  threads = ' "$1/$r/config.cfg" >"$tmp/g1"
        grep -v '^  threads = ' "$2/$r/config.cfg" >"$tmp/g2"
        if ! cmp -s "$tmp/g1" "$tmp/g2"; then bad "$3: $r/config.cfg differs"; return; fi
        grep -v wall_time "$1/$r/summary.json" >"$tmp/s1"
        grep -v wall_time "$2/$r/summary.json" >"$tmp/s2"
        if ! cmp -s "$tmp/s1" "$tmp/s2"; then bad "$3: $r/summary.json differs"; return; fi
    done
    ok
}
# sweep.csv without its last column (wall_time_s)
same_csv() { # DIR-A DIR-B LABEL
    sed 's/,[^,]*$//' "$1/sweep.csv" >"$tmp/c1"
    sed 's/,[^,]*$//' "$2/sweep.csv" >"$tmp/c2"
    cmp -s "$tmp/c1" "$tmp/c2" && ok || { bad "$3: sweep.csv differs"; diff "$tmp/c1" "$tmp/c2" | head -5; }
}

# --list: one line per combination, grid first key slowest, zip fastest
"$GS" sweep "$tmp/exp.cfg" --list --out "$tmp/list" >"$tmp/out" 2>"$tmp/err" || bad "--list failed: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq $N ] && ok || bad "--list printed $(wc -l <"$tmp/out") lines, not $N"
line=$(sed -n 4p "$tmp/out")
[ "$line" = "$(printf '3\tactivation=relu,seed=2,optimizer=adam,lr=0.001\tmodel.layers.[0].activation="relu"\tseed=2\toptimizer.type="adam"\toptimizer.lr=0.001')" ] &&
    ok || bad "--list line 4: $line"
grep -q "sbatch --array=0-7" "$tmp/err" && ok || bad "--list does not give the array range"
[ -e "$tmp/list" ] && bad "--list created the sweep directory" || ok

# a bad value anywhere: exit 2, naming the combination, nothing run
sed 's/values = \[ 1, 2 \]/values = [ 1, -2 ]/' "$tmp/exp.cfg" >"$tmp/bad.cfg"
"$GS" sweep "$tmp/bad.cfg" --out "$tmp/never" --quiet 2>"$tmp/err"
[ $? -eq 2 ] && ok || bad "a bad combination did not exit 2"
grep -q "sweep combination 2 (activation=relu,seed=-2,optimizer=sgd,lr=0.01)" "$tmp/err" && ok ||
    bad "the error does not name the combination: $(cat "$tmp/err")"
[ -e "$tmp/never" ] && bad "a bad sweep created its directory" || ok
"$GS" sweep "$tmp/exp.cfg" --set optimizer.lr=0.1 --out "$tmp/never" --quiet 2>/dev/null
[ $? -eq 2 ] && ok || bad "--set of a swept key accepted"
# a swept value is a cell of index.csv, which is read a line at a time
sed 's/values = \[ "sgd", "adam" \]/values = [ "sgd", "ad\\nam" ]/' "$tmp/exp.cfg" >"$tmp/nl.cfg"
"$GS" sweep "$tmp/nl.cfg" --out "$tmp/never" --quiet 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "nl.cfg:12: sweep.zip: value 2 of 'optimizer.type' holds a line break" "$tmp/err" && ok ||
    bad "a value with a line break: $(cat "$tmp/err")"
[ -e "$tmp/never" ] && bad "a refused sweep created its directory" || ok

# the reference, one run at a time; then two at a time: the same results
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/ref" --jobs 1 --threads 2 >"$tmp/out" 2>&1 || bad "sweep --jobs 1: $(cat "$tmp/out")"
[ "$(grep -c ': completed' "$tmp/out")" -eq $N ] && ok || bad "not $N completed runs: $(cat "$tmp/out")"
[ "$(wc -l <"$tmp/ref/sweep.csv")" -eq $((N + 1)) ] && ok || bad "sweep.csv does not have $N rows"
head -1 "$tmp/ref/sweep.csv" | grep -qx "activation,seed,optimizer,lr,dir,status,steps,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,test_accuracy,verdict,grad_ratio_first_last,wall_time_s" &&
    ok || bad "sweep.csv header: $(head -1 "$tmp/ref/sweep.csv")"
grep -q '^tanh,2,adam,0.001,"activation=tanh,seed=2,optimizer=adam,lr=0.001",completed,1800,' "$tmp/ref/sweep.csv" &&
    ok || bad "sweep.csv row: $(tail -1 "$tmp/ref/sweep.csv")"
# index.csv: every run's path, variant, seed and status, then the swept keys
# (the swept seed is the seed column)
[ "$(sed -n 2p "$tmp/ref/index.csv")" = "path,variant,seed,status,model.layers.[0].activation,optimizer.type,optimizer.lr" ] &&
    ok || bad "index.csv header: $(head -2 "$tmp/ref/index.csv")"
[ "$(grep -c ',completed,' "$tmp/ref/index.csv")" -eq $N ] && [ "$(wc -l <"$tmp/ref/index.csv")" -eq $((N + 2)) ] &&
    ok || bad "index.csv does not have $N completed rows: $(cat "$tmp/ref/index.csv")"
grep -qx '"activation=tanh,seed=2,optimizer=adam,lr=0.001",,2,completed,tanh,adam,0.001' "$tmp/ref/index.csv" &&
    ok || bad "index.csv row: $(tail -1 "$tmp/ref/index.csv")"
grep -q '^seed = 2;' "$tmp/ref/activation=tanh,seed=2,optimizer=adam,lr=0.001/config.cfg" &&
    grep -q 'type = "adam"' "$tmp/ref/activation=tanh,seed=2,optimizer=adam,lr=0.001/config.cfg" && ok ||
    bad "a run did not train its combination"
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/jobs2" --jobs 2 --threads 2 --quiet || bad "sweep --jobs 2"
same_csv "$tmp/ref" "$tmp/jobs2" "--jobs 2"
same_runs "$tmp/ref" "$tmp/jobs2" "--jobs 2"

# started again: every run is skipped, no summary rewritten
touch -d '2001-01-01 00:00' "$tmp/jobs2"/*/summary.json
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/jobs2" --jobs 2 >"$tmp/out" 2>&1 || bad "restart of a finished sweep"
[ "$(grep -c 'skipped, already completed' "$tmp/out")" -eq $N ] && ok || bad "restart did not skip: $(cat "$tmp/out")"
[ -z "$(find "$tmp/jobs2" -name summary.json -newermt '2001-01-02')" ] && ok || bad "restart rewrote a summary"

# SIGTERM during a sweep: exit 143, the running runs stopped with a
# checkpoint; started again it skips what finished and resumes the rest
d="$tmp/term"
"$GS" sweep "$tmp/exp.cfg" --out "$d" --jobs 2 --threads 2 >"$tmp/out" 2>&1 &
pid=$!
n=0
while [ -z "$(ls "$d"/*/checkpoint.bin 2>/dev/null)" ] && [ $n -lt 3000 ]; do
    sleep 0.02
    n=$((n + 1))
done
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] && ok || bad "SIGTERM: exit status $rc, not 143"
[ "$(grep -c ',completed,' "$d/sweep.csv")" -lt $N ] && ok || bad "SIGTERM: sweep.csv says every run completed"
# a run the signal caught in the middle says so (the signal may also fall between runs)
interrupted=$(grep -c '^\[.*: interrupted' "$tmp/out")
[ "$(grep -c ',interrupted,' "$d/sweep.csv")" -eq "$interrupted" ] && ok || bad "SIGTERM: sweep.csv and the output disagree"
touch -d '2001-01-01 00:00' "$d"/*/summary.json
finished_before=$(grep -l '"completed"' "$d"/*/summary.json | wc -l)
"$GS" sweep "$tmp/exp.cfg" --out "$d" --jobs 2 --threads 2 >"$tmp/out" 2>&1 || bad "restart after SIGTERM: $(cat "$tmp/out")"
[ "$(grep -c 'resumed, completed' "$tmp/out")" -eq "$interrupted" ] && ok || bad "restart after SIGTERM did not resume the $interrupted interrupted runs: $(cat "$tmp/out")"
[ "$(grep -c 'skipped, already completed' "$tmp/out")" -eq "$finished_before" ] && ok ||
    bad "restart after SIGTERM did not skip the $finished_before finished runs"
[ "$(find "$d" -name summary.json ! -newermt '2001-01-02' | wc -l)" -eq "$finished_before" ] && ok ||
    bad "restart after SIGTERM rewrote a finished run"
same_csv "$tmp/ref" "$d" "after SIGTERM"
same_runs "$tmp/ref" "$d" "after SIGTERM"

# --index: one combination (as a Slurm array task would); SIGKILL leaves it
# without a summary, and the next start resumes it from its checkpoint
d="$tmp/array"
"$GS" sweep "$tmp/exp.cfg" --out "$d" --index 5 --quiet &
pid=$!
n=0
while [ ! -e "$d/activation=tanh,seed=1,optimizer=adam,lr=0.001/checkpoint.bin" ] && [ $n -lt 3000 ]; do
    sleep 0.02
    n=$((n + 1))
done
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(ls "$d")" = "activation=tanh,seed=1,optimizer=adam,lr=0.001" ] && ok || bad "--index 5 ran: $(ls "$d")"
"$GS" sweep "$tmp/exp.cfg" --out "$d" --collect --quiet 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "8 of the sweep's runs are not finished" "$tmp/err" && ok ||
    bad "--collect of an unfinished sweep: $(cat "$tmp/err")"
grep -q ',missing,' "$d/sweep.csv" && grep -q '"activation=tanh,seed=1,optimizer=adam,lr=0.001",unfinished,' "$d/sweep.csv" &&
    ok || bad "--collect statuses: $(cat "$d/sweep.csv")"
grep -qx '"activation=tanh,seed=1,optimizer=adam,lr=0.001",,1,unfinished,tanh,adam,0.001' "$d/index.csv" &&
    [ "$(grep -c ',pending,' "$d/index.csv")" -eq $((N - 1)) ] && ok ||
    bad "--collect index.csv: $(cat "$d/index.csv")"
i=0
while [ $i -lt $N ]; do
    if [ $i -eq 3 ]; then
        SLURM_ARRAY_TASK_ID=3 "$GS" sweep "$tmp/exp.cfg" --out "$d" >"$tmp/out" 2>&1 || bad "SLURM_ARRAY_TASK_ID=3"
        grep -q '^\[4/8\] activation=relu,seed=2,optimizer=adam' "$tmp/out" && ok || bad "SLURM_ARRAY_TASK_ID=3 ran: $(cat "$tmp/out")"
    elif [ $i -eq 6 ]; then # an array past MaxArraySize: task 2 of the one from 4
        SLURM_ARRAY_TASK_ID=2 "$GS" sweep "$tmp/exp.cfg" --out "$d" --index-offset 4 >"$tmp/out" 2>&1 ||
            bad "--index-offset 4 in array task 2: $(cat "$tmp/out")"
        grep -q '^\[7/8\] activation=tanh,seed=2,optimizer=sgd' "$tmp/out" && ok ||
            bad "--index-offset 4 in array task 2 ran: $(cat "$tmp/out")"
    elif [ $i -eq 7 ]; then
        "$GS" sweep "$tmp/exp.cfg" --out "$d" --index 3 --index-offset 4 >"$tmp/out" 2>&1 ||
            bad "--index 3 --index-offset 4: $(cat "$tmp/out")"
        grep -q '^\[8/8\] activation=tanh,seed=2,optimizer=adam' "$tmp/out" && ok ||
            bad "--index 3 --index-offset 4 ran: $(cat "$tmp/out")"
    else
        "$GS" sweep "$tmp/exp.cfg" --out "$d" --index $i >"$tmp/out" 2>&1 || bad "--index $i: $(cat "$tmp/out")"
    fi
    if [ $i -eq 5 ]; then
        grep -q '^\[6/8\] .*: resumed, completed' "$tmp/out" && ok || bad "--index 5 after SIGKILL: $(cat "$tmp/out")"
    fi
    i=$((i + 1))
done
"$GS" sweep "$tmp/exp.cfg" --out "$d" --collect --quiet || bad "--collect after every index"
same_csv "$tmp/ref" "$d" "--index/--collect"
cmp -s "$tmp/ref/index.csv" "$d/index.csv" && ok || bad "index.csv after --collect differs from the sweep's"
same_runs "$tmp/ref" "$d" "--index after SIGKILL"
"$GS" sweep "$tmp/exp.cfg" --out "$d" --index $N 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "0 to 7" "$tmp/err" && ok || bad "--index out of range: $(cat "$tmp/err")"
"$GS" sweep "$tmp/exp.cfg" --out "$d" --index 1 --collect 2>/dev/null
[ $? -eq 2 ] && ok || bad "--index with --collect accepted"
SLURM_ARRAY_TASK_ID=4 "$GS" sweep "$tmp/exp.cfg" --out "$tmp/array" --index-offset 4 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "combination 8 (--index-offset 4 + SLURM_ARRAY_TASK_ID 4).*0 to 7" "$tmp/err" && ok ||
    bad "--index-offset past the end: $(cat "$tmp/err")"
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/array" --index-offset 4 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "needs --index or a Slurm array task" "$tmp/err" && ok ||
    bad "--index-offset alone: $(cat "$tmp/err")"
for o in --jobs --collect --list; do
    [ $o = --jobs ] && o="--jobs 2"
    # shellcheck disable=SC2086
    "$GS" sweep "$tmp/exp.cfg" --out "$tmp/never" --index-offset 4 $o 2>/dev/null
    [ $? -eq 2 ] && [ ! -e "$tmp/never" ] && ok || bad "--index-offset with $o accepted"
done
"$GS" sweep --help | grep -q -- "--index-offset N" && ok || bad "--help does not explain --index-offset"
# more combinations than one array of Slurm's default MaxArraySize (1001) holds
{
    echo 'data = { type = "synthetic"; samples = 40; test_samples = 0; features = 2; classes = 2; };'
    echo 'model = { layers = ( { type = "dense"; units = 2; } ); };'
    echo "sweep = { grid = ( { key = \"seed\"; values = [ $(seq -s ', ' 1 1002) ]; } ); };"
} >"$tmp/big.cfg"
"$GS" sweep "$tmp/big.cfg" --list --out "$tmp/never" 2>"$tmp/err" >/dev/null || bad "--list of 1002: $(cat "$tmp/err")"
grep -q "2 arrays of at most 1000 tasks, with --index-offset 0, 1000, ..., 1000" "$tmp/err" && ok ||
    bad "--list of 1002 combinations: $(cat "$tmp/err")"

# srun -n K without an MPI job (MpiDefault=none, or gradscope without MPI):
# each task would do the whole work into one directory, so each is refused
# (task 0 says why) before anything is written
r1="$tmp/array/activation=relu,seed=1,optimizer=sgd,lr=0.01"
for cmd in sweep run resume; do
    if [ $cmd = resume ]; then set -- resume "$r1"; else set -- $cmd "$tmp/exp.cfg" --out "$tmp/never"; fi
    SLURM_STEP_NUM_TASKS=4 SLURM_PROCID=0 "$GS" "$@" >"$tmp/out" 2>&1
    rc=$?
    [ $rc -eq 2 ] && grep -q "srun started 4 tasks (SLURM_STEP_NUM_TASKS) that are not one MPI job" "$tmp/out" &&
        grep -q "srun -n 1" "$tmp/out" && [ ! -e "$tmp/never" ] && ok ||
        bad "srun -n 4 gradscope $cmd (status $rc): $(cat "$tmp/out")"
    SLURM_STEP_NUM_TASKS=4 SLURM_PROCID=2 "$GS" "$@" >"$tmp/out" 2>&1
    [ $? -eq 2 ] && [ ! -s "$tmp/out" ] && ok || bad "task 2 of srun -n 4 gradscope $cmd: $(cat "$tmp/out")"
done
same_runs "$tmp/ref" "$tmp/array" "after refused srun tasks"
SLURM_STEP_NUM_TASKS=1 "$GS" sweep "$tmp/exp.cfg" --list >/dev/null 2>&1 && ok || bad "srun -n 1 refused"

# variants: one row per run, with a variant column
cat >"$tmp/var.cfg" <<'CFG'
data = { type = "synthetic"; samples = 200; test_samples = 0; features = 4; classes = 2; };
model = { layers = ( { type = "dense"; units = 8; activation = "tanh"; }, { type = "dense"; units = 2; } ); };
optimizer = { type = "sgd"; lr = 0.01; };
training = { epochs = 1; };
variants = ( { name = "a"; }, { name = "b"; optimizer = { lr = 0.1; }; } );
sweep = { grid = ( { key = "seed"; values = [ 3, 4 ]; } ); };
CFG
"$GS" sweep "$tmp/var.cfg" --out "$tmp/var" --jobs 2 --quiet || bad "sweep with variants"
[ "$(cut -d, -f1-4 "$tmp/var/sweep.csv" | tr '\n' ' ')" = "seed,variant,dir,status 3,a,seed=3/a,completed 3,b,seed=3/b,completed 4,a,seed=4/a,completed 4,b,seed=4/b,completed " ] &&
    ok || bad "sweep.csv with variants: $(cat "$tmp/var/sweep.csv")"
[ "$(sed 1d "$tmp/var/index.csv" | tr '\n' ' ')" = "path,variant,seed,status seed=3/a,a,3,completed seed=3/b,b,3,completed seed=4/a,a,4,completed seed=4/b,b,4,completed " ] &&
    ok || bad "index.csv with variants: $(cat "$tmp/var/index.csv")"

# a damaged summary.json is reported as such, not taken for a missing one:
# --collect exits 2 naming it (both tables say "damaged"), a restart leaves it
printf '{\n  "status": "completed",\n  "steps": ' >"$tmp/var/seed=4/b/summary.json"
"$GS" sweep "$tmp/var.cfg" --out "$tmp/var" --collect --quiet 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "seed=4/b/summary.json: damaged" "$tmp/err" && ok ||
    bad "--collect of a damaged summary: $(cat "$tmp/err")"
grep -qx 'seed=4/b,b,4,damaged' "$tmp/var/index.csv" && grep -q '^4,b,seed=4/b,damaged,' "$tmp/var/sweep.csv" &&
    ok || bad "the tables with a damaged summary: $(cat "$tmp/var/index.csv" "$tmp/var/sweep.csv")"
"$GS" sweep "$tmp/var.cfg" --out "$tmp/var" --quiet 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "seed=4/b/summary.json: damaged.*remove it" "$tmp/err" && ok ||
    bad "a sweep over a damaged summary: $(cat "$tmp/err")"
[ "$(cat "$tmp/var/seed=4/b/summary.json")" = "$(printf '{\n  "status": "completed",\n  "steps": ')" ] &&
    ok || bad "a sweep rewrote a damaged summary"

# the report compares the runs of a sweep directory
"$GS" report "$tmp/ref" --quiet || bad "report of a sweep directory"
[ "$(grep -o 'activation=[a-z]*,seed=[0-9],optimizer=[a-z]*,lr=[0-9.]*' "$tmp/ref/report.html" | sort -u | wc -l)" -eq $N ] &&
    ok || bad "the report does not show the $N runs"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
