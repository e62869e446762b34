#!/bin/sh
# cli_expect.sh CODE TEXT CMD [ARGS...] - run CMD, require exit status CODE and
# TEXT somewhere in its stdout or stderr.
want_code=$1; want_text=$2; shift 2
out=$("$@" 2>&1); code=$?
if [ "$code" != "$want_code" ]; then
  echo "expected exit $want_code, got $code from: $*"; echo "$out"; exit 1
fi
case "$out" in
  *"$want_text"*) echo "ok: exit $code, found: $want_text"; exit 0 ;;
  *) echo "expected output to contain: $want_text"; echo "$out"; exit 1 ;;
esac
