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
        # The registry in parts: a root with no drivers, a county registry
        # per county-level unit and a branch registry per branch; every
        # driver kept in exactly one of them.
        root = [sid for sid, n in self.names.items() if n == "registry"]
        self.assertEqual(len(root), 1)
        self.assertNotIn("driver", self.dump.get(root[0], {}))
        parts = self.spaces("registry ")
        self.assertEqual(len(parts), 98 + 2)
        self.assertEqual(self.gen["spaces"]["registry"], 1 + 98 + 2)
        kept = {}
        for sid in parts:
            moved_here = self.dump.get(sid, {}).get("moved", {})
            for did, d in self.dump.get(sid, {}).get("driver", {}).items():
                if did in moved_here:
                    # Left behind by a move: emptied, nothing about him kept.
                    self.assertTrue(all(v is None for v in d.values() if not isinstance(v, list)))
                    self.assertNotIn("reports", d)
                    continue
                kept.setdefault(did, []).append(d)
        self.assertTrue(all(len(v) == 1 for v in kept.values()))
        drivers = {did: v[0] for did, v in kept.items()}
        pm = [d for d in drivers.values() if d.get("status") in ("member", "probationary")]
        self.assertEqual(len(drivers), 2570)
        self.assertEqual(len(pm), 59)
        # Party members of a county with a branch are kept in its branch
        # registry, the others in their county's.
        for sid in self.spaces("registry branch-"):
            for d in self.dump.get(sid, {}).get("driver", {}).values():
                self.assertEqual(d["branch"], self.names[sid][len("registry "):])
        # The moves of 2026: a forwarding entry where each driver was kept.
        moved = [m for sid in parts for m in self.dump.get(sid, {}).get("moved", {}).values()]
        self.assertEqual(len(moved), self.gen["moves"])
        self.assertEqual(self.gen["moves"], 3)  # 0.1 % of 2,570
        self.assertTrue(all(m["space"] in parts for m in moved))
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

    def test_stats_by_region_and_more(self):
        # The report's Wudang figures are a county row of the province's stats.
        wd = self.stats["by_region"]["520112"]
        for k in ("enterprises", "drivers", "party_member_drivers"):
            self.assertEqual(wd[k], self.gen["wudang"][k], k)
        self.assertEqual(wd["level"], "county")
        self.assertEqual(wd["parent"], "520100")
        self.assertEqual(wd["name"], "乌当区")
        regions = self.stats["by_region"]
        counties = [r for r in regions.values() if r["level"] == "county"]
        cities = [r for r in regions.values() if r["level"] == "city"]
        self.assertEqual(regions["520000"]["level"], "province")
        # Every row adds up: counties to the province, cities to the province.
        for key in ("drivers", "party_member_drivers", "inflow", "outflow"):
            self.assertEqual(sum(r[key] for r in counties), self.stats[key]
                             if key in self.stats else regions["520000"][key], key)
            self.assertEqual(sum(r[key] for r in cities), regions["520000"][key], key)
        self.assertEqual(regions["520000"]["drivers"], self.stats["drivers"])
        # Moves: both sides count each one; inflow and outflow balance.
        self.assertEqual(sum(r["moved_in"] for r in counties), self.gen["moves"])
        self.assertEqual(sum(r["moved_out"] for r in counties), self.gen["moves"])
        self.assertEqual(regions["520000"]["inflow"], regions["520000"]["outflow"])
        self.assertEqual(sum(r["cases"]["collected"] for r in counties), 38)
        # Channels, categories and levels partition the cases.
        for key in ("by_channel", "by_category", "by_level"):
            self.assertEqual(sum(b["collected"] for b in self.stats[key].values()), 38, key)
        self.assertTrue(set(self.stats["by_channel"]) <= {"12328", "12345", "group", "station",
                                                         "app"})
        # Money owed carries its amount; the first case is the report's 4,200 yuan.
        self.assertGreater(self.stats["cases"]["amount_yuan"], 4200)
        self.assertGreater(self.stats["cases"]["recovered_yuan"], 0)
        self.assertEqual(self.stats["calendar"], {"years": [2026, 2026], "estimated": 0})

    def test_registry_union(self):
        # Given the root, the registry reads every part held (the province's
        # view): each conflict names the part keeping the driver.
        spaces = json.loads(run("registry", "spaces", self.db).stdout)
        self.assertEqual(spaces[0]["level"], "province")
        self.assertEqual(sum(s["level"] == "county" for s in spaces), 98)
        self.assertEqual(sum(s["level"] == "branch" for s in spaces), 2)
        conflicts = json.loads(run("registry", "conflicts", self.db, "--space", "registry").stdout)
        self.assertTrue(conflicts)
        self.assertTrue(all(c["space"] in self.names for c in conflicts))
        ids = [c["driver"] for c in conflicts]
        self.assertEqual(ids, sorted(ids))
        one = json.loads(run("registry", "conflicts", self.db, "--space",
                             self.names_by(conflicts[0]["space"])).stdout)
        self.assertIn(conflicts[0]["driver"], [c["driver"] for c in one])
        cov = json.loads(run("branch", "coverage", self.db, "--space", "registry").stdout)
        self.assertEqual(cov["party_member_drivers"], 59)
        self.assertEqual(cov["kept_twice"], [])

    def names_by(self, sid):
        return self.names[sid]

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
        # The root holds no drivers; Wudang's county registry and its branch's
        # hold Wudang's, as a county desk would print them.
        s = json.loads(run("stats", self.db, "--space", "registry", "--json").stdout)
        self.assertEqual(s["drivers"], 0)
        county = json.loads(run("stats", self.db, "--space", "registry 520112", "--json").stdout)
        self.assertEqual(county["cases"]["collected"], 0)
        self.assertIsNone(county["cases"]["resolution_rate"])
        self.assertEqual(county["operators"], 0)
        self.assertEqual(county["by_region"]["520112"]["drivers"], county["drivers"])
        branch = json.loads(run("stats", self.db, "--space", "registry branch-520112-01",
                                "--json").stdout)
        self.assertEqual(county["drivers"] + branch["drivers"], self.gen["wudang"]["drivers"])
        self.assertEqual(county["party_member_drivers"] + branch["party_member_drivers"],
                         self.gen["wudang"]["party_member_drivers"])
        sid = self.spaces("directory")[0]
        s = json.loads(run("stats", self.db, "--space", sid, "--json").stdout)
        self.assertEqual(s["operators"], 74)
        self.assertEqual(s["drivers"], 0)


    def test_progress_line_and_quiet(self):
        # On a terminal the generator draws one progress line on stderr; not
        # on a pipe, nor with --quiet; stdout is the same JSON either way.
        import pty
        import threading
        for quiet in (False, True):
            db = os.path.join(self.tmp.name, "tty%d.db" % quiet)
            master, slave = pty.openpty()
            argv = [TOOL, "demo-data", "province", db, "--seed", "7", "--scale", "0.01"]
            p = subprocess.Popen(argv + (["--quiet"] if quiet else []), stdout=subprocess.PIPE,
                                 stderr=slave, env=dict(os.environ, DRIVERCORE_NOW_MS=NOW))
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

            t = threading.Thread(target=drain)
            t.start()
            out = json.loads(p.stdout.read().decode())
            p.stdout.close()
            p.wait(timeout=300)
            t.join(timeout=30)
            os.close(master)
            err = b"".join(chunks).decode(errors="replace")
            self.assertEqual(p.returncode, 0)
            self.assertEqual(out["figures"], self.gen["figures"])
            if quiet:
                self.assertEqual(err, "")
            else:
                self.assertIn("demo-data: registry, transport line, round 1", err)
                self.assertIn("demo-data: grievances", err)
                self.assertIn("\r", err)
        p = run("demo-data", "province", os.path.join(self.tmp.name, "pipe.db"), "--seed", "7",
                "--scale", "0.01")
        self.assertEqual(p.stderr, "")

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
