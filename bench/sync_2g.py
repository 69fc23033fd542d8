#!/usr/bin/env python3
"""bench: the `sync_2g` row — a branch's day (500 changes) reaching a phone
through a relay over an emulated 2G link (issue 9).

Usage: sync_2g.py DRIVERCORE DRIVERCORE_RELAY [--runs N]

The link is tests/relay/linkemu.py's (netem, or its packet-level TUN
stand-in where the kernel has no sch_netem): 40 kbit/s each way, 600 ms
round trip, 3 % loss, between two network namespaces.  Each run builds a
fresh tablet, phone and relay, writes the day on the tablet (beside the
relay), and times `drivercore sync PHONE --relay URL` on the phone's side.
Compared, in the same run: the same sync over the same namespaces with the
link unshaped (no rate limit, delay or loss), and the 30 s target.  One
JSON line:

  {"bench": "sync_2g", "changes": 500, "seconds": {"median", "min", "max"},
   "link_bytes_down": N, "link_bytes_up": N, "message_bytes": N,
   "unshaped_seconds": S, "target_seconds": 30, "runs": N, "emulator": ...,
   "note": ...}

Needs root for the namespaces: otherwise the row says so and skips.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "relay"))
import linkemu  # noqa: E402
from test_weak_link import day_ops  # noqa: E402  (the same day as the test)

PORT = 8443
URL = "http://%s:%d" % (linkemu.RELAY_IP, PORT)
DAY = 500


def run(tool, relay, shaped, seed):
    d = tempfile.mkdtemp(prefix="dc-2g-")
    kw = dict(rate_bps=40000, rtt_ms=600, loss=0.03) if shaped else \
        dict(rate_bps=1e10, rtt_ms=0, loss=0.0)
    try:
        with linkemu.Link(seed=seed, **kw) as link:
            def t(side, *args, inp=None):
                argv = [tool, *args]
                if side:
                    argv = link.cmd(side, argv)
                p = subprocess.run(argv, capture_output=True, text=True, input=inp, cwd=d)
                if p.returncode != 0:
                    raise RuntimeError("%s: %s" % (" ".join(args), p.stderr.strip()))
                return p.stdout
            db = lambda n: os.path.join(d, n + ".db")  # noqa: E731
            with open(os.path.join(d, "relay.log"), "w") as log:
                rp = link.run_in("relay", [relay, "--store", db("relay"), "--listen",
                                           "%s:%d" % (linkemu.RELAY_IP, PORT), "--quiet"],
                                 stdout=log, stderr=log)
            try:
                for _ in range(200):
                    if "listening on" in open(os.path.join(d, "relay.log")).read():
                        break
                    time.sleep(0.05)
                t(None, "init", db("tablet"), "--name", "Secretary")
                card = t(None, "init", db("phone"), "--name", "Driver")
                space = json.loads(t(None, "space", "create", db("tablet"), "Branch"))["space"]
                t(None, "space", "add", db("tablet"), space, card, "--role", "member")
                t("relay", "sync", db("tablet"), "--relay", URL)
                t("phone", "sync", db("phone"), "--relay", URL)
                t(None, "space", "accept", db("phone"), space)
                t(None, "apply", db("tablet"), inp=day_ops(space, DAY, seed))
                t("relay", "sync", db("tablet"), "--relay", URL)
                before = link.stats()
                t0 = time.monotonic()
                out = t("phone", "sync", db("phone"), "--relay", URL)
                took = time.monotonic() - t0
                after = link.stats()
                fig = json.loads(out.splitlines()[-1])
                if fig["changes_received"] != DAY:
                    raise RuntimeError("the phone received %d changes" % fig["changes_received"])
                return {"seconds": took, "down": after["bytes_down"] - before["bytes_down"],
                        "up": after["bytes_up"] - before["bytes_up"],
                        "messages": fig["bytes_received"] + fig["bytes_sent"],
                        "emulator": link.emulator, "describe": link.describe()}
            finally:
                rp.terminate()
                rp.wait(timeout=20)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    tool, relay = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    ok, why = linkemu.Link.available()
    if not ok:
        print(json.dumps({"bench": "sync_2g", "skipped": True,
                          "note": "not measured: %s (run ./dev bench as root)" % why}))
        return 0
    base = run(tool, relay, False, 1)
    res = [run(tool, relay, True, 1000 + i) for i in range(runs)]
    secs = [r["seconds"] for r in res]
    med = sorted(res, key=lambda r: r["seconds"])[len(res) // 2]
    print(json.dumps({
        "bench": "sync_2g", "changes": DAY,
        "seconds": {"median": round(statistics.median(secs), 2), "min": round(min(secs), 2),
                    "max": round(max(secs), 2)},
        "link_bytes_down": med["down"], "link_bytes_up": med["up"],
        "message_bytes": med["messages"], "unshaped_seconds": round(base["seconds"], 2),
        "target_seconds": 30, "runs": runs, "emulator": med["emulator"],
        "note": "a branch's day (500 one-record changes: check-ins, case steps, tasks, notes) "
                "from relay to phone over %s; link bytes are IP packets delivered (compressed "
                "sync bodies, HTTP, TCP/IP); message bytes are the sync protocol's, before "
                "compression; compared with the same sync on an unshaped link (same "
                "namespaces, same run) and the 30 s target" % med["describe"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
