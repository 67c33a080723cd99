#!/bin/sh
# The benchmark scripts (bench/run.sh, bench/sweep.sh) on the shortest runs
# they allow: that they run, print the peers' columns, refuse bad input, and
# that run.sh's memory figure is the workload's own (not negative); and that
# every bench script (scaling.sh and monitor_cost.sh too) refuses an option
# it does not take with its usage and exit status 2.  No speed is checked.  PyTorch is left out (PYTHON=false) but for one short
# call of torch_peer.py's generic mode where it is installed; KANN is a
# stand-in script that records how it was called.
set -u
SRC="${GRADSCOPE_TEST_SRCDIR:-.}"
. "$(dirname "$0")/shlib.sh"

cat >"$tmp/kann" <<'EOF'
#!/bin/sh
echo "$1 $2 blas=$OPENBLAS_NUM_THREADS" >>"${0%/*}/kann.calls"
[ "$1" = 0 ] && echo "KANN deep-narrow threads=$2 samples/s=$(($2 * 1000)) step_ms=16.000"
exit 0
EOF
chmod +x "$tmp/kann"
bench() {
    PYTHON=false KANN=$tmp/kann KANN_THREADS="1/1 2/1" GS_THREADS=1 MONITOR_PAIRS=0 \
        RATIO_ROUNDS=1 "$SRC/bench/run.sh" -s 0.5 -g "$GS" "$@"
}

check "run.sh deep-narrow mnist-mlp" 0 bench deep-narrow mnist-mlp
expect "KANN's best configuration and rate" out "^deep-narrow .* 2000 (2/1) *[0-9]*\.[0-9][0-9]x"
expect "no KANN rate: a dash" out "^mnist-mlp .* - *- *[0-9.]* ( *[0-9.]*)$"
expect "PyTorch absent: a dash" out "^deep-narrow .* - *- *2000 "
expect_text "KANN was run with its threads and OpenBLAS's" kann.calls "0 2 blas=1"
# once in the search, once in the ratio round (RATIO_ROUNDS=1), at its best
if [ "$(grep -c '^0 2 blas=1$' "$tmp/kann.calls")" -eq 2 ]; then ok; else
    bad "KANN's best configuration did not run again in the ratio round"
    sed 's/^/  | /' "$tmp/kann.calls"
fi
expect_text "KANN mnist-mlp is 1" kann.calls "1 1 blas=1"
# memory: peak RSS less a tiny run's, near the budget (14.0 MB), not below
# 0 (a sanitizer's redzones and quarantine make it larger: positive only)
mem=$(sed -n 's/^deep-narrow .* \(-\{0,1\}[0-9.]*\) ( *\([0-9.]*\))$/\1 \2/p' "$tmp/out")
high=2
grep -E -q '^(SANITIZER_)?CFLAGS = .*-fsanitize' "${GRADSCOPE_TEST_BUILDDIR:-.}/Makefile" 2>/dev/null && high=1000
if awk -v m="${mem% *}" -v b="${mem#* }" -v h="$high" 'BEGIN { exit !(m > 0.5 * b && m < h * b) }'; then
    ok
else
    bad "deep-narrow's memory '${mem% *}' MB is not near its budget '${mem#* }' MB"
    sed 's/^/  | /' "$tmp/out"
fi
expect "each KANN configuration once in the summary" out "^  deep-narrow  1 thr [0-9]* | - | 1/1 thr 1000 2/1 thr 2000$"
expect "the baseline is stated" out "less that of a$"
expect "the baseline at 1 thread" out "([0-9.]* MB at 1 thr)"

check "run.sh: KANN not a program" 2 env KANN="$tmp/none" GS_THREADS=1 PYTHON=false \
    "$SRC/bench/run.sh" -s 1 -g "$GS" deep-narrow
expect "KANN not a program: named" err "KANN=.*none is not an executable file"
check "run.sh: unknown workload" 2 env NO_KANN=1 PYTHON=false "$SRC/bench/run.sh" -g "$GS" deep-narrow nosuch
expect "unknown workload: named" err "unknown workload 'nosuch'"
absent "unknown workload: nothing measured" out "."

sweep() {
    PYTHON=false BASE="32 2 16" WIDTHS=32 DEPTHS=3 BATCHES="" GS_THREADS=1 \
        "$SRC/bench/sweep.sh" -s 0.5 -g "$GS" "$@"
}
check "sweep.sh, two points" 0 sweep
expect "sweep: base point row" out "^| width (base) | 32 | 2 | 16 | 0\.11 | [1-9][0-9]* (1) | [0-9.]* | – | – | – |$"
expect "sweep: depth row" out "^| depth | 32 | 3 | 16 | 0\.11 | [1-9][0-9]* (1) |"
absent "sweep: no batch rows" out "^| batch "
check "sweep.sh: bad BASE" 2 env BASE="32 2" "$SRC/bench/sweep.sh" -g "$GS"
expect "bad BASE: named" err "BASE is three numbers"
check "sweep.sh: bad width" 2 env WIDTHS="64 wide" "$SRC/bench/sweep.sh" -g "$GS"
expect "bad width: named" err "'wide' is not a positive integer"

# The options are parsed once, in bench/common.sh, for all the scripts:
# each still takes only its own and shows its own usage.  The program is
# one that does not exist, so that a script that wrongly went on would fail
# at once instead of measuring.
for script in run sweep scaling monitor_cost; do
    check "$script.sh: bad option" 2 "$SRC/bench/$script.sh" -x -g "$tmp/none"
    expect "$script.sh: bad option: the usage" out "^Usage: bench/$script.sh \[.*-g GRADSCOPE\]"
    check "$script.sh -h" 2 "$SRC/bench/$script.sh" -g "$tmp/none" -h
    expect "$script.sh -h: the usage" out "^Usage: bench/$script.sh "
done
check "run.sh: -s without its argument" 2 "$SRC/bench/run.sh" -g "$tmp/none" -s
expect "-s without its argument: the usage" out "^Usage: bench/run.sh "
check "monitor_cost.sh takes no -s" 2 "$SRC/bench/monitor_cost.sh" -s 1 -g "$tmp/none" nosuch
expect "monitor_cost.sh -s: the usage" out "^Usage: bench/monitor_cost.sh \[-g GRADSCOPE\]"
for bad in 0 x -1; do
    check "monitor_cost.sh: MONITOR_COST_ROUNDS='$bad'" 2 env MONITOR_COST_ROUNDS="$bad" \
        "$SRC/bench/monitor_cost.sh" -g "$tmp/none" gru-rows
    expect "MONITOR_COST_ROUNDS='$bad': named" err "MONITOR_COST_ROUNDS must be a positive integer"
done
check "sweep.sh: an operand" 2 env WIDTHS="" DEPTHS="" BATCHES="" "$SRC/bench/sweep.sh" -g "$tmp/none" extra
expect "sweep.sh operand: named" err "no operands expected (got 'extra')"

for py in /usr/bin/python3 python3; do
    if "$py" -c 'import torch' >/dev/null 2>&1; then
        check "torch_peer.py mlp mode" 0 "$py" "$SRC/bench/torch_peer.py" --plain 1 0.1 mlp:16:2:8
        expect "torch_peer.py mlp mode: a rate" out "^mlp:16:2:8 samples/s=[1-9][0-9]*$"
        break
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
