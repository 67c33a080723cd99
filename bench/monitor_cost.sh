#!/bin/sh
# The cost of monitoring, measured so that a shared machine's drift
# cancels.  Each workload trains on one thread four times under `perf
# record` (CPU-time samples): without monitoring (monitor.every larger than
# the run), with the default monitoring (every = 10, detail_every = 100),
# with monitor.every = 1 (the default detail_every), and with every
# statistic at every step (detail_every = 1).  Monitoring
# does not change the matrix products, so the time spent in the GEMM's
# register tile is the same work in all three; the cost is the extra time
# relative to it:
#
#   cost = (all samples / tile samples)_monitored / (same)_unmonitored - 1
#
# which a machine that runs 10% slower in one run than in the next leaves
# unchanged (wall-clock comparisons on such a machine differ by that much
# between identical runs).  The runs include start-up (data generation),
# which dilutes the cost by its share (about 3%).  Not a test; needs perf
# (Debian: linux-perf).  See docs/PERFORMANCE.md, "Monitoring".
#
# The recurrent workloads (rnn-adding lstm-adding gru-rows, bench/run.sh)
# spend about half their time in the tile, most of the rest in the gate
# non-linearities; the ratio above does not depend on that share.  Their
# monitoring adds ||dL/dh_t|| at every time step (bptt.csv) and the
# recurrent matrices' spectra (theory.csv).
#
# One set of four profiles varies by a few points between identical runs
# on a shared machine; MONITOR_COST_ROUNDS=N (default 1) repeats the set N
# times, alternating, and prints each column's median (the rounds' values
# after it).
#
# Usage: bench/monitor_cost.sh [-g GRADSCOPE] [WORKLOAD...]
set -eu

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
bench_options g: "$@"
shift $((OPTIND - 1))
workloads=${*:-deep-narrow mnist-mlp wide resmlp}
rounds=${MONITOR_COST_ROUNDS:-1}
case $rounds in
'' | *[!0-9]* | 0) echo "monitor_cost: MONITOR_COST_ROUNDS must be a positive integer" >&2; exit 2 ;;
esac
bench_find_prog
command -v perf >/dev/null 2>&1 || { echo "monitor_cost: needs perf (apt-get install linux-perf)" >&2; exit 2; }
# The uninstalled program is a libtool wrapper script; perf must run the binary.
run=""
[ -x "$(dirname "$prog")/../libtool" ] && run="$(dirname "$prog")/../libtool --mode=execute"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Epochs for 7 to 10 s of training on one core, and enough steps that the
# detailed ones (every 100) come in their share.
epochs() {
    case $1 in
    deep-narrow | mnist-mlp) echo 60 ;;
    wide | resmlp) echo 13 ;;
    rnn-adding | gru-rows) echo 8 ;;
    lstm-adding) echo 4 ;;
    *) echo "monitor_cost: unknown workload '$1'" >&2; exit 2 ;;
    esac
}

# profile CFG EPOCHS [--set ...]: "all_samples tile_samples"
profile() {
    cfg=$1 ep=$2
    shift 2
    rm -rf "$tmp/run" "$tmp/perf.data"
    $run perf record -q -F 2000 -o "$tmp/perf.data" "$prog" run "$cfg" --out "$tmp/run" \
        --threads 1 --quiet --set training.epochs="$ep" "$@" >/dev/null 2>&1
    perf report -i "$tmp/perf.data" --no-children --stdio -n --sort symbol 2>/dev/null |
        awk '/^ +[0-9.]+%/ { all += $2; if ($0 ~ /tile_/) tile += $2 } END { print all, tile }'
}

# cost ALL TILE ALL0 TILE0: the monitored run's extra time, in percent
cost() {
    awk -v a="$1" -v t="$2" -v pa="$3" -v pt="$4" 'BEGIN {
        if (t == 0 || pt == 0) print "nan"; else printf "%.1f\n", 100 * ((a / t) / (pa / pt) - 1) }'
}

# median VALUES...: the middle value (the mean of the two middle ones)
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "monitoring cost, one thread, $(date -u +%Y-%m-%d), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
if [ "$rounds" -gt 1 ]; then echo "median of $rounds rounds (the rounds' values in brackets)"; fi
printf '%-12s %8s %22s %22s %22s\n' workload epochs "default (10, 100)" "every=1 (detail 100)" \
    "every=1, detail=1"
for w in $workloads; do
    ep=$(epochs "$w")
    cfg=$here/$w.cfg
    d="" m="" f=""
    r=0
    while [ "$r" -lt "$rounds" ]; do
        r=$((r + 1))
        set -- $(profile "$cfg" "$ep")
        pa=$1 pt=$2
        set -- $(profile "$cfg" "$ep" --set monitor.every=10 --set monitor.detail_every=100)
        d="$d $(cost "$1" "$2" "$pa" "$pt")"
        set -- $(profile "$cfg" "$ep" --set monitor.every=1)
        m="$m $(cost "$1" "$2" "$pa" "$pt")"
        set -- $(profile "$cfg" "$ep" --set monitor.every=1 --set monitor.detail_every=1)
        f="$f $(cost "$1" "$2" "$pa" "$pt")"
    done
    case "$d$m$f" in
    *nan*) printf '%-12s %8s  no samples in the GEMM tile\n' "$w" "$ep"; continue ;;
    esac
    # shellcheck disable=SC2086
    printf '%-12s %8d %21s%% %21s%% %21s%%\n' "$w" "$ep" "$(median $d)" "$(median $m)" "$(median $f)"
    if [ "$rounds" -gt 1 ]; then
        printf '%-21s [%s] [%s] [%s]\n' "" "${d# }" "${m# }" "${f# }"
    fi
done
