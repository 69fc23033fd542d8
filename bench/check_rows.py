#!/usr/bin/env python3
"""bench-smoke and bench-peers-smoke: run a bench's seconds-long smoke form
and check that stdout holds nothing but well-formed rows, one JSON object
per line, with the keys DESIGN.md and the bench contract name.  Exits
non-zero (failing the test) on any deviation.

  check_rows.py EXE                          runs `EXE --quick`
  check_rows.py --expect ROW,ROW CMD ARGS... runs CMD ARGS as given, and
                                             requires each ROW among its rows
"""
import json
import subprocess
import sys

REQUIRED = {
    "local_write": {"ops", "ops_per_txn", "ops_per_s", "baseline_ops_per_s", "ratio", "runs"},
    "merge": {"ops", "ops_per_s", "baseline_ops_per_s", "ratio", "runs",
              "duplicate_changes_per_s"},
    "wire_bytes_per_change": {"ops_per_txn", "envelope_bytes", "bytes_per_change", "target"},
    "size": {"stripped_bytes", "target"},
    "history": {"days", "txns", "compact_every_days", "log_envelopes", "baseline_log_envelopes",
                "file_bytes", "baseline_file_bytes", "used_bytes", "baseline_used_bytes",
                "ratio_log", "ratio_bytes", "runs"},
    "query_index": {"records", "lookup_ms", "baseline_walk_lookup_ms", "speedup", "declare_ms",
                    "runs"},
    "at_rest": {"ops", "local_write_ops_per_s", "baseline_local_write_ops_per_s",
                "local_write_ratio", "merge_ops_per_s", "baseline_merge_ops_per_s",
                "merge_ratio", "ratio", "target", "runs"},
    # bench/peers.py (issue 11): drivercore beside each peer, measured in one run.
    "peer_write": {"runs", "ops", "ops_per_txn", "drivercore_ops_per_s", "yrs_ops_per_s",
                   "loro_ops_per_s", "ratio_yrs", "ratio_loro", "target_ratio_min", "met"},
    "peer_bytes_written": {"runs", "ops", "drivercore_bytes", "yrs_bytes", "loro_bytes",
                           "ratio_yrs", "ratio_loro", "target_ratio_max", "met", "measured"},
    "peer_merge": {"runs", "changes", "drivercore_changes_per_s", "yrs_changes_per_s",
                   "loro_changes_per_s", "ratio_yrs", "ratio_loro", "target_ratio_min", "met"},
    "peer_size": {"runs", "drivercore_bytes", "yrs_bytes", "loro_bytes", "ratio_yrs",
                  "ratio_loro", "target_ratio_max", "met"},
    "peer_wire": {"runs", "ops", "drivercore_bytes_per_op", "yrs_bytes_per_op",
                  "loro_bytes_per_op", "ratio_yrs", "ratio_loro", "target_max", "met"},
    "peer_memory": {"runs", "drivercore_bytes", "yrs_bytes", "loro_bytes", "ratio_yrs",
                    "ratio_loro", "target_max", "met"},
}
# Keys whose value is text (or null); every other value is a number.
TEXT = {"note", "measured", "peers", "sqlite"}
# A peer that did not run leaves its figures null, and the row says why in
# "note"; drivercore's own figures are never null.
PEER_PREFIXES = ("yrs_", "loro_", "ratio_", "python_loop_")


def check_value(row, k, v):
    if k in TEXT:
        return v is None or isinstance(v, str)
    if k == "met":
        return v is None or isinstance(v, bool)
    if v is None:
        return k.startswith(PEER_PREFIXES) and bool(row.get("note"))
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def main():
    argv = sys.argv[1:]
    expect = ["local_write", "merge", "at_rest", "wire_bytes_per_change", "query_index"]
    if argv[:1] == ["--expect"]:
        expect, argv = argv[1].split(","), argv[2:]
    else:
        argv = [argv[0], "--quick"]
    p = subprocess.run(argv, stdout=subprocess.PIPE, timeout=110)
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited with {p.returncode}")
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
            if k != "bench" and not check_value(row, k, v):
                sys.exit(f"line {n}: {k} is not a non-negative number: {line}")
            if k.startswith("drivercore_") and not (isinstance(v, (int, float)) and v > 0):
                sys.exit(f"line {n}: drivercore's {k} is not positive: {line}")
        seen[name] = row
    for name in expect:
        if name not in seen:
            sys.exit(f"no {name} row")
        for k in ("ops_per_s", "envelope_bytes"):
            if k in seen[name] and seen[name][k] <= 0:
                sys.exit(f"{name}: {k} is zero")
    print(f"bench-smoke: {len(seen)} rows ok: {', '.join(sorted(seen))}")
    notes = {r["note"] for r in seen.values() if isinstance(r.get("note"), str)}
    for note in sorted(notes):
        print(f"bench-smoke: note: {note}")


if __name__ == "__main__":
    main()
