#!/bin/sh
# The gradscope program: help, version, exit statuses, listings, checks.
set -u
SRC="${GRADSCOPE_TEST_SRCDIR:-.}"
FIX="${GRADSCOPE_TEST_BUILDDIR:-.}/tests/fixtures/.libs"
. "$(dirname "$0")/shlib.sh"

check "no arguments" 2 "$GS"
check "--help" 0 "$GS" --help
expect "--help lists commands" out "check-plugin"
check "--version" 0 "$GS" --version
abi=$(sed -n 's/^#define GS_ABI_MAJOR \([0-9]*\).*/\1/p' "$SRC/core/include/gradscope/plugin.h").$(
    sed -n 's/^#define GS_ABI_MINOR \([0-9]*\).*/\1/p' "$SRC/core/include/gradscope/plugin.h")
expect "--version has the headers' ABI" out "plugin ABI $abi)"
for cmd in run validate plugins check-plugin; do
    check "$cmd --help" 0 "$GS" "$cmd" --help
    expect "$cmd --help" out "Usage: gradscope $cmd"
done
check "unknown command" 2 "$GS" frobnicate
expect "unknown command names valid ones" err "valid: run, validate"
check "unknown option" 2 "$GS" run --frobnicate x.cfg
check "bad --threads" 2 "$GS" run "$SRC/configs/quickstart.cfg" --threads zero

check "plugins" 0 "$GS" plugins
for c in "activation  *relu" "initializer *he" "optimizer  *adam" "layer  *dense" \
         "loss  *softmax_cross_entropy" "dataset  *idx" "schedule  *cosine"; do
    expect "plugins lists $c" out "^$c "
done
expect "plugins shows parameters with defaults" out "negative_slope.*default 0.01"
expect "plugins shows files" out "act_relu.so"
expect "plugins says SELU wants lecun" out "torch.nn.SELU.*lecun"
expect "plugins says he auto gives SELU 3/4" out "auto:.*3/4 for selu"
if grep -q "^shadowed:\|^skipped:" "$tmp/out"; then failed=$((failed + 1)); echo "FAIL: the build tree shadows or skips a plugin"; fi
# The blocks' schemas, with the defaults the reference defines
check "plugins layer" 0 "$GS" plugins layer
for pat in "^layer  *resnet " "shortcut_scale  *float  *default 1 " "form  *string  *default \"pre\"  (one of pre|post|mlp)" \
           "^layer  *densenet " "growth  *int  *default 12 " "^layer  *transition " "compression  *float  *default 0.5 " \
           "^layer  *batchnorm " "eps  *float  *default 1e-05 " "momentum  *float  *default 0.1 " \
           "^layer  *layernorm " "^layer  *dropout " " p  *float  *default 0.5 "; do
    expect "plugins layer: $pat" out "$pat"
done
check "plugins KIND" 0 "$GS" plugins optimizer
expect "plugins KIND filters" out "^optimizer"
if grep -q "^activation" "$tmp/out"; then failed=$((failed + 1)); echo "FAIL: plugins optimizer listed activations"; fi
check "plugins bad kind" 2 "$GS" plugins colour

check "validate quickstart" 0 "$GS" validate "$SRC/configs/quickstart.cfg"
expect "validate summarizes each variant's model" out "^variant relu-he:"
expect "the summary has the layers' shapes" out "^  0 model.layers.\[0\]#0 *dense *16 *64 *1088$"
expect "the summary has the steps per epoch" out "parameters; [0-9]* training examples, batch [0-9]*: [0-9]* steps per epoch"
if grep -q "^seed = " "$tmp/out"; then failed=$((failed + 1)); echo "FAIL: validate printed the config unasked"; fi
check "validate --print-config" 0 "$GS" validate "$SRC/configs/quickstart.cfg" --print-config
expect "--print-config prints the resolved config" out "^# ---- variant relu-he ----"
check "validate --variant" 0 "$GS" validate "$SRC/configs/quickstart.cfg" --variant relu-he
expect "--variant keeps one variant" err "valid (1 variant)"
check "--variant unknown" 2 "$GS" validate "$SRC/configs/quickstart.cfg" --variant nope
expect "--variant unknown lists the variants" err "--variant nope: no such variant (the variants: .*relu-he"
check "--set variants" 2 "$GS" run "$SRC/configs/quickstart.cfg" --set 'variants=()' --out "$tmp/never"
expect "--set variants is refused" err "variants cannot be set from the command line"
cat >"$tmp/bad.cfg" <<'CFG'
data = { type = "synthetic"; };
model = { layers = ( { type = "dense"; units = 2; activation = "sigmoud"; } ); };
CFG
check "validate bad" 2 "$GS" validate "$tmp/bad.cfg"
expect "error has FILE:LINE and a suggestion" err "bad.cfg:2: .*did you mean 'sigmoid'"
expect "unknown component lists the directories searched" err "searched .*/plugins/activation/.libs:"
check "run bad writes nothing" 2 "$GS" run "$tmp/bad.cfg" --out "$tmp/never"
[ -e "$tmp/never" ] && { failed=$((failed + 1)); echo "FAIL: a bad run created its directory"; }
check "run bad --set" 2 "$GS" run "$SRC/configs/quickstart.cfg" --set optimizer.lr=-1 --out "$tmp/never"
expect "--set error names the override" err "^gradscope: --set optimizer.lr=-1"
check "missing config" 2 "$GS" run "$tmp/none.cfg"
expect "missing config gives the reason" err "none.cfg: cannot read experiment file: No such file"
check "directory as config" 2 "$GS" validate "$tmp"
expect "unreadable config gives the reason" err "cannot read experiment file: Is a directory"
cat >"$tmp/quote.cfg" <<'CFG'
data = { type = "synthetic"; };
model = { layers = ( { type = "dense"; units = 2; activation = relu; } ); };
CFG
check "unquoted string" 2 "$GS" validate "$tmp/quote.cfg"
expect "syntax error says to quote" err 'quote.cfg:2: syntax error; a string needs double quotes: "relu"'
cat >"$tmp/nodata.cfg" <<'CFG'
data = { type = "idx"; train_images = "absent-images.idx"; train_labels = "absent-labels.idx";
         test_images = ""; test_labels = ""; };
model = { layers = ( { type = "dense"; units = 2; } ); };
CFG
check "--set index out of range" 2 "$GS" validate "$tmp/nodata.cfg" --set model.layers.[7].units=3
expect "--set index gives the length" err "index 7 out of range: model.layers has 1 element$"
check "missing data file" 2 "$GS" run "$tmp/nodata.cfg" --quiet --out "$tmp/nodata"
expect "missing data file names its key" err "absent-images.idx: cannot open: No such file or directory (data.train_images)"

cat >"$tmp/ok.cfg" <<'CFG'
data = { type = "synthetic"; samples = 200; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 8; activation = "tanh"; }, { type = "dense"; units = 2; } ); };
training = { epochs = 1; };
CFG
check "run" 0 "$GS" run "$tmp/ok.cfg" --out "$tmp/run" --threads 2 --seed 3
expect "run prints the comparison" out "grad_ratio"
[ -f "$tmp/run/summary.json" ] || { failed=$((failed + 1)); echo "FAIL: no summary.json"; }
check "run --quiet" 0 "$GS" run "$tmp/ok.cfg" --out "$tmp/run2" --quiet
[ -s "$tmp/out" ] && { failed=$((failed + 1)); echo "FAIL: --quiet printed something"; }
check "run into a finished run" 1 "$GS" run "$tmp/ok.cfg" --out "$tmp/run"

# Output into a pipe or a file: plain progress lines (every step here), no
# carriage returns or escape sequences.
GRADSCOPE_PROGRESS_INTERVAL=0 "$GS" run "$tmp/ok.cfg" --out "$tmp/piped" 2>&1 | cat >"$tmp/out"
expect "piped run has plain progress lines" out "^  epoch 1/1  step 2/[0-9]* ([0-9]*%)  loss"
if LC_ALL=C grep -q "$(printf '[\r\033]')" "$tmp/out"; then
    failed=$((failed + 1)); echo "FAIL: piped output has \\r or escape sequences"
else passed=$((passed + 1)); fi

# Divergence: the message suggests the fix, the layer table names the last
# finite step, and --fail-on-diverge exits 3 (run and resume).
cat >"$tmp/diverge.cfg" <<'CFG'
data = { type = "synthetic"; samples = 200; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 32; activation = "relu"; repeat = 4; }, { type = "dense"; units = 2; } ); };
optimizer = { type = "sgd"; lr = 1e12; };
training = { epochs = 2; };
variants = ( { name = "huge-lr"; }, { name = "fine"; optimizer = { lr = 0.01; }; } );
CFG
check "diverged run exits 0" 0 "$GS" run "$tmp/diverge.cfg" --out "$tmp/div"
expect "diverged suggests the fix" out "lower optimizer.lr (1e+12 now) or set training.clip_grad_norm"
expect "layer table names the last finite step" out "^huge-lr diverged at step [0-9]*: the last finite step was [0-9]*"
check "--fail-on-diverge" 3 "$GS" run "$tmp/diverge.cfg" --out "$tmp/div2" --fail-on-diverge
expect "--fail-on-diverge names the run" err "^gradscope: 1 run diverged (huge-lr)"
check "resume --fail-on-diverge" 3 "$GS" resume "$tmp/div2" --fail-on-diverge --quiet
check "--fail-on-diverge, none diverged" 0 "$GS" run "$tmp/ok.cfg" --out "$tmp/run3" --quiet --fail-on-diverge

# A model that cannot fit in memory is an input error, found before anything is allocated.
check "huge model" 2 "$GS" run "$tmp/ok.cfg" --set model.layers.[0].units=1000000 --set model.layers.[1].units=1000000 --out "$tmp/huge"
expect "huge model names the size" err "GiB, more than this machine"
[ -e "$tmp/huge" ] && { failed=$((failed + 1)); echo "FAIL: the huge model created its directory"; }
# Output that cannot be created, and a disk that fills up during the run.
check "unwritable output" 1 "$GS" run "$tmp/ok.cfg" --out /dev/null/run
expect "unwritable output names the directory" err "/dev/null/run"
( trap '' XFSZ; ulimit -f 40; exec "$GS" run "$tmp/ok.cfg" --out "$tmp/full" --quiet --set monitor.every=1 --set training.epochs=40 ) \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "write failed" "$tmp/err"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: disk full: exit $rc: $(cat "$tmp/err")"; fi

# Bad inputs that used to hurt (issue #24): each is refused with exit 2 and
# nothing is written.  `timeout` guards the ones that used to block or read
# without end, so that a regression fails instead of hanging the suite.
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 60"
check "--set of an overflowing float" 2 "$GS" run "$tmp/diverge.cfg" --out "$tmp/bad1" --set optimizer.lr=1e400
expect "it names the key" err "^gradscope: --set optimizer.lr=1e400: optimizer 'sgd': lr = inf is not a finite number"
check "--set clip_grad_norm=1e400" 2 "$GS" run "$tmp/ok.cfg" --out "$tmp/bad1" --set training.clip_grad_norm=1e400
expect "it names the section" err "training: clip_grad_norm = inf is not a finite number"
check "two settings in one --set" 2 "$GS" run "$tmp/ok.cfg" --out "$tmp/bad1" --set 'optimizer.lr=0.1; evil = 1'
expect "one --set is one KEY=VALUE" err "one override is one KEY=VALUE"
check "an empty name in a --set key" 2 "$GS" validate "$tmp/ok.cfg" --set optimizer..lr=0.1
expect "the empty name is named" err "optimizer..lr=0.1: empty name in the key"
check "--out ''" 2 "$GS" run "$tmp/ok.cfg" --out ''
expect "--out '' is named" err "^gradscope: --out: empty directory name"
long=$(printf '%04096d' 0)
check "--out over 4095 characters" 2 "$GS" run "$tmp/ok.cfg" --out "$tmp/$long"
expect "the length is named" err "the run directory would be"
check "--plugin-path ''" 2 "$GS" plugins --plugin-path ''
check "an experiment file name over 4095 characters" 2 "$GS" validate "$tmp/$long.cfg"
[ -e "$tmp/bad1" ] && { failed=$((failed + 1)); echo "FAIL: a refused run created its directory"; }
mkdir "$tmp/inside"
check "a name outside output.dir" 2 "$GS" run "$tmp/ok.cfg" --set 'name=../../escaped' --set "output.dir=\"$tmp/inside/runs\""
expect "the name is refused" err "name = \"../../escaped\" contains '/'"
[ -e "$tmp/escaped" ] || [ -e "$tmp/inside/runs" ] && { failed=$((failed + 1)); echo "FAIL: a refused name created a directory"; }
mkfifo "$tmp/fifo.cfg"
check "a FIFO as the experiment file" 2 $TIMEOUT "$GS" validate "$tmp/fifo.cfg"
expect "the FIFO is not a regular file" err "fifo.cfg: cannot read experiment file: not a regular file"
check "/dev/zero as the experiment file" 2 $TIMEOUT "$GS" validate /dev/zero
{ cat "$tmp/ok.cfg"; printf '# %01048576d\n' 0; } >"$tmp/big.cfg"
check "an experiment file over 1 MiB" 2 "$GS" validate "$tmp/big.cfg"
expect "the limit is named" err "big.cfg: cannot read experiment file: larger than the 1 MiB limit"
mkdir "$tmp/absinc"
printf 'optimizer = { type = "sgd"; lr = 0.0625; };\n' >"$tmp/absinc/optim.cfg"
{ cat "$tmp/ok.cfg"; printf '@include "%s/absinc/optim.cfg"\n' "$tmp"; } >"$tmp/absinc.cfg"
check "an absolute @include" 0 "$GS" validate "$tmp/absinc.cfg" --print-config
expect "its settings are read" out "lr = 0.0625;"
{ cat "$tmp/ok.cfg"; printf 'variants = ( { name = "v"; set = ( "seed = 1\\n@include \\"/dev/zero\\"" ); } );\n'; } >"$tmp/setinc.cfg"
check "@include in a variant's set string" 2 $TIMEOUT "$GS" validate "$tmp/setinc.cfg"
expect "the variant's set string is named" err "setinc.cfg:4: variant 'v' set \"seed = 1"
expect "@include is refused by name" err "@include is not allowed in a KEY=VALUE override"
mkfifo "$tmp/data.fifo"
cat >"$tmp/fifodata.cfg" <<'CFG'
data = { type = "csv"; train = "data.fifo"; };
model = { layers = ( { type = "dense"; units = 2; } ); };
CFG
check "a FIFO as a data file" 2 $TIMEOUT "$GS" run "$tmp/fifodata.cfg" --out "$tmp/bad2"
expect "the data FIFO is named" err "fifodata.cfg:1: dataset 'csv': train = \"data.fifo\" is not a regular file"
# At the data sets' own size limit (2^31 values) on a machine too small for
# it, here made so with an address-space limit: the sizes, not an abort.
# ASan's reserved address space cannot run under such a limit: skipped there.
cat >"$tmp/bigdata.cfg" <<'CFG'
data = { type = "synthetic"; features = 1048576; samples = 2048; test_samples = 0; };
model = { layers = ( { type = "dense"; units = 2; } ); };
CFG
if ( ulimit -v 3000000 && "$GS" --version ) >/dev/null 2>&1; then
    check "a data set larger than memory" 2 sh -c 'ulimit -v 3000000 && exec "$0" run "$1" --out "$2"' \
        "$GS" "$tmp/bigdata.cfg" "$tmp/bad3"
    expect "it says the sizes" err "synthetic blobs: the data set needs 8.0 GiB, more than this machine's 2.9 GiB"
else
    echo "SKIP: the program cannot run under ulimit -v (sanitizer build)"
fi
[ -e "$tmp/bad2" ] || [ -e "$tmp/bad3" ] && { failed=$((failed + 1)); echo "FAIL: a refused run created its directory"; }

check "check-plugin by name" 0 "$GS" check-plugin relu
expect "check-plugin reports" out "^ok   activation relu"
check "check-plugin file" 0 "$GS" check-plugin "$FIX/fx_valid.so" --plugin-path "$FIX/../../../plugins/activation/.libs"
check "check-plugin wrong backward" 1 "$GS" check-plugin "$FIX/fx_wrongbackward.so"
expect "check-plugin names the failure" out "FAIL activation fx_wrong"
check "check-plugin bad magic" 2 "$GS" check-plugin "$FIX/fx_badmagic.so"
expect "refusal names the file" err "fx_badmagic.so: not a gradscope plugin"
check "check-plugin unknown" 2 "$GS" check-plugin nosuchthing

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
