#!/bin/sh
# Runs fuzz targets one after another (tests/fuzz/README.md):
#   run.sh SRCDIR OUTDIR SECONDS [TARGET...]
# One process at a time, at the lowest priority.  New inputs go to
# OUTDIR/corpus/TARGET (the seeds in SRCDIR/tests/fuzz/corpus are only
# read); a crash, leak, timeout or failed check leaves
# OUTDIR/artifacts/TARGET-* and fails the run.  Each target's output goes to
# OUTDIR/TARGET.log.
set -u
src=$1 out=$2 secs=$3
shift 3
[ $# -gt 0 ] || set -- config set idx csv checkpoint
status=0
for t in "$@"; do
    mkdir -p "$out/corpus/$t" "$out/artifacts"
    dict=
    case $t in config | set) dict=-dict="$src/tests/fuzz/config.dict" ;; esac
    echo "  FUZZ     $t for ${secs}s ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    # shellcheck disable=SC2086
    LSAN_OPTIONS=suppressions=$src/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
        nice -n 19 "$out/fuzz_$t" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" $dict \
        "$out/corpus/$t" "$src/tests/fuzz/corpus/$t" </dev/null >"$out/$t.log" 2>&1
    rc=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$out/$t.log" |
        sed 's/^/           /'
    if [ $rc -ne 0 ]; then
        echo "FAIL: fuzz_$t (exit $rc); the input is in $out/artifacts, the report in $out/$t.log"
        grep -a -E 'ERROR|SUMMARY|fuzz check failed|runtime error' "$out/$t.log" | head -5
        status=1
    fi
done
exit $status
