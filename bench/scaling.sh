#!/bin/sh
# Thread scaling of the `wide` workload (784 -> 4 x (1024, relu) -> 10,
# batch 256, SGD): gradscope's samples/s at 1, 2, 4, 8 and 16 threads (those
# up to the machine's core count unless THREADS says otherwise) with the
# speed-up over one thread, then PyTorch's best over the same thread counts
# where python3-torch is installed.  See docs/PERFORMANCE.md.
#
# With CEILING=1 it also runs as many one-thread trainings at once as the
# largest thread count, each pinned to its own CPU (taskset), and prints
# their sum: what the machine gives work that needs no synchronization, the
# ceiling for the speed-up of one synchronous run.
#
# Usage: bench/scaling.sh [-s SECONDS] [-g GRADSCOPE]
# Environment: THREADS (default "1 2 4 8 16" cut at nproc), PYTHON, NO_TORCH=1,
#   CEILING=1.
set -eu

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
seconds=8
bench_options s:g: "$@"
bench_find_prog
nproc=$(nproc 2>/dev/null || echo 1)
if [ -z "${THREADS:-}" ]; then
    THREADS=""
    for t in 1 2 4 8 16; do [ "$t" -le "$nproc" ] && THREADS="$THREADS $t"; done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cfg=$here/wide.cfg
samples=$(sed -n 's/^ *samples *= *\([0-9]*\).*/\1/p' "$cfg" | head -1)

# The median samples/s over the completed epochs after the first of a
# bench_train run at $1 threads ($2: a name for runs side by side).
rate() {
    out=$tmp/run.$1${2:+.$2}
    bench_train "$cfg" "$1" "$out" >/dev/null
    awk -F, -v s="$samples" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
        NR > 2 { r[n++] = s / $c }
        END {
            if (n == 0) { print 0; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
            printf "%.0f\n", n % 2 ? r[int(n / 2)] : (r[n / 2 - 1] + r[n / 2]) / 2 }' \
        "$out/epochs.csv" 2>/dev/null || echo 0
    rm -rf "$out"
}

echo "wide: $($prog --version | head -1), $nproc cores:" \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
one=0
for t in $THREADS; do
    r=$(rate "$t")
    [ "$one" -gt 0 ] || one=$r
    awk -v t="$t" -v r="$r" -v one="$one" \
        'BEGIN { printf "gradscope %2d threads: %7.0f samples/s  %5.2fx\n", t, r, (one > 0 ? r / one : 0) }'
done

if [ -n "${CEILING:-}" ]; then
    n=0
    for t in $THREADS; do [ "$t" -gt "$n" ] && n=$t; done
    if ! command -v taskset >/dev/null 2>&1; then
        echo "ceiling: no taskset (util-linux) to pin the runs"
    else
        # the CPUs this process may use, one per line
        cpus=$(taskset -cp $$ | sed 's/.*: //' | tr ',' '\n' |
            awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }')
        i=0
        for c in $cpus; do
            [ "$i" -lt "$n" ] || break
            (bench_launch="taskset -c $c" && rate 1 "cpu$c" >"$tmp/ceil.$c") &
            i=$((i + 1))
        done
        wait
        cat "$tmp"/ceil.* | awk -v n="$i" -v one="$one" '
            { s += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
            END { printf "ceiling: %d one-thread runs at once, each pinned: %.0f samples/s together (%.1fx one thread alone), each %.0f to %.0f\n",
                  n, s, (one > 0 ? s / one : 0), lo, hi }'
    fi
fi

bench_find_python
if [ "$have_torch" = 1 ]; then
    best=0 best_t=-
    for t in $THREADS; do
        r=$("$PYTHON" "$here/torch_peer.py" "$t" "$seconds" wide | sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
        echo "PyTorch   $(printf '%2d' "$t") threads: $(printf '%7d' "${r:-0}") samples/s"
        if [ "${r:-0}" -gt "$best" ]; then best=$r best_t=$t; fi
    done
    echo "PyTorch best: $best samples/s at $best_t threads"
fi
