#!/bin/sh
# Benchmark: the four workloads of the shared BRIEF.md (Performance), each
# trained by gradscope for a fixed time, and by PyTorch in the same
# invocation where python3-torch is installed, and by KANN with OpenBLAS
# where its bench program is built.  Prints samples/s, the ratios
# gradscope/PyTorch and gradscope/KANN, the cost of monitoring every step
# (with the default detail_every, and with every statistic at every step),
# peak memory against the model's own budget, the machine's sgemm GFLOP/s
# (numpy, OpenBLAS) and the GFLOP/s gradscope reaches on `wide`, also as a
# share of an sgemm run right after each of wide's ratio rounds (the
# median: a machine whose speed drifts moves both sides of a pair alike).
# Not a test: nothing here fails on a slow machine.  See docs/PERFORMANCE.md.
#
# Usage: bench/run.sh [-s SECONDS] [-g GRADSCOPE] [WORKLOAD...]
#   -s SECONDS   time per measurement (default 5)
#   -g PROGRAM   the gradscope program (default: build/core/gradscope, then PATH)
#   WORKLOAD     deep-narrow mnist-mlp wide resmlp (default: these four), or the
#                recurrent rnn-adding lstm-adding gru-rows (their PyTorch peer
#                is the shared bench/anchor_torch_next.py; gru-rows needs
#                dataset-fashion-mnist), or the convolutional resnet20 plain20
#                densenet40 (issue #21; peer: anchor_torch_next.py too)
# Environment: GS_THREADS (gradscope thread counts to try, default "1 NPROC"),
#   MONITOR_PAIRS (repetitions of the monitoring-cost comparison, default 3),
#   RATIO_ROUNDS (rounds of gradscope, PyTorch and KANN, each at its best
#   thread count, run back to back for the ratios, default 5),
#   TORCH_THREADS (PyTorch's, default 1 2 4 ... NPROC), NO_TORCH=1 skips PyTorch,
#   PYTHON (default: the first of /usr/bin/python3 and python3 that has torch),
#   KANN (the shared bench/kann/build.sh's bench_kann; default
#   /tmp/kann-peer/bench_kann where it exists; NO_KANN=1 skips it),
#   KANN_THREADS (KANN's configurations as KANN-THREADS/BLAS-THREADS, default
#   "1/1 1/NPROC NPROC/1"; KANN has deep-narrow, mnist-mlp and wide only).
set -eu

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"
seconds=5
bench_options s:g: "$@"
shift $((OPTIND - 1))
workloads=${*:-deep-narrow mnist-mlp wide resmlp}
bench_find_prog
kann=""
if [ -z "${NO_KANN:-}" ]; then
    kann=${KANN:-}
    if [ -n "$kann" ] && [ ! -x "$kann" ]; then
        echo "bench/run.sh: KANN=$kann is not an executable file" >&2
        exit 2
    fi
    [ -n "$kann" ] || [ ! -x /tmp/kann-peer/bench_kann ] || kann=/tmp/kann-peer/bench_kann
fi
nproc=$(nproc 2>/dev/null || echo 1)
pairs=${MONITOR_PAIRS:-3}
rounds=${RATIO_ROUNDS:-5}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
powers() { t=1; while [ "$t" -lt "$1" ]; do printf '%s ' "$t"; t=$((t * 2)); done; echo "$1"; }
gs_threads=${GS_THREADS:-$( [ "$nproc" -gt 1 ] && echo "1 $nproc" || echo 1 )}
torch_threads=${TORCH_THREADS:-$(powers "$nproc")}
kann_threads=${KANN_THREADS:-$( [ "$nproc" -gt 1 ] && echo "1/1 1/$nproc $nproc/1" || echo 1/1 )}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# name batch optimizer-state-slots dense-layers(in:out[*repeat])
spec() {
    case $1 in
    deep-narrow) echo "32 0 784:64 64:64*31 64:10" ;;
    mnist-mlp) echo "128 2 784:256 256:256 256:10" ;;
    wide) echo "256 0 784:1024 1024:1024*3 1024:10" ;;
    resmlp) echo "128 2 784:256 256:256*32 256:10" ;;
    # a recurrent layer as rnn:GATES:T:C:H (steps T of C features, H units)
    rnn-adding) echo "64 2 rnn:1:100:2:128 128:1" ;;
    lstm-adding) echo "64 2 rnn:4:100:2:128 128:1" ;;
    gru-rows) echo "128 2 rnn:3:28:28:128 128:10" ;;
    # a convolutional network as conv:PARAMS:ACTS:FLOPS, counted once from
    # the networks of anchor_torch_next.py (the parameter counts equal
    # PyTorch's and gradscope's): ACTS every tensor its forward makes per
    # sample (the input, each convolution's, norm's, activation's, sum's,
    # concatenation's and pool's output), FLOPS its convolutions' per sample
    # forward and backward (2 C_out C_in k^2 Ho Wo forward, twice that
    # backward but for the first convolution's input gradient)
    resnet20) echo "128 1 conv:272186:518298:185905920" ;;
    plain20) echo "128 1 conv:269434:433626:184701696" ;;
    densenet40) echo "64 1 conv:1058866:5845970:1297287072" ;;
    *) echo "bench: unknown workload '$1'" >&2; exit 2 ;;
    esac
}
for w in $workloads; do spec "$w" >/dev/null; done

# FLOP per sample (forward 2*in*out per layer, backward twice that but for
# the first layer's input gradient; a recurrent layer's products are those
# of a dense layer (C + H) -> G*H at each of its T steps), parameters,
# activation floats per sample (a recurrent layer keeps its states, gates
# and, LSTM, cells at every step), data floats per sample (input and label).
model_stats() {
    echo "$@" | awk '{
        flops = 0; params = 0; acts = 0
        for (i = 1; i <= NF; i++) {
            split($i, r, "*"); split(r[1], d, ":"); n = (r[2] == "" ? 1 : r[2])
            if (d[1] == "conv") {
                params += d[2]; acts += d[3]; flops += d[4]; data = 785
                continue
            }
            if (d[1] == "rnn") {
                g = d[2]; t = d[3]; c = d[4]; h = d[5]
                flops += 6 * t * g * h * (c + h) - (i == 1 ? 2 * t * g * h * c : 0)
                params += g * h * (c + h) + 2 * g * h
                acts += t * (h + (g > 1 ? g * h + h : 0))
                if (i == 1) { acts += t * c; data = t * c + 1 }
                continue
            }
            flops += 6 * d[1] * d[2] * n; params += (d[1] * d[2] + d[2]) * n; acts += d[2] * n
            if (i == 1) { flops -= 2 * d[1] * d[2]; acts += d[1]; data = d[1] + 1 }
        }
        printf "%.0f %.0f %.0f %.0f\n", flops, params, acts, data }'
}

# peer THREADS SECONDS WORKLOAD: the PyTorch peer's line for WORKLOAD, with
# "samples/s=N" in it (nothing where the peer does not define it).
anchor_next=$(dirname "$root")/shared/bench/anchor_torch_next.py
peer() {
    case $3 in
    deep-narrow | mnist-mlp | wide | resmlp) "$PYTHON" "$here/torch_peer.py" "$1" "$2" "$3" ;;
    *) [ -f "$anchor_next" ] && ANCHOR_SECS=$2 "$PYTHON" "$anchor_next" "$1" "$3" ;;
    esac
}

# kann_rate KT/BT WORKLOAD: KANN's samples/s on WORKLOAD with KT threads
# of its own (kann_mt: the batch split between copies of the network) and
# BT OpenBLAS threads; nothing for a workload KANN does not have.  Its
# program times 3 s of RMSprop steps on one fixed batch of the workload's
# size.  OPENBLAS_CORETYPE/L2_SIZE are unset as for the sgemm figure.
kann_rate() {
    case $2 in
    deep-narrow) which_=0 ;;
    mnist-mlp) which_=1 ;;
    wide) which_=2 ;;
    *) return 0 ;;
    esac
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="${1#*/}" \
        "$kann" "$which_" "${1%/*}" 2>/dev/null | sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p'
}

# The training examples of CFG: its data set's `samples`, or the `limit` of
# an idx set (each on a line of its own).
train_samples() {
    sed -n -e 's/^ *samples *= *\([0-9]*\).*/\1/p' -e 's/^ *limit *= *\([0-9]*\).*/\1/p' "$1" |
        head -1
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
    samples=$(train_samples "$cfg")
    awk -F, -v s="$samples" -v hwm="${hwm:-0}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
        NR > 2 { n++; t += $c }
        END { printf "%.0f %s\n", (n && t > 0 ? n * s / t : 0), hwm }' \
        "$out/epochs.csv" 2>/dev/null || echo "0 0"
    rm -rf "$out"
}

bench_find_python
have_numpy=0
! "$PYTHON" -c 'import numpy' >/dev/null 2>&1 || have_numpy=1

# sgemm_rate THREADS: numpy's sgemm GFLOP/s on THREADS OpenBLAS threads.
# OPENBLAS_CORETYPE/L2_SIZE, set on some machines for old OpenBLAS builds,
# slow a current one down: unset for this measurement only.
sgemm_rate() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$1" "$PYTHON" "$here/peak_sgemm.py"
}

# What a run costs whatever its model (code, libraries, plugins, thread
# stacks, the run directory's writers): the peak RSS of a run of a 2 -> 2
# model on 64 examples, measured as the workloads' are, at each thread
# count, and subtracted from theirs.  (`gradscope validate` is no such
# baseline: it builds the model it checks, and its data set.)
cat >"$tmp/baseline.cfg" <<'EOF'
name = "baseline";
seed = 1;
data = { type = "synthetic"; set = "blobs"; features = 2; classes = 2; samples = 64; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 2; } ); };
loss = "softmax_cross_entropy";
optimizer = { type = "sgd"; lr = 0.01; };
training = { epochs = 3; batch_size = 32; validation = 0.0; };
monitor = { every = 1000000000; };
EOF
base_list="" given_seconds=$seconds seconds=0.5
for t in $gs_threads; do
    base_list="$base_list $t:$(bench_train "$tmp/baseline.cfg" "$t" "$tmp/baseline.$t")"
    rm -rf "$tmp/baseline.$t" "$tmp/baseline.$t.log"
done
seconds=$given_seconds
base_of() { printf '%s\n' $base_list | awk -F: -v t="$1" '$1 == t { print $2; exit }'; }

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
if [ -n "$kann" ]; then
    echo "KANN: $kann, configurations tried (KANN/BLAS threads): $kann_threads"
elif [ -n "${NO_KANN:-}" ]; then
    echo "KANN: skipped (NO_KANN)"
else
    echo "KANN: not found; build it with $(dirname "$root")/shared/bench/kann/build.sh" \
        "(needs libopenblas-dev) or set KANN=/path/to/bench_kann"
fi
echo
printf '%-12s %18s %18s %18s %18s %8s %15s %8s %16s\n' workload "gradscope/s (thr)" \
    "monitored/s (cost)" "full/s (cost)" "PyTorch/s (thr)" ratio "KANN/s (thr)" "vs KANN" \
    "mem MB (budget)"
wide_rate=0 wide_shares="" conv_rates="" gs_list="" t_list="" k_list=""
for w in $workloads; do
    set -- $(spec "$w")
    batch=$1 slots=$2
    shift 2
    set -- $(model_stats "$@")
    flops=$1 params=$2 acts=$3 data=$4
    cfg=$here/$w.cfg
    best=0 best_t=1 peak=0
    for t in $gs_threads; do
        set -- $(gs_run "$cfg" "$t")
        gs_list="$gs_list $w:$t:$1"
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
            line=$(peer "$t" "$seconds" "$w" || true)
            r=$(echo "$line" | sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
            n=$(echo "$line" | sed -n 's/.*norms_samples\/s=\([0-9]*\).*/\1/p')
            [ "${r:-0}" -gt 0 ] && t_list="$t_list $w:$t:$r"
            if [ "${r:-0}" -gt "$tbest" ]; then tbest=$r tbest_t=$t tnorm=$n; fi
        done
    fi
    kbest=0 kbest_t=-
    if [ -n "$kann" ]; then
        for t in $kann_threads; do
            r=$(kann_rate "$t" "$w")
            [ "${r:-0}" -gt 0 ] && k_list="$k_list $w:$t:$r"
            if [ "${r:-0}" -gt "$kbest" ]; then kbest=$r kbest_t=$t; fi
        done
    fi
    # The ratios: gradscope and each peer at their best thread counts, back
    # to back, `rounds` times; the medians of the rates and of the paired
    # ratios (a machine whose speed drifts moves both sides of a pair alike).
    ratio=- kratio=-
    if [ "$rounds" -gt 0 ] && { [ "$tbest" -gt 0 ] || [ "$kbest" -gt 0 ]; }; then
        rs="" ks="" gs_rates="" t_rates="" k_rates=""
        i=0
        while [ "$i" -lt "$rounds" ]; do
            set -- $(gs_run "$cfg" "$best_t")
            g=$1
            gs_rates="$gs_rates $g"
            if [ "$w" = wide ] && [ "$have_numpy" = 1 ]; then
                wide_shares="$wide_shares $(awk -v g="$g" -v f="$flops" -v p="$(sgemm_rate "$nproc")" \
                    'BEGIN { print (p > 0 ? 100 * g * f / 1e9 / p : 0) }')"
            fi
            if [ "$tbest" -gt 0 ]; then
                r=$(peer "$tbest_t" "$seconds" "$w" |
                    sed -n 's/.* samples\/s=\([0-9]*\).*/\1/p')
                t_rates="$t_rates ${r:-0}"
                rs="$rs $(awk -v g="$g" -v r="${r:-0}" 'BEGIN { print (r > 0 ? g / r : 0) }')"
            fi
            if [ "$kbest" -gt 0 ]; then
                r=$(kann_rate "$kbest_t" "$w")
                k_rates="$k_rates ${r:-0}"
                ks="$ks $(awk -v g="$g" -v r="${r:-0}" 'BEGIN { print (r > 0 ? g / r : 0) }')"
            fi
            i=$((i + 1))
        done
        best=$(median $gs_rates | awk '{ printf "%.0f", $1 }')
        if [ "$tbest" -gt 0 ]; then
            tbest=$(median $t_rates | awk '{ printf "%.0f", $1 }')
            ratio=$(awk -v x="$(median $rs)" 'BEGIN { printf "%.2fx", x }')
        fi
        if [ "$kbest" -gt 0 ]; then
            kbest=$(median $k_rates | awk '{ printf "%.0f", $1 }')
            kratio=$(awk -v x="$(median $ks)" 'BEGIN { printf "%.2fx", x }')
        fi
    else
        [ "$tbest" -eq 0 ] || ratio=$(awk -v g="$best" -v r="$tbest" 'BEGIN { printf "%.2fx", g / r }')
        [ "$kbest" -eq 0 ] || kratio=$(awk -v g="$best" -v r="$kbest" 'BEGIN { printf "%.2fx", g / r }')
    fi
    samples=$(train_samples "$cfg")
    budget=$(awk -v p="$params" -v s="$slots" -v b="$batch" -v a="$acts" -v n="$samples" \
        -v d="$data" 'BEGIN { printf "%.1f", 4 * (p * (2 + s) + b * a + n * d) / 1048576 }')
    awk -v w="$w" -v g="$best" -v gt="$best_t" -v cost="$mcost" -v fcost="$fcost" -v tb="$tbest" \
        -v tt="$tbest_t" -v pk="$peak" -v base="$(base_of "$best_t")" -v bud="$budget" \
        -v ratio="$ratio" -v kb="$kbest" -v kt="$kbest_t" -v kratio="$kratio" 'BEGIN {
        m = g * (1 - cost / 100)
        f = g * (1 - fcost / 100)
        mem = (pk - base) / 1024
        ts = tb > 0 ? sprintf("%12.0f (%3s)", tb, tt) : sprintf("%18s", "-")
        ks = kb > 0 ? sprintf("%9.0f (%3s)", kb, kt) : sprintf("%15s", "-")
        printf "%-12s %12.0f (%3s) %11.0f (%4.1f%%) %11.0f (%4.1f%%) %s %8s %s %8s %7.1f (%6.1f)\n",
            w, g, gt, m, cost, f, fcost, ts, ratio, ks, kratio, mem, bud }'
    [ "$w" = wide ] && wide_rate=$best wide_flops=$flops
    case $w in resnet20 | plain20 | densenet40) conv_rates="$conv_rates $w:$best:$flops" ;; esac
done

echo
echo "ratio, vs KANN = gradscope / PyTorch and / KANN, each at its best thread count: the"
echo "median of $rounds gradscope-PyTorch-KANN rounds run back to back (rates: their medians);"
echo "KANN (thr) = KANN's threads / OpenBLAS's; KANN trains with RMSprop on one batch of the"
echo "same size (- where it has no such workload); cost = slowdown with"
echo "monitor.every = 1 (monitored: detailed statistics every 100 steps, the default; full:"
echo "every step), median of $pairs side-by-side comparisons; mem = peak RSS less that of a"
echo "run of a 2 -> 2 model at the same thread count ($(printf '%s\n' $base_list |
    awk -F: '{ printf "%s%.1f MB at %s thr", (NR > 1 ? ", " : ""), $2 / 1024, $1 }')), budget ="
echo "parameters + gradients + optimizer state + one batch of activations + the data set"
echo "samples/s at each thread count, gradscope | PyTorch | KANN (single runs, before the pairs):"
for w in $workloads; do
    g=$(printf '%s\n' $gs_list | awk -F: -v w="$w" '$1 == w { printf " %s thr %s", $2, $3 }')
    t=$(printf '%s\n' $t_list | awk -F: -v w="$w" '$1 == w { printf " %s thr %s", $2, $3 }')
    k=$(printf '%s\n' $k_list | awk -F: -v w="$w" '$1 == w { printf " %s thr %s", $2, $3 }')
    printf '  %-12s%s |%s |%s\n' "$w" "$g" "${t:- -}" "${k:- -}"
done
if [ "$have_numpy" = 1 ]; then
    s1=$(sgemm_rate 1)
    sn=$(sgemm_rate "$nproc")
    echo "sgemm (numpy, n = 2048): $s1 GFLOP/s on 1 core, $sn on $nproc"
    if [ "$wide_rate" -gt 0 ]; then
        awk -v r="$wide_rate" -v f="$wide_flops" -v p="$sn" 'BEGIN {
            g = r * f / 1e9
            printf "gradscope on wide: %.1f GFLOP/s (%.1f MFLOP per sample), %.0f%% of sgemm\n",
                g, f / 1e6, 100 * g / p }'
    fi
    if [ -n "$wide_shares" ]; then
        echo "wide's share of the $nproc-core sgemm, each round's wide run against an sgemm run" \
            "right after it: median $(median $wide_shares | awk '{ printf "%.0f%%", $1 }')" \
            "($(printf '%s\n' $wide_shares | sort -g | awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 }')%)"
    fi
    for c in $conv_rates; do
        echo "$c" | awk -F: -v p="$sn" '{ g = $2 * $3 / 1e9
            printf "gradscope on %s: %.1f GFLOP/s in its convolutions (%.1f MFLOP per sample), %.0f%% of sgemm\n",
                $1, g, $3 / 1e6, 100 * g / p }'
    done
elif [ "$wide_rate" -gt 0 ]; then
    awk -v r="$wide_rate" -v f="$wide_flops" 'BEGIN {
        printf "gradscope on wide: %.1f GFLOP/s (numpy not installed: no sgemm figure)\n", r * f / 1e9 }'
fi
