#!/bin/sh
# Issue #25, item 5: gradscope on sixteen cores, in one call of the device
# machine that some sessions are lent (16 cores, no network, no libconfig;
# its python3 holds PyTorch 2.11).  Two steps, from the repository's root:
#
#   .dev/device9.sh prepare   here: builds gradscope for the prefix
#       /tmp/gs-device and installs it into .dev/stage (ignored by git),
#       with the libraries the device lacks (libconfig, libgomp),
#       bench/products, and a second libgradscope and products whose
#       matrix products use threads from 512k multiply-adds instead of
#       the stock 2M (PARALLEL_MIN_FMAS, gemm_tile.h).  About 5 minutes
#       on two cores.
#   .dev/device9.sh run       there, in a call of the device tool that
#       carries .dev/stage, e.g. command "sh .dev/device9.sh run",
#       carry [".dev/stage"], timeout_s 540.  About 5 minutes; everything
#       it prints also goes to $OUT/device9.txt.
#
# What `run` measures (docs/PERFORMANCE.md, "Sixteen cores", says what to
# compare it with):
#   1. the processor (lscpu);
#   2. bench/scaling.sh: wide at 1, 2, 4, 8 and 16 threads, the speed-up,
#      sixteen one-thread runs at once (the ceiling), PyTorch's best at the
#      same counts (the goals: 16 threads >= 10x one, and faster than
#      PyTorch 2.11's 21.9k samples/s);
#   3. bench/run.sh deep-narrow mnist-mlp resmlp at 1, 8 and 16 threads
#      against PyTorch (one ratio round each);
#   4. the threshold: bench/products at 16 threads, batches 32 and 128,
#      then deep-narrow, mnist-mlp and rnn-adding at 16 threads, the stock
#      library and the 512k one alternated twice.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/tmp/gs-device
stage=$root/.dev/stage
cores=$(nproc 2>/dev/null || echo 1)
most=${DEVICE9_THREADS:-16} # sections 3 and 4 (a trial run elsewhere may set fewer)

# The file ld.so resolves for the library name $1 (libconfig.so.9).
system_lib() {
    ldconfig -p | awk -v l="$1" '$1 == l { print $NF; exit }'
}

prepare() {
    build=${BUILD:-/tmp/gs-device-build}
    [ -x "$root/configure" ] || (cd "$root" && autoreconf -fi)
    rm -rf "$stage" "$build"
    mkdir -p "$build/stock" "$build/512k"
    (cd "$build/stock" && "$root/configure" -q --prefix="$prefix" --without-mpi &&
        make -s -j"$cores" && make -s install DESTDIR="$stage" && make -s bench/products)
    cp "$build/stock/bench/products" "$stage$prefix/bin/products"
    (cd "$build/512k" && "$root/configure" -q --prefix="$prefix" --without-mpi \
        CPPFLAGS="-DPARALLEL_MIN_FMAS=524288.0" &&
        make -s -j"$cores" core/libgradscope.la bench/products)
    mkdir -p "$stage$prefix/lib-512k"
    cp -L "$build/512k/core/.libs/libgradscope.so.0" "$stage$prefix/lib-512k/"
    cp "$build/512k/bench/products" "$stage$prefix/bin/products-512k"
    for l in libconfig.so.9 libgomp.so.1; do
        f=$(system_lib "$l")
        [ -n "$f" ] || { echo "device9.sh: no $l on this machine" >&2; exit 2; }
        cp -L "$f" "$stage$prefix/lib/$l"
    done
    rm -rf "$build"
    du -sh "$stage"
    echo "now: the device tool's run, command \"sh .dev/device9.sh run\", carry [\".dev/stage\"]"
}

# ab CFG THREADS ROUNDS: samples/s of CFG at THREADS threads with the stock
# library and the 512k one, alternated ROUNDS times (bench_train's 5 s runs,
# the epochs after the first).
ab() {
    cfg=$1 t=$2 n=$3
    samples=$(sed -n 's/^ *samples *= *\([0-9]*\).*/\1/p' "$cfg" | head -1)
    i=0
    while [ "$i" -lt "$n" ]; do
        for lib in lib lib-512k; do
            bench_launch="env LD_LIBRARY_PATH=$prefix/$lib:$prefix/lib"
            bench_train "$cfg" "$t" "$tmp/ab" >/dev/null
            awk -F, -v s="$samples" -v lib="$lib" -v w="$(basename "$cfg" .cfg)" -v t="$t" '
                NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
                NR > 2 { n++; sec += $c }
                END { printf "  %-12s %2d threads %-8s %8.0f samples/s\n", w, t, lib, (sec > 0 ? n * s / sec : 0) }' \
                "$tmp/ab/epochs.csv"
        done
        i=$((i + 1))
    done
}

run_device() {
    [ -d "$stage$prefix" ] || { echo "device9.sh: no $stage$prefix: run '.dev/device9.sh prepare' here first and carry .dev/stage" >&2; exit 2; }
    rm -rf "$prefix"
    cp -a "$stage$prefix" "$prefix"
    export LD_LIBRARY_PATH="$prefix/lib"
    gs=$prefix/bin/gradscope
    # bench_train (bench/common.sh) for section 4: it needs prog, seconds, tmp
    . "$root/bench/common.sh"
    prog=$gs seconds=5 tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT INT TERM
    echo "== 1. the machine ($(date -u '+%Y-%m-%d %H:%M UTC'), $("$gs" --version | head -1))"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|NUMA node\(s\)|L[123])' || true
    echo "== 2. bench/scaling.sh -s 4, CEILING=1"
    CEILING=1 sh "$root/bench/scaling.sh" -s 4 -g "$gs"
    echo "== 3. bench/run.sh -s 3 deep-narrow mnist-mlp resmlp, 1, 8 and $most threads"
    GS_THREADS="1 8 $most" TORCH_THREADS="1 $most" RATIO_ROUNDS=1 MONITOR_PAIRS=0 NO_KANN=1 \
        sh "$root/bench/run.sh" -s 3 -g "$gs" deep-narrow mnist-mlp resmlp
    echo "== 4. products from 2M (stock) or 512k multiply-adds on threads, at $most threads"
    for b in 32 128; do
        for p in products products-512k; do
            echo "  $p, batch $b:"
            "$prefix/bin/$p" -t "$most" -b "$b" -r 15 64 128 256 512 1024 | sed 's/^/    /'
        done
    done
    for w in deep-narrow mnist-mlp rnn-adding; do
        ab "$root/bench/$w.cfg" "$most" 2
    done
}

case ${1:-} in
prepare) prepare ;;
run)
    if [ -n "${OUT:-}" ]; then
        run_device 2>&1 | tee "$OUT/device9.txt"
    else
        run_device
    fi
    ;;
*)
    sed -n '2,/^set -eu/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
