#!/usr/bin/env python3
"""tests/relay: several drivercore-relay processes over one real PostgreSQL
(docs/relay.md, "Several relays").

Usage: test_pg.py DRIVERCORE DRIVERCORE_RELAY

The test makes a throw-away PostgreSQL cluster with Debian's initdb under
its own temporary directory, run as an unprivileged user (`nobody` when the
test runs as root), listening only on a unix socket there, and removes it
at the end.  No mock.  Skipped, with the reason, only when PostgreSQL's
server programs are not installed or the relay was built without libpq.
"""
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import test_relay
from test_relay import Base, Relay

TOOL = RELAY = None
PG_BIN = None


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class Cluster:
    """A PostgreSQL cluster of the test's own, on a unix socket."""

    def __init__(self, d):
        self.d = d
        self.data = os.path.join(d, "pgdata")
        self.sock = d
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]  # names the socket file only
        s.close()
        self.user = None
        if os.geteuid() == 0:
            self.user = "nobody"
            os.chmod(d, 0o755)
            pw = pwd.getpwnam(self.user)
            os.makedirs(self.data)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        self.run("initdb", "-D", self.data, "-A", "trust", "-U", "dc", "--no-sync",
                 "-E", "UTF8")
        self.url = "postgresql:///postgres?host=%s&port=%d&user=dc" % (self.sock, self.port)
        self.start()

    def run(self, prog, *args, check=True):
        cmd = [os.path.join(PG_BIN, prog)] + list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("%s: %s %s" % (prog, p.stdout, p.stderr))
        return p

    def ctl(self, *args):
        return self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.data, "log"), "-w",
                        "-o", "-k %s -p %d -c listen_addresses=''" % (self.sock, self.port),
                        *args)

    def start(self):
        self.ctl("start")

    def stop(self, check=True):
        return self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=check)


class PGRelay(Relay):
    count = 0

    def __init__(self, d, url, extra=()):
        # Its cache in the test's directory: a SIGKILLed relay leaves
        # nothing behind elsewhere.
        PGRelay.count += 1
        cache = os.path.join(d, "cache-%d.db" % PGRelay.count)
        self.d, self.store, self.extra = d, url, ["--cache", cache] + list(extra)
        self.start()

    def ready(self):
        try:
            st, _, _ = self.req("GET", "/readyz")
            return st == 200
        except OSError:
            return False

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ready():
                return
            time.sleep(0.05)
        raise AssertionError("relay not ready")


class TestSeveralRelays(Base):
    def setUp(self):
        super().setUp()
        self.pg = Cluster(self.d)

    def tearDown(self):
        for r in self.relays:
            r.stop()
        self.relays = []
        self.pg.stop(check=False)
        super().tearDown()

    def prelay(self, extra=()):
        r = PGRelay(self.d, self.pg.url, extra)
        self.relays.append(r)
        r.wait_ready()
        return r

    def sync_until(self, db, relay, text, timeout=10):
        deadline = time.time() + timeout
        while True:
            self.sync(db, relay)
            if text in self.dump(db):
                return
            self.assertLess(time.time(), deadline, "%r never arrived" % text)
            time.sleep(0.1)

    def join(self, db, relay, space, timeout=10):
        """db syncs through relay until its invitation has arrived, and accepts it."""
        deadline = time.time() + timeout
        while True:
            self.sync(db, relay)
            if self.run_tool("space", "accept", db, space, check=False).returncode == 0:
                return
            self.assertLess(time.time(), deadline, "the invitation never arrived")
            time.sleep(0.1)

    def team(self):
        a, b, c = self.device("a"), self.device("b"), self.device("c")
        s = self.space(a)
        self.add(a, s, "b")
        self.add(a, s, "c")
        return a, b, c, s

    def test_devices_over_three_relays_converge(self):
        r1, r2, r3 = self.prelay(), self.prelay(), self.prelay()
        a, b, c, s = self.team()
        self.write(a, s, "from-a", "written on a")
        self.sync(a, r1)
        # Relays two and three import what relay one published when its
        # NOTIFY reaches their tails: within milliseconds, but after a's
        # sync returns.  A device syncing through them at once may come
        # before it, so each syncs until its invitation is there (as a
        # user would), then accepts.
        for db, rl in ((b, r2), (c, r3)):
            self.join(db, rl, s)
        self.sync_until(b, r2, "written on a")
        self.sync_until(c, r3, "written on a")
        self.write(b, s, "from-b", "written on b")
        self.write(c, s, "from-c", "written on c")
        self.sync(b, r2)
        self.sync(c, r3)
        self.sync_until(a, r1, "written on c")
        self.sync_until(a, r1, "written on b")
        self.sync_until(b, r2, "written on c")
        self.sync_until(c, r3, "written on b")
        self.assertEqual(self.dump(a), self.dump(b))
        self.assertEqual(self.dump(b), self.dump(c))
        # The relays hold no plaintext, and neither does the database.
        p = self.pg.run("psql", "-h", self.pg.sock, "-p", str(self.pg.port), "-U", "dc",
                        "-d", "postgres", "-At", "-c", "SELECT count(*) FROM dc_log")
        self.assertGreater(int(p.stdout.strip()), 0)
        dump = self.pg.run("pg_dump", "-h", self.pg.sock, "-p", str(self.pg.port), "-U", "dc",
                           "postgres").stdout
        self.assertNotIn("written on", dump)

    def sql(self, query):
        p = self.pg.run("psql", "-h", self.pg.sock, "-p", str(self.pg.port), "-U", "dc",
                        "-d", "postgres", "-At", "-F", " ", "-c", query)
        return [int(x) for x in p.stdout.split()]

    def log_count(self):
        return self.sql("SELECT count(*) FROM dc_log")[0]

    def log_size(self):
        """The shared log's rows and bytes of bundles."""
        return tuple(self.sql("SELECT count(*), coalesce(sum(length(body)), 0) FROM dc_log"))

    def cache_log(self, relay, space, want_cov, timeout=15):
        """The relay's cache log for space once it keeps at least want_cov
        covered items (it tails the shared log by itself)."""
        deadline = time.time() + timeout
        while True:
            env, cov = self.store_log(relay.extra[1], space)
            if cov >= want_cov:
                return env, cov
            self.assertLess(time.time(), deadline, "the cache never compacted: %d" % cov)
            time.sleep(0.1)

    def test_caches_compact_by_the_clear_point(self):
        # docs/relay.md, "Compaction": each relay's cache follows the point
        # published through another; the shared log drops the covered
        # envelopes too; a relay started afterwards from the log ends
        # compacted too; devices converge and nothing is sent twice.
        r1, r2, r3 = self.prelay(), self.prelay(), self.prelay()
        a, b, c, s = self.team()
        # The first bundle holds the membership and a change: once the
        # change is covered, the row is rewritten to the membership alone.
        self.write(a, s, "early", "before the first sync")
        self.sync(a, r1)
        first = self.sql("SELECT min(seq) FROM dc_log")[0]
        first_size = self.sql("SELECT length(body) FROM dc_log WHERE seq = %d" % first)[0]
        self.join(b, r2, s)
        self.join(c, r3, s)
        for i in range(12):
            db, rl = ((a, r1), (b, r2), (c, r3))[i % 3]
            self.write(db, s, "n%d" % (i % 4), "v%d" % i)
            self.sync(db, rl)
        self.sync_until(a, r1, "v11")
        self.sync_until(b, r2, "v11")
        self.sync_until(c, r3, "v11")
        self.run_tool("space", "ack", b, s)
        self.run_tool("space", "ack", c, s)
        self.sync(b, r2)
        self.sync(c, r3)
        rows0, bytes0 = self.log_size()
        seq0 = self.sql("SELECT max(seq) FROM dc_log")[0]
        self.assertEqual(self.sql("SELECT count(*) FROM dc_covered")[0], 0)
        deadline = time.time() + 10
        while True:
            out = json.loads(self.run_tool("space", "compact", a, s).stdout)
            if out["published"]:
                break
            self.assertLess(time.time(), deadline, "the acks never reached a: %r" % out)
            self.sync(a, r1)
            time.sleep(0.1)
        self.assertGreaterEqual(out["dropped"], 12, out)
        self.sync(a, r1)
        for rl in (r1, r2, r3):
            env, cov = self.cache_log(rl, s, 12)
            self.assertLessEqual(env, 12, (env, cov))
        for db, rl in ((b, r2), (c, r3)):
            fig = self.sync(db, rl)
            self.assertEqual(fig["snapshot_needed"], 0, fig)
        self.assertEqual(self.dump(a), self.dump(b))
        self.assertEqual(self.dump(a), self.dump(c))
        # A compacted device through another relay's cache: nothing moves.
        for db, rl in ((a, r2), (b, r3), (c, r1)):
            self.assertEqual(self.sync(db, rl)["changes_received"], 0)
        # The shared log is trimmed: the bundles of the 12 writes held
        # only covered changes (each a row of its own), so they are gone
        # (the rows added since, the point's bundle among them, stay), and
        # the items of what left are listed for relays to come.
        deadline = time.time() + 15
        while True:
            old = self.sql("SELECT count(*) FROM dc_log WHERE seq <= %d" % seq0)[0]
            if old <= rows0 - 12:
                break
            self.assertLess(time.time(), deadline, "the log never shrank: %r" % ((rows0, old),))
            time.sleep(0.1)
        rows, size = self.log_size()
        self.assertLess(rows, rows0)
        self.assertLess(size, bytes0)
        # The metrics: every cache counts what it dropped; the relays that
        # trimmed, what left the shared log, all of it between them.
        deadline = time.time() + 5
        while True:
            trimmed = bytes_out = 0
            for rl in (r1, r2, r3):
                m = rl.metrics()
                self.assertGreaterEqual(m['drivercore_relay_compacted_total{store="sqlite"}'], 12)
                trimmed += m['drivercore_relay_shared_compacted_total{store="postgresql"}']
                bytes_out += m['drivercore_relay_shared_compacted_bytes_total{store="postgresql"}']
            listed = self.sql("SELECT count(*) FROM dc_covered")[0]
            if trimmed == listed or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(trimmed, listed)
        self.assertGreaterEqual(bytes_out, bytes0 - size)
        print("# the shared log before compaction: %d rows, %d bytes; after the trim: %d rows, "
              "%d bytes (the point's rows included); %d envelopes listed covered"
              % (rows0, bytes0, rows, size, listed))
        self.assertGreaterEqual(self.sql("SELECT count(*) FROM dc_covered")[0], 13)
        kept = self.sql("SELECT length(body) FROM dc_log WHERE seq = %d" % first)
        self.assertEqual(len(kept), 1, "the membership's row went")
        self.assertLess(kept[0], first_size)
        # Every membership envelope survives: b and c were invited in rows
        # the trim kept, so a relay starting now still knows them.
        r4 = self.prelay()
        self.cache_log(r4, s, 13)
        for db in (a, b, c):
            fig = self.sync(db, r4)
            self.assertEqual(fig["changes_received"], 0, fig)
            self.assertEqual(fig["changes_sent"], 0, fig)
            self.assertEqual(fig["snapshot_needed"], 0, fig)
        # And it carries what is written after: through r4 to another relay.
        self.write(b, s, "after", "written after the trim")
        self.sync(b, r4)
        self.sync_until(a, r1, "written after the trim")
        self.sync_until(c, r4, "written after the trim")
        self.assertEqual(self.dump(a), self.dump(b))
        self.assertEqual(self.dump(a), self.dump(c))

    def test_solo_quota_over_the_shared_log(self):
        r1, r2 = self.prelay(["--solo-quota", "12000"]), self.prelay(["--solo-quota", "12000"])
        a, b = self.device("a"), self.device("b")
        s = self.space(a)
        self.write(a, s, "first", "kept-before-the-quota")
        self.sync(a, r1)
        published = self.log_count()
        for i in range(20):
            self.write(a, s, "big%d" % i, os.urandom(1000).hex())
        # Past the quota, through either relay: refused, counted, and
        # nothing of it reaches the shared log.
        for rl in (r1, r2):
            p = self.sync(a, rl, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("storage quota", p.stderr)
            self.assertEqual(
                rl.metrics().get('drivercore_relay_refusals_total{reason="quota"}', 0), 1)
        self.assertEqual(self.log_count(), published)
        # Another member lifts it: the push goes in, and reaches b on r2.
        self.add(a, s, "b")
        self.sync(a, r1)
        self.join(b, r2, s)
        self.sync_until(b, r2, "big19")
        self.assertIn("kept-before-the-quota", self.dump(b))

    def test_push_wakes_a_long_poll_on_another_relay(self):
        r1, r2 = self.prelay(), self.prelay()
        a, b, _, s = self.team()
        self.sync(a, r1)
        self.join(b, r2, s)
        self.sync(b, r2)
        waiting = self.long_poll(b, r2)
        self.write(a, s, "pushed", "through relay one")
        self.sync(a, r1)
        t0 = time.time()
        out, err = waiting.communicate(timeout=30)
        woke = time.time() - t0
        self.assertEqual(waiting.returncode, 0, err)
        reports = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        self.assertEqual(len(reports), 2, out)  # woken, then synced again
        self.assertIn("through relay one", self.dump(b))
        # Woken and synced again within a second and a half (the wake-up
        # itself is a notification and one read of the shared log).
        self.assertLess(woke, 1.5)
        print("# a push through relay one reached the long-poll on relay two and was synced "
              "in %.0f ms" % (woke * 1000), flush=True)

    def psql(self):
        """An open psql session (its stdin a pipe) on the test's cluster."""
        cmd = [os.path.join(PG_BIN, "psql"), "-h", self.pg.sock, "-p", str(self.pg.port), "-U",
               "dc", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]
        if self.pg.user:
            cmd = ["runuser", "-u", self.pg.user, "--"] + cmd
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True)

    def wait_sql(self, query, want, what, timeout=10):
        deadline = time.time() + timeout
        while self.sql(query)[0] < want:
            self.assertLess(time.time(), deadline, what)
            time.sleep(0.05)

    def test_notification_during_a_query_is_not_lost(self):
        # A relay's tail hears of new rows by NOTIFY on its connection.  One
        # that arrives while the tail is inside a query is taken off the
        # socket by libpq and queued; the relay must read the log again at
        # once, not wait out its one-second fallback.  The test holds the
        # tails inside a query (a lock on dc_covered, which they read after
        # the log), pushes through relay one meanwhile, then lets them go.
        r1, r2 = self.prelay(), self.prelay()
        a, b, _, s = self.team()
        self.sync(a, r1)
        self.join(b, r2, s)
        self.sync(b, r2)
        waiting = self.long_poll(b, r2)
        locker = self.psql()
        try:
            locker.stdin.write("BEGIN;\nLOCK TABLE dc_covered IN ACCESS EXCLUSIVE MODE;\n")
            locker.stdin.flush()
            # Both tails (they read every second) are stuck behind the lock.
            self.wait_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                          "AND query LIKE '%dc_covered%'", 2, "the tails never reached the lock")
            self.write(a, s, "pushed", "while relay two was in a query")
            self.sync(a, r1)  # published: the NOTIFY goes out at its commit
            time.sleep(0.3)  # and reaches relay two's connection, which queues it
            t0 = time.time()
            locker.stdin.write("ROLLBACK;\n")
            locker.stdin.close()
            locker.wait(10)
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
        out, err = waiting.communicate(timeout=30)
        woke = time.time() - t0
        self.assertEqual(waiting.returncode, 0, err)
        self.assertIn("while relay two was in a query", self.dump(b))
        # Not the fallback's second: before the fix the tail polled for a full
        # second after the lock went (1013 ms to the wake); now 20-120 ms.
        self.assertLess(woke, 0.9)
        print("# a notification queued during a query: the long-poll on relay two was woken "
              "and synced %.0f ms after the query ended" % (woke * 1000), flush=True)

    def test_rows_committed_out_of_seq_order_reach_every_relay(self):
        # dc_log's seq is drawn at insert, before the commit.  A relay
        # whose publish is slow (here: a trigger sleeps in relay one's
        # insert) holds seq n uncommitted while another relay commits
        # n + 1; a third relay's tail then reads n + 1 and must still get n
        # once it commits.  A device on that third relay sees both writes.
        r1, r2, r3 = self.prelay(), self.prelay(), self.prelay()
        a, b, c, s = self.team()
        self.sync(a, r1)
        origin = self.pg.run("psql", "-h", self.pg.sock, "-p", str(self.pg.port), "-U", "dc",
                             "-d", "postgres", "-At", "-c",
                             "SELECT origin FROM dc_log ORDER BY seq LIMIT 1").stdout.strip()
        self.assertRegex(origin, "^[0-9a-f]{32}$")
        self.join(b, r3, s)
        self.join(c, r2, s)
        self.pg.run("psql", "-h", self.pg.sock, "-p", str(self.pg.port), "-U", "dc", "-d",
                    "postgres", "-v", "ON_ERROR_STOP=1", "-c",
                    "CREATE FUNCTION dc_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.origin = '%s' THEN PERFORM pg_sleep(2); END IF; "
                    "RETURN NEW; END $$; CREATE TRIGGER dc_test_slow BEFORE INSERT ON dc_log "
                    "FOR EACH ROW EXECUTE FUNCTION dc_test_slow()" % origin)
        self.write(a, s, "slow", "published slowly through relay one")
        slow = subprocess.Popen([TOOL, "sync", a, "--relay", r1.url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.wait_sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'", 1,
                      "relay one's insert never started")
        self.write(c, s, "fast", "published at once through relay two")
        self.sync(c, r2)
        out, err = slow.communicate(timeout=30)
        self.assertEqual(slow.returncode, 0, err)
        self.sync_until(b, r3, "published at once through relay two")
        self.sync_until(b, r3, "published slowly through relay one")
        self.sync_until(a, r1, "published at once through relay two")
        self.assertEqual(self.dump(a), self.dump(b))

    def test_killed_relay_devices_carry_on_through_another(self):
        r1, r2 = self.prelay(), self.prelay()
        a, b, _, s = self.team()
        self.write(a, s, "first", "acknowledged")
        self.sync(a, r1)  # acknowledged: in PostgreSQL
        lines = "".join(json.dumps({"space": s, "ops": [{"type": "note", "id": "k%d" % i,
                                                           "set": {"text": "v%d" % i}}]}) + "\n"
                        for i in range(300))
        self.run_tool("apply", a, input=lines)
        bg = subprocess.Popen([TOOL, "sync", a, "--relay", r1.url], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        time.sleep(0.03)
        r1.kill9()
        bg.communicate(timeout=30)  # finished or failed: both are fine
        # a carries on through relay two: nothing acknowledged was lost.
        self.sync(a, r2)
        self.join(b, r2, s)
        self.sync_until(b, r2, "acknowledged")
        self.sync(b, r2)
        self.assertIn("v299", self.dump(b))
        self.assertEqual(self.dump(a), self.dump(b))

    def test_postgres_restarted_mid_load(self):
        r1, r2 = self.prelay(), self.prelay()
        a, b, _, s = self.team()
        self.sync(a, r1)
        self.join(b, r2, s)
        acknowledged = []
        restarted = False
        for i in range(30):
            self.write(a, s, "w%d" % i, "value %d" % i)
            p = self.sync(a, r1, check=False, extra=["--attempts", "1", "--timeout", "5"])
            if p.returncode == 0:
                acknowledged.append(i)
            if i == 10:
                self.pg.stop()
                # Not ready while the database is away; syncs are refused.
                deadline = time.time() + 10
                while r1.ready():
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.1)
            if i == 15:
                self.pg.start()
                restarted = True
        self.assertTrue(restarted)
        r1.wait_ready(20)
        r2.wait_ready(20)
        self.assertLess(len(acknowledged), 30)  # some were refused while it was away
        self.sync(a, r1)  # what was refused is sent again
        self.sync_until(b, r2, "value 29")
        dump = self.dump(b)
        for i in range(30):
            self.assertIn("value %d" % i, dump)
        self.assertEqual(self.dump(a), dump)


if __name__ == "__main__":
    TOOL, RELAY = sys.argv[1], sys.argv[2]
    test_relay.TOOL, test_relay.RELAY = TOOL, RELAY
    PG_BIN = pg_bin()
    if not PG_BIN:
        print("SKIP: PostgreSQL's server programs (Debian's postgresql package) are not "
              "installed")
        sys.exit(77)
    p = subprocess.run([RELAY, "--store", "postgresql:///x", "--listen", "127.0.0.1:0",
                        "--help"], capture_output=True, text=True)
    if "postgresql://" not in p.stderr:
        print("SKIP: this drivercore-relay was built without libpq")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
