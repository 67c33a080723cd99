#!/bin/bash
# Submits a gradscope sweep as Slurm arrays of sweep.sbatch, at most
# MaxArraySize tasks each (--index-offset for the rest), and a job that
# writes sweep.csv and index.csv once they have all ended.
#   CONFIG=study.cfg SWEEP=$HOME/sweeps/study ./submit.sh
# Never while an earlier submission of the same sweep still runs.
set -euo pipefail
export CONFIG="${CONFIG:-study.cfg}" SWEEP="${SWEEP:-$HOME/sweeps/study}"
here=$(dirname "$0")
mkdir -p logs
# stop here if the file is invalid: no array of nothing
gradscope sweep "$CONFIG" --out "$SWEEP" --list >logs/combinations.txt
n=$(wc -l <logs/combinations.txt)
max=$(scontrol show config | awk '$1 == "MaxArraySize" { print $3 }')
jobs=""
for ((off = 0; off < n; off += max)); do
    last=$((n - off < max ? n - off - 1 : max - 1))
    jobs="$jobs:$(sbatch --parsable --array=0-"$last"%50 "$here/sweep.sbatch" --index-offset "$off")"
done
sbatch --parsable --dependency=afterany"$jobs" --job-name=study-collect \
    --output=logs/%x-%j.out --wrap "gradscope sweep '$CONFIG' --out '$SWEEP' --collect"
