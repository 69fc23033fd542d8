#!/usr/bin/env python3
"""tests/relay: attachments through the relay and through `drivercore serve`
(issue 10, "Attachments"; docs/attachments.md).

Usage: test_attach.py DRIVERCORE DRIVERCORE_RELAY

- A driver's phone puts a 20 MB video in the branch space and references it
  from a grievance; it syncs with the relay. A second phone syncs through a
  link that is cut after 8 MB (a proxy the test runs, which then refuses
  every connection): the sync fails, the phone keeps every chunk it had
  finished, and the next sync fetches exactly the chunks still missing —
  nothing finished is sent twice. The file read back is the file put.
- A chunk damaged on the relay is refused by the phone (never stored, never
  handed over), asked for again, reported in the sync's figures, and
  fetched once the relay holds a sound copy. A chunk damaged on the phone
  is refused by `attach get`, dropped, and fetched again by the next sync.
- A policy of "under 1 MB on a metered link" leaves the video on the relay
  for a metered sync and fetches it on an unmetered one.
- A tablet serving the yard takes a phone's photo and hands it to another
  phone, with no relay.
- The relay's store never holds the file's bytes in clear.
"""
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import dc_fixture  # noqa: E402

TOOL = RELAY = None
MB = 1000 * 1000


class CutProxy:
    """A TCP proxy that forwards to `port` until `limit` bytes have come back
    from it, then closes every connection and refuses new ones: a link that
    dies mid-download. `passed` counts the bytes that came back."""

    def __init__(self, port, limit):
        self.port, self.limit, self.passed = port, limit, 0
        self.cut = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self.srv.getsockname()[1]
        self.t = threading.Thread(target=self.accept, daemon=True)
        self.t.start()

    def accept(self):
        while not self.cut.is_set():
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.port))
            with self.lock:
                self.socks += [c, u]
            threading.Thread(target=self.pump, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, True), daemon=True).start()

    def pump(self, src, dst, counted):
        try:
            while not self.cut.is_set():
                b = src.recv(65536)
                if not b:
                    break
                if counted:
                    with self.lock:
                        self.passed += len(b)
                        over = self.passed >= self.limit
                    if over:
                        self.close()
                        return
                dst.sendall(b)
        except OSError:
            pass

    def close(self):
        self.cut.set()
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks + [self.srv]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Attach(dc_fixture.ScratchTest):
    prefix = "dc-attach-"

    def js(self, *args):
        return json.loads(self.tool(*args).stdout.splitlines()[-1])

    def sync(self, name, url, *extra, check=True):
        p = self.tool("sync", self.db(name), "--relay", url, *extra, check=check)
        return json.loads(p.stdout.splitlines()[-1]) if p.returncode == 0 else p

    def ls(self, name, space):
        items = json.loads(self.tool("attach", "ls", self.db(name), space).stdout)
        return {a["id"]: a for a in items}

    def write_file(self, name, size, seed):
        path = os.path.join(self.d, name)
        block = hashlib.sha256(b"seed %d" % seed).digest() * 2048  # 64 KiB, then varied
        with open(path, "wb") as f:
            left, i = size, 0
            while left:
                chunk = hashlib.sha256(b"%d %d" % (seed, i)).digest() + block
                chunk = chunk[:min(left, len(chunk))]
                f.write(chunk)
                left -= len(chunk)
                i += 1
        return path

    def sha(self, path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def members(self, owner, *others, role="member"):
        """A space on `owner` with the others as members (accepted after a first sync)."""
        self.tool("init", self.db(owner), "--name", owner)
        space = self.js("space", "create", self.db(owner), "Branch")["space"]
        for o in others:
            card = self.tool("init", self.db(o), "--name", o).stdout
            self.tool("space", "add", self.db(owner), space, card, "--role", role)
        return space

    def reference(self, name, space, rid, att):
        op = {"space": space, "ops": [{"type": "grievance", "id": rid,
                                       "set": {"waybill_photo": att}}]}
        self.tool("apply", self.db(name), inp=json.dumps(op) + "\n")

    def flip_in(self, dbfile, oid_hex, kind=1, delta=0x01, offset=1000):
        """Flips one byte of a stored object (or restores it, flipping again)."""
        con = sqlite3.connect(dbfile, timeout=10)
        row = con.execute("SELECT ono, body FROM att_objects WHERE oid = ? AND kind = ?",
                          (bytes.fromhex(oid_hex), kind)).fetchone()
        self.assertIsNotNone(row, "object %s not in %s" % (oid_hex, dbfile))
        body = bytearray(row[1])
        body[offset] ^= delta
        con.execute("UPDATE att_objects SET body = ? WHERE ono = ?", (bytes(body), row[0]))
        con.commit()
        con.close()

    def chunk_ids(self, dbfile, att):
        con = sqlite3.connect(dbfile, timeout=10)
        rows = con.execute("SELECT hex(cid) FROM att_parts WHERE aid = ? ORDER BY idx",
                           (bytes.fromhex(att[5:]),)).fetchall()
        con.close()
        return [r[0].lower() for r in rows]

    def test_video_over_a_cut_link_and_damaged_chunks(self):
        relay, port = self.start_relay()
        url = "http://127.0.0.1:%d" % port
        space = self.members("phone1", "phone2", "phone3")
        video = self.write_file("video.mp4", 20 * MB, 1)
        put = self.js("attach", "put", self.db("phone1"), space, video, "--type", "video/mp4")
        att, chunks = put["id"], put["chunks"]
        self.assertEqual(put["size"], 20 * MB)
        self.assertEqual(chunks, 77)  # 256 KiB chunks
        self.reference("phone1", space, "g-17", att)
        t0 = time.monotonic()
        up = self.sync("phone1", url)
        self.assertEqual(up["attach_objects_sent"], chunks + 1)  # and the manifest
        self.assertGreater(up["attach_bytes_sent"], 20 * MB)
        # Synced again: nothing is offered twice.
        again = self.sync("phone1", url)
        self.assertEqual(again["attach_objects_sent"], 0)
        for ph in ("phone2", "phone3"):
            self.sync(ph, url)
            self.tool("space", "accept", self.db(ph), space)

        # phone2: the link dies after 8 MB.
        proxy = CutProxy(port, 8 * MB)
        cut = self.sync("phone2", proxy.url, "--attempts", "1", check=False)
        proxy.close()
        self.assertNotEqual(cut.returncode, 0, "the sync did not notice the cut")
        part = self.ls("phone2", space)[att]
        have = part["chunks_present"]
        self.assertTrue(part["referenced"])
        self.assertEqual(part["chunks"], chunks)  # the manifest arrived
        self.assertGreater(have, 10)
        self.assertLess(have, chunks)
        out = os.path.join(self.d, "out.mp4")
        p = self.tool("attach", "get", self.db("phone2"), space, att, out, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%d of %d chunks" % (have, chunks), p.stderr)
        self.assertFalse(os.path.exists(out))
        # The link is back: only the chunks still missing travel.
        rest = self.sync("phone2", url)
        self.assertEqual(rest["attach_objects_received"], chunks - have)
        self.assertLessEqual(rest["attach_bytes_received"], (chunks - have) * (262144 + 60))
        self.assertEqual(rest["attach_refused"], 0)
        self.assertTrue(self.ls("phone2", space)[att]["complete"])
        self.tool("attach", "get", self.db("phone2"), space, att, out)
        self.assertEqual(self.sha(out), self.sha(video))
        print("20 MB: put, pushed, cut after %d of %d chunks, completed; %.1f s" %
              (have, chunks, time.monotonic() - t0), flush=True)

        # A chunk damaged on the relay: refused, asked again, reported.
        cids = self.chunk_ids(self.db("phone1"), att)
        self.flip_in(self.db("relay"), cids[40])
        bad = self.sync("phone3", url)
        self.assertEqual(bad["attach_refused"], 1)
        self.assertEqual(bad["attach_objects_received"], chunks + 1 + 1)  # one asked twice
        got = self.ls("phone3", space)[att]
        self.assertEqual(got["chunks_present"], chunks - 1)
        p = self.tool("attach", "get", self.db("phone3"), space, att, out + ".3", check=False)
        self.assertEqual(p.returncode, 1)
        # The relay's copy repaired: fetched at the next sync, and only it.
        self.flip_in(self.db("relay"), cids[40])
        fixed = self.sync("phone3", url)
        self.assertEqual(fixed["attach_objects_received"], 1)
        self.assertEqual(fixed["attach_refused"], 0)
        self.tool("attach", "get", self.db("phone3"), space, att, out + ".3")
        self.assertEqual(self.sha(out + ".3"), self.sha(video))

        # A chunk damaged on the phone: refused by get, dropped, fetched again.
        self.flip_in(self.db("phone2"), cids[5], offset=70)
        p = self.tool("attach", "get", self.db("phone2"), space, att, out + ".2", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("chunk 6 of 77 is damaged", p.stderr)
        self.assertFalse(os.path.exists(out + ".2"))
        again = self.sync("phone2", url)
        self.assertEqual(again["attach_objects_received"], 1)
        self.tool("attach", "get", self.db("phone2"), space, att, out + ".2")
        self.assertEqual(self.sha(out + ".2"), self.sha(video))

        # The relay holds the file only as ciphertext.
        relay.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(timeout=20), 0)
        with open(video, "rb") as f:
            f.seek(5 * MB)
            sample = f.read(64)
        for suffix in ("", "-wal"):
            path = self.db("relay") + suffix
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self.assertNotIn(sample, f.read(), "plaintext of the video in " + path)

    def test_solo_quota_counts_objects(self):
        """Objects count in the storage quota of a device that shares no space."""
        relay, port = self.start_relay(extra=["--solo-quota", "200000"])
        url = "http://127.0.0.1:%d" % port
        space = self.members("phone1")
        photo = self.write_file("p.jpg", 300 * 1000, 3)
        ph = self.js("attach", "put", self.db("phone1"), space, photo, "--type", "image/jpeg")
        self.reference("phone1", space, "g-1", ph["id"])
        # The records go up; the photo (over the quota) does not, and is
        # left to send again (a 403 on a put stops the space's push).
        fig = self.sync("phone1", url)
        self.assertEqual(fig["attach_objects_sent"], 0)
        # ... and the figures say the photo's objects wait (its manifest and
        # chunks: at least two).
        self.assertGreaterEqual(fig["attach_held"], 2, fig)
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()
        self.assertRegex(metrics, r'drivercore_relay_refusals_total\{reason="quota"\} [1-9]')
        # Another member lifts it: the photo goes up and reaches phone2.
        card = self.tool("init", self.db("phone2"), "--name", "phone2").stdout
        self.tool("space", "add", self.db("phone1"), space, card, "--role", "member")
        fig = self.sync("phone1", url)
        self.assertGreaterEqual(fig["attach_objects_sent"], 2, fig)
        self.assertEqual(fig["attach_held"], 0, fig)
        self.sync("phone2", url)
        self.tool("space", "accept", self.db("phone2"), space)
        self.sync("phone2", url)
        self.tool("attach", "get", self.db("phone2"), space, ph["id"], "p.out")
        self.assertEqual(self.sha(os.path.join(self.d, "p.out")), self.sha(photo))
        relay.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(timeout=20), 0)

    def test_metered_policy(self):
        relay, port = self.start_relay()
        url = "http://127.0.0.1:%d" % port
        space = self.members("phone1", "phone2")
        video = self.write_file("v.mp4", 3 * MB, 2)
        photo = self.write_file("p.jpg", 300 * 1000, 3)
        v = self.js("attach", "put", self.db("phone1"), space, video)["id"]
        ph = self.js("attach", "put", self.db("phone1"), space, photo, "--type", "image/jpeg")
        ph = ph["id"]
        self.reference("phone1", space, "g-1", v)
        self.reference("phone1", space, "g-2", ph)
        self.sync("phone1", url)
        self.sync("phone2", url)
        self.tool("space", "accept", self.db("phone2"), space)
        pol = self.js("attach", "policy", self.db("phone2"), space, "under", "--max-bytes",
                      "1000000")
        self.assertEqual(pol["policy"], "under")
        metered = self.sync("phone2", url, "--metered")
        got = self.ls("phone2", space)
        self.assertTrue(got[ph]["complete"])
        self.assertEqual(got[v]["chunks_present"], 0)
        self.assertEqual(got[v]["size"], 3 * MB)  # its manifest came: the size is known
        self.assertLess(metered["attach_bytes_received"], 400 * 1000)
        # Asked for by the user: fetched even on the metered link.
        p = self.tool("attach", "get", self.db("phone2"), space, v, "v.out", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(self.ls("phone2", space)[v]["wanted"])
        self.sync("phone2", url, "--metered")
        self.tool("attach", "get", self.db("phone2"), space, v, "v.out")
        self.assertEqual(self.sha(os.path.join(self.d, "v.out")), self.sha(video))
        relay.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(timeout=20), 0)

    def test_serve_hands_a_photo_between_phones(self):
        space = self.members("tablet", "phone1", "phone2")
        log = os.path.join(self.d, "serve.log")
        with open(log, "w") as err:
            serve = subprocess.Popen([TOOL, "serve", self.db("tablet"), "--listen",
                                      "127.0.0.1:0", "--quiet"], stdout=subprocess.PIPE,
                                     stderr=err, text=True, cwd=self.d)
        self.procs.append(serve)
        line = serve.stdout.readline()
        self.assertTrue(line, "serve printed nothing (see %s)" % log)
        yard = "http://127.0.0.1:%d" % json.loads(line)["port"]
        for ph in ("phone1", "phone2"):
            self.sync(ph, yard)
            self.tool("space", "accept", self.db(ph), space)
        photo = self.write_file("yard.jpg", 700 * 1000, 4)
        att = self.js("attach", "put", self.db("phone1"), space, photo, "--type",
                      "image/jpeg")["id"]
        self.reference("phone1", space, "home-3", att)
        # A second file phone1 never references (a photo it thought better of).
        draft = self.write_file("draft.jpg", 300 * 1000, 5)
        self.js("attach", "put", self.db("phone1"), space, draft)
        up = self.sync("phone1", yard)
        self.assertEqual(up["attach_objects_sent"], 3 + 1 + 2 + 1)
        down = self.sync("phone2", yard)
        self.assertEqual(down["attach_objects_received"], 3 + 1)
        out = os.path.join(self.d, "yard.out")
        self.tool("attach", "get", self.db("phone2"), space, att, out)
        self.assertEqual(self.sha(out), self.sha(photo))
        serve.send_signal(signal.SIGTERM)
        self.assertEqual(serve.wait(timeout=20), 0)
        # The tablet holds the record that names the photo: it lists it.
        tab = self.ls("tablet", space)
        self.assertTrue(tab[att]["referenced"])
        # Collection on the tablet keeps what a record references (the
        # manifest it stored for the phones is opened for that) and drops
        # what nothing references.
        def objects():
            con = sqlite3.connect(self.db("tablet"))
            n = con.execute("SELECT count(*) FROM att_objects").fetchone()[0]
            con.close()
            return n
        self.assertEqual(objects(), 7)
        self.assertEqual(self.js("attach", "gc", self.db("tablet"), "--min-age", "0"),
                         {"removed": 0})
        self.assertEqual(objects(), 4)
        self.assertTrue(self.ls("tablet", space)[att]["complete"])
        self.tool("attach", "get", self.db("tablet"), space, att, out + ".t")
        self.assertEqual(self.sha(out + ".t"), self.sha(photo))


if __name__ == "__main__":
    TOOL, RELAY = sys.argv[1], sys.argv[2]
    dc_fixture.TOOL, dc_fixture.RELAY = TOOL, RELAY
    unittest.main(argv=sys.argv[:1], verbosity=2)
