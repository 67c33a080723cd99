#!/bin/sh
# The Slurm recipes of docs/CLUSTERS.md (examples/slurm/) against a real
# Slurm: a one-node cluster on this machine (munged, slurmctld and slurmd
# started here with their own configuration, state and logs in a temporary
# directory, stopped by PID at the end).  submit.sh's arrays (split by
# --index-offset, MaxArraySize being 4 here) and the --collect job, then
# mpi.sbatch (srun --mpi=pmix), must give the files of a local sweep byte
# for byte.  Skipped (77) unless run as root with Debian's slurm-wlm and
# munge installed and two free ports; the MPI half also needs a gradscope
# built --with-mpi and a Slurm with pmix.
set -u
BUILD="${GRADSCOPE_TEST_BUILDDIR:-.}"
SRC="${GRADSCOPE_TEST_SRCDIR:-.}"
GS="$BUILD/core/gradscope"
skip() {
    echo "SKIP: $*"
    exit 77
}

# The recipes are the documentation's, word for word.
for f in sweep.sbatch submit.sh mpi.sbatch; do
    awk -v f="$SRC/examples/slurm/$f" 'BEGIN { while ((getline l < f) > 0) want = want l "\n" }
        { doc = doc $0 "\n" } END { exit index(doc, want) == 0 }' "$SRC/docs/CLUSTERS.md" ||
        { echo "FAIL: docs/CLUSTERS.md does not show examples/slurm/$f as it is"; exit 1; }
done

[ "$(id -u)" -eq 0 ] || skip "starting slurmctld, slurmd and munged here needs root"
for p in munged slurmctld slurmd sbatch srun squeue scontrol scancel; do
    command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (Debian: apt-get install slurm-wlm munge)"
done

. "$(dirname "$0")/shlib.sh" # $tmp, ok, bad; stop below replaces its trap
chmod 700 "$tmp"
pids=""
stop() {
    # jobs first: slurmstepd outlives slurmd, so nothing may still run
    if [ -n "$pids" ]; then
        timeout 10 scancel --quiet --user=root >/dev/null 2>&1
        end=$(($(date +%s) + 15))
        while q=$(timeout 5 squeue -h 2>/dev/null) && [ -n "$q" ] && [ "$(date +%s)" -lt $end ]; do
            sleep 0.25
        done
    fi
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for p in $pids; do
        n=0
        while kill -0 "$p" 2>/dev/null && [ $n -lt 40 ]; do sleep 0.25; n=$((n + 1)); done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP

# two free ports next to each other
port_busy() {
    hex=$(printf ':%04X ' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hex" '$2 ~ p && $4 == "0A" { f = 1 } END { exit !f }'
}
port=""
for try in 1 2 3 4 5 6 7 8; do
    c=$((20000 + ($$ * 7 + try * 613) % 30000))
    if ! port_busy "$c" && ! port_busy $((c + 1)); then port=$c; break; fi
done
[ -n "$port" ] || skip "no two free TCP ports found for slurmctld and slurmd"

host=$(hostname -s)
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/work"
dd if=/dev/urandom of="$tmp/munge/key" bs=1024 count=1 2>/dev/null
chmod 600 "$tmp/munge/key"
cat >"$tmp/slurm.conf" <<EOF
ClusterName=gradscope-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge/socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
TaskPlugin=task/none
ProctrackType=proctrack/linuxproc
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MaxArraySize=4
SchedulerParameters=sched_interval=1
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$tmp/slurm.conf"

munged -F --force --socket="$tmp/munge/socket" --key-file="$tmp/munge/key" \
    --pid-file="$tmp/munge/pid" --log-file="$tmp/munge/log" --seed-file="$tmp/munge/seed" \
    >"$tmp/munge/out" 2>&1 &
pids="$!"
slurmctld -D -i >"$tmp/slurmctld.out" 2>&1 &
pids="$pids $!"
slurmd -D -N "$host" >"$tmp/slurmd.out" 2>&1 &
pids="$pids $!"
end=$(($(date +%s) + 20))
until timeout 5 sinfo -h -o %t 2>/dev/null | grep -qx idle; do
    if [ "$(date +%s)" -ge $end ]; then
        echo "slurmctld.log:"; tail -5 "$tmp/slurmctld.log" "$tmp/slurmctld.out" 2>/dev/null
        echo "slurmd.log:"; tail -5 "$tmp/slurmd.log" "$tmp/slurmd.out" 2>/dev/null
        tail -3 "$tmp/munge/log" "$tmp/munge/out" 2>/dev/null
        skip "the test cluster did not come up in 20 s (logs above)"
    fi
    sleep 0.25
done

# Waits (at most $1 seconds) until no job is left in the queue.
wait_jobs() {
    end=$(($(date +%s) + $1))
    while [ -n "$(timeout 10 squeue -h 2>&1)" ]; do
        if [ "$(date +%s)" -ge $end ]; then
            bad "jobs still queued after $1 s: $(timeout 10 squeue 2>&1)"
            timeout 10 scancel --user=root >/dev/null 2>&1
            return 1
        fi
        sleep 0.25
    done
}

export PATH="$BUILD/core:$PATH"
cat >"$tmp/exp.cfg" <<'CFG'
data = { type = "synthetic"; set = "blobs"; features = 6; classes = 3; samples = 300; test_samples = 30; };
model = { layers = ( { type = "dense"; units = 16; activation = "tanh"; repeat = 2; },
                     { type = "dense"; units = 3; } ); };
training = { epochs = 2; batch_size = 16; };
checkpoint = { every = 10; };
sweep = { grid = ( { key = "seed"; values = [ 1, 2, 3 ]; },
                   { key = "model.layers.[0].activation"; values = [ "relu", "tanh" ]; } ); };
CFG
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/ref" --threads 1 --quiet || bad "the local sweep"

# every file of a run but its timings and thread count
same_runs() { # REF DIR LABEL
    ref=$1
    shift
    [ "$(ls "$ref")" = "$(ls "$1")" ] || { bad "$2: other files: $(ls "$1")"; return; }
    for d in "$ref"/*/; do
        r=$(basename "$d")
        for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv model.csv; do
            [ -f "$d/$f" ] || continue
            cmp -s "$d/$f" "$1/$r/$f" || { bad "$2: $r/$f differs"; return; }
        done
        # epochs.csv without its last column (seconds)
        sed 's/,[^,]*$//' "$d/epochs.csv" >"$tmp/e1"
        sed 's/,[^,]*$//' "$1/$r/epochs.csv" >"$tmp/e2" 2>/dev/null
        cmp -s "$tmp/e1" "$tmp/e2" || { bad "$2: $r/epochs.csv differs"; return; }
        grep -v '^  threads = ' "$d/config.cfg" >"$tmp/g1"
        grep -v '^  threads = ' "$1/$r/config.cfg" >"$tmp/g2"
        cmp -s "$tmp/g1" "$tmp/g2" || { bad "$2: $r/config.cfg differs"; return; }
        grep -v wall_time "$d/summary.json" >"$tmp/s1"
        grep -v wall_time "$1/$r/summary.json" >"$tmp/s2"
        cmp -s "$tmp/s1" "$tmp/s2" || { bad "$2: $r/summary.json differs"; return; }
    done
    sed 's/,[^,]*$//' "$ref/sweep.csv" >"$tmp/c1"
    sed 's/,[^,]*$//' "$1/sweep.csv" >"$tmp/c2" 2>/dev/null
    cmp -s "$tmp/c1" "$tmp/c2" && cmp -s "$ref/index.csv" "$1/index.csv" && ok ||
        bad "$2: sweep.csv or index.csv differs from the local sweep's"
}

# The recipes made to fit this machine: one CPU a task, one node.
mkdir -p "$tmp/recipe"
for f in sweep.sbatch submit.sh mpi.sbatch; do
    sed -e 's/^#SBATCH --cpus-per-task=8/#SBATCH --cpus-per-task=1/' -e 's/^#SBATCH --mem=8G/#SBATCH --mem=100M/' \
        -e 's/^#SBATCH --nodes=4/#SBATCH --nodes=1/' -e 's/^#SBATCH --ntasks-per-node=4/#SBATCH --ntasks-per-node=3/' \
        "$SRC/examples/slurm/$f" >"$tmp/recipe/$f"
done
chmod +x "$tmp/recipe/submit.sh"

# An invalid file: submit.sh stops before sbatch.
cd "$tmp/work" || exit 1
sed 's/"tanh" \]/"tanhh" ]/' "$tmp/exp.cfg" >"$tmp/bad.cfg"
CONFIG="$tmp/bad.cfg" SWEEP="$tmp/never" timeout 60 "$tmp/recipe/submit.sh" >"$tmp/out" 2>&1 &&
    bad "submit.sh went on with an invalid file: $(cat "$tmp/out")" || ok
[ -z "$(timeout 10 squeue -h)" ] && ok || bad "submit.sh submitted jobs for an invalid file: $(timeout 10 squeue)"

# The arrays: 6 combinations, MaxArraySize 4, so two arrays (offsets 0 and 4).
CONFIG="$tmp/exp.cfg" SWEEP="$tmp/array" timeout 60 "$tmp/recipe/submit.sh" >"$tmp/out" 2>&1 ||
    bad "submit.sh: $(cat "$tmp/out")"
wait_jobs 180
same_runs "$tmp/ref" "$tmp/array" "array recipe"
[ "$(ls logs | grep -c '^study-[0-9]*_[0-9]*\.out$')" -eq 6 ] && ok || bad "array logs: $(ls logs)"
ls logs | grep -q '^study-collect-[0-9]*\.out$' && ok || bad "no log of the collect job: $(ls logs)"

# srun without --mpi=pmix: every task refused, nothing written.
timeout 60 srun -n 2 --mpi=none gradscope sweep "$tmp/exp.cfg" --out "$tmp/none" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'srun --mpi=pmix' "$tmp/out" && [ ! -e "$tmp/none" ] && ok ||
    bad "srun -n 2 without MPI (status $rc): $(cat "$tmp/out")"

# One process in the batch shell of a job with several tasks is no task of
# a step: not refused.
jid=$(timeout 30 sbatch --parsable --ntasks=2 --output="$tmp/batch.out" \
    --wrap "env | grep ^SLURM_ >'$tmp/batch.env'; gradscope sweep '$tmp/exp.cfg' --list" 2>"$tmp/out") ||
    bad "sbatch --ntasks=2: $(cat "$tmp/out")"
wait_jobs 60
[ "$(grep -c . "$tmp/batch.out" 2>/dev/null)" -eq 7 ] && ok ||
    bad "--list in a batch shell of --ntasks=2: $(cat "$tmp/batch.out" "$tmp/batch.env")"

# The MPI recipe.
if ! "$GS" sweep --help | grep -q "MPI: built in"; then
    echo "SKIP (MPI half): gradscope was configured without --with-mpi"
elif ! timeout 30 srun --mpi=list 2>&1 | grep -q pmix; then
    echo "SKIP (MPI half): this Slurm has no pmix plugin (srun --mpi=list)"
else
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    # Runs that surely train when the signal comes, however fast the machine:
    # the fixture layer fx_gain (y = g x) sleeps 15 ms in each training step
    # (190 steps, about 3 s a run; the first checkpoint comes at step 10).
    mkdir "$tmp/slow"
    cp "$BUILD/tests/fixtures/.libs/fx_f32only.so" "$tmp/slow/" || bad "no fixture plugin fx_f32only.so"
    export GRADSCOPE_PLUGIN_PATH="$tmp/slow${GRADSCOPE_PLUGIN_PATH:+:$GRADSCOPE_PLUGIN_PATH}"
    sed 's/values = \[ 1, 2, 3 \]/values = [ 1, 2 ]/; s/epochs = 2;/epochs = 10;/
         s/{ type = "dense"; units = 3; }/{ type = "fx_gain"; delay_ms = 15; }, { type = "dense"; units = 3; }/' \
        "$tmp/exp.cfg" >"$tmp/long.cfg"
    grep -q 'delay_ms = 15' "$tmp/long.cfg" || bad "long.cfg has no slow layer"
    "$GS" sweep "$tmp/long.cfg" --out "$tmp/ref-long" --threads 1 --quiet || bad "the local sweep of long.cfg"
    jid=$(CONFIG="$tmp/long.cfg" SWEEP="$tmp/mpi" timeout 30 sbatch --parsable "$tmp/recipe/mpi.sbatch" 2>"$tmp/out") ||
        bad "sbatch mpi.sbatch: $(cat "$tmp/out")"
    # what --signal=TERM@120 does at the time limit: SIGTERM to the steps' tasks
    n=0
    until ls "$tmp/mpi"/*/checkpoint.bin >/dev/null 2>&1 || [ $n -gt 240 ]; do sleep 0.25; n=$((n + 1)); done
    timeout 10 scancel --signal=TERM "$jid" || bad "scancel --signal=TERM"
    wait_jobs 60
    grep -q '"interrupted"' "$tmp/mpi"/*/summary.json && ok ||
        bad "SIGTERM to the MPI recipe interrupted no run: $(cat logs/study-mpi-"$jid".out)"
    timeout 10 scontrol show job "$jid" | grep -q 'ExitCode=143:0' && ok ||
        bad "the stopped MPI job's exit code: $(timeout 10 scontrol show job "$jid" | grep -o 'ExitCode=[^ ]*')"
    grep -q "on 3 MPI ranks (rank 0 schedules, 2 train)" logs/study-mpi-"$jid".out && ok ||
        bad "MPI recipe log: $(cat logs/study-mpi-"$jid".out)"
    # submitted again: the sweep resumes and ends as the local one
    jid=$(CONFIG="$tmp/long.cfg" SWEEP="$tmp/mpi" timeout 30 sbatch --parsable "$tmp/recipe/mpi.sbatch" 2>"$tmp/out") ||
        bad "sbatch mpi.sbatch again: $(cat "$tmp/out")"
    wait_jobs 120
    grep -q "resumed, completed" logs/study-mpi-"$jid".out && ok || bad "no run resumed: $(cat logs/study-mpi-"$jid".out)"
    same_runs "$tmp/ref-long" "$tmp/mpi" "MPI recipe stopped and submitted again"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
