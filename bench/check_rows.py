#!/usr/bin/env python3
"""bench-smoke: runs `bench --quick` and checks that stdout holds nothing but
well-formed rows, one JSON object per line, with the keys DESIGN.md and the
bench contract name.  Exits non-zero (failing the test) on any deviation."""
import json
import subprocess
import sys

REQUIRED = {
    "local_write": {"ops", "ops_per_txn", "ops_per_s", "baseline_ops_per_s", "ratio", "runs"},
    "merge": {"ops", "ops_per_s", "baseline_ops_per_s", "ratio", "runs",
              "duplicate_changes_per_s"},
    "wire_bytes_per_change": {"ops_per_txn", "envelope_bytes", "bytes_per_change", "target"},
    "size": {"stripped_bytes", "target"},
    "at_rest": {"ops", "local_write_ops_per_s", "baseline_local_write_ops_per_s",
                "local_write_ratio", "merge_ops_per_s", "baseline_merge_ops_per_s",
                "merge_ratio", "ratio", "target", "runs"},
}


def main():
    p = subprocess.run([sys.argv[1], "--quick"], stdout=subprocess.PIPE, timeout=50)
    if p.returncode != 0:
        sys.exit(f"bench --quick exited with {p.returncode}")
    seen = {}
    for n, line in enumerate(p.stdout.decode("utf-8").splitlines(), 1):
        row = json.loads(line)  # raises (and fails) on anything but JSON
        if not isinstance(row, dict) or "bench" not in row:
            sys.exit(f"line {n} is not a bench row: {line}")
        name = row["bench"]
        missing = REQUIRED.get(name, set()) - row.keys()
        if name not in REQUIRED or missing:
            sys.exit(f"line {n}: unknown row or missing keys {sorted(missing)}: {line}")
        for k, v in row.items():
            if k != "bench" and not (isinstance(v, (int, float)) and v >= 0):
                sys.exit(f"line {n}: {k} is not a non-negative number: {line}")
        seen[name] = row
    for name in ("local_write", "merge", "at_rest", "wire_bytes_per_change"):
        if name not in seen:
            sys.exit(f"no {name} row")
        for k in ("ops_per_s", "envelope_bytes"):
            if k in seen[name] and seen[name][k] <= 0:
                sys.exit(f"{name}: {k} is zero")
    print(f"bench-smoke: {len(seen)} rows ok: {', '.join(sorted(seen))}")


if __name__ == "__main__":
    main()
