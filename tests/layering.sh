#!/bin/sh
# The core's layering rule, executable (docs/ARCHITECTURE.md, "Layers").
#
# Each folder of core/ may include its own headers and those of the folders
# listed for it below, which are all beneath it; nothing above it and
# nothing beside it.  core/cli uses the library's public API only.  Plugins
# (plugins/, examples/plugins/, tests/fixtures/) include the installed SDK
# (<gradscope/...>) and headers of their own folder, never the core's.
# Also: no .c file in core/ over 1000 lines, no .c file that declares
# another file's function by hand (a prototype belongs in that file's header,
# where the compiler checks it against the definition), and every file of
# core/ named in docs/ARCHITECTURE.md.
set -u
top=${1:-${GRADSCOPE_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}}
cd "$top" || exit 2

allowed() {
    case $1 in
        base) echo "" ;;
        kernels) echo "base" ;;
        plugin) echo "base" ;;
        rundir) echo "base" ;;
        engine) echo "base kernels plugin rundir" ;;
        tools) echo "base kernels plugin rundir engine" ;;
        cli) echo "" ;;
        include) echo "" ;;
        *) echo "?" ;;
    esac
}

fail=0
complain() { echo "layering: $*" >&2; fail=1; }

for dir in core/*/; do
    layer=$(basename "$dir")
    ok=$(allowed "$layer")
    [ "$ok" = "?" ] && { complain "core/$layer/ is a folder the rule does not know (add it to tests/layering.sh and docs/ARCHITECTURE.md)"; continue; }
    for f in $(find "$dir" -name '*.[ch]' | sort); do
        grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' | {
            bad=0
            while read -r line inc; do
                case $inc in
                    config.h|gradscope/*) continue ;;
                    */*) target=${inc%%/*} ;;
                    *) [ -f "$(dirname "$f")/$inc" ] && continue
                       echo "layering: $f:$line includes \"$inc\", which is not in its folder" >&2
                       bad=1; continue ;;
                esac
                [ "$target" = "$layer" ] && continue
                case " $ok " in
                    *" $target "*) continue ;;
                esac
                echo "layering: $f:$line includes \"$inc\": core/$layer may include only${ok:+ core/}$(echo "$ok" | sed 's/ /, core\//g')${ok:- its own folder and the public headers}" >&2
                bad=1
            done
            exit $bad
        } || fail=1
    done
done

for f in $(find plugins examples/plugins tests/fixtures -name '*.[ch]' 2>/dev/null | sort); do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
    sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' | {
        bad=0
        while read -r line inc; do
            [ -f "$(dirname "$f")/$inc" ] && continue
            case $inc in gradscope/*) continue ;; esac
            echo "layering: $f:$line includes \"$inc\": a plugin includes <gradscope/...> and its own folder's headers only" >&2
            bad=1
        done
        exit $bad
    } || fail=1
done

for f in $(find core -name '*.c' | sort); do
    n=$(wc -l < "$f")
    [ "$n" -le 1000 ] || complain "$f has $n lines (at most 1000: split it by job)"
    # A file-scope declaration of a function that is not static: a
    # prototype of another file's function, written by hand.
    awk -v f="$f" '
        /^[A-Za-z_][^=]*\(/ && !/^static/ && !/^_Static_assert/ && !/^typedef/ && !/^#/ { decl = $0; start = NR }
        decl != "" && /\)[[:space:]]*(__attribute__.*)?;[[:space:]]*(\/\*.*\*\/)?[[:space:]]*$/ {
            print "layering: " f ":" start ": declares a function by hand; include the header of the file that defines it"
            bad = 1; decl = ""; next }
        decl != "" && /[{]/ { decl = "" }
        END { exit bad }' "$f" >&2 || fail=1
done

# docs/ARCHITECTURE.md shows every file of the core (its path, or its name
# in backquotes on a line that names its folder): a file that it does not
# name is one nobody has placed in the design.
for f in $(find core -name '*.[ch]' | sort); do
    # the path itself, or its name on a line of the table naming its folder
    grep -qF "$f" docs/ARCHITECTURE.md ||
        grep -F "$(dirname "$f")/" docs/ARCHITECTURE.md | grep -qF "\`$(basename "$f")\`" ||
        complain "$f is not in docs/ARCHITECTURE.md's table of files"
done

[ $fail -eq 0 ] && echo "layering: core/ keeps its layers"
exit $fail
