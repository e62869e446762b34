"""Pair bench_fast_ops lines with peer_torch_ops.py --fast lines by (config,
threads) and print a markdown table of times and ratios (ours / torch; below
1 means cellforge is faster).

    build/benchmarks/bench_fast_ops > fast.jsonl
    for t in 1 2; do /usr/bin/python3 benchmarks/peer_torch_ops.py --fast --threads $t; done > torch.jsonl
    python3 benchmarks/compare_fast.py fast.jsonl torch.jsonl
"""
import json
import sys


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                rows[(r["config"], r["threads"])] = r
    return rows


def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "-"


def main():
    ours, torch = load(sys.argv[1]), load(sys.argv[2])
    print("| config | threads | fwd ms (ours / torch) | fwd ratio | bwd ms (ours / torch) | bwd ratio |")
    print("|---|---|---|---|---|---|")
    for key in sorted(ours, key=lambda k: (k[1], list(ours).index(k))):
        if key not in torch:
            continue
        o, t = ours[key], torch[key]
        print(f"| {key[0]} | {key[1]} | {o['forward_ms']:.2f} / {t['forward_ms']:.2f} | "
              f"{ratio(o['forward_ms'], t['forward_ms'])} | {o['backward_ms']:.2f} / {t['backward_ms']:.2f} | "
              f"{ratio(o['backward_ms'], t['backward_ms'])} |")


if __name__ == "__main__":
    main()
