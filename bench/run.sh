#!/bin/sh
# Benchmark: the four workloads of the shared BRIEF.md (Performance), each
# trained by gradscope for a fixed time, and by PyTorch in the same
# invocation where python3-torch is installed.  Prints samples/s, the ratio
# gradscope/PyTorch, the cost of monitoring every step (with the default
# detail_every, and with every statistic at every step), peak memory against
# the model's own budget, the machine's sgemm GFLOP/s (numpy, OpenBLAS) and
# the GFLOP/s gradscope reaches on `wide`.  Not a test: nothing here fails on
# a slow machine.  See docs/PERFORMANCE.md.
#
# Usage: bench/run.sh [-s SECONDS] [-g GRADSCOPE] [WORKLOAD...]
#   -s SECONDS   time per measurement (default 5)
#   -g PROGRAM   the gradscope program (default: build/core/gradscope, then PATH)
#   WORKLOAD     deep-narrow mnist-mlp wide resmlp (default: all four)
# Environment: GS_THREADS (gradscope thread counts to try, default "1 NPROC"),
#   MONITOR_PAIRS (repetitions of the monitoring-cost comparison, default 3),
#   RATIO_ROUNDS (gradscope/PyTorch pairs, each at its best thread count, run
#   back to back for the ratio, default 5),
#   TORCH_THREADS (PyTorch's, default 1 2 4 ... NPROC), NO_TORCH=1 skips PyTorch,
#   PYTHON (default: the first of /usr/bin/python3 and python3 that has torch).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/common.sh"
seconds=5
prog=""
while getopts s:g:h opt; do
    case $opt in
    s) seconds=$OPTARG ;;
    g) prog=$OPTARG ;;
    *) bench_usage; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
workloads=${*:-deep-narrow mnist-mlp wide resmlp}
bench_find_prog
nproc=$(nproc 2>/dev/null || echo 1)
pairs=${MONITOR_PAIRS:-3}
rounds=${RATIO_ROUNDS:-5}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
powers() { t=1; while [ "$t" -lt "$1" ]; do printf '%s ' "$t"; t=$((t * 2)); done; echo "$1"; }
gs_threads=${GS_THREADS:-$( [ "$nproc" -gt 1 ] && echo "1 $nproc" || echo 1 )}
torch_threads=${TORCH_THREADS:-$(powers "$nproc")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# name batch optimizer-state-slots dense-layers(in:out[*repeat])
spec() {
    case $1 in
    deep-narrow) echo "32 0 784:64 64:64*31 64:10" ;;
    mnist-mlp) echo "128 2 784:256 256:256 256:10" ;;
    wide) echo "256 0 784:1024 1024:1024*3 1024:10" ;;
    resmlp) echo "128 2 784:256 256:256*32 256:10" ;;
    *) echo "bench: unknown workload '$1'" >&2; exit 2 ;;
    esac
}

# FLOP per sample (forward 2*in*out per layer, backward twice that but for
# the first layer's input gradient), parameters, activation floats per sample.
model_stats() {
    echo "$@" | awk '{
        flops = 0; params = 0; acts = 784
        for (i = 1; i <= NF; i++) {
            split($i, r, "*"); split(r[1], d, ":"); n = (r[2] == "" ? 1 : r[2])
            flops += 6 * d[1] * d[2] * n; params += (d[1] * d[2] + d[2]) * n; acts += d[2] * n
            if (i == 1) flops -= 2 * d[1] * d[2]
        }
        printf "%.0f %.0f %.0f\n", flops, params, acts }'
}

# gs_run CFG THREADS [--set ...]: prints "samples/s peak_kB" of a
# bench_train run.  samples/s is over the completed epochs after the first
# (the warm-up), all their samples over all their seconds, so that steps
# that come every few epochs (detailed monitoring) count in their share.
gs_run() {
    cfg=$1 th=$2
    shift 2
    out=$tmp/run.$$.$th
    hwm=$(bench_train "$cfg" "$th" "$out" "$@")
    samples=$(sed -n 's/^ *samples *= *\([0-9]*\).*/\1/p' "$cfg" | head -1)
    awk -F, -v s="$samples" -v hwm="${hwm:-0}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
        NR > 2 { n++; t += $c }
        END { printf "%.0f %s\n", (n && t > 0 ? n * s / t : 0), hwm }' \
        "$out/epochs.csv" 2>/dev/null || echo "0 0"
    rm -rf "$out"
}

bench_find_python

# The process alone (code, libraries, plugins): subtracted from peak memory.
base_kb=0
if [ -x /usr/bin/time ]; then
    base_kb=$(/usr/bin/time -f '%M' "$prog" validate "$here/wide.cfg" 2>&1 >/dev/null | tail -1)
fi

echo "gradscope benchmark, $(date -u +%Y-%m-%d), $(uname -m), $nproc cores:" \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
echo "program $prog; $seconds s per measurement; samples/s over the epochs after the first"
if [ "$have_torch" = 1 ]; then
    blas=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)
    case $(readlink -f /usr/lib/*-linux-gnu/libblas.so.3 2>/dev/null) in
    *openblas*) echo "PyTorch $blas (OpenBLAS), threads tried: $torch_threads" ;;
    *) echo "PyTorch $blas WITH THE REFERENCE BLAS: install libopenblas0-pthread for a fair peer" ;;
    esac
else
    echo "PyTorch: not installed (python3-torch), ratios skipped"
fi
echo
printf '%-12s %18s %18s %18s %18s %8s %16s\n' workload "gradscope/s (thr)" "monitored/s (cost)" \
    "full/s (cost)" "PyTorch/s (thr)" ratio "mem MB (budget)"
wide_rate=0
for w in $workloads; do
    set -- $(spec "$w")
    batch=$1 slots=$2
    shift 2
    set -- $(model_stats "$@")
    flops=$1 params=$2 acts=$3
    cfg=$here/$w.cfg
    best=0 best_t=1 peak=0
    for t in $gs_threads; do
        set -- $(gs_run "$cfg" "$t")
        if [ "$1" -gt "$best" ]; then best=$1 best_t=$t peak=$2; fi
    done
    # The cost of monitoring: runs without, with (default detail_every) and
    # with every statistic at every step, side by side, repeated; the median
    # of the paired ratios, which drift on a shared machine cancels.
    mcost="" fcost="" mon=0 full=0
    i=0
    while [ "$i" -lt "$pairs" ]; do
        set -- $(gs_run "$cfg" "$best_t")
        p=$1
        set -- $(gs_run "$cfg" "$best_t" --set monitor.every=1)
        mon=$1
        set -- $(gs_run "$cfg" "$best_t" --set monitor.every=1 --set monitor.detail_every=1)
        full=$1
        mcost="$mcost $(awk -v p="$p" -v m="$mon" 'BEGIN { print (p > 0 ? 100 * (p - m) / p : 0) }')"
        fcost="$fcost $(awk -v p="$p" -v m="$full" 'BEGIN { print (p > 0 ? 100 * (p - m) / p : 0) }')"
        i=$((i + 1))
    done
    mcost=$(median $mcost) fcost=$(median $fcost)
    tbest=0 tbest_t=- tnorm=0
    if [ "$have_torch" = 1 ]; then
        for t in $torch_threads; do
            line=$("$PYTHON" "$here/torch_peer.py" "$t" "$seconds" "$w")
            r=$(echo "$line" | sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
            n=$(echo "$line" | sed -n 's/.*norms_samples\/s=\([0-9]*\).*/\1/p')
            if [ "${r:-0}" -gt "$tbest" ]; then tbest=$r tbest_t=$t tnorm=$n; fi
        done
    fi
    # The ratio: gradscope and PyTorch at their best thread counts, back to
    # back, `rounds` times; the medians of the rates and of the paired ratios
    # (a machine whose speed drifts moves both sides of a pair alike).
    ratio=-
    if [ "$tbest" -gt 0 ] && [ "$rounds" -gt 0 ]; then
        rs="" gs_rates="" t_rates=""
        i=0
        while [ "$i" -lt "$rounds" ]; do
            set -- $(gs_run "$cfg" "$best_t")
            g=$1
            r=$("$PYTHON" "$here/torch_peer.py" "$tbest_t" "$seconds" "$w" |
                sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
            gs_rates="$gs_rates $g" t_rates="$t_rates ${r:-0}"
            rs="$rs $(awk -v g="$g" -v r="${r:-0}" 'BEGIN { print (r > 0 ? g / r : 0) }')"
            i=$((i + 1))
        done
        best=$(median $gs_rates | awk '{ printf "%.0f", $1 }')
        tbest=$(median $t_rates | awk '{ printf "%.0f", $1 }')
        ratio=$(awk -v x="$(median $rs)" 'BEGIN { printf "%.2fx", x }')
    elif [ "$tbest" -gt 0 ]; then
        ratio=$(awk -v g="$best" -v r="$tbest" 'BEGIN { printf "%.2fx", g / r }')
    fi
    samples=$(sed -n 's/^ *samples *= *\([0-9]*\).*/\1/p' "$cfg" | head -1)
    budget=$(awk -v p="$params" -v s="$slots" -v b="$batch" -v a="$acts" -v n="$samples" \
        'BEGIN { printf "%.1f", 4 * (p * (2 + s) + b * a + n * 785) / 1048576 }')
    awk -v w="$w" -v g="$best" -v gt="$best_t" -v cost="$mcost" -v fcost="$fcost" -v tb="$tbest" \
        -v tt="$tbest_t" -v pk="$peak" -v base="$base_kb" -v bud="$budget" -v ratio="$ratio" 'BEGIN {
        m = g * (1 - cost / 100)
        f = g * (1 - fcost / 100)
        mem = (pk - base) / 1024
        printf "%-12s %12.0f (%3s) %11.0f (%4.1f%%) %11.0f (%4.1f%%) %12.0f (%3s) %8s %7.1f (%6.1f)\n",
            w, g, gt, m, cost, f, fcost, tb, tt, ratio, mem, bud }'
    [ "$w" = wide ] && wide_rate=$best wide_flops=$flops
done

echo
echo "ratio = gradscope / PyTorch, each at its best thread count: the median of $rounds pairs"
echo "run back to back (rates: their medians); cost = slowdown with"
echo "monitor.every = 1 (monitored: detailed statistics every 100 steps, the default; full:"
echo "every step), median of $pairs side-by-side comparisons; mem = peak RSS less the"
echo "program's own ($((base_kb / 1024)) MB), budget ="
echo "parameters + gradients + optimizer state + one batch of activations + the data set"
if "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
    # OPENBLAS_CORETYPE/L2_SIZE, set on some machines for old OpenBLAS builds,
    # slow a current one down: unset for this measurement only.
    s1=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 "$PYTHON" "$here/peak_sgemm.py")
    sn=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$nproc" "$PYTHON" "$here/peak_sgemm.py")
    echo "sgemm (numpy, n = 2048): $s1 GFLOP/s on 1 core, $sn on $nproc"
    if [ "$wide_rate" -gt 0 ]; then
        awk -v r="$wide_rate" -v f="$wide_flops" -v p="$sn" 'BEGIN {
            g = r * f / 1e9
            printf "gradscope on wide: %.1f GFLOP/s (%.1f MFLOP per sample), %.0f%% of sgemm\n",
                g, f / 1e6, 100 * g / p }'
    fi
elif [ "$wide_rate" -gt 0 ]; then
    awk -v r="$wide_rate" -v f="$wide_flops" 'BEGIN {
        printf "gradscope on wide: %.1f GFLOP/s (numpy not installed: no sgemm figure)\n", r * f / 1e9 }'
fi
