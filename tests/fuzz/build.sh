#!/bin/sh
# Builds the libFuzzer targets apart from the normal build (tests/fuzz/README.md):
#   build.sh SRCDIR BUILDDIR OUTDIR
# BUILDDIR holds config.h.  Environment: CLANG (clang), FUZZ_CFLAGS (libconfig
# and zlib flags), FUZZ_LIBS (their libraries).  The library's sources and
# every plugin are compiled with the same sanitizers; the plugins go to
# OUTDIR/plugins, where the targets look for them.  Objects are rebuilt only
# when a source or a header is newer.
set -eu
src=$1 top=$2 out=$3
CLANG=${CLANG:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
base="-std=gnu11 -g -O1 $san -I$top -I$src/core/include -I$src/core ${FUZZ_CFLAGS:-}"
libs="${FUZZ_LIBS:-} -lz -lm -ldl"
mkdir -p "$out/obj" "$out/plugins"

# stale TARGET DEP...: true when TARGET is missing or older than a DEP.
stale() {
    target=$1
    shift
    [ -e "$target" ] || return 0
    [ -n "$(find "$@" -newer "$target" 2>/dev/null | head -n 1)" ]
}

say() { echo "  FUZZCC   $1"; }

headers="$src/core/include/gradscope/*.h $src/core/*/*.h $top/config.h"
objs=
for c in "$src"/core/base/*.c "$src"/core/kernels/*.c "$src"/core/plugin/*.c \
         "$src"/core/rundir/*.c "$src"/core/engine/*.c "$src"/core/tools/*.c; do
    o="$out/obj/lib-$(basename "$c" .c).o"
    # shellcheck disable=SC2086
    if stale "$o" "$c" $headers; then
        say "${c#"$src"/}"
        $CLANG $base -fsanitize=fuzzer-no-link -w -DGS_PLUGINDIR='"/nonexistent"' \
            -c "$c" -o "$o"
    fi
    objs="$objs $o"
done

for c in "$src"/plugins/*/*.c; do
    so="$out/plugins/$(basename "$c" .c).so"
    # shellcheck disable=SC2086
    if stale "$so" "$c" "$(dirname "$c")"/*.h $src/core/include/gradscope/*.h; then
        say "$(basename "$(dirname "$c")")/$(basename "$c")"
        $CLANG $base -fsanitize=fuzzer-no-link -w -fPIC -shared -fvisibility=hidden \
            "$c" -o "$so" $libs
    fi
done

for t in config set idx csv checkpoint; do
    c="$src/tests/fuzz/fuzz_$t.c"
    exe="$out/fuzz_$t"
    # shellcheck disable=SC2086
    if stale "$exe" "$c" "$src/tests/fuzz/fuzz_common.h" $headers $objs; then
        say "fuzz_$t"
        $CLANG $base -Wall -Wextra -Wno-unused-parameter -I"$src/core" -fsanitize=fuzzer \
            "$c" $objs -o "$exe" $libs
    fi
done
