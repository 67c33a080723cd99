#!/bin/sh
# The same bits whatever copy of a plugin's kernel runs.  A kernel marked
# GS_KERNEL_CLONES (plugin.h: the element-wise activations, Adam's steps)
# is compiled for x86-64-v4, x86-64-v3 and the baseline, and the loader
# picks the best copy the processor runs, whatever GRADSCOPE_ISA says; so
# tests/isa.sh's runs all use one copy.  Here every plugin with such
# kernels is built once per instruction set this processor runs, with the
# stock plugins' flags and GS_KERNEL_CLONES defined as that one target,
# and tests/clone_bits compares each copy, and the stock plugin as the
# loader resolves it, with the first (docs/PERFORMANCE.md, "The same
# bits").  Exit 77 (skipped) where the processor runs the baseline only.
set -u
B="${GRADSCOPE_TEST_BUILDDIR:-.}"
SRC="${GRADSCOPE_TEST_SRCDIR:-.}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset MAKEFLAGS MFLAGS
if ! make --no-print-directory -s -C "$B" clone-vars >"$tmp/vars" 2>"$tmp/err"; then
    cat "$tmp/err"
    echo "FAIL: make clone-vars"
    exit 1
fi
. "$tmp/vars"

sets=$("$B/tests/clone_bits" --sets) || { echo "FAIL: clone_bits --sets"; exit 1; }
if [ "$sets" = baseline ]; then
    echo "SKIP: this processor runs the baseline copy only"
    exit 77
fi

# The sources with copies: those using the macros that make them, and
# those including a header of their own directory that does.
macros='GS_KERNEL_CLONES|GS_ELEMENTWISE_ACTIVATION|GS_PARAM_ACTIVATION'
srcs=$(grep -lE "$macros" "$SRC"/plugins/*/*.c)
for h in $(grep -lE "$macros" "$SRC"/plugins/*/*.h); do
    srcs="$srcs $(grep -l "#include \"$(basename "$h")\"" "$(dirname "$h")"/*.c)"
done
srcs=$(printf '%s\n' $srcs | sort -u)
[ -n "$srcs" ] || { echo "FAIL: no plugin source uses $macros"; exit 1; }

dirs=
for set in $sets; do
    case $set in
    baseline) clones= ;;
    *) clones="__attribute__((target(\"arch=$set\")))" ;;
    esac
    mkdir "$tmp/$set"
    for c in $srcs; do
        so="$tmp/$set/$(basename "$c" .c).so"
        # shellcheck disable=SC2086 # the flag lists split into words
        if ! $CC $CLONE_CFLAGS "-DGS_KERNEL_CLONES=$clones" $CLONE_LDFLAGS -o "$so" "$c" -lm \
            2>"$tmp/cc.err"; then
            cat "$tmp/cc.err"
            echo "FAIL: building $c for $set"
            exit 1
        fi
    done
    dirs="$dirs $tmp/$set"
done
echo "copies built for: $sets ($(echo $srcs | wc -w) plugins)"
# shellcheck disable=SC2086
"$B/tests/clone_bits" $dirs "$BUILD_PLUGIN_PATH"
