#!/usr/bin/env python3
"""A phone restored from a backup (docs/recovery.md), through the tool.

A driver's phone is backed up, writes more and syncs; the backup is
restored (a copy of the file) and writes offline.  The tests check what a
support person would: the restored copy is marked cloned when it meets the
original's changes (or at once, when its installation id differs), it then
refuses to write with DC_ECLONED's message, `drivercore recover` gives it a
new identity, an admin adds the new card, and after syncing every replica
shows the same state, with the copy's offline writes and the original's
later ones.

Usage: test_recover.py PATH/TO/drivercore
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = None


class Dir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-recover-")
        self.env = dict(os.environ)
        self.env.pop("DRIVERCORE_INSTALL_ID", None)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_dc(self, *args, stdin=None, ok=True, env=None):
        p = subprocess.run([BIN] + list(args), cwd=self.dir, input=stdin, capture_output=True,
                           text=True, env=env or self.env)
        if ok and p.returncode != 0:
            self.fail("drivercore %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def write(self, db, space, op):
        return self.run_dc("apply", db, stdin=json.dumps({"space": space, "ops": [op]}),
                           ok=False)

    def status(self, db):
        return json.loads(self.run_dc("status", db).stdout)

    def dump(self, db):
        return self.run_dc("dump", db).stdout

    def branch_with_phone(self):
        """A tablet (admin) and a phone (member) of one space, synced."""
        self.run_dc("init", "tablet.db", "--name", "secretary")
        card = self.run_dc("init", "phone.db", "--name", "Huang").stdout
        with open(os.path.join(self.dir, "phone.card"), "w") as f:
            f.write(card)
        space = json.loads(self.run_dc("space", "create", "tablet.db", "branch").stdout)["space"]
        self.run_dc("space", "add", "tablet.db", space, "@phone.card", "--role", "member")
        self.run_dc("sync", "phone.db", "tablet.db")
        self.run_dc("space", "accept", "phone.db", space, ok=False)
        self.run_dc("sync", "phone.db", "tablet.db")
        return space

    def recover_and_reenrol(self, db, space):
        rec = json.loads(self.run_dc("recover", db).stdout)
        self.assertEqual(rec["card"]["replaces"], rec["previous"])
        self.assertNotEqual(rec["device"], rec["previous"])
        self.assertIn(space, rec["spaces"])
        with open(os.path.join(self.dir, "new.card"), "w") as f:
            json.dump(rec["card"], f)
        self.run_dc("space", "add", "tablet.db", space, "@new.card", "--role", "member")
        return rec


class RestoredBackup(Dir):
    def test_clone_detected_refused_recovered_nothing_lost(self):
        space = self.branch_with_phone()
        self.assertEqual(self.write("phone.db", space,
                                    {"type": "d", "id": "1", "set": {"n": "before"}}).returncode, 0)
        self.run_dc("sync", "phone.db", "tablet.db")
        shutil.copy(os.path.join(self.dir, "phone.db"), os.path.join(self.dir, "restored.db"))
        old_id = self.status("phone.db")["device"]
        # The original goes on; the restored copy writes offline, under the
        # same sequence number.
        self.write("phone.db", space, {"type": "d", "id": "2", "set": {"n": "original"}})
        self.run_dc("sync", "phone.db", "tablet.db")
        self.assertEqual(self.write("restored.db", space,
                                    {"type": "d", "id": "3", "event": {"what": "check-in"}})
                         .returncode, 0)
        self.assertIsNone(self.status("restored.db")["cloned"])
        # Its first sync meets the original's change: marked, set aside, and
        # the sync itself goes on.
        self.run_dc("sync", "restored.db", "tablet.db")
        st = self.status("restored.db")
        self.assertEqual(st["cloned"]["why"], "conflict")
        self.assertEqual(st["cloned"]["space"], space)
        p = self.write("restored.db", space, {"type": "d", "id": "4", "set": {"n": "x"}})
        self.assertEqual(p.returncode, 1)
        self.assertIn("also used by another copy", p.stderr)
        self.assertIn("drivercore recover", p.stderr)
        # Recovery: a new identity, the offline write re-signed, re-enrolled.
        rec = self.recover_and_reenrol("restored.db", space)
        self.assertEqual(rec["previous"], old_id)
        self.assertGreaterEqual(rec["resigned"], 1)
        st = self.status("restored.db")
        self.assertIsNone(st["cloned"])
        self.assertEqual(st["previous"], old_id)
        self.run_dc("sync", "restored.db", "tablet.db")
        self.run_dc("sync", "phone.db", "tablet.db")
        self.run_dc("sync", "restored.db", "tablet.db")
        dumps = {db: self.dump(db) for db in ("tablet.db", "phone.db", "restored.db")}
        self.assertEqual(len(set(dumps.values())), 1, dumps)
        d = json.loads(dumps["tablet.db"])[space]["d"]
        self.assertEqual(d["1"]["n"], "before")
        self.assertEqual(d["2"]["n"], "original")  # the original's, arrived after all
        ev = d["3"]["@events"]
        self.assertEqual([e["what"] for e in ev], ["check-in"])  # once, not twice
        self.assertEqual(ev[0]["@author"], rec["device"])
        # The recovered replica writes again, as its new identity.
        self.assertEqual(self.write("restored.db", space,
                                    {"type": "d", "id": "5", "set": {"n": "after"}}).returncode, 0)
        self.run_dc("sync", "restored.db", "tablet.db")
        self.assertEqual(json.loads(self.dump("tablet.db"))[space]["d"]["5"]["n"], "after")

    def test_copy_ahead_of_its_backup(self):
        """The original wrote further; the restored copy has written nothing:
        'ahead', and the original's changes are kept."""
        space = self.branch_with_phone()
        shutil.copy(os.path.join(self.dir, "phone.db"), os.path.join(self.dir, "restored.db"))
        self.write("phone.db", space, {"type": "d", "id": "1", "set": {"n": "later"}})
        self.run_dc("sync", "phone.db", "tablet.db")
        self.run_dc("sync", "restored.db", "tablet.db")
        st = self.status("restored.db")
        self.assertEqual(st["cloned"]["why"], "ahead")
        self.assertEqual(json.loads(self.dump("restored.db"))[space]["d"]["1"]["n"], "later")
        self.assertEqual(self.write("restored.db", space,
                                    {"type": "d", "id": "2", "set": {"n": "x"}}).returncode, 1)

    def test_bundle_import_marks_even_when_refused(self):
        """All or nothing: the conflicting bundle is refused, the mark stays."""
        space = self.branch_with_phone()
        shutil.copy(os.path.join(self.dir, "phone.db"), os.path.join(self.dir, "restored.db"))
        self.write("phone.db", space, {"type": "d", "id": "1", "set": {"n": "a"}})
        self.write("restored.db", space, {"type": "d", "id": "1", "set": {"n": "b"}})
        self.run_dc("bundle", "export", "phone.db", "phone.dcb")
        p = self.run_dc("bundle", "import", "restored.db", "phone.dcb", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("signed two different changes", p.stderr)
        self.assertEqual(self.status("restored.db")["cloned"]["why"], "conflict")

    def test_install_id_marks_a_copy_before_it_writes(self):
        space = self.branch_with_phone()
        env_a = dict(self.env, DRIVERCORE_INSTALL_ID="install-a")
        env_b = dict(self.env, DRIVERCORE_INSTALL_ID="install-b")
        self.run_dc("status", "phone.db", env=env_a)  # records install-a
        self.assertIsNone(self.status("phone.db")["cloned"])
        shutil.copy(os.path.join(self.dir, "phone.db"), os.path.join(self.dir, "restored.db"))
        st = json.loads(self.run_dc("status", "restored.db", env=env_b).stdout)
        self.assertEqual(st["cloned"]["why"], "copied")
        p = self.run_dc("apply", "restored.db", stdin=json.dumps(
            {"space": space, "ops": [{"type": "d", "id": "1", "set": {"n": "x"}}]}),
            ok=False, env=env_b)
        self.assertEqual(p.returncode, 1)
        self.assertIn("another copy", p.stderr)
        # The original, still under its own installation, is untouched.
        self.assertIsNone(json.loads(self.run_dc("status", "phone.db", env=env_a).stdout)["cloned"])
        self.recover_and_reenrol("restored.db", space)
        self.run_dc("sync", "restored.db", "tablet.db", env=env_b)
        self.assertEqual(self.write("restored.db", space,
                                    {"type": "d", "id": "2", "set": {"n": "y"}}).returncode, 0)


if __name__ == "__main__":
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
