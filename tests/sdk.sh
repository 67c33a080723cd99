#!/bin/sh
# The installed SDK as a plugin author without the source tree sees it: the
# installed files, pkg-config, the example plugins and a `gradscope
# new-plugin` skeleton of every kind built out of tree with their Makefiles,
# `gradscope check-plugin` on each, the code of docs/PLUGINS.md, and the
# example experiment run through GRADSCOPE_PLUGIN_PATH.
#
# Under `make check` it stages its own `make install DESTDIR=...` of the
# build tree and runs the staged program (the compiled-in plugin directory
# then points at the final prefix, so the staged one is named with
# --plugin-path).  Under `make installcheck` (GS_SDK_INSTALLED=1) it uses
# the real installation, and checks that the installed program finds its
# plugins from any directory with no environment at all.
set -u
B="${GRADSCOPE_TEST_BUILDDIR:-.}"
SRC="${GRADSCOPE_TEST_SRCDIR:-.}"
. "$(dirname "$0")/shlib.sh"
CHECK_SHOW="tail -30"

exists() { # PATH...
    for f in "$@"; do
        if [ -f "$f" ]; then passed=$((passed + 1)); else fail "not installed: $f"; fi
    done
}

# The installation directories and tools of this build.
unset MAKEFLAGS MFLAGS
if ! make --no-print-directory -s -C "$B" sdk-vars >"$tmp/vars" 2>"$tmp/err"; then
    cat "$tmp/err"
    echo "FAIL: make sdk-vars"
    exit 1
fi
. "$tmp/vars"

unset GRADSCOPE_PLUGIN_PATH GRADSCOPE_NO_INSTALLED_PLUGINS GRADSCOPE_ALLOW_UNSAFE_PLUGINS
if [ "${GS_SDK_INSTALLED:-0}" = 1 ]; then
    stage="${GS_SDK_DESTDIR:-}"
else
    stage="$tmp/stage"
    if ! make --no-print-directory -C "$B" install DESTDIR="$stage" >"$tmp/install.log" 2>&1; then
        tail -30 "$tmp/install.log"
        echo "FAIL: make install DESTDIR=$stage"
        exit 1
    fi
    LD_LIBRARY_PATH="$stage$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    # A real installation in the configured prefix must not mix in.
    GRADSCOPE_NO_INSTALLED_PLUGINS=1
    export GRADSCOPE_NO_INSTALLED_PLUGINS
fi
GS="$stage$bindir/gradscope"
PLUGINS="$stage$plugindir"
PKG_CONFIG_PATH="$stage$pkgconfigdir"
export PKG_CONFIG_PATH
PC="$PKG_CONFIG --define-variable=prefix=$stage$prefix"

# ---- the installed files
exists "$GS" "$stage$includedir/gradscope/plugin.h" "$stage$includedir/gradscope/activation.h" \
    "$stage$includedir/gradscope/layer.h" \
    "$stage$includedir/gradscope/gradscope.h" "$stage$pkgconfigdir/gradscope.pc" \
    "$PLUGINS/act_relu.so" "$PLUGINS/layer_dense.so" "$PLUGINS/opt_sgd.so" \
    "$stage$mandir/man1/gradscope.1" "$stage$docdir/PLUGINS.md" "$stage$docdir/README.md" \
    "$stage$docdir/examples/plugins/pswish/pswish.c" \
    "$stage$docdir/examples/plugins/highway/Makefile" \
    "$stage$docdir/examples/plugins/rezero/rezero.c" "$stage$docdir/examples/plugins/rezero/Makefile"

# ---- pkg-config: flags and variables
check "pkg-config --cflags" 0 $PC --cflags gradscope
expect "cflags name the installed headers" out "-I$stage$includedir"
check "pkg-config plugindir" 0 $PKG_CONFIG --variable=plugindir gradscope
[ "$(cat "$tmp/out")" = "$plugindir" ] || fail "pkg-config plugindir '$(cat "$tmp/out")' is not the configured '$plugindir'"
abi=$($PKG_CONFIG --variable=abi gradscope)
check "--version" 0 "$GS" --version
expect "pkg-config abi is the program's plugin ABI" out "plugin ABI $abi)"

# ---- every plugin comes from the installation, none from the build tree
if [ -n "$stage" ]; then
    check "plugins" 0 "$GS" plugins --plugin-path "$PLUGINS"
else
    # From another directory, with no plugin environment at all.
    check "plugins from /" 0 sh -c "cd / && exec '$GS' plugins"
fi
expect "plugins shows where relu came from" out "^activation  *relu .* $PLUGINS/act_relu.so$"
grep -E '^[a-z]+ ' "$tmp/out" | grep -v " $PLUGINS/" >"$tmp/stray"
[ -s "$tmp/stray" ] && { fail "components loaded from outside $PLUGINS:"; head "$tmp/stray"; }
[ -n "$stage" ] || check "check-plugin by name from /" 0 sh -c "cd / && exec '$GS' check-plugin relu"

# The core plugins for the remaining commands.
if [ -n "$stage" ]; then CORE=$PLUGINS; else CORE=; fi

build() { # DIR: runs the directory's Makefile, warnings as errors
    make --no-print-directory -C "$1" CC="$CC" PKG_CONFIG="$PC" CFLAGS="-O2 -Wall -Wextra -Werror"
}

# ---- the example plugins, built out of tree
mkdir -p "$tmp/ex"
cp -R "$SRC/examples/plugins/pswish" "$SRC/examples/plugins/highway" "$SRC/examples/plugins/rezero" \
    "$tmp/ex/"
chmod -R u+w "$tmp/ex"
for p in pswish highway rezero; do
    check "build example $p" 0 build "$tmp/ex/$p"
    check "check-plugin example $p" 0 env GRADSCOPE_PLUGIN_PATH="$CORE" "$GS" check-plugin "$tmp/ex/$p/$p.so"
    expect "check-plugin $p reports ok" out "^ok  .* $p "
    [ "$p" = pswish ] && expect "pswish's beta is learnable" out "3 learnable per 3 channels"
    # Every example has double-precision kernels, so its check runs in double.
    grep -q "checked in float32" "$tmp/out" && fail "check-plugin checked example $p in float32"
done
EXAMPLES="$tmp/ex/pswish:$tmp/ex/highway:$tmp/ex/rezero${CORE:+:$CORE}"

check "run the example experiment" 0 env GRADSCOPE_PLUGIN_PATH="$EXAMPLES" \
    "$GS" run "$SRC/examples/plugins/experiment.cfg" --out "$tmp/run" --set training.epochs=1 \
    --threads 2 --quiet
for v in highway plain rezero; do
    if grep -q '"status": "completed"' "$tmp/run/$v/summary.json" 2>/dev/null; then
        passed=$((passed + 1))
    else
        fail "variant $v did not complete"
    fi
done
layers=$(awk -F, '$3 == "gate_mean" { print $2 }' "$tmp/run/highway/paths.csv" 2>/dev/null | sort -u | wc -l)
[ "$layers" -eq 20 ] && passed=$((passed + 1)) || fail "gate_mean recorded for $layers highway layers, not 20"
grep -q ",transform.act.beta," "$tmp/run/highway/gradients.csv" 2>/dev/null &&
    passed=$((passed + 1)) || fail "no gradient of pswish's beta inside the highway layers"
layers=$(awk -F, '$3 == "unit_gate" && $4 == "channel" { print $2 }' "$tmp/run/highway/series.csv" 2>/dev/null | sort -u | wc -l)
[ "$layers" -eq 20 ] && passed=$((passed + 1)) || fail "unit_gate series in series.csv for $layers highway layers, not 20"
[ -e "$tmp/run/plain/series.csv" ] && fail "series.csv written for the plain stack, which records no series"
# ReZero: every block records alpha, starting at alpha_init = 0, and both paths of dL/dx.
for key in alpha branch_norm shortcut_grad_norm residual_grad_norm; do
    layers=$(awk -F, -v k=$key '$3 == k { print $2 }' "$tmp/run/rezero/paths.csv" 2>/dev/null | sort -u | wc -l)
    [ "$layers" -eq 20 ] && passed=$((passed + 1)) || fail "$key recorded for $layers rezero blocks, not 20"
done
nonzero=$(awk -F, '$1 == 0 && $3 == "alpha" && $4 != 0' "$tmp/run/rezero/paths.csv" 2>/dev/null | wc -l)
[ "$nonzero" -eq 0 ] && passed=$((passed + 1)) || fail "$nonzero rezero blocks start with alpha != 0"
grep -q ",alpha," "$tmp/run/rezero/gradients.csv" 2>/dev/null &&
    passed=$((passed + 1)) || fail "no gradient of the rezero blocks' alpha"
grep -q '^#define GS_ABI_MAJOR 2$' "$stage$includedir/gradscope/plugin.h" &&
    passed=$((passed + 1)) || fail "the installed plugin.h is not ABI 2"
check "plugins lists the examples" 0 env GRADSCOPE_PLUGIN_PATH="$EXAMPLES" "$GS" plugins
expect "plugins shows where pswish came from" out "^activation  *pswish .* $tmp/ex/pswish/pswish.so$"
expect "plugins shows where highway came from" out "^layer  *highway .* $tmp/ex/highway/highway.so$"
expect "plugins shows where rezero came from" out "^layer  *rezero .* $tmp/ex/rezero/rezero.so$"

# ---- ReZero's alpha (role GS_ROLE_GAIN) is learned but never weight-decayed.  Two runs
# differ only in the optimizer's weight_decay, every decay group on: the first update
# decays the last layer's weights and must leave alpha where its gradient alone takes it
# (only the first: from the second on, the decayed weights change alpha's gradient).
cat >"$tmp/decay.cfg" <<'EOF'
name = "rezero-decay";
data = { type = "synthetic"; set = "blobs"; features = 6; classes = 2; samples = 48;
         test_samples = 8; };
model = { layers = ( { type = "rezero"; alpha_init = 0.25; repeat = 2; },
                     { type = "dense"; units = 2; } ); };
optimizer = { type = "sgd"; lr = 0.1; };
training = { epochs = 1; batch_size = 20; decay_weights = true; decay_biases = true;
             decay_slopes = true; decay_norm = true; };
monitor = { every = 1; detail_every = 1; };
variants = ( { name = "free"; }, { name = "decayed"; optimizer = { weight_decay = 0.5; }; } );
EOF
check "run rezero with weight decay" 0 env GRADSCOPE_PLUGIN_PATH="$EXAMPLES" \
    "$GS" run "$tmp/decay.cfg" --out "$tmp/decay" --threads 2 --quiet
for v in free decayed; do
    awk -F, '$3 == "alpha" && $1 <= 1 { print $1, $2, $4 }' "$tmp/decay/$v/paths.csv" \
        >"$tmp/alpha.$v" 2>/dev/null
    awk -F, '$1 == 1 && $2 == 2 && $3 == "weight" { print $5 }' "$tmp/decay/$v/gradients.csv" \
        >"$tmp/wnorm.$v" 2>/dev/null
done
starts=$(awk '$1 == 0 && $3 == 0.25' "$tmp/alpha.free" | wc -l)
moved=$(awk '$1 == 1 && $3 != 0.25' "$tmp/alpha.free" | wc -l)
[ "$starts" -eq 2 ] && passed=$((passed + 1)) || fail "$starts of 2 rezero blocks start at alpha_init 0.25"
[ "$moved" -eq 2 ] && passed=$((passed + 1)) || fail "alpha of $moved of 2 rezero blocks moved in the first step"
if [ -s "$tmp/wnorm.free" ] && ! cmp -s "$tmp/wnorm.free" "$tmp/wnorm.decayed"; then
    passed=$((passed + 1))
else
    fail "weight_decay did not change the last layer's weights: the test shows nothing"
fi
if [ -s "$tmp/alpha.free" ] && cmp -s "$tmp/alpha.free" "$tmp/alpha.decayed"; then
    passed=$((passed + 1))
else
    fail "weight_decay changed rezero's alpha:"
    paste "$tmp/alpha.free" "$tmp/alpha.decayed" | sed 's/^/  | /'
fi

# ---- after install: the build tree's copies come first and win; the installed ones
# are shadowed, not an error (make check and make check-experiments of a build tree
# that was installed from)
if [ -n "$stage" ] && [ -f "$B/plugin-path.build" ]; then
    BUILDPATH=$(cat "$B/plugin-path.build")
    ABS_B=$(cd "$B" && pwd)
    check "plugins: build tree before its installation" 0 \
        env GRADSCOPE_PLUGIN_PATH="$BUILDPATH:$PLUGINS" "$B/core/gradscope" plugins
    expect "the build tree's relu wins" out "^activation  *relu .* $ABS_B/plugins/activation/.libs/act_relu.so$"
    expect "the installed relu is shown shadowed" out "^shadowed: activation relu in $PLUGINS/act_relu.so"
    check "run: build tree before its installation" 0 \
        env GRADSCOPE_PLUGIN_PATH="$BUILDPATH:$PLUGINS" "$B/core/gradscope" run \
        "$SRC/configs/quickstart.cfg" --out "$tmp/both" --set training.epochs=1 --quiet
fi

# ---- new-plugin: a skeleton of every kind builds, passes check-plugin and has TODOs
for kind in activation initializer optimizer layer block loss dataset schedule; do
    d="$tmp/new/$kind"
    check "new-plugin $kind" 0 "$GS" new-plugin "$kind" "sk_$kind" "$d"
    grep -q "TODO" "$d/sk_$kind.c" && passed=$((passed + 1)) || fail "no TODO in the $kind skeleton"
    grep -q "pkg-config" "$d/Makefile" && passed=$((passed + 1)) || fail "the $kind Makefile does not use pkg-config"
    check "skeleton $kind: make check" 0 env GRADSCOPE_PLUGIN_PATH="$CORE" \
        make --no-print-directory -C "$d" CC="$CC" PKG_CONFIG="$PC" CFLAGS="-O2 -Wall -Wextra -Werror" \
        GRADSCOPE="$GS" check
    expect "skeleton $kind passes check-plugin" out "^ok  .* sk_$kind "
done
check "new-plugin default DIR" 0 sh -c "cd '$tmp/new' && exec '$GS' new-plugin schedule sk_default"
[ -f "$tmp/new/sk_default/sk_default.c" ] && passed=$((passed + 1)) || fail "new-plugin did not default DIR to NAME"
check "new-plugin never overwrites" 2 "$GS" new-plugin activation sk_activation "$tmp/new/activation"
expect "overwrite refusal names the file" err "sk_activation.c already exists"
check "new-plugin bad kind" 2 "$GS" new-plugin colour sk_x "$tmp/new/x"
check "new-plugin bad name" 2 "$GS" new-plugin activation "My-Act" "$tmp/new/x"
check "new-plugin missing name" 2 "$GS" new-plugin activation
[ -e "$tmp/new/x" ] && fail "a refused new-plugin created its directory"
check "new-plugin --help" 0 "$GS" new-plugin --help
expect "new-plugin --help" out "Usage: gradscope new-plugin"

# ---- docs/PLUGINS.md: every block marked <!-- file: NAME.c --> builds and passes
mkdir -p "$tmp/doc"
awk -v dir="$tmp/doc" '
    /^<!-- file: [a-z_0-9]+\.c -->$/ { name = $3; next }
    name != "" && /^```c$/ { out = dir "/" name; next }
    out != "" && /^```$/ { close(out); out = ""; name = ""; next }
    out != "" { print > out }
' "$SRC/docs/PLUGINS.md"
n_doc=0
for f in "$tmp"/doc/*.c; do
    [ -f "$f" ] || continue
    n_doc=$((n_doc + 1))
    plug=$(basename "$f" .c)
    check "docs: build $plug.c" 0 sh -c "$CC -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
        \$($PC --cflags gradscope) -o '$tmp/doc/$plug.so' '$f' -lm"
    check "docs: check-plugin $plug" 0 env GRADSCOPE_PLUGIN_PATH="$CORE" "$GS" check-plugin "$tmp/doc/$plug.so"
done
[ "$n_doc" -ge 3 ] && passed=$((passed + 1)) || fail "only $n_doc complete plugins found in docs/PLUGINS.md"
if cmp -s "$tmp/doc/pswish.c" "$SRC/examples/plugins/pswish/pswish.c"; then
    passed=$((passed + 1))
else
    fail "the walkthrough's pswish.c differs from examples/plugins/pswish/pswish.c"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
