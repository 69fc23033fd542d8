"""The fixtures the Python tests share, rather than a copy per file: a
test in a scratch directory of its own, the processes it started (stopped
when it ends), the `drivercore` tool run there, and a relay started on a
port the kernel picks, read back from the relay's log.

Each test's main sets TOOL and RELAY here (the paths meson passes it):

    dc_fixture.TOOL, dc_fixture.RELAY = sys.argv[1], sys.argv[2]
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

TOOL = RELAY = None


def logged_port(log, proc=None, timeout=10.0):
    """The port of the server whose log is the file `log`, from its line
    "listening on HOST port N, ...".  Fails (AssertionError) when the
    process `proc` exits first, or when no such line comes within
    `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        with open(log) as f:
            text = f.read()
        for line in text.splitlines():
            if "listening on" in line and " port " in line:
                return int(line.split(" port ")[1].split(",")[0])
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the relay exited at start: " + text)
        if time.time() >= deadline:
            raise AssertionError("the relay did not start (see %s)" % log)
        time.sleep(0.02)


class ScratchTest(unittest.TestCase):
    """A test in a temporary directory of its own (prefix `prefix`), with
    the processes it started in self.procs, killed when it ends."""

    prefix = "dc-test-"

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix=self.prefix)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()
        shutil.rmtree(self.d, ignore_errors=True)

    def db(self, name):
        return os.path.join(self.d, name + ".db")

    def tool(self, *args, check=True, inp=None):
        """`drivercore ARGS` in the directory; with check, a failure fails
        the test with the tool's message."""
        p = subprocess.run([TOOL, *args], capture_output=True, text=True, input=inp, cwd=self.d)
        if check and p.returncode != 0:
            self.fail("drivercore %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def start_relay(self, store="relay", extra=()):
        """A drivercore-relay over the store file `store`.db on 127.0.0.1
        and a free port; (process, port)."""
        log = os.path.join(self.d, store + ".log")
        with open(log, "w") as err:
            p = subprocess.Popen([RELAY, "--store", self.db(store), "--listen", "127.0.0.1:0",
                                  "--quiet", *extra], stderr=err, cwd=self.d)
        self.procs.append(p)
        return p, logged_port(log, p)
