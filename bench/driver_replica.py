#!/usr/bin/env python3
"""bench: the `driver_replica` and `cold_open` rows (issue 9, "Small phones").

Usage: driver_replica.py DRIVERCORE BENCH_COLD_OPEN [--scale F]

How big is a driver's phone replica after a year, and how fast does the
app open it cold?  The data is the province generator's (`drivercore
demo-data province`, seed 1, the report's full figures unless --scale):
the province office's replica, which holds every space.  One driver is
taken from it — the Wudang driver whose personal space the generator
writes — and a fresh replica for his phone is built the way the phone
would get it: the office adds his device to the spaces he belongs in, and
the phone syncs once with the office (`drivercore sync PHONE OFFICE`: the
office pushes exactly the spaces whose membership names him):

- the directory (reader): regions, organisations, Driver's Homes, the
  calendar — every device holds it;
- his branch (member): the branch the four principles suggest first for
  him (branch suggest), with its roster, study items and activities;
- his personal space (admin): his profile and check-ins;
- his cases: the generator files grievances into one desk space per county
  rather than one space per case, so the phone takes his county's whole
  desk space (all of Wudang's cases of the year) — more than his own, so
  an upper bound.

Prints two JSON lines: `driver_replica` (bytes of the replica file after
the sync, with and without the cases, per space changes; aim ≤ 20 MB) and
`cold_open` (bench_cold_open on that replica reading his branch's record;
aim ≤ 50 ms).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    tool, cold = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    scale = sys.argv[sys.argv.index("--scale") + 1] if "--scale" in sys.argv else "1"
    d = tempfile.mkdtemp(prefix="dc-driver-", dir="/var/tmp" if os.path.isdir("/var/tmp")
                         else None)

    def t(*args):
        p = subprocess.run([tool, *args], capture_output=True, text=True, cwd=d)
        if p.returncode != 0:
            raise SystemExit("driver_replica: drivercore %s: %s" % (" ".join(args), p.stderr))
        return p.stdout

    try:
        office = os.path.join(d, "office.db")
        gen = json.loads(t("demo-data", "province", office, "--seed", "1", "--scale", scale))
        spaces = json.loads(t("space", "list", office))
        by_name = {s["name"]: s["space"] for s in spaces}
        personal = [s for s in spaces if s["name"].startswith("driver ")][0]
        drv = personal["name"].split(" ", 1)[1]
        sug = json.loads(t("branch", "suggest", office, "--space", "registry", drv))
        branch = sug["suggestions"][0]
        county = branch["branch"].split("-")[1]
        desk = by_name.get("desk " + county)
        want = [("directory", by_name["directory"], "reader"),
                ("branch", branch["space"], "member"),
                ("personal", personal["space"], "admin")]
        sizes = {}
        for label, with_cases in (("without_cases", False), ("with_cases", True)):
            phone = os.path.join(d, "phone-%s.db" % label)
            card = t("init", phone, "--name", "Driver " + drv)
            for _, sp, role in want + ([("cases", desk, "member")] if with_cases and desk
                                       else []):
                t("space", "add", office, sp, card, "--role", role)
            t("sync", phone, office)
            for _, sp, _ in want + ([("cases", desk, "member")] if with_cases and desk
                                    else []):
                t("space", "accept", phone, sp)  # his consent opens the keys
            sizes[label] = os.path.getsize(phone)
        status = json.loads(t("status", os.path.join(d, "phone-with_cases.db")))
        names = {sp: label for label, sp, _ in want}
        names[desk] = "cases (county desk %s)" % county
        per = {names.get(s["space"], s["space"]): s["changes"] for s in status["spaces"]}
        print(json.dumps({
            "bench": "driver_replica", "bytes": sizes["with_cases"],
            "bytes_without_cases": sizes["without_cases"], "target_bytes": 20 << 20,
            "changes": per, "province_replica_bytes": gen.get("db_bytes"),
            "scale": float(scale),
            "note": "one Wudang driver's phone after a year of the province generator's data "
                    "(seed 1): directory, his branch (%s), his personal space, and his county's "
                    "whole desk space as an upper bound of his cases (the generator files "
                    "cases per county, not per case); built by one sync with the office's "
                    "replica; bytes of the SQLite file" % branch["branch"]}), flush=True)
        p = subprocess.run([cold, os.path.join(d, "phone-with_cases.db"), branch["space"],
                            "branch", branch["branch"], "--runs", "15"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("driver_replica: bench_cold_open: " + p.stderr)
        sys.stdout.write(p.stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
