#!/bin/sh
# cli_report.sh CELLFORGE SOURCE_DIR WORKDIR - `cellforge report` end to end: a
# search with real training on 2 CPU workers and its final phase (two models
# retrained and tested: final/ID/test.json, their journal events, best.cfm), a
# 200-trial search on a benchmark table, an all-failed and an all-rejected run,
# a copy of the trained run with a failed trial whose reason needs escaping
# and a torn last journal line, a run over two GPUs on two ranks with several
# trials at once on each (tests/devices_run.py; the timeline's lanes and rows,
# also as a journal of an older version), and a one-shot (darts) run from tests/data/oneshot-run
# (its supernet's heat maps and derived architectures; without, with a damaged
# and with an all-zero alphas.json, each a note). Each
# page is checked for its sections, its trial rows, well-formed SVG and numbers
# (no NaN or inf), then rendered with headless Chromium (the DOM holds the
# sections; the screenshot is not blank). Without python3 or Chromium those
# checks are skipped with a message; the test exits 77 only when nothing at all
# could be checked.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; src=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf train table failed rejected final damaged damaged2 gpus gpus-old oneshot oneshot-* ./*.html chrome ./*.png diverged.tsv
. "$here/cli_lib.sh"
have_python=1
command -v python3 >/dev/null 2>&1 || { have_python=0; echo "note: no python3: the HTML and PNG checks are skipped"; }
checked=0

# check_html FILE ROWS SVGS SECTION...: the structure of a page (python3's parsers):
# the sections, ROWS trial rows, SVGS charts and diagrams (each well-formed XML)
check_html() {
    [ -s "$1" ] || fail "$1 was not written"
    [ "$have_python" = 1 ] || return 0
    python3 - "$@" <<'PY' || fail "$1: structure"
import re, sys, html.parser, xml.etree.ElementTree as ET
path, rows, n_svg, sections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
text = open(path, encoding="utf-8").read()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.ids = set(); self.rows = 0; self.stack = []; self.scripts = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            assert a["id"] not in self.ids, "duplicate id " + a["id"]
            self.ids.add(a["id"])
        if tag == "tr" and a.get("class") == "trial": self.rows += 1
        if tag == "script" and "src" in a: self.scripts.append(a["src"])
        for k in ("href", "src"):
            assert not (a.get(k) or "").startswith(("http:", "https:", "//")), "fetches " + a[k]
p = P(); p.feed(text); p.close()
for s in ["summary", "pareto", "progress", "timeline", "curves", "cells", "trials", "failures", "best-model"] + sections:
    assert s in p.ids, "no section or element with id " + s
assert p.rows == rows, "%d trial rows, want %d" % (p.rows, rows)
assert not p.scripts, "external scripts"
# numbers: nothing a bad value would print
for bad in ("NaN", "Infinity"):
    assert bad not in text, bad + " in the page"
assert not re.search(r"[0-9.](nan|inf)|(nan|inf)[0-9%]|-nan|=\"-?(nan|inf)", text, re.I), "nan or inf next to a number"
svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
assert len(svgs) == n_svg, "%d svg, want %d" % (len(svgs), n_svg)
num = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
for s in svgs:
    root = ET.fromstring(s)  # well-formed XML
    for el in root.iter():
        for k in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "data-v"):
            if k in el.attrib: assert num.match(el.attrib[k]), "%s=%r in <%s>" % (k, el.attrib[k], el.tag)
        for k in ("d", "points", "viewBox", "transform"):
            v = el.attrib.get(k, "")
            assert not re.search(r"nan|inf", v, re.I), "%s=%r" % (k, v)
for v in re.findall(r'data-v="([^"]*)"', text): assert num.match(v), "data-v=" + v
print("ok: %s: %d bytes, %d trial rows, %d svg" % (path, len(text), p.rows, len(svgs)))
PY
    checked=$((checked + 1))
}

# lanes FILE LABELS ROWS [SAME...]: the timeline of a page: its lane labels in
# order ("|"-separated, name then busy line; "" to skip), ROWS rows holding bars,
# no two bars of a row overlapping, and for each A=B, trials A and B in one row
lanes() {
    python3 - "$@" <<'PY' || fail "$1: the timeline's lanes"
import re, sys
path, labels, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(path, encoding="utf-8").read()
svg = text[text.index('id="timeline"'):]
svg = svg[:svg.index("</svg>")]
got = re.findall(r'<text class="tick" text-anchor="end" x="[0-9.]+" y="[0-9.]+">([^<]*)', svg)
assert not labels or got == labels.split("|"), "lane labels %s" % got
bars = re.findall(r'<rect class="bar-[a-z-]+" x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)"[^>]*>(?:<title>trial (\d+))?', svg)
row, of = {}, {}
for x, y, w, trial in bars:
    if float(y) < 40:
        continue  # the legend's swatches, above the plot
    row.setdefault(float(y), []).append((float(x), float(x) + float(w), trial))
    of.setdefault(trial, set()).add(float(y))
for y, spans in row.items():
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        assert b[0] >= a[1] - 0.15, "trials %s and %s overlap in the row at y=%g" % (a[2], b[2], y)
assert len(row) == rows, "%d rows hold bars, want %d" % (len(row), rows)
for pair in sys.argv[4].split() if len(sys.argv) > 4 else []:
    a, b = pair.split("=")
    assert of[a] == of[b], "trials %s and %s are in rows %s and %s" % (a, b, of[a], of[b])
print("ok: %s: %d lanes, %d rows, %d bars" % (path, len(got) // 2, len(row), len(bars)))
PY
}

# add_failed_trial RUN: one more trial that failed with a reason full of markup
add_failed_trial() {
    python3 - "$1" <<'PY'
import json, os, sys, zlib
run = sys.argv[1]
events = [json.loads(l) for l in open(os.path.join(run, "journal.jsonl"), encoding="utf-8")]
ids = [e["id"] for e in events if e["event"] == "trial_proposed"]
seq, clock, wall, i = events[-1]["seq"] + 1, events[-1]["clock"], events[-1]["time"], max(ids) + 1
arch = next(e["arch"] for e in events if e["event"] == "trial_proposed")
out = []
for name, fields in (
        ("trial_proposed", '"id":%d,"arch":%s,"epochs":2,"fraction":0.01,"parent":-1,"params":1000,"macs":0,'
                           '"activation_bytes":0,"latency_ms":-1' % (i, json.dumps(arch))),
        ("trial_started", '"id":%d,"attempt":1,"batch":64,"replicas":1,"workers":[1],"start":%.17g,"memory":1' % (i, clock)),
        ("trial_finished", '"id":%d,"status":"error","reason":%s,"val_acc":-1,"epochs_done":0,"train_seconds":0.5,'
                           '"start":%.17g,"end":%.17g,"attempts":1,"batch":64,"replicas":1,"workers":[1],"memory":1'
                           % (i, json.dumps('<script>alert("x")</script> & <b>more</b>'), clock, clock + 0.5))):
    body = '{"seq":%d,"event":"%s","time":%.3f,"clock":%.17g,%s,' % (seq, name, wall, clock, fields)
    out.append(body + '"crc":"%08x"}\n' % zlib.crc32(body.encode()))
    seq += 1
open(os.path.join(run, "journal.jsonl"), "a", encoding="utf-8").write("".join(out))
PY
}

# ---- the runs -------------------------------------------------------------------
expect 0 "4 trials: 4 ok" "$cf" search --space nb201 --set C=4 --set N=1 --trials 4 --epochs 2 --fraction 0.01 \
    --val-fraction 0.02 --batch 64 --cpu-workers 2 --threads 2 --strategy nsga2 --strategy-options population=4 \
    --objectives acc,macs --retrain 2 --retrain-epochs 2 --retrain-fraction 0.01 --out train --quiet
[ -s train/report.html ] || fail "the search did not write its report"
expect 0 "wrote train/report.html" "$cf" report train
check_html train/report.html 4 12

tables="--space $src/benchmarks/spaces/nb201-3op.json --set C=4 --set N=1 --evaluator table:$src/benchmarks/tables/nb201-3op-fmnist.tsv"
expect 0 "200 trials: 200 ok" "$cf" search $tables --fraction 0.1 --strategy nsga2 --objectives acc,macs --trials 200 \
    --cpu-workers 4 --out table --quiet
rm -f table/report.html   # written by the search; --out must not write it again
expect 0 "200 in the table" "$cf" report table --out table.html
check_html table.html 200 7 trial-table
[ -e table/report.html ] && fail "--out was not obeyed"
size=$(wc -c < table.html)
[ "$size" -lt 600000 ] || fail "the 200-trial page has $size bytes"
echo "ok: the 200-trial page has $size bytes"

# every trial failed (a table whose every row diverged); every proposal rejected
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ || $1 == "arch" { print; next } { $4 = "diverged"; print }' \
    "$src/benchmarks/tables/nb201-3op-fmnist.tsv" > diverged.tsv
expect 1 "5 trials: 0 ok, 5 failed" "$cf" search --space "$src/benchmarks/spaces/nb201-3op.json" --set C=4 --set N=1 \
    --evaluator table:diverged.tsv --fraction 0.1 --trials 5 --out failed --quiet
expect 0 "wrote failed/report.html" "$cf" report failed
check_html failed/report.html 5 1 failure-table
expect 1 "rejected by the constraints" "$cf" search $tables --fraction 0.1 --trials 3 --max-macs 1 --out rejected --quiet
expect 0 "wrote rejected/report.html" "$cf" report rejected
if [ "$have_python" = 1 ]; then
    check_html rejected/report.html 0 0
    grep -q "rejected by the constraints (never run)" rejected/report.html || fail "the rejected proposals are not listed"
    grep -q "No trial finished ok" failed/report.html || fail "the all-failed page does not say so"

    # final models, a reason full of markup, a torn last line
    cp -r train final
    add_failed_trial final || fail "add_failed_trial"
    printf '{"seq":999,"event":"trial_epo' >> final/journal.jsonl
    expect 0 "journal.jsonl:" "$cf" report final --out final.html
    expect 0 "is left out" "$cf" report final --out final.html
    check_html final.html 5 12 failure-table
    grep -q '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;more' final.html || fail "the reason is not escaped"
    grep -q '<script>alert' final.html && fail "a reason came through unescaped"
    grep -q 'aria-label="confusion matrix' final.html || fail "no confusion matrix"
    grep -q 'Ankle boot' final.html || fail "no class names"
    grep -q 'linked as <code>best.cfm</code>' final.html || fail "best.cfm not found"
    grep -q 'final retrain' final.html || fail "the timeline has no final retrain"

    # a final model without its test.json, one with broken JSON: notes, not failures
    cp -r final damaged
    mkdir damaged/final/9999
    printf '{"trial": 3,\n "val_acc": [}\n' > "damaged/final/$(ls damaged/final | head -1)/test.json"
    expect 0 "wrote" "$cf" report damaged
    grep -q 'test.json:2:' damaged/report.html || fail "the broken test.json is not named with its line"
    grep -q 'final/9999/test.json: missing' damaged/report.html || fail "the missing test.json is not named"

    # the timeline's lanes are the devices, named, with their busy share; a
    # worker that runs several trials at once gets a row per slot, and no two
    # bars of a row overlap (tests/devices_run.py tells the story and its figures)
    grep -q '"event":"run_started".*"devices":\[{"worker":0,"name":"cpu:0","device":"' train/journal.jsonl ||
        fail "run_started names no devices"
    grep '"event":"trial_started"' train/journal.jsonl | grep -q '"workers":\[[01]\],"slots":\[0\]' ||
        fail "trial_started names no slot"
    lanes train/report.html "" 2
    grep -q '>cpu:0 ([^<]*<title>worker 0: cpu:0 (' train/report.html || fail "the lane of cpu:0 is not named by its device"
    grep -q '>busy [0-9.]*%</text>' train/report.html || fail "the lanes show no busy share"
    python3 "$here/devices_run.py" table gpus || fail "devices_run.py"
    python3 "$here/devices_run.py" table gpus-old --old || fail "devices_run.py --old"
    expect 0 "wrote gpus/report.html" "$cf" report gpus
    check_html gpus/report.html 8 7
    lanes gpus/report.html "cuda:0 (NVIDIA H200)|rank 0, busy 75.0%|cuda:1 (NVIDIA H200)|rank 1, busy 50.0%" 5 \
        "0=3 1=4 0=7"
    # a journal of an older version (no devices, no slots): rows by the lowest free at the start
    expect 0 "wrote gpus-old/report.html" "$cf" report gpus-old
    check_html gpus-old/report.html 8 7
    lanes gpus-old/report.html "worker 0|busy 75.0%|worker 1|busy 50.0%" 4 "0=3 0=4 5=6"
fi

# one-shot search: a darts supernet (trial 0) that derived two architectures,
# trained as trials 1 and 2 (a real run's journal and alphas.json, kept small)
cp -r "$here/data/oneshot-run" oneshot
expect 0 "wrote oneshot/report.html" "$cf" report oneshot
check_html oneshot/report.html 3 12 oneshot
has() { grep -q -- "$2" "$1" || fail "$1: $3"; }
has oneshot/report.html '<h2>One-shot search</h2>' "no one-shot section"
has oneshot/report.html 'aria-label="architecture weights softmax(alpha) of each edge' "no heat map"
has oneshot/report.html '<title>e2_3, conv 3×3, epoch 3: 0\.2' "no heat-map cell with its weight"
has oneshot/report.html 'method darts</h3>' "the method is not named"
has oneshot/report.html '<tr class="derived"><td class="n">2</td>.*href="#trial-2"' "the derived architectures do not link their trials"
has oneshot/report.html 'derived #1: supernet acc 24.60%; trial 1: val 65.92%' "no drawn derived cell"
# the supernet (70.50%) is in the table, never the best or a point of the front
has oneshot/report.html '<dt>best validation</dt><dd>65.92% (trial 1)' "the supernet was taken for the best"
has oneshot/report.html 'validation accuracy against MACs, 2 trials' "the supernet is on the front"
has oneshot/report.html '<tr class="trial" id="trial-0"><td class="n">0</td><td><code>supernet' "the supernet is not listed"
# without its alphas.json (a run copied without trials/), damaged, or all zero (spos): a note
cp -r oneshot oneshot-bare
rm -r oneshot-bare/trials
expect 0 "wrote oneshot-bare/report.html" "$cf" report oneshot-bare
check_html oneshot-bare/report.html 3 11 oneshot
has oneshot-bare/report.html 'trials/0/alphas.json is missing' "no note on the missing alphas.json"
cp -r oneshot oneshot-short
sed -i '4s/^  \[[^,]*, /  [/' oneshot-short/trials/0/alphas.json
expect 0 "wrote" "$cf" report oneshot-short
check_html oneshot-short/report.html 3 11 oneshot
has oneshot-short/report.html 'alphas.json: $.alpha\[0\]: .*30' "the short epoch is not named"
cp -r oneshot oneshot-torn
head -c 900 oneshot/trials/0/alphas.json > oneshot-torn/trials/0/alphas.json
expect 0 "wrote" "$cf" report oneshot-torn
has oneshot-torn/report.html 'No heat map: .*alphas.json:[0-9]*:[0-9]*: invalid JSON' "the torn alphas.json is not named"
cp -r oneshot oneshot-zero
sed -i -e 's/"darts"/"spos"/' -e 's/-\?[0-9]\.[0-9e-]*/0/g' oneshot-zero/trials/0/alphas.json
expect 0 "wrote" "$cf" report oneshot-zero
check_html oneshot-zero/report.html 3 11 oneshot
has oneshot-zero/report.html 'spos has no architecture weights' "no note instead of a flat heat map"

# a journal damaged before its end is refused, naming the file and line; usage errors
cp -r train damaged2
sed -i '3s/"clock"/"clocc"/' damaged2/journal.jsonl
expect 1 "damaged2/journal.jsonl:3: checksum mismatch" "$cf" report damaged2
expect 1 "spec.json: cannot open" "$cf" report nothing-here
expect 2 "expected one run directory" "$cf" report
expect 0 "usage: cellforge report RUN" "$cf" report --help
checked=$((checked + 1))

# ---- rendering ------------------------------------------------------------------
chrome=""
for c in chromium chromium-browser google-chrome; do command -v "$c" >/dev/null 2>&1 && { chrome=$c; break; }; done
if [ -z "$chrome" ]; then
    echo "note: no chromium: the rendering checks are skipped (apt-get install chromium)"
else
    for page in train/report.html table.html final.html; do
        [ -f "$page" ] || continue
        png=$(echo "$page" | tr '/.' '__').png
        url="file://$dir/$page"
        dom=$("$chrome" --headless --no-sandbox --disable-gpu --user-data-dir="$dir/chrome" --dump-dom "$url" 2>/dev/null)
        for s in summary pareto progress timeline curves cells trials failures best-model; do
            case "$dom" in *"id=\"$s\""*) ;; *) fail "$page: the rendered DOM has no section $s";; esac
        done
        "$chrome" --headless --no-sandbox --disable-gpu --user-data-dir="$dir/chrome" --hide-scrollbars \
            --window-size=1300,4000 --screenshot="$dir/$png" "$url" >/dev/null 2>&1
        [ -s "$png" ] || fail "$page: no screenshot"
        if [ "$have_python" = 1 ]; then
            python3 - "$png" <<'PY' || fail "$page: the screenshot looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": w, h, depth, color = struct.unpack(">IIBB", body[:10])
    if kind == b"IDAT": idat += body
    pos += 12 + n
assert depth == 8 and color in (2, 6), "unexpected PNG format"
bpp = 3 if color == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, colors, ink, out = bytearray(stride), set(), 0, 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, w, 3):
            px = bytes(line[x * bpp:x * bpp + 3]); colors.add(px); out += 1
            ink += px != b"\xff\xff\xff"
    prev = line
print("ok: %s: %dx%d, %d colours, %.1f%% not white" % (sys.argv[1], w, h, len(colors), 100 * ink / out))
assert len(colors) >= 40 and ink / out > 0.02
PY
        fi
        echo "ok: rendered $page"
        checked=$((checked + 1))
    done
fi
[ "$checked" -gt 0 ] || exit 77
echo "cli_report: all checks passed"
