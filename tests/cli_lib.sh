# cli_lib.sh - what the command-line test scripts share; sourced, not run.
#
#   here=$(cd "$(dirname "$0")" && pwd)   # before any cd
#   . "$here/cli_lib.sh"
#   expect 2 "did you mean" "$cf" search --trails 3

fail() { echo "FAIL: $*"; exit 1; }

expect() { # expect CODE TEXT CMD...: exit status CODE and TEXT in the output
    code=$1; text=$2; shift 2
    out=$("$@" 2>&1); got=$?
    [ "$got" = "$code" ] || { echo "$out"; fail "exit $got (want $code): $*"; }
    case "$out" in *"$text"*) ;; *) echo "$out"; fail "no '$text' in the output of: $*";; esac
    echo "ok: $*"
}
