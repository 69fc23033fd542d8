#!/usr/bin/env python3
"""tests/security: the promises of docs/security.md, tried as an attacker would.

Usage: test_security.py DRIVERCORE DRIVERCORE_RELAY FORGE

Devices are driven through the `drivercore` tool and a real drivercore-relay
on 127.0.0.1 (tests/relay/test_relay.py starts and stops it).  What a
modified, hostile app would write — a reader's or a removed member's change,
a malformed change, an op on the library's own records, a grant that opens
for nobody — is put into that device's own log by the `forge` helper
(tests/security/forge.c), signed with its own key, so that its next sync
pushes it exactly as a hostile app would.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "relay"))
import test_relay  # noqa: E402  (the Relay process wrapper and tool helpers)

FORGE = None


class Security(test_relay.Base):
    def forge(self, *args):
        p = subprocess.run([FORGE] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=60, cwd=self.d)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["forged"]

    def status(self, db):
        return json.loads(self.run_tool("status", db).stdout)

    def space_state(self, db, space):
        for s in json.loads(self.run_tool("space", "list", db).stdout):
            if s["space"] == space:
                return s
        return None

    def device_id(self, name):
        with open(self.path(name + ".card")) as f:
            return json.load(f)["device"]

    def branch(self, rl, admin="sec", members=("b", "c")):
        """A branch space: its secretary (admin) and phones that joined it
        through the relay by accepting the invitation."""
        dbs = {n: self.device(n, "%s of the branch" % n) for n in (admin,) + tuple(members)}
        s = self.space(dbs[admin], "Wudang branch")
        for m in members:
            self.add(dbs[admin], s, m)
        self.sync(dbs[admin], rl)
        for m in members:
            self.sync(dbs[m], rl)
            self.assertEqual(self.space_state(dbs[m], s)["state"], "invited")
            self.accept(dbs[m], s)
        return s, dbs

    # ---- a removed or demoted member ----

    def test_removed_member_is_refused_everywhere_and_reads_nothing_new(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("b", "c"))
        sec, b, c = d["sec"], d["b"], d["c"]
        self.write(c, s, "before", "written while a member")
        self.sync(c, rl)
        for db in (sec, b):
            self.sync(db, rl)
        # c is removed while offline; it keeps writing, at its own time and
        # backdated to before its removal (a clock set back on purpose).
        out = json.loads(self.run_tool("space", "remove", sec, s, self.device_id("c")).stdout)
        self.assertEqual(out["removed"], True)
        self.assertEqual(out["epoch"], 1)
        self.write(sec, s, "secret", "written after the removal")
        self.sync(sec, rl)
        self.write(c, s, "late", "written after the removal")
        p = subprocess.run([test_relay.TOOL, "apply", c], input=json.dumps(
            {"space": s, "ops": [{"type": "note", "id": "backdated",
                                  "set": {"text": "stamped before the removal"}}]}) + "\n",
            capture_output=True, text=True, cwd=self.d,
            env=dict(os.environ, DRIVERCORE_NOW_MS="1700000000000"))
        self.assertEqual(p.returncode, 0, p.stderr)
        # A racing write reaches b directly (a truck stop, no relay) before b
        # learns of the removal: b shows it for now.
        self.run_tool("sync", b, c)
        self.assertIn("written after the removal", self.dump(b))
        # The relay refuses c its space; c learns nothing new, pushes nothing.
        before = rl.metrics()
        fig = self.sync(c, rl)
        after = rl.metrics()
        self.assertEqual(fig["changes_sent"], 0)
        self.assertEqual(before["drivercore_relay_changes_in_total"],
                         after["drivercore_relay_changes_in_total"])
        # b syncs with the relay: the removal withdraws what b had applied.
        self.sync(b, rl)
        db = self.dump(b)
        self.assertIn("written while a member", db)
        self.assertNotIn("stamped before the removal", db)
        self.assertNotIn("\"late\"", db)
        self.assertGreaterEqual(sum(x["unauthorised"] for x in self.status(b)["spaces"]), 2)
        self.sync(sec, rl)
        self.assertEqual(self.dump(sec), self.dump(b))
        # c keeps what it had, but the new key was never sealed to it: even
        # with the ciphertext in hand (b's bundle), it cannot read.
        self.run_tool("bundle", "export", b, self.path("b.bundle"))
        self.run_tool("bundle", "import", c, self.path("b.bundle"))
        dc = self.dump(c)
        self.assertIn("written while a member", dc)
        self.assertNotIn("written after the removal\"", dc.replace("late", ""))
        self.assertNotIn("secret", dc)
        st = self.space_state(c, s)
        self.assertIsNone(st["role"])
        self.assertEqual(st["epoch"], 1)
        self.assertFalse(st["has_key"])
        # ... and c can no longer write: its replica knows it was removed.
        p = self.run_tool("apply", c, input=json.dumps(
            {"space": s, "ops": [{"type": "note", "id": "x", "set": {"text": "y"}}]}) + "\n",
            check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not a member", p.stderr)

    def test_demoted_and_reader_writes_are_refused_through_the_relay(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("b", "c", "r"))
        sec, b, c, r = d["sec"], d["b"], d["c"], d["r"]
        self.run_tool("space", "role", sec, s, self.device_id("r"), "reader")
        self.run_tool("space", "role", sec, s, self.device_id("b"), "reader")
        self.sync(sec, rl)
        self.sync(r, rl)
        # The reader's app refuses to write; a modified app writes anyway.
        p = self.run_tool("apply", r, input=json.dumps(
            {"space": s, "ops": [{"type": "note", "id": "x", "set": {"text": "y"}}]}) + "\n",
            check=False)
        self.assertEqual(p.returncode, 1)
        self.forge("change", r, s, "note", "by-reader", "text", "a reader's forged write")
        # b, demoted while offline, writes before it learns of it.
        self.write(b, s, "by-demoted", "written after the demotion")
        for db in (r, b, c, sec, c):
            self.sync(db, rl)
        # The forger's own replica holds its write (its modified app put it
        # there); no one else's does.
        for db in (sec, c, b, r):
            text = self.dump(db)
            if db != r:
                self.assertNotIn("a reader's forged write", text, db)
            self.assertNotIn("written after the demotion", text, db)
        self.assertEqual(self.dump(sec), self.dump(c))
        # The relay took them in (they are well signed) but serves them to
        # nobody: c, a member that synced after them, counts none of them.
        self.assertEqual(sum(x["unauthorised"] for x in self.status(c)["spaces"]), 0)
        self.assertEqual(self.space_state(b, s)["role"], "reader")

    def test_a_member_cannot_write_the_librarys_own_records(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("b", "c"))
        sec, b, c = d["sec"], d["b"], d["c"]
        self.forge("change", b, s, "@space", "meta", "name", "renamed by a member")
        self.forge("change", b, s, "@member", self.device_id("sec"), "name", "an impostor")
        for db in (b, c, sec):
            self.sync(db, rl)
        for db in (sec, c):
            st = self.space_state(db, s)
            self.assertEqual(st["name"], "Wudang branch")
            members = self.run_tool("space", "members", db, s).stdout
            self.assertNotIn("an impostor", members)
            self.assertIn("sec of the branch", members)
        self.assertGreaterEqual(sum(x["unauthorised"] for x in self.status(c)["spaces"]), 2)

    # ---- no one can lock a device out ----

    def test_a_malformed_change_never_stops_the_others_syncs(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("m", "x", "y", "z"))
        m, others = d["m"], [d["x"], d["y"], d["z"]]
        self.forge("malformed", m, s)
        self.write(m, s, "after", "m's good change after the bad one")
        self.sync(m, rl)
        for i, db in enumerate(others):
            self.write(db, s, "from%d" % i, "written by %d" % i)
        for _ in range(2):
            for db in others:
                fig = self.sync(db, rl)  # exit 0, every time
                self.assertIn("set_aside", fig)
        dumps = {self.dump(db) for db in others}
        self.assertEqual(len(dumps), 1)
        text = dumps.pop()
        self.assertIn("m's good change after the bad one", text)
        for i in range(3):
            self.assertIn("written by %d" % i, text)
        for db in others:
            st = self.status(db)
            self.assertGreaterEqual(st["set_aside"]["count"], 1)
            errors = {x["error"] for x in st["set_aside"]["recent"]}
            self.assertIn("DC_ECORRUPT", errors, st)

    def test_a_strangers_unopenable_grant_is_set_aside(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("v",))
        v, sec = d["v"], d["sec"]
        stranger = self.device("stranger", "someone who read the QR code")
        t = self.space(stranger, "definitely your branch")
        self.forge("badgrant", stranger, t, self.path("v.card"))
        self.write(stranger, t, "fake", "a fake holiday")
        self.sync(stranger, rl)
        self.write(sec, s, "real", "the branch's real news")
        self.sync(sec, rl)
        fig = self.sync(v, rl)
        self.assertGreater(fig["changes_received"], 0)
        # v's own branch still syncs; the stranger's space is an invitation,
        # never decrypted, never read.
        self.assertIn("the branch's real news", self.dump(v))
        st = self.space_state(v, t)
        self.assertEqual(st["state"], "invited")
        self.assertFalse(st["has_key"])
        self.assertNotIn("a fake holiday", self.dump(v))
        p = self.run_tool("dump", v, "--space", t, check=False)
        self.assertNotIn("a fake holiday", p.stdout)
        # Accepting it: the grant's key does not open; that is set aside and
        # reported, and nothing stops.
        self.accept(v, t)
        st = self.status(v)
        self.assertIn("DC_EBADSIG", {x["error"] for x in st["set_aside"]["recent"]}, st)
        self.write(sec, s, "later", "still flowing")
        self.sync(sec, rl)
        self.sync(v, rl)
        self.assertIn("still flowing", self.dump(v))
        self.assertNotIn("a fake holiday", self.dump(v))

    # ---- consent ----

    def test_consent_invited_accept_decline(self):
        rl = self.relay()
        s, d = self.branch(rl, members=("b",))
        sec, b = d["sec"], d["b"]
        # A second space by the same secretary: b already accepted a space
        # the secretary is in, so this invitation is accepted by b itself.
        s2 = self.space(sec, "study group")
        self.add(sec, s2, "b")
        self.write(sec, s2, "item", "a lesson")
        self.sync(sec, rl)
        self.sync(b, rl)
        self.assertEqual(self.space_state(b, s2)["state"], "accepted")
        self.assertIn("a lesson", self.dump(b))
        # A stranger's invitation waits, and reads say why.
        stranger = self.device("s2", "stranger")
        self.run_tool("init", self.path("unused.db"))
        t = self.space(stranger, "free money")
        self.add(stranger, t, "b")
        self.write(stranger, t, "bait", "click here")
        self.sync(stranger, rl)
        self.sync(b, rl)
        self.assertEqual(self.space_state(b, t)["state"], "invited")
        self.assertEqual(self.space_state(b, t)["inviter"], self.device_id("s2"))
        self.assertNotIn("click here", self.dump(b))
        p = self.run_tool("dump", b, "--space", t)
        self.assertEqual(json.loads(p.stdout), {})
        out = json.loads(self.run_tool("space", "decline", b, t).stdout)
        self.assertEqual(out["state"], "declined")
        self.sync(b, rl)
        self.assertEqual(self.space_state(b, t)["state"], "declined")
        self.assertNotIn("click here", self.dump(b))
        # The directory: where the device's domain data comes from.
        out = json.loads(self.run_tool("space", "accept", b, s, "--directory").stdout)
        self.assertTrue(out["directory"])

    def test_the_calendar_comes_only_from_the_directory(self):
        """An enrolled device (trusted to invite) publishes a 'directory' full
        of made-up holidays: deadlines still count by the device's own
        directory."""
        rl = self.relay()
        office = self.device("office", "province office")
        desk = self.device("desk", "county desk")
        other = self.device("other", "another enrolled device")
        directory = self.space(office, "directory")
        for n in ("desk", "other"):
            self.add(office, directory, n, role="reader")
        real = self.path("real.tsv")
        with open(real, "w") as f:
            f.write("2026-10-01\toff\tNational Day\n")
        self.run_tool("calendar", "publish", office, "--space", directory, real)
        self.sync(office, rl)
        for db in (desk, other):
            self.sync(db, rl)
        self.run_tool("space", "accept", desk, directory, "--directory")
        self.run_tool("space", "accept", other, directory)
        fake = self.space(other, "directory")
        self.add(other, fake, "desk", role="reader")
        bogus = self.path("bogus.tsv")
        with open(bogus, "w") as f:
            f.write("".join("2026-10-%02d\toff\tmade up\n" % d for d in range(2, 31)))
        self.run_tool("calendar", "publish", other, "--space", fake, bogus)
        self.sync(other, rl)
        self.sync(desk, rl)
        # Invited by a device it knows from the directory: accepted...
        self.assertEqual(self.space_state(desk, fake)["state"], "accepted")
        # ...but the desk's calendar is its directory's: a day off on the
        # 1st only, so October the 2nd is a working day.
        out = self.run_tool("calendar", "show", desk).stdout
        self.assertIn("National Day", out)
        self.assertNotIn("made up", out)

    def test_no_names_in_bundles_or_the_relay(self):
        rl = self.relay()
        name = "Huang Hongxing the driver"
        b = self.device("b", name)
        sec = self.device("sec", "Secretary Xie Chaodian")
        s = self.space(sec, "Anshun branch")
        self.add(sec, s, "b")
        self.sync(sec, rl)
        self.sync(b, rl)
        self.accept(b, s)
        self.run_tool("bundle", "export", sec, self.path("all.bundle"))
        with open(self.path("all.bundle"), "rb") as f:
            raw = f.read()
        for n in (name, "Secretary Xie Chaodian", "Anshun branch"):
            self.assertNotIn(n.encode(), raw)
            self.assertNotIn(n.encode(), self.store_bytes(rl))
        self.assertIn(name, self.run_tool("space", "members", sec, s).stdout)


if __name__ == "__main__":
    test_relay.TOOL, test_relay.RELAY, FORGE = sys.argv[1], sys.argv[2], sys.argv[3]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[4:])
