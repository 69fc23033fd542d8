#!/usr/bin/env python3
"""tests/deploy: the files of deploy/ work (docs/relay.md, "Deploying").

Usage: test_deploy.py SOURCE_ROOT DRIVERCORE_RELAY

- The systemd unit passes `systemd-analyze verify` (with its ExecStart
  pointed at the built relay and the example config), and its ExecStart,
  run as written with the example config (store and listen moved into a
  temporary directory), starts a relay that answers /readyz and stops
  cleanly on the unit's KillSignal.
- The container file: every instruction is one Docker knows, every stage a
  COPY --from names exists, every file it copies from the source tree is
  there, every meson option it sets exists, and its ENTRYPOINT runs the
  binary the install puts where it copies it from.  It is built with
  `docker build` only where a Docker daemon answers (not on this machine:
  the test says so).
"""
import configparser
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = RELAY = None


def slurp(path):
    with open(path) as f:
        return f.read()


def read_unit(path):
    cp = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # systemd keys are case-sensitive
    with open(path) as f:
        cp.read_file(f)
    return cp


def instructions(path):
    """The Containerfile's instructions: (KEYWORD, rest), continuations joined."""
    out, cur = [], ""
    with open(path) as f:
        for line in f:
            s = line.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            kw, _, rest = cur.strip().partition(" ")
            out.append((kw.upper(), rest.strip()))
            cur = ""
    return out


class TestDeploy(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.unit_path = os.path.join(ROOT, "deploy", "drivercore-relay.service")
        self.unit = read_unit(self.unit_path)

    def tearDown(self):
        self.tmp.cleanup()

    def exec_start(self):
        argv = shlex.split(self.unit["Service"]["ExecStart"])
        self.assertEqual(os.path.basename(argv[0]), "drivercore-relay")
        self.assertIn("--config", argv)
        conf = argv[argv.index("--config") + 1]
        self.assertEqual(os.path.basename(conf), "relay.conf")
        return argv, conf

    def local_config(self):
        """deploy/relay.conf with the store and the address moved here."""
        src = os.path.join(ROOT, "deploy", "relay.conf")
        with open(src) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^store = ")
        self.assertRegex(text, r"(?m)^listen = ")
        text = re.sub(r"(?m)^store = .*$", "store = " + os.path.join(self.d, "relay.db"), text)
        text = re.sub(r"(?m)^listen = .*$", "listen = 127.0.0.1:0", text)
        text = re.sub(r"(?m)^quiet = .*$", "quiet = 0", text)
        path = os.path.join(self.d, "relay.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_unit_verifies(self):
        for sec in ("Unit", "Service", "Install"):
            self.assertIn(sec, self.unit)
        argv, conf = self.exec_start()
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed: the unit is checked by running it")
        text = slurp(self.unit_path)
        text = text.replace(argv[0], RELAY).replace(conf, os.path.join(ROOT, "deploy",
                                                                        "relay.conf"))
        path = os.path.join(self.d, "drivercore-relay.service")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", p.stderr)

    def test_exec_start_runs(self):
        argv, conf = self.exec_start()
        local = self.local_config()
        args = [RELAY] + [local if a == conf else a for a in argv[1:]]
        log = os.path.join(self.d, "relay.log")
        with open(log, "w") as lf:
            p = subprocess.Popen(args, stderr=lf, stdout=subprocess.DEVNULL)
        try:
            port = None
            deadline = time.time() + 15
            while time.time() < deadline and port is None:
                text = slurp(log)
                if "listening on" in text:
                    port = int(text.split(" port ")[1].split(",")[0])
                self.assertIsNone(p.poll(), text)
                time.sleep(0.05)
            self.assertIsNotNone(port, slurp(log))
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/readyz")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"ready\n"))
            c.close()
            self.assertTrue(os.path.exists(os.path.join(self.d, "relay.db")))
            sig = getattr(signal, self.unit["Service"].get("KillSignal", "SIGTERM"))
            p.send_signal(sig)
            self.assertEqual(p.wait(int(self.unit["Service"].get("TimeoutStopSec", "30"))), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_bad_config_refused(self):
        path = os.path.join(self.d, "bad.conf")
        with open(path, "w") as f:
            f.write("store /no/equals/sign\n")
        p = subprocess.run([RELAY, "--config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bad.conf:1", p.stderr)
        p = subprocess.run([RELAY, "--config", os.path.join(self.d, "none.conf")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("none.conf", p.stderr)

    def test_containerfile(self):
        path = os.path.join(ROOT, "deploy", "Containerfile")
        ins = instructions(path)
        known = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "USER", "WORKDIR", "VOLUME",
                 "EXPOSE", "ENTRYPOINT", "CMD", "LABEL", "HEALTHCHECK", "STOPSIGNAL", "SHELL"}
        stages = []
        for kw, rest in ins:
            self.assertIn(kw, known, "unknown instruction %s" % kw)
            if kw == "FROM":
                m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
                self.assertIsNotNone(m, rest)
                stages.append(m.group(2))
            elif kw == "COPY":
                parts = shlex.split(rest)
                frm = [x for x in parts if x.startswith("--from=")]
                srcs = [x for x in parts if not x.startswith("--")][:-1]
                if frm:
                    self.assertIn(frm[0].split("=", 1)[1], stages)
                else:
                    for s in srcs:
                        self.assertTrue(os.path.exists(os.path.join(ROOT, s)), s)
            elif kw == "RUN" and "meson setup" in rest:
                opts = slurp(os.path.join(ROOT, "meson_options.txt"))
                for o in re.findall(r"-D(\w+)=", rest):
                    if o not in ("buildtype",):
                        self.assertIn("option('%s'" % o, opts)
            elif kw == "ENTRYPOINT":
                ep = json.loads(rest)
                self.assertEqual(ep[0], "/usr/local/bin/drivercore-relay")
                tools = slurp(os.path.join(ROOT, "tools", "meson.build"))
                self.assertRegex(tools, r"executable\('drivercore-relay'[^)]*install : true")
        self.assertGreaterEqual(len(stages), 2)
        ok = shutil.which("docker") and subprocess.run(
            ["docker", "info"], capture_output=True, timeout=30).returncode == 0
        if not ok:
            print("# test_deploy: no Docker daemon answers here: the container file is checked "
                  "by its syntax, not built", flush=True)
            return
        p = subprocess.run(["docker", "build", "-f", path, "-t", "drivercore-relay-test", ROOT],
                           capture_output=True, text=True, timeout=3600)
        self.assertEqual(p.returncode, 0, p.stderr[-4000:])


if __name__ == "__main__":
    ROOT, RELAY = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
