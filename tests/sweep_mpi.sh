#!/bin/sh
# gradscope sweep under mpirun on this machine: rank 0 hands the runs out,
# the results equal a sweep run in one process.  Skipped (77) unless
# gradscope was configured --with-mpi and mpirun is installed.
set -u
unset SLURM_ARRAY_TASK_ID SLURM_STEP_NUM_TASKS SLURM_PROCID
. "$(dirname "$0")/shlib.sh"
if ! "$GS" sweep --help | grep -q "MPI: built in"; then
    echo "SKIP: gradscope was configured without --with-mpi"
    exit 77
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun is not installed (Debian: openmpi-bin)"
    exit 77
fi
# Open MPI in a container or CI job: root is allowed, no ptrace-based copies
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI does not free what MPI_Init allocates: no leak reports in sanitizer builds
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPIRUN="mpirun --oversubscribe -n 3"

cat >"$tmp/exp.cfg" <<'CFG'
data = { type = "synthetic"; samples = 600; test_samples = 0; features = 6; classes = 2; };
model = { layers = ( { type = "dense"; units = 16; activation = "tanh"; repeat = 2; },
                     { type = "dense"; units = 2; } ); };
training = { epochs = 1; batch_size = 16; };
sweep = { grid = ( { key = "seed"; values = [ 1, 2, 3, 4, 5 ]; },
                   { key = "model.layers.[0].activation"; values = [ "relu", "tanh" ]; } ); };
CFG
"$GS" sweep "$tmp/exp.cfg" --out "$tmp/ref" --threads 1 --quiet || bad "the reference sweep"

$MPIRUN "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 >"$tmp/out" 2>&1
[ $? -eq 0 ] && ok || bad "mpirun sweep: $(cat "$tmp/out")"
grep -q "on 3 MPI ranks (rank 0 schedules, 2 train)" "$tmp/out" && ok || bad "rank 0 did not schedule: $(cat "$tmp/out")"
[ "$(grep -c ': completed' "$tmp/out")" -eq 10 ] && ok || bad "not 10 completed runs: $(cat "$tmp/out")"
sed 's/,[^,]*$//' "$tmp/ref/sweep.csv" >"$tmp/c1"
sed 's/,[^,]*$//' "$tmp/mpi/sweep.csv" 2>/dev/null >"$tmp/c2"
cmp -s "$tmp/c1" "$tmp/c2" && ok || bad "sweep.csv under mpirun differs from the one-process sweep"
cmp -s "$tmp/ref/index.csv" "$tmp/mpi/index.csv" && ok || bad "index.csv under mpirun differs from the one-process sweep"
for r in "$tmp/ref"/*/; do
    b=$(basename "$r")
    cmp -s "$r/metrics.csv" "$tmp/mpi/$b/metrics.csv" && cmp -s "$r/gradients.csv" "$tmp/mpi/$b/gradients.csv" ||
        { bad "$b differs under mpirun"; break; }
done
ok

# started again under mpirun, in a Slurm array task: the whole sweep (every
# run skipped); SLURM_ARRAY_TASK_ID only picks a combination without MPI
SLURM_ARRAY_TASK_ID=3 $MPIRUN "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 >"$tmp/out" 2>&1 ||
    bad "mpirun restart in an array task: $(cat "$tmp/out")"
[ "$(grep -c 'skipped, already completed' "$tmp/out")" -eq 10 ] && ok || bad "mpirun restart did not skip: $(cat "$tmp/out")"
# --quiet: nothing at all
$MPIRUN "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 --quiet >"$tmp/out" 2>&1 || bad "mpirun --quiet"
[ ! -s "$tmp/out" ] && ok || bad "mpirun --quiet printed: $(cat "$tmp/out")"
# two ranks: one trains
mpirun --oversubscribe -n 2 "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 >"$tmp/out" 2>&1 || bad "mpirun -n 2"
grep -q "on 2 MPI ranks (rank 0 schedules, 1 trains)" "$tmp/out" && ok || bad "mpirun -n 2 line: $(cat "$tmp/out")"
# one rank (mpirun -n 1): a sweep in one process, and MPI_Finalize called
mpirun -n 1 "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 --quiet >"$tmp/out" 2>&1
[ $? -eq 0 ] && ok || bad "mpirun -n 1: $(cat "$tmp/out")"
# srun tasks that are not one MPI job (each a world of one, as when the MPI
# library cannot use Slurm's PMI): refused
SLURM_STEP_NUM_TASKS=3 SLURM_PROCID=0 mpirun -n 1 "$GS" sweep "$tmp/exp.cfg" --out "$tmp/never" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "srun --mpi=pmix" "$tmp/out" && [ ! -e "$tmp/never" ] && ok ||
    bad "3 srun tasks of one rank each: $(cat "$tmp/out")"
SLURM_STEP_NUM_TASKS=3 $MPIRUN "$GS" sweep "$tmp/exp.cfg" --out "$tmp/mpi" --threads 1 --quiet >"$tmp/out" 2>&1 &&
    ok || bad "an MPI job of 3 ranks in a step of 3 tasks refused: $(cat "$tmp/out")"

# a bad combination: exit 2 from rank 0 with one message, nothing run
sed 's/"tanh" \]/"tanhh" ]/' "$tmp/exp.cfg" >"$tmp/bad.cfg"
$MPIRUN "$GS" sweep "$tmp/bad.cfg" --out "$tmp/never" >"$tmp/out" 2>&1
[ $? -eq 2 ] && ok || bad "mpirun with a bad combination: $(cat "$tmp/out")"
[ "$(grep -c 'sweep combination 1' "$tmp/out")" -eq 1 ] && ok || bad "not one error message: $(cat "$tmp/out")"
[ -e "$tmp/never" ] && bad "a bad MPI sweep created its directory" || ok
$MPIRUN "$GS" sweep "$tmp/exp.cfg" --jobs 2 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--jobs under mpirun accepted"
$MPIRUN "$GS" sweep "$tmp/exp.cfg" --index-offset 2 >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q "under MPI a sweep takes no" "$tmp/out" && ok || bad "--index-offset under mpirun: $(cat "$tmp/out")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
