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
