#!/usr/bin/env python3
"""End-to-end tests of the organised side of the domain through the
`drivercore` tool: region, org, station, checkin, branch, secretary, study
and liaison (include/drivercore/org.h, docs/domain.md).  Each test runs the
built binary in a fresh directory with the clock pinned, checks the JSON on
stdout, and checks that mistakes give a message on stderr with exit 2 (a
usage error, including a value the library refuses) or 1 (an operation
that failed, such as an unknown record).

Usage: test_org_cli.py PATH/TO/drivercore [unittest args...]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("DRIVERCORE_BIN")
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


class OrgCliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-org-cli-")
        self.now = T0

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_dc(self, *args, rc=0):
        env = dict(os.environ, DRIVERCORE_NOW_MS=str(self.now))
        p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, rc, f"{args}: rc {p.returncode}\n{p.stdout}\n{p.stderr}")
        if rc == 0:
            self.assertEqual(p.stderr, "")
            return json.loads(p.stdout)
        self.assertEqual(p.stdout, "", f"{args}: data on stdout despite failure")
        self.assertTrue(p.stderr.startswith("drivercore: "), p.stderr)
        return p.stderr

    def replica(self, name):
        path = os.path.join(self.dir, name)
        self.run_dc("init", path, "--name", name)
        return path

    def space(self, rep, name):
        return self.run_dc("space", "create", rep, name)["space"]

    def driver(self, rep, reg, did, status, hukou="520112", routes=(), scope=(), branch=None):
        """A driver record as docs/domain.md lays it out, through `apply`."""
        ops = [{"type": "driver", "id": did, "set": {
            "name": did, "hukou_region": hukou, "activity_area": hukou, "status": status,
            "branch": branch}}]
        if routes or scope:
            ops.append({"type": "driver", "id": did, "add": {
                "routes": list(routes), "business_scope": list(scope)}})
        line = json.dumps({"space": reg, "ops": ops})
        p = subprocess.run([BIN, "apply", rep], input=line, capture_output=True, text=True,
                           env=dict(os.environ, DRIVERCORE_NOW_MS=str(self.now)))
        self.assertEqual(p.returncode, 0, p.stderr)

    # ---- the directory ----

    def test_regions_orgs_stations(self):
        r = self.replica("office.db")
        d = self.space(r, "directory")
        self.assertEqual(self.run_dc("region", "put", r, "--space", d, "520000", "--name",
                                     "贵州省", "--level", "province"),
                         {"region": "520000", "level": "province"})
        self.run_dc("region", "put", r, "--space", d, "520100", "--name", "贵阳市", "--level",
                    "city", "--parent", "520000")
        err = self.run_dc("region", "put", r, "--space", d, "520112", "--name", "乌当区",
                          "--level", "city", rc=2)
        self.assertIn("county code", err)
        self.run_dc("region", "put", r, "--space", d, "520112", "--name", "乌当区", rc=2)
        regions = self.run_dc("region", "list", r, "--space", d)
        self.assertEqual(sorted(regions), ["520000", "520100"])

        out = self.run_dc("org", "put", r, "--space", d, "joint_meeting", "520112", "--name",
                          "联席会议", "--level", "county", "--region", "520112",
                          "--departments", "department-cac, department-police")
        self.assertEqual(out, {"org": "joint_meeting-520112", "kind": "joint_meeting"})
        self.run_dc("org", "put", r, "--space", d, "committee", "52", "--name", "省行业党委",
                    "--level", "province")
        self.assertIn("level is missing",
                      self.run_dc("org", "put", r, "--space", d, "committee", "5201", "--name",
                                  "x", rc=2))
        orgs = self.run_dc("org", "list", r, "--space", d, "--kind", "joint_meeting")
        self.assertEqual(sorted(orgs["joint_meeting-520112"]["departments"]),
                         ["department-cac", "department-police"])

        out = self.run_dc("station", "put", r, "--space", d, "520112-01", "--name", "乌当区司机之家",
                          "--site", "logistics_park", "--region", "520112", "--facilities",
                          "study_room,kitchen,showers,massage_chairs", "--operator",
                          "station_operator-pubu")
        self.assertEqual(out, {"station": "dh-520112-01"})
        self.run_dc("station", "facility", r, "--space", d, "dh-520112-01", "parking")
        self.run_dc("station", "facility", r, "--space", d, "dh-520112-01", "kitchen",
                    "--remove")
        self.assertIn("no station",
                      self.run_dc("station", "facility", r, "--space", d, "dh-x", "parking",
                                  rc=1))
        one = self.run_dc("station", "show", r, "--space", d, "dh-520112-01")
        self.assertEqual(one["facilities"],
                         ["massage_chairs", "parking", "showers", "study_room"])
        listed = self.run_dc("station", "show", r, "--space", d, "--facility", "parking")
        self.assertEqual([s["station"] for s in listed["stations"]], ["dh-520112-01"])
        self.assertEqual(self.run_dc("station", "show", r, "--space", d, "--region", "5204"),
                         {"stations": []})
        self.run_dc("station", "show", r, "--space", d, "dh-nope", rc=1)
        self.assertIn("site 'motel'",
                      self.run_dc("station", "put", r, "--space", d, "x", "--name", "x",
                                  "--site", "motel", "--region", "520112", rc=2))

    def test_checkin_personal_space(self):
        r = self.replica("phone.db")
        me = self.space(r, "driver drv-me")
        out = self.run_dc("checkin", r, "--space", me, "dh-520112-01", "--used",
                          "massage_chairs", "--feedback", "很好", "--rating", "5")
        self.assertEqual(out, {"checkin": "dh-520112-01", "at": T0})
        self.now += 1000
        self.run_dc("checkin", r, "--space", me, "dh-520402-01")
        listed = self.run_dc("checkin", r, "--space", me)["checkins"]
        self.assertEqual(len(listed), 2)
        self.assertEqual(listed[0], {"station": "dh-520112-01", "at": T0,
                                     "used": "massage_chairs", "feedback": "很好", "rating": 5})
        self.assertIsNone(listed[1]["rating"])
        self.run_dc("checkin", r, "--space", me, "dh-1", "--rating", "6", rc=2)
        self.run_dc("checkin", r, "--space", me, "dh-1", "--used", "sauna", rc=2)
        self.run_dc("checkin", r, "--space", me, "--rating", "3", rc=2)
        self.run_dc("checkin", r, "dh-1", rc=2)  # no --space

    # ---- branches ----

    def test_branch_suggest_assign_coverage(self):
        r = self.replica("desk.db")
        reg = self.space(r, "registry")
        b1 = self.space(r, "branch wudang")
        b2 = self.space(r, "branch kaiyang")
        out = self.run_dc("branch", "put", r, "--space", b1, "wudang", "--name", "乌当区支部",
                          "--region", "520112", "--hukou", "520112", "--activity", "520112",
                          "--routes", "贵阳-重庆,贵阳-昆明", "--scope", "cold_chain")
        self.assertEqual(out, {"branch": "branch-wudang", "space": b1})
        self.run_dc("branch", "put", r, "--space", b2, "kaiyang", "--name", "开阳县支部",
                    "--region", "520121", "--hukou", "520121", "--routes", "贵阳-长沙",
                    "--scope", "construction_waste")
        self.driver(r, reg, "drv-new", "probationary", "520112", ["贵阳-重庆"], ["cold_chain"])
        self.driver(r, reg, "drv-old", "member", "520121", [], [], "branch-kaiyang")
        s = self.run_dc("branch", "suggest", r, "--space", reg, "drv-new")
        self.assertIsNone(s["current"])
        self.assertEqual([x["branch"] for x in s["suggestions"]],
                         ["branch-wudang", "branch-kaiyang"])
        self.assertEqual(s["suggestions"][0]["principles"],
                         {"hukou_region": 100, "routes": 50, "activity_area": 100,
                          "business_scope": 100})
        self.assertEqual(s["suggestions"][0]["score"], 350)
        self.assertEqual(s["suggestions"][1]["principles"]["hukou_region"], 60)
        s = self.run_dc("branch", "suggest", r, "--space", reg, "drv-new", "--limit", "1")
        self.assertEqual(len(s["suggestions"]), 1)
        self.run_dc("branch", "suggest", r, "--space", reg, "drv-none", rc=1)
        self.run_dc("branch", "suggest", r, "--space", reg, "drv-new", "--limit", "x", rc=2)

        cov = self.run_dc("branch", "coverage", r, "--space", reg)
        self.assertEqual(cov["party_member_drivers"], 2)
        self.assertEqual(cov["unassigned"], ["drv-new"])
        self.assertFalse(cov["covered"])
        # drv-old is not on kaiyang's roster, which this desk holds.
        self.assertEqual([m["driver"] for m in cov["roster_mismatch"]], ["drv-old"])

        self.assertEqual(self.run_dc("branch", "assign", r, "--space", reg, "drv-new",
                                     "branch-wudang"),
                         {"driver": "drv-new", "branch": "branch-wudang"})
        self.run_dc("branch", "member", r, "--space", b1, "branch-wudang", "drv-new",
                    "--joined", "2026-01-01")
        self.run_dc("branch", "member", r, "--space", b2, "branch-kaiyang", "drv-old")
        cov = self.run_dc("branch", "coverage", r, "--space", reg)
        self.assertTrue(cov["covered"], cov)
        self.assertEqual(cov["branches"]["branch-wudang"], {"registry": 1, "roster": 1})
        # Listed on a second roster: doubly listed.
        self.run_dc("branch", "member", r, "--space", b2, "branch-kaiyang", "drv-new")
        cov = self.run_dc("branch", "coverage", r, "--space", reg)
        self.assertEqual(cov["multiple_rosters"], ["drv-new"])
        self.run_dc("branch", "member", r, "--space", b2, "branch-kaiyang", "drv-new",
                    "--remove")
        self.assertEqual(self.run_dc("branch", "assign", r, "--space", reg, "drv-old", "none"),
                         {"driver": "drv-old", "branch": None})
        self.assertIn("drv-old",
                      self.run_dc("branch", "coverage", r, "--space", reg)["unassigned"])

        self.run_dc("branch", "assign", r, "--space", reg, "drv-zz", "branch-wudang", rc=1)
        self.run_dc("branch", "assign", r, "--space", reg, "drv-new", rc=2)
        self.run_dc("branch", "member", r, "--space", b1, "branch-wudang", "drv-new",
                    "--joined", "2026-01-01", "--remove", rc=2)
        self.run_dc("branch", "frobnicate", r, rc=2)
        self.run_dc("branch", rc=2)

    # ---- secretaries ----

    def test_secretary_tasks(self):
        r = self.replica("tablet.db")
        reg = self.space(r, "registry")
        sec = self.run_dc("secretary", "put", r, "--space", reg, "branch-wudang", "xuxin",
                          "--name", "许鑫", "--from", "transport_dept-520112")["secretary"]
        self.assertEqual(sec, "branch-wudang/xuxin")
        self.run_dc("secretary", "task", r, "--space", reg, sec, "走访冷链市场", "--due",
                    "2026-01-10")
        self.run_dc("secretary", "task", r, "--space", reg, sec, "核实台账")
        self.assertEqual(self.run_dc("secretary", "done", r, "--space", reg, sec, "核实台账"),
                         {"secretary": sec, "task": "核实台账", "done": True})
        shown = self.run_dc("secretary", "show", r, "--space", reg, sec)["secretaries"][0]
        self.assertEqual((shown["open"], shown["done"]), (1, 1))
        self.run_dc("secretary", "done", r, "--space", reg, sec, "核实台账", "--undo")
        shown = self.run_dc("secretary", "show", r, "--space", reg)["secretaries"][0]
        self.assertEqual((shown["open"], shown["done"]), (2, 0))
        self.run_dc("secretary", "done", r, "--space", reg, sec, "nope", rc=1)
        self.run_dc("secretary", "task", r, "--space", reg, sec, "x", "--due", "tomorrow",
                    rc=2)
        self.run_dc("secretary", "put", r, "--space", reg, "branch-wudang", "p", "--name",
                    "n", "--role", "boss", rc=2)

    # ---- study, offline on two phones ----

    def test_study_offline(self):
        sec = self.replica("sec.db")
        phone = self.replica("phone.db")
        br = self.space(sec, "branch wanshan")
        card = os.path.join(self.dir, "card.json")
        with open(card, "w") as f:
            json.dump(self.run_dc("whoami", phone), f)
        self.run_dc("space", "add", sec, br, "@" + card, "--role", "member")
        for d in ("drv-yang", "drv-b"):
            self.run_dc("branch", "member", sec, "--space", br, "branch-wanshan", d)
        item = self.run_dc("study", "push", sec, "--space", br, "--title", "微党课", "--kind",
                           "micro_lesson", "--media", "正文", "--id", "st-1")
        self.assertEqual(item, {"study": "st-1", "pushed": T0})
        act = self.run_dc("study", "activity", sec, "--space", br, "--title", "主题党日",
                          "--date", "2026-01-15")["activity"]
        self.assertTrue(act.startswith("act-"))
        bundle = os.path.join(self.dir, "b1")
        self.run_dc("bundle", "export", sec, bundle)
        self.run_dc("bundle", "import", phone, bundle)
        self.run_dc("space", "accept", phone, br)  # the phone joins by consent
        self.now += 3_600_000
        self.run_dc("study", "read", phone, "--space", br, "st-1", "--driver", "drv-yang",
                    "--done")
        self.run_dc("study", "discuss", phone, "--space", br, "st-1", "--driver", "drv-yang",
                    "--text", "学到了")
        self.run_dc("study", "join", phone, "--space", br, act, "--driver", "drv-yang")
        self.run_dc("study", "read", sec, "--space", br, "st-1", "--driver", "drv-b")
        self.run_dc("bundle", "export", phone, bundle)
        self.run_dc("bundle", "import", sec, bundle)
        one = self.run_dc("study", "show", sec, "--space", br, "st-1")
        self.assertEqual(one["members"], {"drv-b": "read", "drv-yang": "done"})
        self.assertEqual(one["discussion"][0]["text"], "学到了")
        allst = self.run_dc("study", "show", sec, "--space", br)
        self.assertEqual(allst["activities"][0]["participants"], ["drv-yang"])
        self.assertEqual(allst["by_member"]["drv-b"], {"read": 1, "done": 0, "unread": 0})
        self.run_dc("study", "read", sec, "--space", br, "st-2", "--driver", "drv-b", rc=1)
        self.run_dc("study", "read", sec, "--space", br, "st-1", rc=2)  # no --driver
        self.run_dc("study", "push", sec, "--space", br, "--title", "x", "--kind", "tv", rc=2)
        self.run_dc("study", "show", sec, "--space", br, "st-9", rc=1)

    # ---- liaison ----

    def test_liaison(self):
        r = self.replica("county.db")
        reg = self.space(r, "registry")
        self.driver(r, reg, "drv-xiao", "applicant")
        self.run_dc("liaison", "cadre", r, "--space", reg, "c1", "--name", "组织委员", "--region",
                    "520112001", "--title", "township_org_member")
        link = self.run_dc("liaison", "link", r, "--space", reg, "c1", "drv-jiang", "--level",
                           "cadre")
        self.assertEqual(link, {"link": "c1/drv-jiang", "level": "cadre"})
        self.run_dc("liaison", "link", r, "--space", reg, "drv-jiang", "drv-xiao", "--level",
                    "party_member")
        self.run_dc("liaison", "contact", r, "--space", reg, "drv-jiang/drv-xiao", "--how",
                    "call", "--date", "2026-01-01", "--note", "问入党申请进度")
        self.run_dc("liaison", "contact", r, "--space", reg, "c1/drv-jiang", "--how", "visit")
        # --space also takes the name of a space held once.
        shown = self.run_dc("liaison", "show", r, "--space", "registry")
        self.assertEqual(shown, self.run_dc("liaison", "show", r, "--space", reg))
        self.assertEqual((shown["cadres"], shown["party_member_drivers"], shown["drivers"]),
                         (1, 1, 1))
        self.assertEqual(shown["contacts"], {"cadre": 1, "party_member": 1, "call": 1,
                                             "visit": 1, "message": 0})
        chain = self.run_dc("liaison", "show", r, "--space", reg, "--from", "drv-jiang")["chain"]
        self.assertEqual(chain[0]["status"], "applicant")
        self.assertEqual(chain[0]["contacts"][0]["note"], "问入党申请进度")
        self.run_dc("liaison", "link", r, "--space", reg, "c1", "c2", "--level", "cadre", rc=2)
        self.run_dc("liaison", "contact", r, "--space", reg, "c9/drv-x", "--how", "call", rc=1)
        self.run_dc("liaison", "contact", r, "--space", reg, "c1/drv-jiang", "--how", "fax",
                    rc=2)
        self.run_dc("liaison", "show", r, rc=2)

    def test_usage(self):
        r = self.replica("x.db")
        err = self.run_dc("study", "frob", r, rc=2)
        self.assertIn("study push", err)
        self.run_dc("region", "put", r, "--space", "00" * 16, "520000", "--name", "x",
                    "--level", "province", rc=1)
        self.run_dc("region", "put", os.path.join(self.dir, "none.db"), "--space", "00" * 16,
                    "520000", "--name", "x", "--level", "province", rc=1)
        self.run_dc("org", "put", r, "--space", "s", "committee", rc=2)
        self.assertIn("no space 'nope'", self.run_dc("liaison", "show", r, "--space", "nope",
                                                     rc=1))
        self.space(r, "twin")
        self.space(r, "twin")
        self.assertIn("2 spaces are named 'twin'",
                      self.run_dc("liaison", "show", r, "--space", "twin", rc=2))
        self.run_dc("station", "show", r, "--space", "s", "--bogus", "1", rc=2)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BIN = sys.argv.pop(1)
    if not BIN:
        sys.exit("usage: test_org_cli.py PATH/TO/drivercore")
    unittest.main()
