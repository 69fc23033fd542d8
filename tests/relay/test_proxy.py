#!/usr/bin/env python3
"""tests/relay: devices syncing through a fault-injecting proxy in front of
a real drivercore-relay process (issue 3, "Tests"; docs/relay.md).

Usage: test_proxy.py DRIVERCORE DRIVERCORE_RELAY   (env DC_PROXY_SEED=N to replay)

Why a proxy that understands HTTP framing, rather than one that cuts bytes
at random: the faults worth testing sit at message boundaries, where a
byte-level cutter rarely lands.  The proxy reads each whole request from
the device and each whole response from the relay, and per request either
passes it on or: cuts the request part-way (the relay sees a torn body),
sends the request on but closes before the answer (the relay acted, the
device never learns), cuts the answer part-way, delivers a *well-framed*
but shortened answer (Content-Length rewritten: the sync protocol itself
must notice), replays the request twice and hands back the first or the
second answer, or delays either way.  Half-way through, the relay is
SIGKILLed during a burst of syncs and restarted on the same store.

What must hold: a sync that fails exits 1 with a `drivercore: sync: ...`
message and nothing on stdout; after every sync, failed or not, the replica
opens, its dump is valid JSON, and it still holds every record it held
before; once the devices sync straight to the relay until nothing moves,
every dump is byte-identical and holds every record any device wrote, and
no device has changes the relay has not acknowledged.

The seed is printed; DC_PROXY_SEED replays the edits and the fault draws
(thread timing still varies, so a replay is close, not exact).
"""
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_relay  # noqa: E402  (the Relay process wrapper and tool helpers)

FAULTS = ("drop_request", "drop_before_response", "drop_mid_response", "truncate_response",
          "truncate_request", "duplicate_first", "duplicate_second")


class HttpEnd(Exception):
    """The peer closed (or broke) the connection."""


def read_message(sock, buf, is_response, request_method=None):
    """Reads one HTTP/1.1 message from sock (leftover bytes in buf, a
    bytearray).  Returns (head bytes, body bytes, parsed headers dict,
    status or None).  Raises HttpEnd on a clean close before any byte."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise HttpEnd()
        buf += chunk
    i = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:i])
    del buf[:i]
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    status = int(lines[0].split()[1]) if is_response else None
    if is_response and (status < 200 or status in (204, 304) or request_method == "HEAD"):
        n = 0
    elif "content-length" in headers:
        n = int(headers["content-length"])
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        raise HttpEnd()  # neither curl's POSTs nor MHD's buffered answers are chunked
    elif is_response:
        n = None  # until the close
    else:
        n = 0
    if n is None:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        body = bytes(buf)
        del buf[:]
    else:
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise HttpEnd()
            buf += chunk
        body = bytes(buf[:n])
        del buf[:n]
    return head, body, headers, status


def with_length(head, n):
    """The head with its Content-Length set to n."""
    out = []
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            line = b"Content-Length: %d" % n
        out.append(line)
    return b"\r\n".join(out)


class FaultProxy:
    """A loopback TCP proxy in front of the relay, one thread per device
    connection.  `upstream` (a port) may change while it runs (the relay
    restarted); connections opened before keep their old relay and fail."""

    def __init__(self, seed, fault_rate=0.15, delay_rate=0.10):
        self.seed, self.fault_rate, self.delay_rate = seed, fault_rate, delay_rate
        self.upstream = None
        self.mu = threading.Lock()
        self.counts = {k: 0 for k in FAULTS + ("delay", "pass", "upstream_down")}
        self.nconn = 0
        self.deck, self.deck_rng = [], random.Random(seed)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def draw_fault(self):
        """The next fault from a shuffled deck of all kinds, so that a short
        run still injects every kind (which one hits which request stays
        random)."""
        with self.mu:
            if not self.deck:
                self.deck = list(FAULTS)
                self.deck_rng.shuffle(self.deck)
            return self.deck.pop()

    def count(self, what):
        with self.mu:
            self.counts[what] += 1

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.mu:
                self.nconn += 1
                rng = random.Random(self.seed * 1000003 + self.nconn)
            threading.Thread(target=self.serve, args=(c, rng), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()

    def serve(self, client, rng):
        up = None
        try:
            client.settimeout(30)
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=30)
            except OSError:
                self.count("upstream_down")
                return  # the device sees its connection closed: relay unreachable
            cbuf, ubuf = bytearray(), bytearray()
            while True:
                try:
                    head, body, headers, _ = read_message(client, cbuf, False)
                except HttpEnd:
                    return
                method = head.split(b" ", 1)[0].decode()
                req = head + body
                fault = self.draw_fault() if rng.random() < self.fault_rate else None
                if rng.random() < self.delay_rate:
                    self.count("delay")
                    time.sleep(rng.uniform(0.02, 0.3))
                self.count(fault or "pass")
                if fault == "drop_request":
                    # Part of the request reaches the relay, then both ends close.
                    up.sendall(req[:rng.randrange(1, len(req))])
                    return
                if fault == "truncate_request" and body:
                    # Well framed, but the sync message inside is cut short.
                    cut = rng.randrange(0, len(body))
                    req = with_length(head, cut) + body[:cut]
                if fault in ("duplicate_first", "duplicate_second"):
                    up.sendall(req)
                    first = read_message(up, ubuf, True, method)
                    up.sendall(req)
                    second = read_message(up, ubuf, True, method)
                    rh, rb, rhd, _ = first if fault == "duplicate_first" else second
                else:
                    up.sendall(req)
                    if fault == "drop_before_response":
                        return  # the relay acted on it; the device never hears
                    rh, rb, rhd, _ = read_message(up, ubuf, True, method)
                if rng.random() < self.delay_rate:
                    self.count("delay")
                    time.sleep(rng.uniform(0.02, 0.3))
                resp = rh + rb
                if fault == "drop_mid_response":
                    client.sendall(resp[:rng.randrange(0, len(resp))])
                    return
                if fault == "truncate_response":
                    cut = rng.randrange(0, len(rb)) if rb else 0
                    client.sendall(with_length(rh, cut) + rb[:cut])
                    return
                client.sendall(resp)
                if rhd.get("connection", "").lower() == "close":
                    return
        except (OSError, HttpEnd, ValueError, IndexError):
            return  # a broken relay connection (killed, restarted): drop the device's too
        finally:
            for s in (client, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass


def records(dump_text):
    """The (space, type, id) of every record of a dump."""
    d = json.loads(dump_text)
    return {(s, t, i) for s, types in d.items() for t, recs in types.items() for i in recs}


class TestFaultProxy(test_relay.Base):
    NDEV = 5
    ROUNDS = 14

    def tool_env(self, dev):
        """Each device's clock is pinned (DRIVERCORE_NOW_MS) and moves on
        by a few ms per command; the devices are skewed by up to ±3 s."""
        dev["now"] += 17
        env = dict(os.environ)
        env["DRIVERCORE_NOW_MS"] = str(dev["now"])
        return env

    def tool(self, dev, *args, input=None):
        return subprocess.run([test_relay.TOOL] + [str(a) for a in args], capture_output=True,
                              text=True, input=input, timeout=90, cwd=self.d,
                              env=self.tool_env(dev))

    def check_replica(self, dev, context):
        """The replica opens, its dump is JSON and lost no record."""
        p = self.tool(dev, "dump", dev["db"])
        self.assertEqual(p.returncode, 0, "%s: %s: dump failed: %s" % (dev["name"], context,
                                                                       p.stderr))
        try:
            now = records(p.stdout)
        except (ValueError, AttributeError) as e:
            self.fail("%s: %s: dump is not valid JSON: %s" % (dev["name"], context, e))
        lost = dev["records"] - now
        self.assertFalse(lost, "%s: %s: lost records %s" % (dev["name"], context, sorted(lost)[:5]))
        dev["records"] = now
        return p.stdout

    def spaces_of(self, dev):
        """The spaces the device may write to; the invitations a sync has
        brought it are accepted first, as its user would."""
        p = self.tool(dev, "space", "list", dev["db"])
        self.assertEqual(p.returncode, 0, p.stderr)
        spaces = json.loads(p.stdout)
        for s in spaces:
            if s["state"] == "invited":
                q = self.tool(dev, "space", "accept", dev["db"], s["space"])
                self.assertEqual(q.returncode, 0, q.stderr)
                s["state"] = "accepted"
        return [s["space"] for s in spaces if s["state"] == "accepted"]

    def edit(self, dev, rng):
        """1..3 transactions of 1..3 ops over a shared pool of record ids,
        so that devices write the same records concurrently."""
        if not dev["spaces"] or rng.random() < 0.3:
            dev["spaces"] = self.spaces_of(dev)
        if not dev["spaces"]:
            return
        lines = []
        for _ in range(rng.randint(1, 3)):
            space = rng.choice(dev["spaces"])
            ops = []
            for _ in range(rng.randint(1, 3)):
                rid = "r%d" % rng.randrange(40)
                dev["seq"] += 1
                value = "%s-%d" % (dev["name"], dev["seq"])
                if rng.random() < 0.7:
                    ops.append({"type": "note", "id": rid, "set": {"text": value}})
                else:
                    ops.append({"type": "note", "id": rid, "add": {"tags": [value]}})
                self.written.add((space, "note", rid))
            lines.append(json.dumps({"space": space, "ops": ops}))
        p = self.tool(dev, "apply", dev["db"], input="\n".join(lines) + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)

    def start_sync(self, dev, url):
        return subprocess.Popen([test_relay.TOOL, "sync", dev["db"], "--relay", url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.d, env=self.tool_env(dev))

    def finish_sync(self, dev, p, context):
        """Waits for a sync; checks its exit and the replica.  Returns its
        figures, or None if it failed."""
        out, err = p.communicate(timeout=90)
        if p.returncode == 0:
            fig = json.loads(out.splitlines()[-1])
            for k in ("bytes_sent", "bytes_received", "round_trips", "changes_sent",
                      "changes_received"):
                self.assertIn(k, fig)
            self.sync_ok += 1
        else:
            fig = None
            self.assertEqual(p.returncode, 1, "%s: %s: sync died (exit %d): %s"
                             % (dev["name"], context, p.returncode, err))
            self.assertEqual(out, "", "%s: a failed sync printed figures" % dev["name"])
            self.assertTrue(err.startswith("drivercore: sync: ") and len(err.strip()) > 20,
                            "%s: %s: unclear error: %r" % (dev["name"], context, err))
            self.sync_failed += 1
            self.errors.add(err.split(":")[2].strip()[:40] if err.count(":") >= 2 else err)
            self.last_error = err.strip()
        self.check_replica(dev, context)
        return fig

    def test_faulty_network_then_heal_converges(self):
        t_start = time.time()
        seed = int(os.environ.get("DC_PROXY_SEED") or random.SystemRandom().randrange(1 << 31))
        print("\ntest_proxy: seed %d (DC_PROXY_SEED=%d to replay)" % (seed, seed), flush=True)
        rng = random.Random(seed)
        rl = self.relay(["--quiet"])
        proxy = FaultProxy(seed)
        self.addCleanup(proxy.stop)
        proxy.upstream = rl.port
        self.written, self.sync_ok, self.sync_failed, self.errors = set(), 0, 0, set()
        t0 = int(time.time() * 1000)
        devs = []
        for i in range(self.NDEV):
            name = "dev%d" % i
            dev = {"name": name, "db": self.path(name + ".db"), "records": set(), "seq": 0,
                   "now": t0 + rng.randint(-3000, 3000), "spaces": []}
            p = self.tool(dev, "init", dev["db"], "--name", name)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(self.path(name + ".card"), "w") as f:
                f.write(self.tool(dev, "whoami", dev["db"]).stdout)
            devs.append(dev)
        # Two spaces: "all" (dev0 admin, everyone a member) and "some"
        # (dev1 admin, dev2 and dev3 members), so a device learns of spaces
        # through the faulty link and some devices must get nothing of one.
        for admin, members, sname in ((0, range(1, self.NDEV), "all"), (1, (2, 3), "some")):
            a = devs[admin]
            p = self.tool(a, "space", "create", a["db"], sname)
            self.assertEqual(p.returncode, 0, p.stderr)
            sp = json.loads(p.stdout)["space"]
            for m in members:
                p = self.tool(a, "space", "add", a["db"], sp,
                              "@" + self.path(devs[m]["name"] + ".card"), "--role", "member")
                self.assertEqual(p.returncode, 0, p.stderr)
        some_space = sp

        kill_round = self.ROUNDS // 2
        for rnd in range(self.ROUNDS):
            for dev in devs:
                if rng.random() < 0.8:
                    self.edit(dev, rng)
            syncing = [d for d in devs if rng.random() < 0.85]
            procs = [(d, self.start_sync(d, proxy.url)) for d in syncing]
            if rnd == kill_round:
                # SIGKILL the relay in the middle of a burst of syncs, then
                # restart it on the same store behind the same proxy.
                time.sleep(rng.uniform(0.01, 0.12))
                rl.kill9()
                rl.logf.close()
                killed_at = time.time()
                for d, p in procs:
                    self.finish_sync(d, p, "round %d (relay killed)" % rnd)
                rl.start()
                proxy.upstream = rl.port
                print("test_proxy: relay SIGKILLed in round %d, restarted on port %d after "
                      "%.2fs" % (rnd, rl.port, time.time() - killed_at), flush=True)
            else:
                for d, p in procs:
                    self.finish_sync(d, p, "round %d" % rnd)
        faulty_done = time.time()
        open_sessions = rl.metrics().get("drivercore_relay_sync_sessions", 0)

        # Heal: straight to the relay, one device after another, until a
        # whole pass moves nothing.
        for npass in range(12):
            moved = 0
            for dev in devs:
                # An invitation that arrived late is accepted now, as its
                # user would; a device that never edited again since would
                # otherwise stay invited and show none of that space.
                self.spaces_of(dev)
                fig = self.finish_sync(dev, self.start_sync(dev, rl.url), "heal pass %d" % npass)
                self.assertIsNotNone(fig, "%s: a sync straight to the relay failed: %s"
                                     % (dev["name"], self.last_error))
                moved += fig["changes_sent"] + fig["changes_received"]
            if moved == 0:
                break
        else:
            self.fail("the devices still exchange changes after 12 direct passes")

        dumps = [self.check_replica(d, "healed") for d in devs]
        # dev0 and dev4 are not members of "some": they must hold none of
        # it, and every dump must match once that space is left out.
        for d, text in zip(devs, dumps):
            j = json.loads(text)
            if d["name"] in ("dev0", "dev4"):
                self.assertNotIn(some_space, j, "%s got a space it is not in" % d["name"])
        stripped = []
        for text in dumps:
            j = json.loads(text)
            j.pop(some_space, None)
            stripped.append(json.dumps(j, sort_keys=True))
        self.assertEqual(len(set(stripped)), 1, "the dumps differ after healing")
        member_dumps = {dumps[i] for i in (1, 2, 3)}
        self.assertEqual(len(member_dumps), 1, "dev1..dev3 dumps are not byte-identical")
        nonmember_dumps = {dumps[i] for i in (0, 4)}
        self.assertEqual(len(nonmember_dumps), 1, "dev0 and dev4 dumps are not byte-identical")
        # Every record any device wrote arrived everywhere it may go.
        got = records(dumps[1]) | records(dumps[0])
        self.assertFalse(self.written - got, "records written but lost: %s"
                         % sorted(self.written - got)[:5])
        for dev in devs:
            st = json.loads(self.tool(dev, "status", dev["db"]).stdout)
            for s in st["spaces"]:
                self.assertEqual(s["unacked"], 0, "%s: %d changes of %s not acknowledged after "
                                 "healing" % (dev["name"], s["unacked"], s["space"]))

        print("test_proxy: %d syncs through the proxy ok, %d failed (as expected); faults %s; "
              "%d proxied connections; errors seen: %s" % (
                  self.sync_ok, self.sync_failed, json.dumps(proxy.counts), proxy.nconn,
                  sorted(self.errors)), flush=True)
        print("test_proxy: %d records; faulty phase %.1fs (%d relay sync sessions left open), "
              "healed after %d pass(es); total %.1fs"
              % (len(self.written), faulty_done - t_start, open_sessions, npass + 1,
                 time.time() - t_start), flush=True)
        # The test must be able to fail for the right reason: the proxy
        # really did inject every kind of fault, and some syncs got through
        # it while others did not.
        for k in FAULTS:
            self.assertGreater(proxy.counts[k], 0, "the proxy never injected %s" % k)
        self.assertGreater(self.sync_ok, 0)
        self.assertGreater(self.sync_failed, 0)


if __name__ == "__main__":
    test_relay.TOOL, test_relay.RELAY = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
