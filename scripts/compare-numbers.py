#!/usr/bin/env python3
"""Compares two output trees of scripts/compare-outputs.sh cell by cell.

    scripts/compare-numbers.py OLD_DIR NEW_DIR [TOLERANCE]

Every CSV and JSON file must hold the same text (labels, paths, cluster
numbers, verdicts) and numbers within TOLERANCE (default 1e-4, relative to
numbers above 1). For a change meant to move results only by rounding, such
as a graph rewrite that computes the same function in another order. Binary
files (embeddings, caches, galleries) are not compared here: what they hold
reaches the CSV and JSON outputs.
"""
import csv
import json
import os
import sys


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


def compare(a, b, where, tol, worst):
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise ValueError(f"{where}: keys {sorted(a)} against {sorted(b)}")
        for k in a:
            compare(a[k], b[k], f"{where}.{k}", tol, worst)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise ValueError(f"{where}: {len(a)} items against {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{where}[{i}]", tol, worst)
    elif isinstance(a, str) and isinstance(b, str) and a != b and number(a) is not None and number(b) is not None:
        compare(number(a), number(b), where, tol, worst)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        d = abs(a - b)
        worst[0] = max(worst[0], d)
        if d > tol * max(1.0, abs(a)):
            raise ValueError(f"{where}: {a} against {b}")
    elif a != b:
        raise ValueError(f"{where}: {a!r} against {b!r}")


def load(path):
    with open(path, newline="") as f:
        return json.load(f) if path.endswith(".json") else list(csv.reader(f))


def main():
    old, new = sys.argv[1], sys.argv[2]
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
    worst, compared, differ = [0.0], 0, 0
    for root, _, files in os.walk(old):
        for name in sorted(files):
            if not name.endswith((".csv", ".json")):
                continue
            a = os.path.join(root, name)
            b = os.path.join(new, os.path.relpath(a, old))
            compared += 1
            try:
                compare(load(a), load(b), os.path.relpath(a, old), tol, worst)
            except (ValueError, OSError) as e:
                differ += 1
                print(f"differs: {e}")
    print(f"{compared} CSV and JSON files, {differ} differ beyond {tol}; largest number difference {worst[0]:.3g}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
