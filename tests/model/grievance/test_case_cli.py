#!/usr/bin/env python3
"""End-to-end tests of `drivercore case ...` and `drivercore calendar ...`.

These commands are the stable interface of issue 4 ("Grievances and the
12328 rule"): an office user files a case, records its steps and reads its
status and deadlines.  The tests drive the built tool as a script would,
with the clock pinned through DRIVERCORE_NOW_MS, and check the deadlines
across the 2026 holidays (including the working weekends), emergency
orders, return visits, the calendar's search order, convergence of two
handlers' replicas exchanging bundles, and the usage errors.

Usage: test_case_cli.py PATH/TO/drivercore PATH/TO/cn-holidays-2026.tsv
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = None
CAL = None
CST = datetime.timezone(datetime.timedelta(hours=8))
HOUR = 3600 * 1000


def ms(text):
    """ms since the epoch of an ISO 8601 instant."""
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


class Result:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self):
        return json.loads(self.out)


class CaseCliTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-case-cli-")
        self.a = self.path("a.db")
        self.run_dc("init", self.a, "--name", "county desk")
        self.desk = self.run_dc("space", "create", self.a, "case desk").json()["space"]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_dc(self, *args, now=None, rc=0, env=None):
        e = {k: v for k, v in os.environ.items()
             if k not in ("DRIVERCORE_NOW_MS", "DRIVERCORE_CALENDAR")}
        e["DRIVERCORE_NOW_MS"] = str(now if now is not None else ms("2025-12-01T09:00:00+08:00"))
        e.update(env or {})
        proc = subprocess.run([BIN] + [str(x) for x in args], capture_output=True, text=True,
                              env=e, timeout=60)
        res = Result(proc)
        where = "drivercore %s\nrc=%d\nstdout=%s\nstderr=%s" % (
            " ".join(map(str, args)), res.rc, res.out, res.err)
        self.assertEqual(res.rc, rc, where)
        if rc != 0:
            self.assertIn("drivercore: ", res.err, where)
            self.assertEqual(res.out, "", where)
        return res

    def file(self, now, *extra, replica=None, space=None):
        res = self.run_dc("case", "file", replica or self.a, "--space", space or self.desk,
                          "--driver", "drv-0123456789abcdef0123", "--channel", "12328",
                          "--category", "freight_arrears", "--text", "运费拖欠 4200 元",
                          *extra, now=now)
        case = res.json()
        self.assertEqual(list(case)[0], "case")
        self.assertRegex(case["case"], r"^gr-[0-9a-f]{12}$")
        return case

    def step(self, case, action, *extra, now, replica=None, rc=0):
        return self.run_dc("case", "step", replica or self.a, case, action, *extra, now=now,
                           rc=rc)

    def show(self, case, replica=None, now=None, *extra):
        return self.run_dc("case", "show", replica or self.a, case, *extra, now=now).json()

    # ---- deadlines ----

    def test_file_before_national_day(self):
        now = ms("2026-09-30T10:00:00+08:00")
        case = self.file(now)
        self.assertEqual(case["status"], "received")
        self.assertEqual(case["received"], "2026-09-30T10:00:00+08:00")
        # Oct 1-7 off, Thu 8 and Fri 9 are the two working days; Saturday
        # 10 Oct is worked, so the 5th is Tuesday 13 Oct.
        self.assertEqual(case["due"], {"transfer": "2026-09-30T12:00:00+08:00",
                                       "feedback": "2026-10-10T00:00:00+08:00",
                                       "reply": "2026-10-14T00:00:00+08:00",
                                       "revisit": None})
        self.assertEqual(case["driver"], "drv-0123456789abcdef0123")
        self.assertFalse(case["driver_known"])
        self.assertEqual(case["channel"], "12328")
        self.assertFalse(case["emergency"])
        self.assertEqual(self.show(case["case"]), case)

    def test_working_weekends(self):
        # Receipts in increasing time: a replica's clock never goes back.
        # Wed 31 Dec 2025: 1-3 Jan off, Sun 4 Jan worked.
        c = self.file(ms("2025-12-31T15:00:00+08:00"))
        self.assertEqual(c["due"]["feedback"], "2026-01-06T00:00:00+08:00")
        self.assertEqual(c["due"]["reply"], "2026-01-09T00:00:00+08:00")
        # Fri 13 Feb: Sat 14 is worked, then the festival until 23 Feb.
        c = self.file(ms("2026-02-13T15:00:00+08:00"))
        self.assertEqual(c["due"]["feedback"], "2026-02-25T00:00:00+08:00")
        self.assertEqual(c["due"]["reply"], "2026-02-28T00:00:00+08:00")
        # 23:30 CST on Fri 13 Feb is 15:30 UTC: the day is the 13th in CST;
        # 00:30 on the 14th is still the 13th in UTC but the 14th in CST.
        c = self.file(ms("2026-02-13T23:30:00+08:00"))
        self.assertEqual(c["due"]["feedback"], "2026-02-25T00:00:00+08:00")
        c = self.file(ms("2026-02-14T00:30:00+08:00"))
        self.assertEqual(c["due"]["feedback"], "2026-02-26T00:00:00+08:00")
        # Fri 27 Feb: Sat 28 is worked, Sun 1 Mar is not.
        c = self.file(ms("2026-02-27T15:00:00+08:00"))
        self.assertEqual(c["due"]["feedback"], "2026-03-03T00:00:00+08:00")

    def test_emergency_due_at_receipt(self):
        now = ms("2026-06-19T03:17:00+08:00")
        c = self.file(now, "--emergency")
        self.assertTrue(c["emergency"])
        self.assertEqual(c["due"]["transfer"], "2026-06-19T03:17:00+08:00")
        shown = self.step(c["case"], "transfer", "--to", "joint_meeting-5201",
                          now=now + 60000).json()
        self.assertEqual(shown["status"], "transferred")
        self.assertEqual(shown["level"], "joint_meeting")
        self.assertFalse(shown["on_time"]["transfer"])

    def test_revisit_and_reopen(self):
        t = ms("2026-10-12T09:00:00+08:00")
        c = self.file(t)["case"]
        self.step(c, "transfer", "--to", "committee-520100", "--note", "到行业党委", now=t + HOUR)
        self.step(c, "feedback", now=t + 5 * HOUR)
        s = self.show(c)
        self.assertEqual(s["status"], "in_progress")
        self.assertIsNone(s["due"]["revisit"])
        self.assertEqual(s["steps"][1]["note"], "到行业党委")
        self.assertEqual(s["steps"][1]["time"], "2026-10-12T10:00:00+08:00")
        self.assertEqual(s["steps"][1]["author"], self.run_dc("whoami", self.a).json()["device"])
        # Resolved Friday 16 Oct: revisit by the end of Tuesday 20 Oct.
        s = self.step(c, "resolve", now=ms("2026-10-16T11:00:00+08:00")).json()
        self.assertEqual(s["status"], "resolved")
        self.assertEqual(s["due"]["revisit"], "2026-10-21T00:00:00+08:00")
        self.assertEqual(s["on_time"], {"transfer": True, "feedback": True, "reply": True,
                                        "revisit": None})
        # The driver is not satisfied: reopened, no revisit deadline.
        s = self.step(c, "revisit", "--satisfied", "no", now=ms("2026-10-19T11:00:00+08:00")).json()
        self.assertEqual(s["status"], "in_progress")
        self.assertIsNone(s["due"]["revisit"])
        self.assertIsNone(s["resolved"])
        self.assertEqual(s["reopened"], 1)
        self.assertFalse(s["satisfied"])
        s = self.step(c, "resolve", now=ms("2026-10-22T11:00:00+08:00")).json()
        self.assertEqual(s["due"]["revisit"], "2026-10-27T00:00:00+08:00")
        s = self.step(c, "revisit", "--satisfied", "yes", now=ms("2026-10-23T11:00:00+08:00")).json()
        self.assertEqual(s["status"], "revisited")
        s = self.step(c, "close", now=ms("2026-10-23T12:00:00+08:00")).json()
        self.assertEqual(s["status"], "closed")
        self.assertEqual([x["action"] for x in s["steps"]],
                         ["file", "transfer", "feedback", "resolve", "revisit", "resolve",
                          "revisit", "close"])
        # A closed case takes no step but reopen.
        r = self.step(c, "feedback", now=ms("2026-10-24T12:00:00+08:00"), rc=1)
        self.assertIn("closed", r.err)
        s = self.step(c, "reopen", now=ms("2026-10-24T12:00:00+08:00")).json()
        self.assertEqual(s["status"], "in_progress")

    def test_driver_linked_once_registered(self):
        c = self.file(ms("2026-03-02T09:00:00+08:00"))
        self.assertFalse(c["driver_known"])
        reg = self.run_dc("space", "create", self.a, "registry").json()["space"]
        line = json.dumps({"space": reg, "ops": [{"type": "driver", "id": c["driver"],
                                                  "set": {"name": "黄师傅"}}]})
        proc = subprocess.run([BIN, "apply", self.a], input=line + "\n", text=True,
                              capture_output=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(self.show(c["case"])["driver_known"])

    # ---- two handlers offline ----

    def test_concurrent_steps_converge(self):
        b = self.path("b.db")
        card = self.run_dc("init", b, "--name", "branch secretary").out.strip()
        self.run_dc("space", "add", self.a, self.desk, card, "--role", "member")
        t = ms("2026-09-29T09:00:00+08:00")
        c = self.file(t)["case"]

        def exchange(now):
            for src, dst in ((self.a, b), (b, self.a)):
                f = self.path("x.bundle")
                self.run_dc("bundle", "export", src, f, now=now)
                self.run_dc("bundle", "import", dst, f, now=now)

        exchange(t + 1000)
        self.run_dc("space", "accept", b, self.desk, now=t + 1000)  # b joins by consent
        self.assertEqual(self.show(c, b), self.show(c))
        # Two transfers cross; then A resolves while B, offline, escalates.
        self.step(c, "transfer", "--to", "branch-52010001", now=t + HOUR)
        self.step(c, "transfer", "--to", "committee-520100", now=t + HOUR + 5, replica=b)
        exchange(t + 2 * HOUR)
        sa, sb = self.show(c), self.show(c, b)
        self.assertEqual(sa, sb)
        self.assertEqual(sa["at"], "committee-520100")
        self.assertEqual(sa["status"], "transferred")
        self.step(c, "resolve", now=t + 3 * HOUR)
        exchange(t + 3 * HOUR + 1000)
        # A reopens (the driver called back) while B closes, later by clock:
        # the close lands on a reopened case and is kept unapplied.
        self.step(c, "reopen", now=t + 4 * HOUR)
        self.step(c, "close", now=t + 4 * HOUR + 5, replica=b)
        self.assertEqual(self.show(c, b)["status"], "closed")
        exchange(t + 5 * HOUR)
        sa, sb = self.show(c), self.show(c, b)
        self.assertEqual(sa, sb)
        self.assertEqual(sa["status"], "in_progress")
        self.assertEqual(sa["steps"][-1]["action"], "close")
        self.assertFalse(sa["steps"][-1]["applied"])
        # Resolved again; an unsatisfied revisit crosses a close: reopened.
        self.step(c, "resolve", now=t + 6 * HOUR)
        exchange(t + 6 * HOUR + 1000)
        self.step(c, "close", now=t + 7 * HOUR, replica=b)
        self.step(c, "revisit", "--satisfied", "no", now=t + 7 * HOUR + 5)
        exchange(t + 8 * HOUR)
        sa, sb = self.show(c), self.show(c, b)
        self.assertEqual(sa, sb)
        self.assertEqual(sa["status"], "in_progress")
        self.assertEqual(sa["reopened"], 2)
        self.assertEqual(self.run_dc("dump", self.a).out, self.run_dc("dump", b).out)

    # ---- errors ----

    def test_usage_errors(self):
        c = self.file(ms("2026-03-02T09:00:00+08:00"))["case"]
        now = ms("2026-03-02T10:00:00+08:00")
        for args, words in [
            (["case", "step", self.a, c, "escalate"], "unknown action 'escalate'"),
            (["case", "step", self.a, c, "transfer"], "--to"),
            (["case", "step", self.a, c, "feedback", "--to", "x"], "--to goes only"),
            (["case", "step", self.a, c, "revisit", "--satisfied", "maybe"], "yes or no"),
            (["case", "step", self.a, c, "revisit"], "--satisfied"),
            (["case", "step", self.a, c, "close", "--satisfied", "yes"], "only with revisit"),
            (["case", "step", self.a, c, "feedback", "--bogus", "1"], "unknown option"),
            (["case", "step", self.a, c], "REPLICA CASE ACTION"),
            (["case", "file", self.a, "--space", self.desk, "--driver", "d", "--category", "x",
              "--text", "y"], "required"),
            (["case", "file", self.a, "--space", self.desk, "--driver", "d", "--channel", "fax",
              "--category", "x", "--text", "y"], "--channel must be"),
            (["case", "frobnicate"], "file, step, show, list, route or amount"),
            (["case"], "file, step, show, list, route or amount"),
            (["calendar", "due", "--from", "yesterday", "--days", "2"], "RFC 3339"),
            (["calendar", "due", "--from", "2026-01-01T00:00:00Z", "--days", "0"], "--days"),
            (["calendar", "due", "--days", "2"], "--from"),
            (["calendar", "publish", self.a], "--space"),
            (["calendar"], "publish, show or due"),
        ]:
            r = self.run_dc(*args, now=now, rc=2)
            self.assertIn(words, r.err)

    def test_unknown_case_and_state_errors(self):
        now = ms("2026-03-02T10:00:00+08:00")
        r = self.run_dc("case", "show", self.a, "gr-000000000000", now=now, rc=1)
        self.assertIn("not found", r.err)
        self.step("gr-000000000000", "resolve", now=now, rc=1)
        c = self.file(now)["case"]
        r = self.step(c, "close", now=now, rc=1)
        self.assertIn("resolve it first", r.err)
        r = self.step(c, "revisit", "--satisfied", "yes", now=now, rc=1)
        r = self.step(c, "reopen", now=now, rc=1)
        self.assertIn("nothing to reopen", r.err)
        self.assertEqual(len(self.show(c)["steps"]), 1)
        self.run_dc("case", "show", self.path("missing.db"), c, rc=1)
        self.run_dc("case", "file", self.a, "--space", "nosuchspace", "--driver", "d",
                    "--channel", "app", "--category", "x", "--text", "y", now=now, rc=1)

    # ---- the calendar ----

    def test_calendar_due_and_show(self):
        r = self.run_dc("calendar", "due", "--from", "2026-09-30T10:00:00+08:00", "--days", "2").json()
        self.assertEqual(r["due"], "2026-10-10T00:00:00+08:00")
        self.assertEqual(r["due_ms"], ms("2026-10-10T00:00:00+08:00"))
        r = self.run_dc("calendar", "due", "--from", ms("2026-09-30T10:00:00+08:00"), "--days",
                        "5").json()
        self.assertEqual(r["due"], "2026-10-14T00:00:00+08:00")
        self.assertEqual(r["from"], "2026-09-30T10:00:00+08:00")
        s = self.run_dc("calendar", "show").json()
        self.assertTrue(s["source"].endswith("cn-holidays-2026.tsv"))
        self.assertEqual(s["years"], [2026])
        days = {d["date"]: d["kind"] for d in s["days"]}
        for d in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
                  "2026-10-10"):
            self.assertEqual(days[d], "work")
        self.assertEqual(days["2026-10-01"], "off")
        self.assertEqual(s["off"] + s["work"], len(s["days"]))

    def test_calendar_search_order(self):
        # A corrected schedule published into a space the replica holds wins
        # over the installed file; --calendar and DRIVERCORE_CALENDAR win
        # over the space.
        mine = self.path("mine.tsv")
        with open(mine, "w") as f:
            f.write("# only 1 October off\n2026-10-01\toff\t国庆节\n")
        directory = self.run_dc("space", "create", self.a, "directory").json()["space"]
        p = self.run_dc("calendar", "publish", self.a, "--space", "directory", mine).json()
        self.assertEqual(p["space"], directory)
        self.assertEqual((p["off"], p["work"]), (1, 0))
        s = self.run_dc("calendar", "show", self.a).json()
        self.assertEqual(s["source"], "space " + directory)
        self.assertEqual(len(s["days"]), 1)
        now = ms("2026-09-30T10:00:00+08:00")
        self.assertEqual(self.file(now)["due"]["feedback"], "2026-10-06T00:00:00+08:00")
        c = self.run_dc("case", "file", self.a, "--space", self.desk, "--driver", "d",
                        "--channel", "station", "--category", "services", "--text", "t",
                        "--calendar", CAL, now=now).json()
        self.assertEqual(c["due"]["feedback"], "2026-10-10T00:00:00+08:00")
        # The deadline is computed when shown: the same case, another calendar.
        self.assertEqual(self.show(c["case"])["due"]["feedback"], "2026-10-06T00:00:00+08:00")
        r = self.run_dc("case", "show", self.a, c["case"], env={"DRIVERCORE_CALENDAR": CAL}).json()
        self.assertEqual(r["due"]["feedback"], "2026-10-10T00:00:00+08:00")
        # Publishing the official file replaces the corrected one.
        self.run_dc("calendar", "publish", self.a, "--space", directory, "--calendar", CAL)
        self.assertEqual(self.show(c["case"])["due"]["feedback"], "2026-10-10T00:00:00+08:00")

    def test_bad_calendar_file(self):
        bad = self.path("bad.tsv")
        with open(bad, "w") as f:
            f.write("2026-10-01\toff\n2026-10-32\toff\n")
        r = self.run_dc("calendar", "show", "--calendar", bad, rc=1)
        self.assertIn("line 2", r.err)
        r = self.run_dc("calendar", "due", "--from", "2026-01-01T00:00:00Z", "--days", "1",
                        env={"DRIVERCORE_CALENDAR": bad}, rc=1)
        self.assertIn("DRIVERCORE_CALENDAR", r.err)
        self.run_dc("calendar", "show", "--calendar", self.path("none.tsv"), rc=1)


    # ---- issue 14: amounts, routing, the desks' list, estimated deadlines ----

    def test_amount_route_and_list(self):
        t = ms("2026-09-23T14:20:00+08:00")
        c = self.file(t, "--amount", "4200", "--region", "520471", "--route")
        self.assertEqual(c["amount"], 4200)
        self.assertEqual(c["routed"], "committee")  # no branch known for this driver
        self.assertEqual(c["at"], "committee-520471")
        self.assertTrue(c["on_time"]["transfer"])
        self.assertEqual(c["warnings"], [])
        r = self.run_dc("case", "route", self.a, "--category", "enforcement", "--region",
                        "520112").json()
        self.assertEqual(r["level"], "joint_meeting")
        self.assertEqual(r["to"], "joint_meeting-520112")
        r = self.run_dc("case", "route", self.a, "--category", "freight_arrears", "--amount",
                        "60000").json()
        self.assertEqual((r["level"], r["to"]), ("joint_meeting", None))
        self.assertTrue(r["rule"])
        shown = self.run_dc("case", "amount", self.a, c["case"], "4000", now=t + HOUR).json()
        self.assertEqual(shown["amount"], 4000)
        e = self.file(t + 2 * HOUR, "--emergency", "--region", "520112")
        o = self.file(t + 3 * HOUR)
        self.step(o["case"], "transfer", "--to", "branch-520112-01", now=t + 3 * HOUR + 60000)
        # The next morning: the emergency (due at once) and the routed case's
        # feedback first, nearest deadline first.
        morning = ms("2026-09-24T08:30:00+08:00")
        lst = self.run_dc("case", "list", self.a, now=morning).json()
        self.assertEqual(lst["count"], 3)
        self.assertEqual(lst["as_of"], "2026-09-24T08:30:00+08:00")
        self.assertEqual(lst["cases"][0]["case"], e["case"])
        self.assertEqual(lst["cases"][0]["next"]["deadline"], "transfer")
        self.assertTrue(lst["cases"][0]["next"]["overdue"])
        self.assertEqual(lst["cases"][0]["overdue"], ["transfer", "feedback", "reply"])
        dues = [x["next"]["due"] for x in lst["cases"]]
        self.assertEqual(dues, sorted(dues))
        over = self.run_dc("case", "list", self.a, "--overdue", now=morning).json()
        self.assertEqual([x["case"] for x in over["cases"]], [e["case"]])
        lv = self.run_dc("case", "list", self.a, "--level", "committee,branch",
                         now=morning).json()
        self.assertEqual({x["case"] for x in lv["cases"]}, {c["case"], o["case"]})
        st = self.run_dc("case", "list", self.a, "--status", "received", "--space", "case desk",
                         now=morning).json()
        self.assertEqual([x["case"] for x in st["cases"]], [e["case"]])
        before = self.run_dc("case", "list", self.a, "--due-before",
                             "2026-09-24T00:00:00+08:00", now=morning).json()
        self.assertEqual([x["case"] for x in before["cases"]], [e["case"]])
        # Usage errors.
        self.run_dc("case", "list", self.a, "--status", "pending", rc=2)
        self.run_dc("case", "list", self.a, "--due-before", "soon", rc=2)
        self.run_dc("case", "list", rc=2)
        self.run_dc("case", "route", self.a, rc=2)
        self.run_dc("case", "route", self.a, "--category", "x", "--amount", "-1", rc=2)
        self.run_dc("case", "amount", self.a, c["case"], "lots", rc=2)
        self.run_dc("case", "amount", self.a, "gr-000000000000", "10", rc=1)
        self.run_dc("case", "file", self.a, "--space", self.desk, "--driver", "d", "--channel",
                    "12328", "--category", "x", "--text", "y", "--route", rc=2)

    def test_estimated_deadlines_warn(self):
        # Received on 30 December: the feedback and reply deadlines run into
        # 2027, which the 2026 calendar does not hold.
        c = self.file(ms("2026-12-30T10:00:00+08:00"))
        self.assertEqual(len(c["warnings"]), 2)
        self.assertIn("publish", c["warnings"][0])
        r = self.run_dc("case", "show", self.a, c["case"], now=ms("2026-12-30T11:00:00+08:00"))
        self.assertIn("warning: the feedback deadline", r.err)
        d = self.run_dc("calendar", "due", "--from", "2026-12-30T10:00:00+08:00", "--days", "5",
                        "--calendar", CAL)
        self.assertTrue(d.json()["estimated"])
        self.assertIn("warning", d.err)
        d = self.run_dc("calendar", "due", "--from", "2026-09-30T10:00:00+08:00", "--days", "2",
                        "--calendar", CAL)
        self.assertFalse(d.json()["estimated"])
        self.assertEqual(d.err, "")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_case_cli.py PATH/TO/drivercore PATH/TO/cn-holidays-2026.tsv")
    BIN, CAL = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:])
