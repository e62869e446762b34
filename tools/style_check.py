#!/usr/bin/env python3
"""style_check.py - STYLE.md's size limits: no source file over 800 lines, no
function over 100 lines (tests included).

    tools/style_check.py [ROOT]     prints each breach as FILE:LINE: ..., exits 1 if any

A function starts at a line in column 0 that opens a body ("... ) {" or a "{"
line after a column-0 signature) and ends at the next "}" in column 0; its
length counts the lines from the signature's first line to that brace.
"""
import os
import re
import sys

MAX_FILE = 800
MAX_FUNC = 100
DIRS = ("src", "include", "tests", "kernels")
EXTS = (".c", ".h", ".cu", ".cuh")


def functions(lines):
    """Yield (name, first line index, length) for every column-0 function body."""
    sig_start = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if sig_start is None and re.match(r"^[A-Za-z_][\w \*]*\(", line) and not line.rstrip().endswith(";"):
            sig_start = i
        if sig_start is not None:
            stripped = line.rstrip()
            if (stripped.endswith(";") and "{" not in stripped) or stripped.endswith("}"):
                sig_start = None
            elif stripped.endswith("{") and (stripped == "{" or ")" in stripped):
                name = re.match(r"^[^(]*?([A-Za-z_]\w*)\s*\(", lines[sig_start])
                j = i + 1
                while j < len(lines) and not lines[j].startswith("}"):
                    j += 1
                yield (name.group(1) if name else "?"), sig_start, j - sig_start + 1
                sig_start = None
                i = j
        i += 1


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    breaches = []
    for d in DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for n in sorted(names):
                if not n.endswith(EXTS):
                    continue
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = f.read().split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                if len(lines) > MAX_FILE:
                    breaches.append(f"{rel}:1: {len(lines)} lines (at most {MAX_FILE})")
                for name, start, length in functions(lines):
                    if length > MAX_FUNC:
                        breaches.append(f"{rel}:{start + 1}: {name} is {length} lines (at most {MAX_FUNC})")
    for b in sorted(breaches):
        print(b)
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
