#!/usr/bin/env python3
"""Apps of different versions (docs/data-model.md, "Versions").

Two builds of one small program: NOW, against this library, and FUTURE,
against a test build of a later release that reads change body version 3
(a new op kind) and has one more schema step.  What a user of either would
check:

- a replica written by this release is opened by the later one, migrated,
  and reads the same;
- the later release's replica file is refused by this release with
  DC_EVERSION, and left as it was;
- a change the later release writes in a body version this release cannot
  read is kept by this release (held as "future"), passed on to the next
  replica unchanged, not shown, and everything else is shown as usual;
- once the replica is opened by the later release, the held change is
  applied, and the state is the later release's own.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

NOW, FUTURE = sys.argv[1], sys.argv[2]


class Versions(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-versions-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_tool(self, tool, *args, check=True):
        p = subprocess.run([tool] + list(args), capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(p.returncode, 0, "%s %s: %s" % (os.path.basename(tool), args, p.stderr))
        return p

    def json_of(self, tool, *args):
        return json.loads(self.run_tool(tool, *args).stdout)

    def digest(self, db):
        with open(db, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def space_status(self, tool, db, space):
        st = self.json_of(tool, "status", db)
        return next(s for s in st["spaces"] if s["space"] == space)

    def test_builds_differ(self):
        now, fut = self.json_of(NOW, "version"), self.json_of(FUTURE, "version")
        self.assertEqual(fut["body"], now["body"] + 1)
        self.assertEqual(fut["schema"], now["schema"] + 1)

    def test_an_older_app_carries_what_a_newer_one_wrote(self):
        a, b, c = self.path("a.db"), self.path("b.db"), self.path("c.db")
        # Three replicas of this release: a creates the space, b and c join.
        self.run_tool(NOW, "init", a, "admin")
        for db, name in ((b, "b"), (c, "c")):
            card = self.run_tool(NOW, "init", db, name).stdout
            with open(db + ".card", "w") as f:
                f.write(card)
        space = self.json_of(NOW, "create", a, "branch")["space"]
        for db in (b, c):
            self.run_tool(NOW, "add", a, space, db + ".card")
        self.run_tool(NOW, "write", a, space, "n1")
        self.run_tool(NOW, "export", a, self.path("a0.dcb"))
        for db in (b, c):
            self.run_tool(NOW, "import", db, self.path("a0.dcb"))
            self.run_tool(NOW, "accept", db, space)
        dump_now = self.run_tool(NOW, "dump", a).stdout
        self.assertIn('"lon":106.7135', dump_now)  # body v2 (a float) reads here

        # The admin's phone gets the newer app: its replica migrates, and
        # reads exactly what it read before.
        before = self.digest(a)
        self.assertEqual(self.run_tool(FUTURE, "dump", a).stdout, dump_now)
        self.assertNotEqual(self.digest(a), before)
        # ... and this release no longer opens that file, and leaves it be.
        moved = self.digest(a)
        p = self.run_tool(NOW, "dump", a, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("DC_EVERSION", p.stderr)
        self.assertEqual(self.digest(a), moved)

        # The newer app writes a change this release cannot read.
        self.run_tool(FUTURE, "write-future", a, space, "n2")
        self.run_tool(FUTURE, "write", a, space, "n3")
        self.run_tool(FUTURE, "export", a, self.path("a1.dcb"))
        dump_future = self.run_tool(FUTURE, "dump", a).stdout
        self.assertIn("from_the_future", dump_future)

        # b (this release) keeps it, holds it, shows the rest.
        rep = self.json_of(NOW, "import", b, self.path("a1.dcb"))
        self.assertEqual(rep["future"], 1)
        self.assertEqual(rep["set_aside"], 0)
        self.assertEqual(self.space_status(NOW, b, space)["future"], 1)
        dump_b = self.run_tool(NOW, "dump", b).stdout
        self.assertNotIn("from_the_future", dump_b)
        self.assertIn('"n3"', dump_b)
        # ... and passes it on unchanged: c gets it from b, not from a.
        self.run_tool(NOW, "export", b, self.path("b1.dcb"))
        self.assertEqual(self.json_of(NOW, "import", c, self.path("b1.dcb"))["future"], 1)
        self.assertEqual(self.run_tool(NOW, "dump", c).stdout, dump_b)

        # c's phone gets the newer app: the held change is applied at the
        # first open, and c reads what the admin reads.
        self.assertEqual(self.run_tool(FUTURE, "dump", c).stdout, dump_future)
        self.assertEqual(self.space_status(FUTURE, c, space)["future"], 0)
        # Nothing was lost on the way: the log holds the same changes.
        self.assertEqual(self.space_status(FUTURE, c, space)["changes"],
                         self.space_status(FUTURE, a, space)["changes"])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
