#!/bin/sh
# cli_wait_policy.sh CELLFORGE WORKDIR - the OpenMP threads of a command that
# trains wait sleeping (src/cli/wait_policy.c): started without OMP_WAIT_POLICY
# and GOMP_SPINCOUNT, `cellforge train` and `search` run their work with the
# binary's setting, as libgomp itself reports it (OMP_DISPLAY_ENV=verbose prints
# what it read when it was loaded, once per process image); a value of the
# user's is kept and nothing starts again; the programs a search starts (a cmd:
# evaluator) see the user's environment unchanged; commands that train nothing
# never start again.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; dir=$2
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf run run2 env.txt
. "$here/cli_lib.sh"

# the binary's setting, as its help names it: VAR=VALUE
setting=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$cf" --help | sed -n 's/.*OpenMP threads spin briefly, then sleep (\([A-Z_]*=[0-9A-Za-z]*\),.*/\1/p')
var=${setting%%=*}; value=${setting#*=}
[ -n "$setting" ] && [ "$var" != "$setting" ] || fail "cellforge --help names no wait setting"
echo "setting: $var=$value"

arch='|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|'
train() { # train ENV...: a few steps on two threads, with libgomp's report on stderr
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" "$cf" train --space nb201 --set C=4 \
        --set N=1 --epochs 1 --fraction 0.005 --threads 2 --val-fraction 0.02 "$arch" 2>&1
}
blocks() { grep -c 'OPENMP DISPLAY ENVIRONMENT BEGIN'; }
# the last report's value of a libgomp setting, quotes removed
last() { grep "^ *$1 = " | tail -n 1 | sed "s/^ *$1 = '\\(.*\\)'.*/\\1/"; }

# no setting of the user's: the process that trains is the one started again,
# with the binary's setting
out=$(train) || { echo "$out"; fail "cellforge train failed"; }
case "$out" in *"test accuracy"*) ;; *) echo "$out"; fail "cellforge train did not train";; esac
[ "$(echo "$out" | blocks)" = 2 ] || { echo "$out"; fail "want two libgomp reports (started once again)"; }
if [ "$var" = GOMP_SPINCOUNT ]; then
    got=$(echo "$out" | last GOMP_SPINCOUNT)
    [ "$got" = "$value" ] || { echo "$out"; fail "libgomp read GOMP_SPINCOUNT=$got, want $value"; }
else
    got=$(echo "$out" | last OMP_WAIT_POLICY)
    [ "$got" = "$(echo "$value" | tr a-z A-Z)" ] || { echo "$out"; fail "libgomp read OMP_WAIT_POLICY=$got"; }
fi
echo "ok: train without a setting runs with $var=$value"

# the user's GOMP_SPINCOUNT is kept, and nothing starts again
out=$(train GOMP_SPINCOUNT=4321) || { echo "$out"; fail "cellforge train failed"; }
[ "$(echo "$out" | blocks)" = 1 ] || { echo "$out"; fail "started again although GOMP_SPINCOUNT was set"; }
[ "$(echo "$out" | last GOMP_SPINCOUNT)" = 4321 ] || { echo "$out"; fail "the user's GOMP_SPINCOUNT=4321 was replaced"; }
echo "ok: the user's GOMP_SPINCOUNT is kept"
# ... and so is OMP_WAIT_POLICY
out=$(train OMP_WAIT_POLICY=active) || { echo "$out"; fail "cellforge train failed"; }
[ "$(echo "$out" | blocks)" = 1 ] || { echo "$out"; fail "started again although OMP_WAIT_POLICY was set"; }
[ "$(echo "$out" | last OMP_WAIT_POLICY)" = ACTIVE ] || { echo "$out"; fail "the user's OMP_WAIT_POLICY=active was replaced"; }
echo "ok: the user's OMP_WAIT_POLICY is kept"

# commands that train nothing start once
out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$cf" version 2>&1)
[ "$(echo "$out" | blocks)" = 1 ] || { echo "$out"; fail "cellforge version started again"; }
echo "ok: version starts once"

# a search's own programs get the user's environment: the setting and its marker
# are gone from it, and a value of the user's is passed on as it was
cat > envdump.sh <<'SH'
cat > /dev/null
env | grep -E '^(GOMP_SPINCOUNT|OMP_WAIT_POLICY|CELLFORGE_WAIT)' >> env.txt
echo '{"acc": 0.5}'
SH
: > env.txt
expect 0 "2 trials: 2 ok" env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$cf" search --evaluator "cmd:sh envdump.sh" \
    --trials 2 --out run
[ ! -s env.txt ] || { cat env.txt; fail "the evaluated program saw the binary's setting"; }
expect 0 "2 trials: 2 ok" env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=4321 "$cf" search --evaluator "cmd:sh envdump.sh" \
    --trials 2 --out run2
[ "$(sort -u env.txt)" = "GOMP_SPINCOUNT=4321" ] || { cat env.txt; fail "the evaluated program did not see the user's GOMP_SPINCOUNT"; }
echo "ok: evaluated programs see the user's environment"
