#!/bin/sh
# The plugin search path behaves like PATH: the first directory with a
# component wins and later copies are shadowed; symbolic links are followed;
# helper libraries are passed over; places others can write are refused.
set -u
BUILD="${GRADSCOPE_TEST_BUILDDIR:-.}"
FIX="$BUILD/tests/fixtures/.libs"
STOCK_RELU="$BUILD/plugins/activation/.libs/act_relu.so"
. "$(dirname "$0")/shlib.sh"
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
unset GRADSCOPE_ALLOW_UNSAFE_PLUGINS

# ---- precedence: a patched relu (the y = 2x fixture, with a parameter
# 'unused' the stock relu lacks) in an earlier directory wins
mkdir "$tmp/dev"
cp "$FIX/fx_stockrelu.so" "$tmp/dev/act_relu.so"
check "a copy of a stock plugin first on the path" 0 "$GS" plugins activation --plugin-path "$tmp/dev"
expect "the earlier copy is the one listed" out "^activation  *relu .* $tmp/dev/act_relu.so$"
expect "the stock copy is shown shadowed" out \
    "^shadowed: activation relu in $STOCK_RELU ($tmp/dev/act_relu.so comes first"
check "GRADSCOPE_PLUGIN_PATH order" 0 env GRADSCOPE_PLUGIN_PATH="$tmp/dev:$GRADSCOPE_PLUGIN_PATH" \
    "$GS" plugins activation
expect "an earlier GRADSCOPE_PLUGIN_PATH entry wins" out "^activation  *relu .* $tmp/dev/act_relu.so$"
check "a later GRADSCOPE_PLUGIN_PATH entry" 0 env GRADSCOPE_PLUGIN_PATH="$GRADSCOPE_PLUGIN_PATH:$tmp/dev" \
    "$GS" plugins activation
expect "a later copy is the one shadowed" out "^shadowed: activation relu in $tmp/dev/act_relu.so"

cat >"$tmp/patched.cfg" <<'CFG'
data = { type = "synthetic"; samples = 100; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 4; activation = { type = "relu"; unused = 3.0; }; },
                     { type = "dense"; units = 2; } ); };
training = { epochs = 1; };
CFG
check "a run uses the winning copy" 0 "$GS" run "$tmp/patched.cfg" --plugin-path "$tmp/dev" \
    --out "$tmp/run" --quiet
check "without it the stock relu is used" 2 "$GS" validate "$tmp/patched.cfg"
expect "the stock relu has no such parameter" err "unknown key 'unused'"
check "check-plugin checks the development copy" 0 "$GS" check-plugin "$tmp/dev/act_relu.so"
expect "check-plugin ran the copy's relu" out "^ok   activation relu"

# ---- two copies in one directory stay an error naming both
mkdir "$tmp/both"
cp "$FIX/fx_stockrelu.so" "$tmp/both/a_relu.so"
cp "$STOCK_RELU" "$tmp/both/b_relu.so"
check "two copies in one directory" 2 "$GS" plugins --plugin-path "$tmp/both"
expect "both files are named" err "activation 'relu' is defined by both $tmp/both/a_relu.so and $tmp/both/b_relu.so"

# ---- symbolic links: to a plugin file, and to a plugin directory
mkdir "$tmp/links"
ln -s "$FIX/fx_valid.so" "$tmp/links/double.so"
check "a linked plugin file" 0 "$GS" plugins activation --plugin-path "$tmp/links"
expect "the link's target is loaded" out "^activation  *fx_double .*fx_valid.so$"
ln -s "$tmp/dev" "$tmp/devlink"
check "a linked plugin directory" 0 "$GS" plugins activation --plugin-path "$tmp/devlink"
expect "the linked directory's copy wins" out "^activation  *relu .* $tmp/dev/act_relu.so$"

# A link into a directory anyone can write: that directory decides what loads.
mkdir "$tmp/open" "$tmp/tolink"
chmod 777 "$tmp/open"
cp "$FIX/fx_valid.so" "$tmp/open/double.so"
ln -s "$tmp/open/double.so" "$tmp/tolink/double.so"
check "a link whose target is in a world-writable directory" 2 "$GS" plugins --plugin-path "$tmp/tolink"
expect "the refusal names that directory" err "tolink/double.so: refusing it: $tmp/open is writable by other users"

# ---- a .so without the entry symbol is a helper library, passed over
mkdir "$tmp/helper"
cp "$FIX/fx_noentry.so" "$tmp/helper/libhelper.so"
cp "$FIX/fx_valid.so" "$tmp/helper/double.so"
check "a helper library beside a plugin" 0 "$GS" plugins --plugin-path "$tmp/helper"
expect "the plugin beside it loads" out "^activation  *fx_double "
expect "the helper gets a note" out "^skipped: $tmp/helper/libhelper.so (no gradscope_plugin_entry"

# ---- a .so that is not a plugin never runs: its dynamic symbols are read
# from the file before anything is loaded (dlopen would run its constructor)
CC_FOR_TEST=${CC:-cc}
cat >"$tmp/ctor.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void ran(void)
{
    FILE *f = fopen(getenv("GS_CTOR_MARK"), "w");
    if (f)
        fclose(f);
}
int helper_function(void) { return 1; }
C
mkdir "$tmp/ctor"
if "$CC_FOR_TEST" -shared -fPIC -o "$tmp/ctor/libctor.so" "$tmp/ctor.c" 2>"$tmp/err"; then
    cp "$FIX/fx_valid.so" "$tmp/ctor/double.so"
    check "a library with a constructor beside a plugin" 0 env GS_CTOR_MARK="$tmp/ctor-ran" \
        "$GS" plugins --plugin-path "$tmp/ctor"
    expect "it is passed over" out "^skipped: $tmp/ctor/libctor.so (no gradscope_plugin_entry"
    check "check-plugin of it" 2 env GS_CTOR_MARK="$tmp/ctor-ran" "$GS" check-plugin "$tmp/ctor/libctor.so"
    expect "check-plugin says why" err "libctor.so: not a gradscope plugin (no symbol gradscope_plugin_entry)"
    check "its constructor never ran" 1 test -e "$tmp/ctor-ran"
    printf 'INPUT(-lc)\n' >"$tmp/ctor/libscript.so"
    check "a linker script named .so" 2 "$GS" plugins --plugin-path "$tmp/ctor"
    expect "it is named as no ELF file" err "libscript.so: cannot load plugin: not an ELF file"
else
    echo "SKIP: no C compiler ($CC_FOR_TEST) for the constructor test"
fi

# ---- places other users can write: refused unless explicitly allowed
mkdir "$tmp/ww"
cp "$FIX/fx_valid.so" "$tmp/ww/double.so"
chmod 777 "$tmp/ww"
check "world-writable directory" 2 "$GS" plugins --plugin-path "$tmp/ww"
expect "the refusal names the directory" err "$tmp/ww: refusing a plugin directory writable by other users"
check "ALLOW_UNSAFE=0" 2 env GRADSCOPE_ALLOW_UNSAFE_PLUGINS=0 "$GS" plugins --plugin-path "$tmp/ww"
check "ALLOW_UNSAFE empty" 2 env GRADSCOPE_ALLOW_UNSAFE_PLUGINS= "$GS" plugins --plugin-path "$tmp/ww"
check "ALLOW_UNSAFE=1" 0 env GRADSCOPE_ALLOW_UNSAFE_PLUGINS=1 "$GS" plugins --plugin-path "$tmp/ww"
expect "allowed, the plugin loads" out "^activation  *fx_double "

mkdir -p "$tmp/wwparent/plugins"
cp "$FIX/fx_valid.so" "$tmp/wwparent/plugins/double.so"
chmod 777 "$tmp/wwparent"
check "directory inside a world-writable one" 2 "$GS" plugins --plugin-path "$tmp/wwparent/plugins"
expect "the refusal names the parent" err "refusing it: $tmp/wwparent is writable by other users"

# A sticky parent (like /tmp) keeps others from replacing an entry we own.
mkdir -p "$tmp/sticky/plugins"
cp "$FIX/fx_valid.so" "$tmp/sticky/plugins/double.so"
chmod 1777 "$tmp/sticky"
check "our directory inside a sticky one" 0 "$GS" plugins --plugin-path "$tmp/sticky/plugins"

mkdir "$tmp/wwfile"
cp "$FIX/fx_valid.so" "$tmp/wwfile/double.so"
chmod 666 "$tmp/wwfile/double.so"
check "world-writable plugin file" 2 "$GS" plugins --plugin-path "$tmp/wwfile"
expect "the refusal names the file" err "$tmp/wwfile/double.so: refusing a plugin file writable by other users"

# ---- unknown components name the directories searched
cat >"$tmp/unknown.cfg" <<'CFG'
data = { type = "synthetic"; };
model = { layers = ( { type = "dense"; units = 2; activation = "relux"; } ); };
CFG
check "unknown component" 2 "$GS" validate "$tmp/unknown.cfg" --plugin-path "$tmp/links"
expect "the suggestion stays" err "did you mean 'relu'?"
expect "the valid names stay" err "valid: .*sigmoid"
expect "the directories searched are listed" err "searched $tmp/links:.*plugins/activation/.libs"

# ---- new-plugin warns about a stock name, and still writes the skeleton
check "new-plugin with a stock name" 0 "$GS" new-plugin activation relu "$tmp/np"
expect "the warning names the stock copy" err "warning: there is already a stock activation 'relu' ($STOCK_RELU)"
expect "the warning says the new one can shadow it" err "shadows it wherever $tmp/np comes first"
[ -f "$tmp/np/relu.c" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: no skeleton"; }
check "new-plugin with a new name" 0 "$GS" new-plugin activation mish2 "$tmp/np2"
absent "no warning for a new name" err "warning"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
