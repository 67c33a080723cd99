#!/bin/sh
# How cost grows with width, depth and batch (issue #25): the dense family
# 784 -> DEPTH x (WIDTH, relu) -> 10, SGD lr 0.01, softmax cross-entropy,
# trained by gradscope for a fixed time at each point of three sweeps, one
# factor at a time from a base point, and by PyTorch at the same shape where
# python3-torch is installed.  Prints a Markdown table (samples/s, GFLOP/s,
# PyTorch's samples/s and the ratio), ready for docs/PERFORMANCE.md.  Not a
# test: nothing here fails on a slow machine.  The whole sweep, at the
# defaults, takes about 6 minutes on 2 cores.
#
# Usage: bench/sweep.sh [-s SECONDS] [-g GRADSCOPE]
#   -s SECONDS   time per measurement (default 4)
#   -g PROGRAM   the gradscope program (default: build/core/gradscope, then PATH)
# Environment: BASE ("WIDTH DEPTH BATCH" of the base point, default
#   "256 4 128"), WIDTHS (default "64 128 256 512 1024 2048"), DEPTHS
#   ("2 4 8 16 32"), BATCHES ("16 32 64 128 256 512"); an empty list skips
#   its sweep.  GS_THREADS (gradscope's thread counts to try, default
#   "1 NPROC"), TORCH_THREADS (PyTorch's, default the same; each with
#   OPENBLAS_NUM_THREADS set to it), NO_TORCH=1 skips PyTorch, PYTHON.
set -eu

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
seconds=4
bench_options s:g: "$@"
shift $((OPTIND - 1))
if [ $# -gt 0 ]; then
    echo "bench/sweep.sh: no operands expected (got '$1'); the sweeps are set by BASE, WIDTHS, DEPTHS, BATCHES" >&2
    exit 2
fi
bench_find_prog
nproc=$(nproc 2>/dev/null || echo 1)
all_threads=$( [ "$nproc" -gt 1 ] && echo "1 $nproc" || echo 1 )
gs_threads=${GS_THREADS:-$all_threads}
torch_threads=${TORCH_THREADS:-$all_threads}
# shellcheck disable=SC2086 # three words
set -- ${BASE:-256 4 128}
base_w=${1:-} base_d=${2:-} base_b=${3:-}
widths=${WIDTHS-64 128 256 512 1024 2048}
depths=${DEPTHS-2 4 8 16 32}
batches=${BATCHES-16 32 64 128 256 512}
for v in $base_w $base_d $base_b $widths $depths $batches $gs_threads $torch_threads; do
    case $v in
    '' | *[!0-9]* | 0*)
        echo "bench/sweep.sh: '$v' is not a positive integer (BASE, WIDTHS, DEPTHS, BATCHES, *_THREADS)" >&2
        exit 2 ;;
    esac
done
if [ -z "$base_b" ] || [ $# -ne 3 ]; then
    echo "bench/sweep.sh: BASE is three numbers, WIDTH DEPTH BATCH (got '${BASE:-}')" >&2
    exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
bench_find_python

# FLOP per sample of 784 -> D x W -> 10: 2 in out per layer forward, twice
# that backward, but for the first layer's input gradient (run.sh's count).
flops() {
    awk -v w="$1" -v d="$2" 'BEGIN {
        s = 784 * w + (d - 1) * w * w + w * 10
        printf "%.0f\n", 6 * s - 2 * 784 * w }'
}

# Examples per epoch: about 2e10 FLOP, so that an epoch takes a fraction of
# a second at any shape (the rate counts whole epochs after the first),
# between two batches and 4096, a whole number of batches.
epoch_samples() {
    awk -v f="$1" -v b="$2" 'BEGIN {
        n = 2e10 / f
        if (n > 4096) n = 4096
        n = int(n / b) * b
        if (n < 2 * b) n = 2 * b
        print n }'
}

# write_cfg W D B N: the point's experiment file, on stdout.
write_cfg() {
    cat <<EOF
name = "sweep";
seed = 1;
data = { type = "synthetic"; set = "blobs"; features = 784; classes = 10; samples = $4; test_samples = 0; };
model = { layers = (
  { type = "dense"; units = $1; activation = "relu"; repeat = $2; },
  { type = "dense"; units = 10; }
); };
loss = "softmax_cross_entropy";
optimizer = { type = "sgd"; lr = 0.01; };
training = { epochs = 5; batch_size = $3; validation = 0.0; };
monitor = { every = 1000000000; };
EOF
}

# gs_rate CFG THREADS SAMPLES: samples/s over the completed epochs after
# the first (as bench/run.sh counts them).
gs_rate() {
    out=$tmp/run.$2
    bench_train "$1" "$2" "$out" >/dev/null
    awk -F, -v s="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
        NR > 2 { n++; t += $c }
        END { printf "%.0f\n", (n && t > 0 ? n * s / t : 0) }' "$out/epochs.csv" 2>/dev/null || echo 0
    rm -rf "$out" "$out.log"
}

# point W D B: "gs gs_threads torch torch_threads" at one shape, each the
# best over its thread counts (0 and - where PyTorch is absent).
point() {
    f=$(flops "$1" "$2")
    n=$(epoch_samples "$f" "$3")
    cfg=$tmp/sweep.cfg
    write_cfg "$1" "$2" "$3" "$n" >"$cfg"
    g=0 gt=-
    for t in $gs_threads; do
        r=$(gs_rate "$cfg" "$t" "$n")
        if [ "$r" -gt "$g" ]; then g=$r gt=$t; fi
    done
    p=0 pt=-
    if [ "$have_torch" = 1 ]; then
        for t in $torch_threads; do
            r=$(OPENBLAS_NUM_THREADS=$t "$PYTHON" "$here/torch_peer.py" --plain "$t" "$seconds" \
                "mlp:$1:$2:$3" 2>/dev/null | sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
            if [ "${r:-0}" -gt "$p" ]; then p=$r pt=$t; fi
        done
    fi
    echo "$g $gt $p $pt"
}

# row FACTOR W D B: one line of the table (the base point measured once).
base_result=""
row() {
    if [ "$2 $3 $4" = "$base_w $base_d $base_b" ]; then
        [ -n "$base_result" ] || base_result=$(point "$2" "$3" "$4")
        res=$base_result
    else
        res=$(point "$2" "$3" "$4")
    fi
    # shellcheck disable=SC2086 # point's four words
    set -- "$1" "$2" "$3" "$4" "$(flops "$2" "$3")" $res
    awk -v fac="$1" -v w="$2" -v d="$3" -v b="$4" -v f="$5" -v g="$6" -v gt="$7" -v p="$8" \
        -v pt="$9" -v base="$base_w $base_d $base_b" 'BEGIN {
        mark = (w " " d " " b == base) ? " (base)" : ""
        ps = p > 0 ? sprintf("%.0f (%s) | %.1f | %.2f×", p, pt, p * f / 1e9, g / p) : "– | – | –"
        printf "| %s%s | %d | %d | %d | %.2f | %.0f (%s) | %.1f | %s |\n",
            fac, mark, w, d, b, f / 1e6, g, gt, g * f / 1e9, ps }'
}

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -1)
echo "Dense family 784 → depth × (width, relu) → 10, SGD; $(date -u +%Y-%m-%d), commit" \
    "$commit${dirty:+ (with local changes)}, $nproc cores:" \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1);" \
    "$("$prog" --version 2>/dev/null | sed -n 's/^kernels: \([^ ]*\).*/\1/p') kernels;" \
    "$seconds s per measurement, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)."
if [ "$have_torch" = 1 ]; then
    echo "PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)," \
        "threads tried: $torch_threads (OPENBLAS_NUM_THREADS the same)."
else
    echo "PyTorch: not installed (python3-torch), its columns are empty."
fi
echo "Base point: width $base_w, depth $base_d, batch $base_b; gradscope threads tried: $gs_threads."
echo
echo "| sweep | width | depth | batch | MFLOP/sample | gradscope/s (thr) | GFLOP/s | PyTorch/s (thr) | GFLOP/s | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for w in $widths; do row width "$w" "$base_d" "$base_b"; done
for d in $depths; do row depth "$base_w" "$d" "$base_b"; done
for b in $batches; do row batch "$base_w" "$base_d" "$b"; done
