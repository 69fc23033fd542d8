#!/usr/bin/env python3
"""tests/relay: a real drivercore-relay process on 127.0.0.1 and devices
driven through the `drivercore` tool (docs/relay.md).

Usage: test_relay.py DRIVERCORE DRIVERCORE_RELAY

Each test runs in its own temporary directory with its own relay, which
listens on port 0 (the kernel picks a free port; the relay logs it).  The
forged-authentication tests sign with libsodium through ctypes, as a
hostile client would, without any drivercore code.
"""
import ctypes
import ctypes.util
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import dc_fixture  # noqa: E402

TOOL = RELAY = None

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
_sodium.sodium_init()
AUTH_PREFIX = b"drivercore relay auth v1\0"


def keypair():
    pk = ctypes.create_string_buffer(32)
    sk = ctypes.create_string_buffer(64)
    assert _sodium.crypto_sign_keypair(pk, sk) == 0
    return pk.raw, sk.raw


def sign(sk, msg):
    sig = ctypes.create_string_buffer(64)
    assert _sodium.crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), sk) == 0
    return sig.raw


class Relay:
    """One drivercore-relay process over a store file."""

    def __init__(self, d, store="relay.db", extra=()):
        self.d, self.store, self.extra = d, os.path.join(d, store), list(extra)
        self.start()

    def start(self):
        self.log = os.path.join(self.d, "relay-%d.log" % time.monotonic_ns())
        self.logf = open(self.log, "w")
        self.p = subprocess.Popen([RELAY, "--store", self.store, "--listen", "127.0.0.1:0"]
                                  + self.extra, stderr=self.logf, stdout=subprocess.DEVNULL)
        self.port = dc_fixture.logged_port(self.log, self.p)
        self.url = "http://127.0.0.1:%d" % self.port

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def term(self, timeout=10):
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)

    def stop(self):
        if self.p.poll() is None:
            self.kill9()
        if not self.logf.closed:
            self.logf.close()

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def post_json(self, path, obj):
        st, h, data = self.req("POST", path, json.dumps(obj).encode(),
                               {"Content-Type": "application/json"})
        return st, (json.loads(data) if data else None)

    def metrics(self):
        st, _, data = self.req("GET", "/metrics")
        assert st == 200
        m = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                m[k] = float(v)
        return m

    def token(self, pk, sk):
        st, ch = self.post_json("/v1/auth/challenge", {"device": pk.hex()})
        assert st == 200, (st, ch)
        c = bytes.fromhex(ch["challenge"])
        st, t = self.post_json("/v1/auth/session", {"device": pk.hex(), "challenge": c.hex(),
                                                    "signature": sign(sk, AUTH_PREFIX + c).hex()})
        assert st == 200, (st, t)
        return t["token"]


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.relays = []

    def tearDown(self):
        for r in self.relays:
            r.stop()
        self.tmp.cleanup()

    def relay(self, extra=()):
        r = Relay(self.d, extra=extra)
        self.relays.append(r)
        return r

    def path(self, name):
        return os.path.join(self.d, name)

    def run_tool(self, *args, check=True, input=None, timeout=60):
        p = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                           input=input, timeout=timeout, cwd=self.d)
        if check and p.returncode != 0:
            self.fail("drivercore %s: exit %d: %s" % (" ".join(map(str, args)), p.returncode,
                                                       p.stderr))
        return p

    def device(self, name, display=None):
        self.run_tool("init", self.path(name + ".db"), "--name", display or name)
        card = self.run_tool("whoami", self.path(name + ".db")).stdout
        with open(self.path(name + ".card"), "w") as f:
            f.write(card)
        return self.path(name + ".db")

    def space(self, db, name="team"):
        return json.loads(self.run_tool("space", "create", db, name).stdout)["space"]

    def add(self, db, space, who, role="member"):
        self.run_tool("space", "add", db, space, "@" + self.path(who + ".card"), "--role", role)

    def accept(self, db, space):
        """A device joins a space it was invited to by accepting it."""
        self.run_tool("space", "accept", db, space)

    def write(self, db, space, rid, value):
        op = {"space": space, "ops": [{"type": "note", "id": rid, "set": {"text": value}}]}
        self.run_tool("apply", db, input=json.dumps(op) + "\n")

    def sync(self, db, relay, check=True, extra=()):
        p = self.run_tool("sync", db, "--relay", relay.url, *extra, check=check)
        if check:
            return json.loads(p.stdout.splitlines()[-1])
        return p

    def dump(self, db):
        return self.run_tool("dump", db).stdout

    def long_poll(self, db, relay):
        """`drivercore sync DB --wait 30` through relay, once the relay holds its wait."""
        waiting = subprocess.Popen([TOOL, "sync", db, "--relay", relay.url, "--wait", "30"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while relay.metrics().get("drivercore_relay_waiters", 0) < 1:
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        return waiting

    def store_log(self, path, space):
        """(envelopes in a relay's store file, items kept of envelopes it dropped as
        the space's compaction point allowed) for one space."""
        import sqlite3
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        try:
            row = c.execute("SELECT sid FROM spaces WHERE space_id = ?",
                            (bytes.fromhex(space),)).fetchone()
            if row is None:
                return 0, 0
            env = c.execute("SELECT count(*) FROM changes WHERE sid = ?", row).fetchone()[0]
            cov = c.execute("SELECT count(*) FROM covered_items WHERE sid = ?", row).fetchone()[0]
            return env, cov
        finally:
            c.close()

    def store_objects(self, path, space):
        """Attachment objects (chunks, manifests) a store holds for one space."""
        import sqlite3
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        try:
            return c.execute("SELECT count(*) FROM att_objects o JOIN spaces s ON s.sid = o.sid "
                             "WHERE s.space_id = ?", (bytes.fromhex(space),)).fetchone()[0]
        finally:
            c.close()

    def store_bytes(self, relay):
        data = b""
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(relay.store + suffix):
                with open(relay.store + suffix, "rb") as f:
                    data += f.read()
        return data


class TestConverge(Base):
    def test_three_devices_converge_and_relay_holds_no_plaintext(self):
        rl = self.relay()
        names = ["Secretary Xu Xin %s" % secrets.token_hex(4),
                 "Driver Huang Hongxing %s" % secrets.token_hex(4),
                 "Driver Yang Fei %s" % secrets.token_hex(4)]
        a, b, c = (self.device(n, names[i]) for i, n in enumerate("abc"))
        s = self.space(a)
        self.add(a, s, "b")
        self.add(a, s, "c")
        secrets_written = []
        for i, db in enumerate((a, b, c)):
            if db != a:
                self.sync(db, rl)  # b and c learn of the space at their first sync
                self.accept(db, s)
            v = "PLAINTEXT-%s-%d" % (secrets.token_hex(6), i)
            secrets_written.append(v)
            self.write(db, s, "n%d" % i, v)
            self.sync(db, rl)
        for i, db in enumerate((b, c)):
            v = "PLAINTEXT-%s-%d" % (secrets.token_hex(6), 10 + i)
            secrets_written.append(v)
            self.write(db, s, "m%d" % i, v)
            self.sync(db, rl)
        for db in (a, b, c):
            self.sync(db, rl)
        da, dbb, dc = self.dump(a), self.dump(b), self.dump(c)
        self.assertEqual(da, dbb)
        self.assertEqual(da, dc)
        for v in secrets_written:
            self.assertIn(v, da)
        raw = self.store_bytes(rl)
        self.assertGreater(len(raw), 0)
        for v in secrets_written:
            self.assertNotIn(v.encode(), raw, "the relay's store holds plaintext")
        # Members' names travel inside the space, encrypted: the relay, which
        # needs the membership in clear, sees devices only as keys.
        for n in names:
            self.assertIn(n, self.run_tool("space", "members", b, s).stdout)
            self.assertNotIn(n.encode(), raw, "the relay's store holds a device's name")
        m = rl.metrics()
        self.assertGreater(m["drivercore_relay_changes_in_total"], 0)
        self.assertGreater(m["drivercore_relay_changes_out_total"], 0)
        self.assertGreater(m["drivercore_relay_auth_total"], 0)

    def test_added_device_learns_space_at_next_sync(self):
        rl = self.relay()
        a, d = self.device("a"), self.device("d")
        s = self.space(a)
        self.write(a, s, "x", "hello")
        self.sync(a, rl)
        self.sync(d, rl)
        self.assertEqual(json.loads(self.dump(d)), {})
        self.add(a, s, "d")
        self.sync(a, rl)
        fig = self.sync(d, rl)  # the space comes with no other step; d accepts it
        self.assertGreater(fig["changes_received"], 0)
        self.accept(d, s)
        self.assertEqual(self.dump(a), self.dump(d))
        self.assertIn("hello", self.dump(d))

    def test_push_within_a_second(self):
        rl = self.relay()
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.add(a, s, "b")
        self.sync(a, rl)
        self.sync(b, rl)
        self.accept(b, s)
        waiting = subprocess.Popen([TOOL, "sync", b, "--relay", rl.url, "--wait", "20"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while rl.metrics().get("drivercore_relay_waiters", 0) < 1:
            self.assertLess(time.time(), deadline, "b never long-polled")
            time.sleep(0.05)
        self.write(a, s, "p", "pushed")
        self.sync(a, rl)
        t0 = time.time()
        out, err = waiting.communicate(timeout=20)
        elapsed = time.time() - t0
        self.assertEqual(waiting.returncode, 0, err)
        self.assertLess(elapsed, 1.0, "the change reached b after %.2fs" % elapsed)
        self.assertEqual(len(out.splitlines()), 2)  # the first sync, then the pushed one
        self.assertIn("pushed", self.dump(b))


class TestClocks(Base):
    """Phones with wrong clocks (docs/data-model.md, "Clocks")."""

    HOUR = 3600 * 1000
    DAY = 24 * HOUR

    def at(self, skew):
        """The tool's environment for a device whose clock is off by skew ms."""
        return dict(os.environ, DRIVERCORE_NOW_MS=str(int(time.time() * 1000) + skew))

    def tool_at(self, skew, *args, input=None):
        p = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                           input=input, timeout=60, cwd=self.d, env=self.at(skew))
        self.assertEqual(p.returncode, 0, "drivercore %s: %s" % (" ".join(map(str, args)),
                                                                p.stderr))
        return p.stdout

    def skewed_device(self, name, skew):
        db = self.path(name + ".db")
        card = self.tool_at(skew, "init", db, "--name", name)
        with open(self.path(name + ".card"), "w") as f:
            f.write(card)
        return db

    def test_wrong_clocks_join_at_the_first_sync(self):
        rl = self.relay()
        sec = self.device("sec")
        s = self.space(sec, "branch")
        self.write(sec, s, "news", "for everyone")
        skews = {"slow2h": -2 * self.HOUR, "slow200d": -200 * self.DAY,
                 "fast3h": 3 * self.HOUR, "fast200d": 200 * self.DAY}
        phones = {n: self.skewed_device(n, k) for n, k in skews.items()}
        for n in phones:
            self.add(sec, s, n)
        self.sync(sec, rl)
        for n, db in phones.items():
            fig = json.loads(self.tool_at(skews[n], "sync", db, "--relay", rl.url)
                             .splitlines()[-1])
            self.assertGreater(fig["changes_received"], 0, n)
            # Judged by the relay's clock from its first message: nothing is
            # held aside, and the space arrives as an invitation to accept.
            st = json.loads(self.tool_at(skews[n], "status", db))
            self.assertEqual(sum(x["held"] for x in st["spaces"]), 0, (n, st))
            off = st["clock_offset_ms"]
            self.assertLess(abs(off + skews[n]), 60 * 1000, (n, off))
            self.tool_at(skews[n], "space", "accept", db, s)
            self.assertIn("for everyone", self.tool_at(skews[n], "dump", db))

    def test_corrected_time_orders_concurrent_writes(self):
        rl = self.relay()
        sec = self.device("sec")
        s = self.space(sec, "branch")
        slow = self.skewed_device("slow", -2 * self.HOUR)
        fast = self.skewed_device("fast", 90 * self.DAY)
        for n in ("slow", "fast"):
            self.add(sec, s, n)
        self.sync(sec, rl)
        for db, k in ((slow, -2 * self.HOUR), (fast, 90 * self.DAY)):
            self.tool_at(k, "sync", db, "--relay", rl.url)
            self.tool_at(k, "space", "accept", db, s)

        def put(db, k, value):
            op = {"space": s, "ops": [{"type": "note", "id": "x", "set": {"text": value}}]}
            self.tool_at(k, "apply", db, input=json.dumps(op) + "\n")

        # Seconds apart in true time: the later write wins, whatever the
        # phones' own clocks say.
        put(slow, -2 * self.HOUR, "slow phone, first")
        time.sleep(1.2)
        put(fast, 90 * self.DAY, "fast phone, a second later")
        time.sleep(1.2)
        put(slow, -2 * self.HOUR, "slow phone, last")
        for db, k in ((fast, 90 * self.DAY), (slow, -2 * self.HOUR), (sec, 0),
                      (fast, 90 * self.DAY)):
            self.tool_at(k, "sync", db, "--relay", rl.url)
        for db, k in ((sec, 0), (slow, -2 * self.HOUR), (fast, 90 * self.DAY)):
            d = json.loads(self.tool_at(k, "dump", db))
            self.assertEqual(d[s]["note"]["x"]["text"], "slow phone, last")


class TestConcurrent(Base):
    def test_concurrent_devices_converge(self):
        rl = self.relay()
        names = ["d%d" % i for i in range(8)]
        dbs = [self.device(n) for n in names]
        s = self.space(dbs[0])
        for n in names[1:]:
            self.add(dbs[0], s, n)
        self.sync(dbs[0], rl)
        for db in dbs[1:]:
            self.sync(db, rl)
            self.accept(db, s)
        for rnd in range(3):
            for i, db in enumerate(dbs):
                if rnd or i == 0:
                    self.write(db, s, "r%d-%d" % (rnd, i), "v%d-%d" % (rnd, i))
            procs = [subprocess.Popen([TOOL, "sync", db, "--relay", rl.url],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for db in dbs]
            for p in procs:
                _, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
        for db in dbs + dbs:
            self.sync(db, rl)
        dumps = {self.dump(db) for db in dbs}
        self.assertEqual(len(dumps), 1)
        self.assertIn("v2-7", dumps.pop())


class TestCompaction(Base):
    """docs/relay.md, "Compaction": the relay follows the admin's clear point."""

    DAY_MS = 86400000

    def tool_at(self, now_ms, *args):
        env = dict(os.environ, DRIVERCORE_NOW_MS=str(now_ms))
        p = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=60, cwd=self.d, env=env)
        if p.returncode != 0:
            self.fail("drivercore %s: exit %d: %s" % (" ".join(map(str, args)), p.returncode,
                                                       p.stderr))
        return p

    def test_relay_drops_covered_envelopes_and_devices_converge(self):
        rl = self.relay()
        a, b, c, e = (self.device(n) for n in "abce")
        past = int(time.time() * 1000) - 40 * self.DAY_MS
        s = json.loads(self.tool_at(past, "space", "create", a, "team").stdout)["space"]
        for who in ("b", "c", "e"):
            self.tool_at(past, "space", "add", a, s, "@" + self.path(who + ".card"))
        # (by a bundle: a sync with the relay would teach the devices that
        # their clocks are 40 days slow)
        self.tool_at(past, "bundle", "export", a, self.path("m.bin"))
        for db in (b, c, e):
            self.tool_at(past, "bundle", "import", db, self.path("m.bin"))
            self.tool_at(past, "space", "accept", db, s)
        # Two attachments put 40 days ago (older than the horizon), both
        # referenced; one is dereferenced later: its objects are dead.
        atts = []
        for n in ("dead", "live"):
            with open(self.path(n + ".bin"), "wb") as f:
                f.write(secrets.token_bytes(300 * 1000))  # two chunks
            atts.append(json.loads(self.tool_at(past, "attach", "put", a, s,
                                                self.path(n + ".bin")).stdout)["id"])
            op = {"space": s, "ops": [{"type": "doc", "id": n, "set": {"file": atts[-1]}}]}
            self.run_tool("apply", a, input=json.dumps(op) + "\n")
        # e, a member since 40 days, goes silent: it never acks and misses
        # what follows, so the point leaves it out (horizon: 30 days).
        for i in range(30):
            db = (a, b, c)[i % 3]
            self.write(db, s, "n%d" % (i % 7), "v%d" % i)
            self.sync(db, rl)
        for db in (a, b, c):
            self.sync(db, rl)
        objs0 = self.store_objects(rl.store, s)
        self.assertEqual(objs0, 6)  # two manifests, four chunks
        self.write(a, s, "x", "no file")
        op = {"space": s, "ops": [{"type": "doc", "id": "dead", "set": {"file": "gone"}}]}
        self.run_tool("apply", a, input=json.dumps(op) + "\n")
        self.sync(a, rl)
        for db in (b, c):
            self.sync(db, rl)
        for db in (b, c):
            self.run_tool("space", "ack", db, s)
            self.sync(db, rl)
        self.sync(a, rl)
        env0, cov0 = self.store_log(rl.store, s)
        self.assertEqual(cov0, 0)
        self.assertGreaterEqual(env0, 30)
        out = json.loads(self.run_tool("space", "compact", a, s).stdout)
        self.assertTrue(out["published"], out)
        self.assertEqual(len(out["left_out"]), 1, out)
        self.sync(a, rl)
        env1, cov1 = self.store_log(rl.store, s)
        self.assertGreaterEqual(cov1, 30)
        # The relay's metric counts what its log dropped.
        self.assertEqual(rl.metrics()['drivercore_relay_compacted_total{store="sqlite"}'], cov1)
        # a pushed the point (encrypted and in clear) and its ack
        self.assertEqual(env1, env0 + 3 - cov1)
        # The dead attachment's manifest and chunks left the relay; the live
        # one's stayed, and still reaches a device that wants it.
        self.assertEqual(self.store_objects(rl.store, s), 3)
        self.run_tool("attach", "get", b, s, atts[1], self.path("got.bin"))
        with open(self.path("got.bin"), "rb") as f1, open(self.path("live.bin"), "rb") as f2:
            self.assertEqual(f1.read(), f2.read())

        for db in (b, c):
            fig = self.sync(db, rl)
            self.assertEqual(fig["snapshot_needed"], 0, fig)
        self.assertEqual(self.dump(a), self.dump(b))
        self.assertEqual(self.dump(a), self.dump(c))
        # The freed pages go back to the file system, the relay running.
        v = json.loads(self.run_tool("vacuum", rl.store).stdout)
        self.assertLess(v["bytes_after"], v["bytes_before"], v)
        self.assertEqual(self.store_log(rl.store, s), (env1, cov1))
        # Nothing moves once they are in step.
        m0 = rl.metrics()
        for db in (a, b, c):
            self.assertEqual(self.sync(db, rl)["changes_received"], 0)
        m1 = rl.metrics()
        self.assertEqual(m0["drivercore_relay_changes_out_total"],
                         m1["drivercore_relay_changes_out_total"])
        self.assertEqual(m0["drivercore_relay_changes_in_total"],
                         m1["drivercore_relay_changes_in_total"])
        # The late device is told it needs a snapshot, never left partial
        # in silence; from the snapshot it converges and is sent nothing twice.
        fig = self.sync(e, rl)
        self.assertEqual(fig["snapshot_needed"], 1, fig)
        st = json.loads(self.run_tool("status", e).stdout)
        self.assertTrue(st["compaction"][0]["snapshot_needed"], st)
        self.run_tool("space", "snapshot", a, s, self.path("snap.bin"))
        f = self.device("f")
        self.add(a, s, "f")
        self.sync(a, rl)
        self.sync(f, rl)
        self.accept(f, s)
        self.run_tool("space", "load", f, self.path("snap.bin"))
        self.sync(f, rl)
        self.assertEqual(self.sync(f, rl)["changes_received"], 0)
        self.sync(a, rl)
        self.assertEqual(self.dump(a), self.dump(f))


class TestAccess(Base):
    def test_non_member_gets_nothing_and_cannot_write(self):
        rl = self.relay()
        a, x = self.device("a"), self.device("x")
        s = self.space(a)
        self.write(a, s, "n", "members-only")
        # x holds an old copy of the space (opaque to it) and offers it.
        self.run_tool("bundle", "export", a, self.path("old.bundle"), "--space", s)
        self.run_tool("bundle", "import", x, self.path("old.bundle"))
        self.write(a, s, "n2", "later")
        self.sync(a, rl)
        before = rl.metrics()
        fig = self.sync(x, rl)
        self.assertEqual(fig["changes_received"], 0)
        self.assertEqual(fig["changes_sent"], 0)
        after = rl.metrics()
        self.assertEqual(before["drivercore_relay_changes_in_total"],
                         after["drivercore_relay_changes_in_total"])
        self.assertEqual(before["drivercore_relay_changes_out_total"],
                         after["drivercore_relay_changes_out_total"])
        self.assertNotIn("later", self.dump(x))
        # A device with no copy at all gets nothing either.
        y = self.device("y")
        fig = self.sync(y, rl)
        self.assertEqual(fig["changes_received"], 0)
        self.assertEqual(json.loads(self.dump(y)), {})

    def test_forged_auth_refused(self):
        rl = self.relay(["--challenge-ttl", "0.5"])
        pk1, sk1 = keypair()
        pk2, sk2 = keypair()

        def challenge(pk):
            st, ch = rl.post_json("/v1/auth/challenge", {"device": pk.hex()})
            self.assertEqual(st, 200)
            return bytes.fromhex(ch["challenge"])

        def session(pk, c, sig):
            return rl.post_json("/v1/auth/session", {"device": pk.hex(), "challenge": c.hex(),
                                                     "signature": sig.hex()})[0]

        c = challenge(pk1)
        self.assertEqual(session(pk1, c, secrets.token_bytes(64)), 401)  # bad signature
        self.assertEqual(session(pk1, c, sign(sk1, AUTH_PREFIX + c)), 401)  # used once only
        c = challenge(pk1)
        self.assertEqual(session(pk2, c, sign(sk2, AUTH_PREFIX + c)), 401)  # wrong device
        c = challenge(pk1)
        self.assertEqual(session(pk1, c, sign(sk1, c)), 401)  # no prefix: another protocol
        c = challenge(pk1)
        good = sign(sk1, AUTH_PREFIX + c)
        self.assertEqual(session(pk1, c, good), 200)
        self.assertEqual(session(pk1, c, good), 401)  # replayed
        c = challenge(pk1)
        time.sleep(0.8)
        self.assertEqual(session(pk1, c, sign(sk1, AUTH_PREFIX + c)), 401)  # expired
        st, _, _ = rl.req("POST", "/v1/sync", b"DCS", {"Authorization": "Bearer " + "00" * 32})
        self.assertEqual(st, 401)  # unknown token
        st, _, _ = rl.req("POST", "/v1/sync", b"DCS", {"Authorization": "Basic abc"})
        self.assertEqual(st, 401)
        st, _, _ = rl.req("POST", "/v1/sync", b"DCS")
        self.assertEqual(st, 401)
        st, _, _ = rl.req("GET", "/v1/wait?timeout=0", None,
                          {"Authorization": "Bearer " + "11" * 32})
        self.assertEqual(st, 401)
        st, _ = rl.post_json("/v1/auth/session", {"device": "zz"})
        self.assertEqual(st, 400)
        # A valid token with a garbage message: refused, nothing stored.
        tok = rl.token(pk1, sk1)
        st, _, body = rl.req("POST", "/v1/sync", b"not a sync message",
                             {"Authorization": "Bearer " + tok})
        self.assertEqual(st, 400, body)
        m = rl.metrics()
        self.assertGreaterEqual(m['drivercore_relay_refusals_total{reason="auth"}'], 8)
        self.assertGreaterEqual(m['drivercore_relay_refusals_total{reason="malformed"}'], 1)
        self.assertEqual(m["drivercore_relay_changes_in_total"], 0)
        self.assertEqual(m["drivercore_relay_auth_total"], 2)

    def test_oversized_refused_before_reading(self):
        rl = self.relay(["--max-body", "100000"])
        pk, sk = keypair()
        tok = rl.token(pk, sk)
        # A declared length over the cap is refused from the headers alone.
        s = socket.create_connection(("127.0.0.1", rl.port), timeout=10)
        s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode()
                  + b"\r\nContent-Length: 80000000\r\n\r\n" + b"\0" * 1000)
        head = s.recv(4096).decode(errors="replace")
        s.close()
        self.assertTrue(head.startswith("HTTP/1.1 413"), head)
        # A chunked body that grows past the cap is refused too.
        c = http.client.HTTPConnection("127.0.0.1", rl.port, timeout=10)
        c.putrequest("POST", "/v1/sync")
        c.putheader("Authorization", "Bearer " + tok)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = b"\0" * 50000
        for _ in range(3):
            c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        c.send(b"0\r\n\r\n")
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        st, _, _ = rl.req("POST", "/v1/auth/challenge", b"{" + b" " * 5000 + b"}",
                          {"Content-Type": "application/json"})
        self.assertEqual(st, 413)
        m = rl.metrics()
        self.assertEqual(m['drivercore_relay_refusals_total{reason="size"}'], 3)
        self.assertEqual(m["drivercore_relay_changes_in_total"], 0)
        self.assertEqual(m["drivercore_relay_sync_sessions_total"], 0)

    def test_unreachable_relay_is_an_error_and_replica_unchanged(self):
        a = self.device("a")
        s = self.space(a)
        self.write(a, s, "n", "v")
        before = (self.dump(a), self.run_tool("status", a).stdout)
        self.assertIsNone(json.loads(before[1])["last_sync"])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # nothing listens there now
        url = "http://127.0.0.1:%d" % port
        t0 = time.monotonic()
        p = self.run_tool("sync", a, "--relay", url, "--attempts", "3", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach the relay", p.stderr)
        self.assertIn("after 3 attempts", p.stderr)
        self.assertLess(time.monotonic() - t0, 10)  # backoff 0.5 s, 1 s (full jitter)
        self.assertEqual(p.stdout, "")
        # The data is untouched; the status says when and why the sync failed.
        self.assertEqual(before[0], self.dump(a))
        after = json.loads(self.run_tool("status", a).stdout)
        old = json.loads(before[1])
        del after["last_sync"], old["last_sync"]
        self.assertEqual(old, after)
        last = json.loads(self.run_tool("status", a).stdout)["last_sync"]
        self.assertEqual(last["peer"], url)
        self.assertFalse(last["ok"])
        self.assertIsNone(last["ok_ms"])
        self.assertEqual(last["failures"], 1)
        self.assertEqual(last["attempts"], 3)
        self.assertEqual(last["reason"], "unreachable")
        self.assertIn("check mobile data or Wi-Fi", last["error"])


class TestLifecycle(Base):
    def test_sigkill_midway_then_restart_converges(self):
        rl = self.relay()
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.add(a, s, "b")
        self.write(a, s, "first", "acknowledged")
        self.sync(a, rl)  # acknowledged: must survive SIGKILL
        lines = "".join(json.dumps({"space": s, "ops": [{"type": "note", "id": "k%d" % i,
                                                           "set": {"text": "v%d" % i}}]}) + "\n"
                        for i in range(300))
        self.run_tool("apply", a, input=lines)
        bg = subprocess.Popen([TOOL, "sync", a, "--relay", rl.url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        time.sleep(0.03)
        rl.kill9()
        rl.logf.close()
        bg.communicate(timeout=30)  # may have finished or failed: both are fine
        rl.start()
        fig = self.sync(b, rl)
        self.assertGreater(fig["changes_received"], 0)
        self.accept(b, s)
        self.assertIn("acknowledged", self.dump(b))
        self.write(b, s, "fromb", "after the crash")
        for db in (a, b, a, b):
            self.sync(db, rl)
        self.assertEqual(self.dump(a), self.dump(b))
        self.assertIn("v299", self.dump(b))
        self.assertIn("after the crash", self.dump(a))

    def test_sigterm_stops_cleanly_answering_long_polls(self):
        rl = self.relay()
        a = self.device("a")
        self.space(a)
        self.sync(a, rl)
        waiting = self.long_poll(a, rl)
        t0 = time.time()
        self.assertEqual(rl.term(), 0)
        self.assertLess(time.time() - t0, 5)
        out, err = waiting.communicate(timeout=10)
        self.assertEqual(waiting.returncode, 0, err)
        rl.logf.close()
        with open(rl.log) as f:
            self.assertIn("stopped; store closed", f.read())
        # The store reopens and still serves.
        rl.start()
        self.sync(a, rl)



class TestOperate(Base):
    def test_readyz_and_healthz(self):
        rl = self.relay()
        st, _, body = rl.req("GET", "/healthz")
        self.assertEqual((st, body), (200, b"ok\n"))
        st, _, body = rl.req("GET", "/readyz")
        self.assertEqual((st, body), (200, b"ready\n"))

    def test_json_logs(self):
        """--log-format json: one JSON object a line, no token, no payload."""
        rl = self.relay(["--log-format", "json"])
        a = self.device("a", "Zhang Wei's phone")
        s = self.space(a)
        self.write(a, s, "n1", "a secret note")
        self.sync(a, rl)
        pk, sk = keypair()
        tok = rl.token(pk, sk)
        st, _, _ = rl.req("POST", "/v1/sync", b"\0" * 100, {"Authorization": "Bearer " + tok})
        self.assertEqual(st, 400)
        self.assertEqual(rl.term(), 0)
        rl.logf.close()
        with open(rl.log) as f:
            lines = f.read().splitlines()
        self.assertGreater(len(lines), 3)
        events = []
        for line in lines:
            o = json.loads(line)
            for k in ("ts", "program", "event", "msg"):
                self.assertIn(k, o)
            events.append(o["event"])
            if o["event"] == "sync" and "status" in o:
                self.assertIsInstance(o["status"], float)
                self.assertIsInstance(o["device"], str)
            self.assertNotIn(tok, line)
            self.assertNotIn("secret note", line)
            self.assertNotIn("Zhang Wei", line)
        self.assertIn("listening", events)
        self.assertIn("sync", events)
        self.assertEqual(events[-1], "stopped")
        with self.assertRaises(subprocess.CalledProcessError):
            subprocess.run([RELAY, "--store", self.path("x.db"), "--listen", "127.0.0.1:0",
                            "--log-format", "xml"], check=True, capture_output=True, timeout=30)

    def test_online_backup_and_restore(self):
        """A backup taken while devices sync opens as a store; restored in
        place of the store, the devices send it what it lacks and a new
        device gets everything."""
        rl = self.relay()
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.add(a, s, "b")
        lines = "".join(json.dumps({"space": s, "ops": [{"type": "note", "id": "k%d" % i,
                                                           "set": {"text": "v%d" % i}}]}) + "\n"
                        for i in range(200))
        self.run_tool("apply", a, input=lines)
        # Backup while a sync of a is in flight: consistent either way.
        bg = subprocess.Popen([TOOL, "sync", a, "--relay", rl.url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        dest = self.path("backup.db")
        p = subprocess.run([RELAY, "backup", "--store", rl.store, "--to", dest],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["backup"], dest)
        self.assertEqual(out["bytes"], os.path.getsize(dest))
        bg.communicate(timeout=30)
        self.assertEqual(bg.returncode, 0)
        self.sync(a, rl)
        # Written after the backup: the restored store lacks it.
        self.write(a, s, "late", "after the backup")
        self.sync(a, rl)
        # Restore: stop, put the backup in place, drop -wal/-shm, start.
        self.assertEqual(rl.term(), 0)
        rl.logf.close()
        for suffix in ("-wal", "-shm"):
            if os.path.exists(rl.store + suffix):
                os.remove(rl.store + suffix)
        os.replace(dest, rl.store)
        rl.start()
        self.sync(a, rl)  # a sends again what the backup lacks
        self.sync(b, rl)
        self.accept(b, s)
        self.sync(b, rl)
        self.assertIn("after the backup", self.dump(b))
        self.assertIn("v199", self.dump(b))
        self.assertEqual(self.dump(a), self.dump(b))
        # A backup of no store, and bad usage, are refused with a reason.
        p = subprocess.run([RELAY, "backup", "--store", self.path("none.db"), "--to", dest],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("none.db", p.stderr)
        p = subprocess.run([RELAY, "backup", "--store", rl.store], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)



class TestTLS(Base):
    def make_cert(self, name):
        """A self-signed certificate for 127.0.0.1 and its key (openssl)."""
        cert, key = self.path(name + ".pem"), self.path(name + ".key")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", cert], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"],
                             capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                             capture_output=True, check=True).stdout
        import base64
        import hashlib
        pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()
        return cert, key, pin

    def setUp(self):
        super().setUp()
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed: no certificate to test TLS with")

    def test_https_relay_checked_by_ca_and_pin(self):
        cert, key, pin = self.make_cert("relay")
        other_cert, _, other_pin = self.make_cert("other")
        rl = self.relay(["--tls-cert", cert, "--tls-key", key])
        with open(rl.log) as f:
            self.assertIn(", TLS", f.read())
        rl.url = "https://127.0.0.1:%d" % rl.port
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.add(a, s, "b")
        self.write(a, s, "n1", "over TLS")
        self.sync(a, rl, extra=["--ca-file", cert])
        self.sync(b, rl, extra=["--ca-file", cert, "--pin-key", pin])
        self.accept(b, s)
        self.sync(b, rl, extra=["--ca-file", cert, "--pin-key", pin])
        self.assertIn("over TLS", self.dump(b))
        # Refused: another CA, another pinned key, no CA (the system's
        # store does not know this certificate), and a pin for plain http.
        for extra, why in ((["--ca-file", other_cert], "certificate"),
                           (["--ca-file", cert, "--pin-key", other_pin], "pinned"),
                           ([], "certificate")):
            p = self.sync(a, rl, check=False, extra=["--attempts", "1"] + extra)
            self.assertNotEqual(p.returncode, 0, extra)
            self.assertIn(why, p.stderr)
        plain = "http://127.0.0.1:%d" % rl.port
        p = self.run_tool("sync", a, "--relay", plain, "--pin-key", pin, "--attempts", "1",
                          check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("plain http", p.stderr)
        # Plain HTTP to the TLS port gets no answer from the relay.
        p = self.run_tool("sync", a, "--relay", plain, "--attempts", "1", "--timeout", "3",
                          check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_tls_needs_both_files(self):
        cert, key, _ = self.make_cert("relay")
        for args in (["--tls-cert", cert], ["--tls-key", key],
                     ["--tls-cert", cert, "--tls-key", self.path("missing.key")]):
            p = subprocess.run([RELAY, "--store", self.path("r.db"), "--listen", "127.0.0.1:0"]
                               + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, args)
        # A key that is not a key: the relay refuses to start.
        with open(self.path("bad.key"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        p = subprocess.run([RELAY, "--store", self.path("r.db"), "--listen", "127.0.0.1:0",
                            "--tls-cert", cert, "--tls-key", self.path("bad.key")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("TLS", p.stderr)



class TestBudgets(Base):
    """Budgets a hostile client cannot exhaust: each refusal is counted."""

    def refusals(self, rl, reason):
        return rl.metrics().get('drivercore_relay_refusals_total{reason="%s"}' % reason, 0)

    def raw(self, rl):
        s = socket.create_connection(("127.0.0.1", rl.port), timeout=10)
        return s

    def read_all(self, s, limit=10):
        s.settimeout(limit)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    break
        except socket.timeout:
            pass
        return data

    def test_no_body_read_before_the_token(self):
        rl = self.relay()
        s = self.raw(rl)
        s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"ab" * 32
                  + b"\r\nContent-Length: 50000000\r\n\r\n")
        t0 = time.time()
        head = self.read_all(s)
        s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 401"), head[:80])
        self.assertLess(time.time() - t0, 5)

    def test_memory_budget_per_device(self):
        rl = self.relay(["--mem-per-device", "8192"])
        pk, sk = keypair()
        tok = rl.token(pk, sk)
        st, _, body = rl.req("POST", "/v1/sync", b"\0" * 65536,
                             {"Authorization": "Bearer " + tok})
        self.assertEqual(st, 503, body)
        self.assertIn(b"memory budget", body)
        self.assertEqual(self.refusals(rl, "memory"), 1)
        # Within the budget, the same device is served (a malformed message,
        # but read and answered).
        st, _, _ = rl.req("POST", "/v1/sync", b"\0" * 100, {"Authorization": "Bearer " + tok})
        self.assertEqual(st, 400)

    def test_memory_budget_per_address(self):
        rl = self.relay(["--mem-per-address", "8192"])
        pk, sk = keypair()
        tok = rl.token(pk, sk)
        st, _, _ = rl.req("POST", "/v1/sync", b"\0" * 65536, {"Authorization": "Bearer " + tok})
        self.assertEqual(st, 503)
        self.assertEqual(self.refusals(rl, "memory"), 1)

    def test_a_byte_a_second_does_not_hold_a_connection(self):
        rl = self.relay(["--body-grace", "1", "--body-min-rate", "1000", "--header-timeout", "1",
                         "--idle-timeout", "3"])
        pk, sk = keypair()
        tok = rl.token(pk, sk)
        # A slow body: cut off once past its grace period.
        s = self.raw(rl)
        s.sendall(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + tok.encode() + b"\r\nContent-Length: 100000\r\n\r\n")
        closed = False
        t0 = time.time()
        try:
            for _ in range(20):
                s.sendall(b"x")
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            closed = self.read_all(s, 3) == b""
        s.close()
        self.assertTrue(closed)
        self.assertLess(time.time() - t0, 9)
        self.assertGreaterEqual(self.refusals(rl, "deadline"), 1)
        # Slow headers: cut at the deadline, whether or not they complete.
        s = self.raw(rl)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(1.5)
        try:
            s.sendall(b"Host: x\r\n\r\n")
            self.assertEqual(self.read_all(s, 5), b"")
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        self.assertGreaterEqual(self.refusals(rl, "deadline"), 2)
        # Silence: closed after the idle timeout.
        s = self.raw(rl)
        t0 = time.time()
        self.assertEqual(self.read_all(s, 10), b"")
        self.assertLess(time.time() - t0, 8)
        s.close()
        # The relay still serves.
        st, _, body = rl.req("GET", "/healthz")
        self.assertEqual((st, body), (200, b"ok\n"))

    def trickle(self, s, data, every=0.3, limit=8):
        """Sends data a byte at a time; the seconds until the relay cut the
        connection, or None if it never did within `limit`."""
        t0 = time.time()
        try:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                s.settimeout(every)
                try:
                    if s.recv(65536) == b"":
                        return time.time() - t0
                except socket.timeout:
                    pass
                if time.time() - t0 > limit:
                    return None
        except (BrokenPipeError, ConnectionResetError):
            return time.time() - t0
        return None

    def test_header_deadline_on_every_request(self):
        rl = self.relay(["--header-timeout", "1", "--idle-timeout", "5"])
        # The first request on a kept-alive connection is served...
        s = self.raw(rl)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = self.read_all(s, 5)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:80])
        s.settimeout(5)
        if not head.endswith(b"ok\n"):
            self.assertEqual(s.recv(3), b"ok\n")
        before = self.refusals(rl, "deadline")
        # ...and the second, sent a byte every 0.3 s (never silent long
        # enough for the idle timeout), is cut at the header deadline.
        took = self.trickle(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100)
        s.close()
        self.assertIsNotNone(took, "a byte every 0.3 s held the connection")
        self.assertLess(took, 3)
        self.assertEqual(self.refusals(rl, "deadline"), before + 1)
        # The first request's headers, sent the same way: cut too.
        s = self.raw(rl)
        took = self.trickle(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100)
        s.close()
        self.assertIsNotNone(took)
        self.assertLess(took, 3)
        self.assertEqual(self.refusals(rl, "deadline"), before + 2)
        # A client that keeps its connection and sends its requests whole
        # is served on it, request after request.
        s = self.raw(rl)
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = self.read_all(s, 5)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:80])
            if not head.endswith(b"ok\n"):
                s.settimeout(5)
                self.assertEqual(s.recv(3), b"ok\n")
            time.sleep(0.3)
        s.close()
        self.assertEqual(self.refusals(rl, "deadline"), before + 2)

    def big_notes(self, db, space, prefix, n, size=2000):
        """n notes of `size` incompressible characters each."""
        for i in range(n):
            self.write(db, space, "%s%d" % (prefix, i), os.urandom(size // 2).hex())

    def test_solo_quota_refuses_past_it_and_lifts_when_a_member_joins(self):
        rl = self.relay(["--solo-quota", "12000"])
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.write(a, s, "first", "kept-before-the-quota")
        self.sync(a, rl)
        stored = rl.metrics()["drivercore_relay_changes_in_total"]
        self.assertGreater(stored, 0)
        # Past the quota in a space no other device is a member of: refused
        # with the reason, nothing of the push stored.
        self.big_notes(a, s, "big", 20)
        p = self.sync(a, rl, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("storage quota", p.stderr)
        self.assertIn("403", p.stderr + p.stdout)
        # The words tell the driver what to do about it, not that a role was lost.
        self.assertIn("add a member to the space", p.stderr)
        self.assertNotIn("lost its role", p.stderr)
        self.assertEqual(self.refusals(rl, "quota"), 1)
        self.assertEqual(rl.metrics()["drivercore_relay_changes_in_total"], stored)
        # A second device shows what the relay holds of the space: exactly
        # the first sync's data, intact.  b is added in the same push that
        # carries the refused notes: the grant itself lifts the quota.
        # (The relay makes a refused device wait 2 s: the client waits out
        # the 429, counted as a quota refusal too.)
        self.add(a, s, "b")
        self.sync(a, rl)
        lifted = self.refusals(rl, "quota")
        self.assertLessEqual(lifted, 2)
        self.sync(b, rl)
        self.accept(b, s)
        self.sync(b, rl)
        dump = self.dump(b)
        self.assertIn("kept-before-the-quota", dump)
        self.assertIn('"big19"', dump)
        self.assertEqual(self.refusals(rl, "quota"), lifted)

    def test_solo_quota_spares_a_device_in_a_shared_space(self):
        rl = self.relay(["--solo-quota", "12000"])
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.add(a, s, "b")
        self.sync(a, rl)
        self.sync(b, rl)
        self.accept(b, s)
        self.big_notes(a, s, "big", 20)
        self.big_notes(b, s, "bbig", 20)
        self.sync(a, rl)
        self.sync(b, rl)
        self.assertEqual(self.refusals(rl, "quota"), 0)
        self.sync(a, rl)
        self.assertIn('"bbig19"', self.dump(a))
        # Its own space that nobody else joined still has the quota.
        t = self.space(b, "notebook")
        self.big_notes(b, t, "solo", 20)
        p = self.sync(b, rl, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("storage quota", p.stderr)
        self.assertEqual(self.refusals(rl, "quota"), 1)


if __name__ == "__main__":
    TOOL, RELAY = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
