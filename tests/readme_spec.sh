#!/bin/sh
# readme_spec.sh CELLFORGE README - the README's spec reference is what
# `cellforge search --spec-reference` prints from the knob table, so the
# documentation cannot drift from the settings. To update the README after
# changing a knob, paste the command's output between the two markers.
set -u
cf=$1; readme=$2
want=$(mktemp); got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT
"$cf" search --spec-reference > "$want" || { echo "FAIL: --spec-reference exited $?"; exit 1; }
sed -n '/<!-- spec-reference: begin -->/,/<!-- spec-reference: end -->/p' "$readme" | sed '1d;$d' > "$got"
[ -s "$got" ] || { echo "FAIL: no spec reference between the markers in $readme"; exit 1; }
if ! cmp -s "$want" "$got"; then
    diff "$got" "$want" | head -20
    echo "FAIL: $readme's spec reference differs from \`cellforge search --spec-reference\` (< README, > command)"
    exit 1
fi
echo "ok: $readme's spec reference equals the knob table ($(wc -l < "$want") lines)"
