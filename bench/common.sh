# Shared by the bench scripts, sourced first:
#   . "$(dirname "$0")/common.sh"
# (bench_train needs `seconds` and `tmp` set).

# The scripts' folder, and the source tree above it, where bench_find_prog
# looks for build/core/gradscope.
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

# The script's leading comment, as its usage.
bench_usage() {
    sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

# bench_options LETTERS "$@": the options the bench scripts share, those of
# them a script takes (LETTERS: getopts letters among s: and g:).  -s sets
# `seconds` (the caller's default stands without it), -g `prog` (else
# empty, for bench_find_prog); -h, an unknown option or a missing argument
# prints the usage and exits 2.  The caller then drops the options with
# shift $((OPTIND - 1)): a function cannot shift its caller's arguments.
bench_options() {
    letters_=$1
    shift
    prog=""
    OPTIND=1
    while getopts "${letters_}h" opt_; do
        case $opt_ in
        s) seconds=$OPTARG ;;
        g) prog=$OPTARG ;;
        *) bench_usage; exit 2 ;;
        esac
    done
}

# Sets `prog` when it is empty: build/core/gradscope, then gradscope on PATH.
bench_find_prog() {
    [ -n "$prog" ] && return 0
    if [ -x "$root/build/core/gradscope" ]; then prog=$root/build/core/gradscope
    elif command -v gradscope >/dev/null 2>&1; then prog=$(command -v gradscope)
    else echo "$(basename "$0"): no gradscope program (build it, or pass -g PROGRAM)" >&2; exit 2
    fi
}

# Sets PYTHON (unless given: the first of /usr/bin/python3 and python3 that
# imports torch; Debian's python3-torch belongs to the system interpreter,
# which another python3 earlier in PATH may hide) and have_torch (0 with
# NO_TORCH set).
bench_find_python() {
    if [ -z "${PYTHON:-}" ]; then
        PYTHON=python3
        for p in /usr/bin/python3 python3; do
            if "$p" -c 'import torch' >/dev/null 2>&1; then PYTHON=$p; break; fi
        done
    fi
    have_torch=0
    if [ -z "${NO_TORCH:-}" ] && "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
        have_torch=1
    fi
}

# bench_train CFG THREADS OUT [--set ...]: trains CFG into OUT for $seconds
# (and three epochs at least, one being the warm-up, however slow the
# machine), stops it with SIGINT (it finishes its step), and prints its peak
# RSS so far in kB (VmHWM).  OUT/epochs.csv is left for the caller.  The
# program runs behind $bench_launch (a command prefix: `taskset -c 3`) when
# that is set.
bench_train() {
    cfg_=$1 th_=$2 out_=$3
    shift 3
    rm -rf "$out_"
    ${bench_launch:-} "$prog" run "$cfg_" --out "$out_" --threads "$th_" --quiet \
        --set training.epochs=1000000 "$@" >"$out_.log" 2>&1 &
    pid_=$!
    sleep "$seconds"
    waited_=0
    while [ "$(cat "$out_/epochs.csv" 2>/dev/null | wc -l)" -lt 4 ] && [ "$waited_" -lt 600 ] &&
        kill -0 "$pid_" 2>/dev/null; do
        sleep 1
        waited_=$((waited_ + 1))
    done
    awk '/^VmHWM/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$pid_/status" 2>/dev/null ||
        echo 0
    kill -INT "$pid_" 2>/dev/null || true
    wait "$pid_" 2>/dev/null || true
}
