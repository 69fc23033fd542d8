#!/usr/bin/env python3
"""The province generator at --scale 0.01 and `drivercore stats` over it.

`drivercore demo-data province` must write the report's figures, scaled
(every figure times 0.01, rounded half up, at least 1), and `stats` must
reproduce each of them exactly from the records; the same seed must give the
same statistics; Wudang's figures, the branch of every party member and the
cases' fields are checked in the records themselves; and the tool's argument
errors exit 2 (usage) or 1 (failure) with a message.

Usage: test_province.py DRIVERCORE
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = None
NOW = "1798732800000"  # 2027-01-01 00:00 +08:00: every 2026 deadline has passed

REPORT = {
    "drivers": 257000, "party_member_drivers": 5867, "operators": 7447, "committees": 105,
    "branches": 209, "secretaries": 187, "stations": 50, "joint_meetings": 108,
    "study_items": 5000,
    "liaison": {"cadres": 3588, "party_member_drivers": 5179, "drivers": 27220},
    "cases": {"collected": 3794, "resolved": 3731},
}
WUDANG = {"enterprises": 27, "drivers": 1576, "party_member_drivers": 70}


def scaled(v, f):
    return max(1, int(v * f + 0.5))


def scale_all(d, f):
    return {k: scale_all(v, f) if isinstance(v, dict) else scaled(v, f) for k, v in d.items()}


def run(*args, ok=True):
    env = dict(os.environ, DRIVERCORE_NOW_MS=NOW)
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=300)
    if ok and p.returncode != 0:
        raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr}")
    return p


class Province(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="dc-province-")
        cls.db = os.path.join(cls.tmp.name, "p.db")
        cls.gen = json.loads(run("demo-data", "province", cls.db, "--seed", "7",
                                 "--scale", "0.01").stdout)
        cls.stats = json.loads(run("stats", cls.db, "--json").stdout)
        cls.dump = json.loads(run("dump", cls.db).stdout)
        spaces = json.loads(run("space", "list", cls.db).stdout)
        cls.names = {s["space"]: s["name"] for s in spaces}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def spaces(self, prefix):
        return [sid for sid, n in self.names.items() if n and n.startswith(prefix)]

    def test_figures_are_the_report_scaled(self):
        self.assertEqual(self.gen["figures"], scale_all(REPORT, 0.01))
        self.assertEqual({k: v for k, v in self.gen["wudang"].items() if k != "region"},
                         scale_all(WUDANG, 0.01))
        # Spot-check the rounding: 5867 * 0.01 = 58.67 -> 59; 50 * 0.01 = 0.5 -> 1.
        self.assertEqual(self.gen["figures"]["party_member_drivers"], 59)
        self.assertEqual(self.gen["figures"]["stations"], 1)

    def test_stats_reproduce_every_figure(self):
        want = self.gen["figures"]
        for k, v in want.items():
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    self.assertEqual(self.stats[k][k2], v2, f"{k}.{k2}")
            else:
                self.assertEqual(self.stats[k], v, k)
        c = self.stats["cases"]
        self.assertEqual(c["resolution_rate"], round(100 * 37 / 38, 2))  # 97.37
        for k in ("transfer", "feedback", "reply", "revisit"):
            self.assertIsInstance(c["on_time"][k], float)
            self.assertTrue(50 <= c["on_time"][k] <= 100, (k, c["on_time"][k]))
        self.assertTrue(80 <= c["inside_county"] <= 100)
        self.assertTrue(c["median_resolve_hours"] > 0)
        self.assertEqual(self.stats["as_of"], "2027-01-01T00:00:00+08:00")

    def test_records_behind_the_figures(self):
        reg = self.dump[self.spaces("registry")[0]]
        drivers = reg["driver"]
        pm = [d for d in drivers.values() if d.get("status") in ("member", "probationary")]
        self.assertEqual(len(drivers), 2570)
        self.assertEqual(len(pm), 59)
        # Every party member in exactly one branch, and on that branch's roster.
        self.assertTrue(all(d.get("branch", "").startswith("branch-52") for d in pm))
        rosters = {}
        for sid in self.spaces("branch "):
            for did in self.dump[sid].get("member", {}):
                rosters.setdefault(did, []).append(sid)
        self.assertEqual(len(rosters), 59)
        self.assertTrue(all(len(v) == 1 for v in rosters.values()))
        # Wudang: its drivers, party members and enterprises.
        wd = [d for d in drivers.values() if d.get("activity_area") == "520112"]
        self.assertEqual(len(wd), self.gen["wudang"]["drivers"])
        self.assertEqual(sum(d.get("status") in ("member", "probationary") for d in wd),
                         self.gen["wudang"]["party_member_drivers"])
        dirs = self.dump[self.spaces("directory")[0]]
        ent = [o for o in dirs["org"].values()
               if o["kind"] == "enterprise" and o.get("region") == "520112"]
        self.assertEqual(len(ent), self.gen["wudang"]["enterprises"])
        # Regions in five levels with real-looking codes.
        levels = {r["level"] for r in dirs["region"].values()}
        self.assertEqual(levels, {"province", "city", "county", "township", "village"})
        self.assertEqual(sum(r["level"] == "county" for r in dirs["region"].values()), 98)
        self.assertTrue(all(code.startswith("52") for code in dirs["region"]))
        self.assertIn("holiday", dirs)  # the calendar is published in the directory
        # Plates of Guizhou, identity numbers never in clear.
        plates = [p for d in drivers.values() for p in d.get("plates", [])]
        self.assertTrue(plates and all(p.startswith("贵") for p in plates))
        self.assertFalse(any("id_number" in d or "phone" in d for d in drivers.values()))
        # Some drivers are flagged: the two lines disagree.
        self.assertGreater(self.gen["registry_flagged"], 0)
        # Cases in county desks, with real channels and a filing step each.
        cases = [c for sid in self.spaces("desk ") for c in self.dump[sid].get("case", {}).values()]
        self.assertEqual(len(cases), 38)
        self.assertTrue(all(c["channel"] in ("12328", "12345", "group", "station", "app")
                            for c in cases))
        self.assertTrue(all(c["@events"][0]["action"] == "file" for c in cases))
        self.assertTrue(all(c["region"].startswith("52") for c in cases))

    def test_same_seed_same_stats(self):
        db2 = os.path.join(self.tmp.name, "again.db")
        run("demo-data", "province", db2, "--seed", "7", "--scale", "0.01")
        again = json.loads(run("stats", db2, "--json").stdout)
        self.assertEqual(again, self.stats)
        db3 = os.path.join(self.tmp.name, "other.db")
        run("demo-data", "province", db3, "--seed", "8", "--scale", "0.01")
        other = json.loads(run("stats", db3, "--json").stdout)
        self.assertEqual(other["drivers"], self.stats["drivers"])  # the figures hold...
        self.assertNotEqual(other["cases"], self.stats["cases"])  # ...the details differ

    def test_stats_of_one_space(self):
        s = json.loads(run("stats", self.db, "--space", "registry", "--json").stdout)
        self.assertEqual(s["drivers"], 2570)
        self.assertEqual(s["cases"]["collected"], 0)
        self.assertIsNone(s["cases"]["resolution_rate"])
        self.assertEqual(s["operators"], 0)
        sid = self.spaces("directory")[0]
        s = json.loads(run("stats", self.db, "--space", sid, "--json").stdout)
        self.assertEqual(s["operators"], 74)
        self.assertEqual(s["drivers"], 0)

    def test_errors(self):
        p = run("demo-data", "province", self.db, "--seed", "1", "--scale", "0.01", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        fresh = os.path.join(self.tmp.name, "never.db")
        for args in (["demo-data", "province", fresh],
                     ["demo-data", "province", fresh, "--seed", "x"],
                     ["demo-data", "province", fresh, "--seed", "1", "--scale", "0"],
                     ["demo-data", "province", fresh, "--seed", "1", "--scale", "abc"],
                     ["demo-data", "city", fresh, "--seed", "1"],
                     ["demo-data", "province", "--seed", "1"],
                     ["stats"], ["stats", self.db, "--bogus"], ["stats", self.db, "--space", ""]):
            p = run(*args, ok=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr.startswith("drivercore: "), p.stderr)
        self.assertFalse(os.path.exists(fresh))
        p = run("stats", fresh, "--json", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no replica", p.stderr)
        p = run("stats", self.db, "--space", "nosuchspace", "--json", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no space named", p.stderr)
        p = run("stats", self.db, "--space", "0" * 32, "--json", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("holds no key", p.stderr)
        p = run("stats", self.db, "--calendar", "/nonexistent.tsv", "--json", ok=False)
        self.assertEqual(p.returncode, 1)


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
