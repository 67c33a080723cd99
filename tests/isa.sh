#!/bin/sh
# The same bits whatever kernel set runs: a run under each instruction set
# this processor has (GRADSCOPE_ISA=portable, avx2, avx512) writes the
# same logs, byte for byte, as under the others; a set the processor lacks
# or an unknown one is refused with exit 2 before anything is written.
set -u
GS="${GRADSCOPE_TEST_BUILDDIR:-.}/core/gradscope"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Wide enough for the packed, blocked and multi-threaded paths of the GEMM
# (K slices of 256, row blocks of 144 or 288 rows by the L2's size, ragged
# tile edges), with a residual
# block and batch norm beside the dense layers.
cat >"$tmp/exp.cfg" <<'CFG'
seed = 11;
data = { type = "synthetic"; set = "blobs"; features = 300; classes = 7; samples = 600; test_samples = 100; };
model = { layers = (
    { type = "dense"; units = 300; activation = "gelu"; },
    { type = "resnet"; units = 300; activation = "relu"; },
    { type = "batchnorm"; },
    { type = "dense"; units = 150; activation = "tanh"; repeat = 2; },
    { type = "dense"; units = 7; } ); };
optimizer = { type = "adam"; lr = 0.002; };
training = { epochs = 2; batch_size = 150; };
monitor = { every = 1; };
CFG

sets=$("$GS" --version | sed -n 's/^kernels: [a-z0-9]* (this processor runs \(.*\);.*/\1/p')
[ -n "$sets" ] && ok || bad "gradscope --version names no kernel sets"
first=
for isa in $sets; do
    GRADSCOPE_ISA=$isa OMP_NUM_THREADS=2 "$GS" run "$tmp/exp.cfg" --out "$tmp/$isa" --quiet ||
        bad "run with GRADSCOPE_ISA=$isa"
    if [ -z "$first" ]; then
        first=$isa
        continue
    fi
    for f in metrics.csv gradients.csv layers.csv histograms.csv paths.csv theory.csv model.csv; do
        if cmp -s "$tmp/$first/$f" "$tmp/$isa/$f"; then ok; else bad "$f differs between $first and $isa"; fi
    done
    # epochs.csv and summary.json also hold wall times
    cut -d, -f1-8 "$tmp/$first/epochs.csv" >"$tmp/a" && cut -d, -f1-8 "$tmp/$isa/epochs.csv" >"$tmp/b" &&
        cmp -s "$tmp/a" "$tmp/b" && ok || bad "epochs.csv differs between $first and $isa"
    grep -v '"wall_time_s"' "$tmp/$first/summary.json" >"$tmp/a" &&
        grep -v '"wall_time_s"' "$tmp/$isa/summary.json" >"$tmp/b" && cmp -s "$tmp/a" "$tmp/b" && ok ||
        bad "summary.json differs between $first and $isa"
done
echo "compared runs under: $sets"

for isa in sse9 avx1024; do
    GRADSCOPE_ISA=$isa "$GS" run "$tmp/exp.cfg" --out "$tmp/refused-$isa" --quiet 2>"$tmp/err"
    [ $? -eq 2 ] && ok || bad "GRADSCOPE_ISA=$isa: not exit 2"
    grep -q "GRADSCOPE_ISA=$isa: not a kernel set (portable, avx2, avx512)" "$tmp/err" && ok ||
        bad "GRADSCOPE_ISA=$isa: no clear message: $(cat "$tmp/err")"
    [ ! -e "$tmp/refused-$isa" ] && ok || bad "GRADSCOPE_ISA=$isa: wrote $tmp/refused-$isa"
done
for isa in avx2 avx512; do
    case " $sets " in *" $isa "*) continue ;; esac
    GRADSCOPE_ISA=$isa "$GS" run "$tmp/exp.cfg" --out "$tmp/lacks-$isa" --quiet 2>"$tmp/err"
    [ $? -eq 2 ] && grep -q "this processor lacks it" "$tmp/err" && ok ||
        bad "GRADSCOPE_ISA=$isa on a processor without it: not refused"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
