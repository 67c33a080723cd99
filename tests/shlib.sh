# Helpers shared by the shell tests, sourced (not run) by them:
#   . "$(dirname "$0")/shlib.sh"
# It sets $GS, the gradscope program under test (the build's, or that of
# the current folder outside `make check`), makes $tmp, a fresh directory
# removed on exit (a script that needs more on exit sets its own trap
# afterwards), and counts into $passed and $failed;
# each script ends with
#   echo "$passed passed, $failed failed"
#   [ "$failed" -eq 0 ]
# CHECK_SHOW is how `check` shows a failed command's output ("head -20";
# a script whose failures explain themselves at the end, like a compiler's,
# sets "tail -30").

GS="${GRADSCOPE_TEST_BUILDDIR:-.}/core/gradscope"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
CHECK_SHOW="head -20"

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
fail() { bad "$@"; }

check() { # NAME EXPECTED-STATUS COMMAND...: runs COMMAND into $tmp/out, $tmp/err
    name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        ok
    else
        bad "$name: exit $got, expected $want"
        sed 's/^/  | /' "$tmp/out" "$tmp/err" | $CHECK_SHOW
    fi
}

expect() { # NAME FILE REGEX: $tmp/FILE has a line matching REGEX (grep's basic syntax)
    if grep -q -- "$3" "$tmp/$2"; then
        ok
    else
        bad "$1: '$3' not in $2"
        sed 's/^/  | /' "$tmp/$2" | head -20
    fi
}

expect_text() { # NAME FILE TEXT: $tmp/FILE contains TEXT, taken literally
    if grep -q -F -- "$3" "$tmp/$2"; then
        ok
    else
        bad "$1: '$3' not in $2"
        sed 's/^/  | /' "$tmp/$2" | head -20
    fi
}

absent() { # NAME FILE REGEX: no line of $tmp/FILE matches REGEX
    if grep -q -- "$3" "$tmp/$2"; then
        bad "$1: '$3' in $2"
        sed 's/^/  | /' "$tmp/$2" | head -20
    else
        ok
    fi
}

same_files() { # NAME DIR-A DIR-B FILE...: each FILE is the same in both folders
    name=$1 a=$2 b=$3
    shift 3
    for f in "$@"; do
        if cmp -s "$a/$f" "$b/$f"; then ok; else bad "$name: $f differs"; fi
    done
}

not_written() { # NAME PATH: PATH does not exist (a refused command wrote nothing)
    if [ -e "$2" ]; then
        bad "$1: $2 was written"
    else
        ok
    fi
}

# write_idx_images: 16 images of 6 x 6 pixels in $tmp/images.idx and their
# labels (0 or 1) in $tmp/labels.idx, in idx format (the image tests' data).
write_idx_images() {
    be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))"
             printf "\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
    { printf '\000\000\010\003'; be32 16; be32 6; be32 6
      LC_ALL=C awk 'BEGIN { for (i = 0; i < 16 * 36; i++) printf "%c", 1 + (i * 37 + int(i / 36) * 11) % 255 }'
    } >"$tmp/images.idx"
    { printf '\000\000\010\001'; be32 16
      LC_ALL=C awk 'BEGIN { for (i = 0; i < 16; i++) printf "%c", i % 2 }'
    } >"$tmp/labels.idx"
}

# image_model FLATTEN LAYER...: on stdout, an experiment that trains the
# layers (each the inside of one layer's braces) for 2 epochs of batches of
# 5 on write_idx_images' data, kept as (1, 6, 6) images with FLATTEN false.
# model.layers is on line 5, so that a message about the Nth layer names
# line N + 5.  $image_monitor is its monitor group ("every = 1;" unless set).
image_model() {
    flatten=$1
    shift
    printf 'data = { type = "idx"; train_images = "%s"; train_labels = "%s";\n' \
        "$tmp/images.idx" "$tmp/labels.idx"
    printf '         test_images = ""; test_labels = ""; flatten = %s; classes = 2; };\n' "$flatten"
    printf 'training = { epochs = 2; batch_size = 5; validation = 0; };\n'
    printf 'monitor = { %s };\n' "${image_monitor:-every = 1;}"
    printf 'model = { layers = (\n'
    sep=" "
    for l in "$@"; do
        printf '  %s{ %s }\n' "$sep" "$l"
        sep=","
    done
    printf '); };\n'
}
