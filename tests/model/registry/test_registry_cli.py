#!/usr/bin/env python3
"""The `drivercore registry` commands end to end (docs/domain.md, "The
registry"): import prints its report and exits 0 with bad rows reported (and
a summary on stderr), 1 for an unreadable file or a wrong header, 2 for bad
arguments; conflicts lists flagged drivers with values and sources; find
and id look a driver up by identity number (also read from stdin); two
secretaries importing offline converge through bundles.

Usage: test_registry_cli.py PATH/TO/drivercore [unittest args...]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = None
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
HEADER = ("name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
          "business_scope,political_status\n")
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(d17):
    return d17 + "10X98765432"[sum(int(c) * w for c, w in zip(d17, W)) % 11]


ID_A = make_id("52010219800101001")
ID_B = make_id("52011219900505002")


class RegistryCli(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-registry-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_dc(self, *args, rc=0, stdin=None, now=T0):
        env = dict(os.environ, DRIVERCORE_NOW_MS=str(now))
        p = subprocess.run([BIN] + [str(a) for a in args], input=stdin, capture_output=True,
                           text=True, env=env, timeout=120)
        where = "drivercore %s\nrc=%d\nstdout=%s\nstderr=%s" % (
            " ".join(map(str, args)), p.returncode, p.stdout, p.stderr)
        self.assertEqual(p.returncode, rc, where)
        if rc != 0:
            self.assertIn("drivercore: ", p.stderr, where)
            self.assertEqual(p.stdout, "", where)
        return p

    def replica(self, name):
        path = self.path(name)
        self.run_dc("init", path)
        return path

    def write(self, name, text, encoding="utf-8"):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(text.encode(encoding) if isinstance(text, str) else text)
        return path

    def registry(self):
        rep = self.replica("office.db")
        space = json.loads(self.run_dc("space", "create", rep, "registry").stdout)["space"]
        return rep, space

    def test_import_conflicts_find(self):
        rep, sp = self.registry()
        org = self.write("org.csv", HEADER +
                         "张三,%s,13800138000,520102,贵A12345,顺丰冷链,,花溪,冷链,正式党员\n"
                         "李四,%s,,520112,,,,,,群众\n" % (ID_A, ID_B))
        out = json.loads(self.run_dc("registry", "import", rep, "--space", sp, "--source",
                                     "organisation", "--round", "1", org).stdout)
        self.assertEqual(out["imported"], 2)
        self.assertEqual(out["new_drivers"], 2)
        self.assertEqual(out["errors"], [])
        tr = self.write("tr.csv", HEADER + "张三,%s,13912345678,520102,,满帮平台,,花溪,,正式党员\n"
                        % ID_A)
        out = json.loads(self.run_dc("registry", "import", rep, "--space", sp, "--source",
                                     "transport", "--round=1", tr).stdout)
        self.assertEqual((out["merged"], out["flagged"]), (1, 1))
        conf = json.loads(self.run_dc("registry", "conflicts", rep, "--space", sp).stdout)
        self.assertEqual(len(conf), 1)
        self.assertEqual(conf[0]["name"], "张三")
        self.assertEqual(sorted(conf[0]["conflicts"]), ["employer", "phone"])
        self.assertIn({"value": "满帮平台", "source": "transport", "round": 1},
                      conf[0]["conflicts"]["employer"])
        self.assertIn({"value": "13800138000", "source": "organisation", "round": 1},
                      conf[0]["conflicts"]["phone"])
        found = json.loads(self.run_dc("registry", "find", rep, "--space", sp, ID_A).stdout)
        self.assertEqual(found["id_number"], ID_A)
        self.assertTrue(found["flagged"])
        self.assertEqual(found["driver"], conf[0]["driver"])
        # From stdin, so the number stays out of the process list.
        again = json.loads(self.run_dc("registry", "find", rep, "--space", sp, "-",
                                       stdin=ID_A + "\n").stdout)
        self.assertEqual(again, found)
        did = json.loads(self.run_dc("registry", "id", rep, "--space", sp, ID_A).stdout)
        self.assertEqual(did, {"driver": found["driver"]})
        # Not found, and a bad number: exit 1 with a message.
        p = self.run_dc("registry", "find", rep, "--space", sp, make_id("11010519491231002"),
                        rc=1)
        self.assertIn("no driver", p.stderr)
        p = self.run_dc("registry", "find", rep, "--space", sp, ID_A[:17] + "0"
                        if ID_A[17] != "0" else ID_A[:17] + "1", rc=1)
        self.assertIn("check digit", p.stderr)
        # The dump shows no identity number or phone.
        dump = self.run_dc("dump", rep).stdout
        for secret in (ID_A, ID_B, "13800138000", "13912345678"):
            self.assertNotIn(secret, dump)

    def test_bad_rows_exit_0_with_report(self):
        rep, sp = self.registry()
        bad_id = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")
        f = self.write("bad.csv", (HEADER + "张三,%s,,,,,,,,\n坏,%s,,,,,,,,\n,%s,,,\n"
                                   % (ID_A, bad_id, ID_B)).encode("utf-8") +
                       b"\xff\xfe,%s,,,,,,,,\n" % ID_B.encode())
        p = self.run_dc("registry", "import", rep, "--space", sp, "--source", "transport",
                        "--round", "2", f)
        out = json.loads(p.stdout)
        self.assertEqual(out["imported"], 1)
        self.assertEqual([e["line"] for e in out["errors"]], [3, 4, 5])
        self.assertIn("3 bad rows were skipped", p.stderr)
        self.assertNotIn(bad_id, p.stderr + p.stdout)

    def test_file_and_header_errors_exit_1(self):
        rep, sp = self.registry()
        self.run_dc("registry", "import", rep, "--space", sp, "--source", "transport", "--round",
                    "1", self.path("missing.csv"), rc=1)
        f = self.write("h.csv", "姓名,身份证号\n张三,%s\n" % ID_A)
        p = self.run_dc("registry", "import", rep, "--space", sp, "--source", "transport",
                        "--round", "1", f, rc=1)
        self.assertIn("header", p.stderr)
        # GBK instead of UTF-8: the header does not match.
        f = self.write("gbk.csv", HEADER.replace("name", "姓名"), encoding="gbk")
        p = self.run_dc("registry", "import", rep, "--space", sp, "--source", "transport",
                        "--round", "1", f, rc=1)
        self.assertIn("header", p.stderr)
        dump = json.loads(self.run_dc("dump", rep).stdout)
        self.assertEqual(dump, {})
        # A space this replica does not know.
        f = self.write("ok.csv", HEADER)
        self.run_dc("registry", "import", rep, "--space", "00" * 16, "--source", "transport",
                    "--round", "1", f, rc=1)

    def test_usage_errors_exit_2(self):
        rep, sp = self.registry()
        f = self.write("ok.csv", HEADER)
        base = ["registry", "import", rep, "--space", sp]
        for args in (["registry"], ["registry", "frobnicate"],
                     base + ["--source", "transport", f],
                     base + ["--round", "1", f],
                     base + ["--source", "police", "--round", "1", f],
                     base + ["--source", "transport", "--round", "0", f],
                     base + ["--source", "transport", "--round", "x", f],
                     ["registry", "import", rep, "--source", "transport", "--round", "1", f],
                     base + ["--source", "transport", "--round", "1"],
                     ["registry", "conflicts", rep],
                     ["registry", "find", rep, "--space", sp],
                     ["registry", "find", rep, "--space", sp, ID_A, "--bogus", "1"]):
            self.run_dc(*args, rc=2)

    def test_two_offline_secretaries_converge(self):
        a = self.replica("a.db")
        b = self.replica("b.db")
        sp = json.loads(self.run_dc("space", "create", a, "registry").stdout)["space"]
        card = self.run_dc("whoami", b).stdout
        self.run_dc("space", "add", a, sp, card.strip(), "--role", "member")
        bundle = self.path("a.bundle")
        self.run_dc("bundle", "export", a, bundle)
        self.run_dc("bundle", "import", b, bundle)
        self.run_dc("space", "accept", b, sp)  # b joins by consent
        self.run_dc("registry", "import", a, "--space", sp, "--source", "organisation",
                    "--round", "1",
                    self.write("o.csv", HEADER + "张三,%s,,520102,,甲,,,,\n" % ID_A))
        self.run_dc("registry", "import", b, "--space", sp, "--source", "transport", "--round",
                    "1", self.write("t.csv", HEADER + "张三,%s,,520102,,乙,,,,\n" % ID_A),
                    now=T0 + 5000)
        ab, ba = self.path("ab.bundle"), self.path("ba.bundle")
        self.run_dc("bundle", "export", a, ab)
        self.run_dc("bundle", "export", b, ba, now=T0 + 5000)
        self.run_dc("bundle", "import", b, ab, now=T0 + 6000)
        self.run_dc("bundle", "import", a, ba, now=T0 + 6000)
        outs = []
        for r in (a, b):
            outs.append((self.run_dc("dump", r, now=T0 + 7000).stdout,
                         self.run_dc("registry", "conflicts", r, "--space", sp,
                                     now=T0 + 7000).stdout,
                         self.run_dc("registry", "find", r, "--space", sp, ID_A,
                                     now=T0 + 7000).stdout))
        self.assertEqual(outs[0], outs[1])
        conf = json.loads(outs[0][1])
        self.assertEqual(len(conf), 1)
        self.assertEqual(sorted((e["value"], e["source"]) for e in conf[0]["conflicts"]["employer"]),
                         [("乙", "transport"), ("甲", "organisation")])


    # ---- issue 14: registry parts, moves, verification, progress ----

    def parts(self):
        rep = self.replica("office.db")
        root = json.loads(self.run_dc("registry", "create", rep).stdout)["space"]
        wd = json.loads(self.run_dc("registry", "part", rep, "--root", "registry", "--region",
                                    "520112").stdout)["space"]
        ws = json.loads(self.run_dc("registry", "part", rep, "--root", root, "--region",
                                    "520603").stdout)["space"]
        return rep, root, wd, ws

    def test_parts_enrol_spaces(self):
        rep, root, wd, ws = self.parts()
        br = json.loads(self.run_dc("registry", "part", rep, "--root", "registry", "--region",
                                    "520112", "--branch", "branch-520112-01").stdout)["space"]
        spaces = json.loads(self.run_dc("registry", "spaces", rep).stdout)
        self.assertEqual([s["space"] for s in spaces], [root, wd, ws, br])
        self.assertEqual([s["level"] for s in spaces], ["province", "county", "county", "branch"])
        self.assertTrue(all(s["root"] == root for s in spaces))
        self.assertEqual(spaces[3]["branch"], "branch-520112-01")
        names = {s["space"]: s["name"] for s in json.loads(self.run_dc("space", "list", rep).stdout)}
        self.assertEqual(names[wd], "registry 520112")
        self.assertEqual(names[br], "registry branch-520112-01")
        # --space takes a part by name; ids agree across parts.
        self.assertEqual(self.run_dc("registry", "id", rep, "--space", "registry 520112",
                                     ID_A).stdout,
                         self.run_dc("registry", "id", rep, "--space", "registry 520603",
                                     ID_A).stdout)
        # A desk enrolled in Wudang's part: that part and the root's key.
        desk = self.replica("desk.db")
        card = self.write("card.json", self.run_dc("whoami", desk).stdout)
        out = json.loads(self.run_dc("registry", "enrol", rep, "--space", wd, "@" + card).stdout)
        self.assertEqual(out, {"space": wd, "role": "member"})
        bundle = self.path("b.dcb")
        self.run_dc("bundle", "export", rep, bundle)
        self.run_dc("bundle", "import", desk, bundle)
        # The desk joins by consent: it accepts the root (its enrolment);
        # the office being a member of a space it accepted, the part comes
        # with it.
        self.assertEqual(json.loads(self.run_dc("registry", "spaces", desk).stdout), [])
        self.run_dc("space", "accept", desk, root)
        held = json.loads(self.run_dc("registry", "spaces", desk).stdout)
        self.assertEqual([s["space"] for s in held], [root, wd])
        csv = self.write("wd.csv", HEADER + "李四,%s,,520112,,,,520112,,\n" % ID_B)
        self.run_dc("registry", "import", desk, "--space", wd, "--source", "transport",
                    "--round", "1", csv)
        self.run_dc("registry", "import", desk, "--space", ws, "--source", "transport",
                    "--round", "1", csv, rc=1)
        # Usage errors.
        self.run_dc("registry", "part", rep, "--root", root, rc=2)
        self.run_dc("registry", "part", rep, "--root", root, "--region", "5201", rc=2)
        self.run_dc("registry", "create", rep, "--region", "520112", rc=2)
        self.run_dc("registry", "enrol", rep, "--space", wd, "@" + card, "--role", "boss", rc=2)
        self.run_dc("registry", "spaces", rc=2)
        p = self.run_dc("registry", "frobnicate", rep, rc=2)
        self.assertIn("create, part, enrol, spaces or move", p.stderr)

    def test_level_method_and_union(self):
        rep, root, wd, ws = self.parts()
        t = self.write("t.csv", HEADER + "黄红兴,%s,,520112,,,,,,群众\n" % ID_A)
        o = self.write("o.csv", HEADER + "黄红兴,%s,,520112,,,,,,正式党员\n" % ID_A)
        self.run_dc("registry", "import", rep, "--space", wd, "--source", "transport", "--round",
                    "1", t)
        self.run_dc("registry", "import", rep, "--space", wd, "--source", "organisation",
                    "--round", "1", "--level", "county", "--method", "list", o)
        found = json.loads(self.run_dc("registry", "find", rep, "--space", "registry",
                                       ID_A).stdout)
        self.assertTrue(found["flagged"])
        self.assertEqual(found["status"], "member")  # in conflict: the organisation line's
        self.assertEqual(found["space"], wd)
        conf = json.loads(self.run_dc("registry", "conflicts", rep, "--space", root).stdout)
        self.assertEqual([c["space"] for c in conf], [wd])
        v = self.write("v.csv", HEADER + "黄红兴,%s,,520112,,,,,,群众\n" % ID_A)
        self.run_dc("registry", "import", rep, "--space", wd, "--source", "transport", "--round",
                    "2", "--level", "branch", "--method", "visit", v)
        found = json.loads(self.run_dc("registry", "find", rep, "--space", root, ID_A).stdout)
        self.assertFalse(found["flagged"])
        self.assertEqual(found["status"], "masses")  # the later round settled it
        self.assertEqual(found["verified"], {"source": "transport", "round": 2,
                                             "level": "branch", "method": "visit"})
        self.assertIn({"source": "organisation", "round": 1, "level": "county",
                       "method": "list"}, found["sources"])
        stats = json.loads(self.run_dc("stats", rep, "--json").stdout)
        self.assertEqual(stats["party_member_drivers"], 0)
        for bad in (["--level", "nation"], ["--method", "fax"]):
            p = self.run_dc("registry", "import", rep, "--space", wd, "--source", "transport",
                            "--round", "3", *bad, v, rc=2)
            self.assertIn("is not one of", p.stderr)

    def test_move(self):
        rep, root, wd, ws = self.parts()
        csv = self.write("wd.csv", HEADER + "杨飞,%s,13985022245,520112,,,,520112,冷链,\n" % ID_A)
        self.run_dc("registry", "import", rep, "--space", wd, "--source", "transport", "--round",
                    "1", csv)
        did = json.loads(self.run_dc("registry", "id", rep, "--space", wd, ID_A).stdout)["driver"]
        out = json.loads(self.run_dc("registry", "move", rep, "--space", "registry 520112", did,
                                     "--to", "registry 520603", "--date", "2026-02-25",
                                     "--no-cases").stdout)
        self.assertEqual(out["from"], {"space": wd, "region": "520112", "branch": None})
        self.assertEqual(out["to"], {"space": ws, "region": "520603", "branch": None})
        self.assertEqual(out["cases"], [])
        found = json.loads(self.run_dc("registry", "find", rep, "--space", root, ID_A).stdout)
        self.assertEqual(found["space"], ws)
        self.assertEqual(found["phone"], "13985022245")
        # Later rows of Wudang's list follow him.
        again = self.write("again.csv", HEADER + "杨飞,%s,,520112,,,,,,\n" % ID_A)
        out = json.loads(self.run_dc("registry", "import", rep, "--space", wd, "--source",
                                     "transport", "--round", "2", again).stdout)
        self.assertEqual(out["forwarded"], 1)
        self.assertEqual(out["moved_away"], [])
        stats = json.loads(self.run_dc("stats", rep, "--json").stdout)
        self.assertEqual(stats["drivers"], 1)
        self.assertEqual(stats["by_region"]["520603"]["moved_in"], 1)
        self.assertEqual(stats["by_region"]["520112"]["moved_out"], 1)
        # Moving again from where he was merges what was left behind there:
        # nothing, here.
        out = json.loads(self.run_dc("registry", "move", rep, "--space", wd, did, "--to",
                                     ws).stdout)
        self.assertEqual((out["registers"], out["members"], out["events"]), (0, 0, 0))
        # Errors: no such driver there (1), missing --to or same space (2).
        self.run_dc("registry", "move", rep, "--space", root, did, "--to", ws, rc=1)
        self.run_dc("registry", "move", rep, "--space", ws, did, rc=2)
        self.run_dc("registry", "move", rep, "--space", ws, did, "--to", ws, rc=2)
        self.run_dc("registry", "move", rep, "--space", ws, did, "--to", wd, "--date",
                    "2026-13-01", rc=2)

    def test_progress_line(self):
        rep, root, wd, ws = self.parts()
        rows = "".join("司机%d,%s,,,,,,,,\n" % (i, make_id("5201121980%07d" % i))
                       for i in range(2500))
        csv = self.write("big.csv", HEADER + rows)
        args = ["registry", "import", rep, "--space", wd, "--source", "transport", "--round",
                "1", csv]
        # Not a terminal: nothing on stderr, the report on stdout.
        p = self.run_dc(*args)
        self.assertEqual(p.stderr, "")
        self.assertEqual(json.loads(p.stdout)["imported"], 2500)
        # A terminal: one line rewritten in place; --quiet: none.
        out, err = run_on_pty([BIN] + args)
        self.assertIn("registry import:", err)
        self.assertIn("rows", err)
        self.assertIn("\r", err)
        self.assertEqual(json.loads(out)["unchanged"], 2500)
        out, err = run_on_pty([BIN] + args + ["--quiet"])
        self.assertEqual(err, "")
        self.assertEqual(json.loads(out)["unchanged"], 2500)


def run_on_pty(argv):
    """Runs argv with stderr on a pseudo-terminal and stdout on a pipe;
    returns (stdout, what the terminal received)."""
    import pty
    import threading
    master, slave = pty.openpty()
    env = dict(os.environ, DRIVERCORE_NOW_MS=str(T0))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks = []

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    out = p.stdout.read().decode()
    p.stdout.close()
    p.wait(timeout=120)
    reader.join(timeout=30)
    os.close(master)
    assert p.returncode == 0, (argv, p.returncode)
    return out, b"".join(chunks).decode(errors="replace")

def main():
    global BIN
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        BIN = os.path.abspath(argv.pop(1))
    if not BIN or not os.access(BIN, os.X_OK):
        sys.stderr.write("usage: test_registry_cli.py PATH/TO/drivercore [unittest args]\n")
        return 2
    prog = unittest.main(argv=argv, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1

if __name__ == "__main__":
    sys.exit(main())
