#!/usr/bin/env python3
"""Attachments on loopback: a 20 MB file put on one device, pushed to a
relay, fetched by another (docs/attachments.md, "Measured").

Usage: attach_loopback.py DRIVERCORE DRIVERCORE_RELAY [--runs N] [--mb M]

Each run, in a fresh directory: `attach put` (chunk, hash, seal, store),
`sync` of the writer (push), `sync` of the reader (fetch and check every
chunk), `attach get` (check again and write the file). The baseline of the
same run is the loopback itself: the same file fetched over HTTP with curl
from Python's http.server. Prints one JSON line per run and one with the
medians; ratios are drivercore's fetch time over the baseline's, per run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def run(tool, *args, cwd):
    t0 = time.monotonic()
    p = subprocess.run([tool, *args], capture_output=True, text=True, cwd=cwd, check=True)
    return time.monotonic() - t0, p.stdout


def one(dc, relay_bin, mb):
    d = tempfile.mkdtemp(prefix="dc-attach-bench-")
    try:
        db = lambda n: os.path.join(d, n + ".db")
        path = os.path.join(d, "video.mp4")
        with open(path, "wb") as f:
            f.write(os.urandom(mb * 1000 * 1000))
        log = open(os.path.join(d, "relay.log"), "w")
        relay = subprocess.Popen([relay_bin, "--store", db("relay"), "--listen", "127.0.0.1:0",
                                  "--quiet"], stderr=log, cwd=d)
        port = None
        for _ in range(200):
            with open(os.path.join(d, "relay.log")) as f:
                text = f.read()
            if " port " in text:
                port = int(text.split(" port ")[1].split(",")[0])
                break
            time.sleep(0.05)
        url = "http://127.0.0.1:%d" % port
        run(dc, "init", db("a"), "--name", "a", cwd=d)
        _, card = run(dc, "init", db("b"), "--name", "b", cwd=d)
        _, out = run(dc, "space", "create", db("a"), "Branch", cwd=d)
        space = json.loads(out)["space"]
        run(dc, "space", "add", db("a"), space, card.strip(), cwd=d)
        t_put, out = run(dc, "attach", "put", db("a"), space, path, "--type", "video/mp4", cwd=d)
        att = json.loads(out)["id"]
        op = {"space": space, "ops": [{"type": "g", "id": "1", "set": {"f": att}}]}
        subprocess.run([dc, "apply", db("a")], input=json.dumps(op) + "\n", text=True,
                       check=True, capture_output=True, cwd=d)
        t_push, out = run(dc, "sync", db("a"), "--relay", url, cwd=d)
        pushed = json.loads(out.splitlines()[-1])
        run(dc, "sync", db("b"), "--relay", url, cwd=d)
        run(dc, "space", "accept", db("b"), space, cwd=d)
        t_fetch, out = run(dc, "sync", db("b"), "--relay", url, cwd=d)
        fetched = json.loads(out.splitlines()[-1])
        t_get, _ = run(dc, "attach", "get", db("b"), space, att, os.path.join(d, "out"), cwd=d)
        relay.terminate()
        relay.wait()
        log.close()
        # The baseline: the same bytes over HTTP on this loopback, now.
        srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=d))
        th = threading.Thread(target=srv.serve_forever, daemon=True)
        th.start()
        t0 = time.monotonic()
        subprocess.run(["curl", "-s", "-o", os.path.join(d, "curl.out"),
                        "http://127.0.0.1:%d/video.mp4" % srv.server_address[1]], check=True)
        t_curl = time.monotonic() - t0
        srv.shutdown()
        return {"mb": mb, "put_s": round(t_put, 3), "push_s": round(t_push, 3),
                "fetch_s": round(t_fetch, 3), "get_s": round(t_get, 3),
                "bytes_sent": pushed["attach_bytes_sent"],
                "objects_sent": pushed["attach_objects_sent"],
                "bytes_received": fetched["attach_bytes_received"],
                "baseline_curl_s": round(t_curl, 3),
                "ratio_fetch_over_curl": round(t_fetch / t_curl, 2)}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dc")
    ap.add_argument("relay")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=20)
    a = ap.parse_args()
    rows = []
    for _ in range(a.runs):
        r = one(a.dc, a.relay, a.mb)
        print(json.dumps(r), flush=True)
        rows.append(r)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    med["bench"] = "attach_loopback_median"
    med["runs"] = a.runs
    print(json.dumps(med))


if __name__ == "__main__":
    main()
