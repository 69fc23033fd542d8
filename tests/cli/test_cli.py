#!/usr/bin/env python3
"""End-to-end tests of the `drivercore` command-line tool.

The tool's commands, arguments, JSON output and exit codes are a stable
interface that scripts outside this repository rely on (issue 2, "The
`drivercore` tool"), so these tests drive the built binary exactly as such a
script would: through subprocesses, in a fresh temporary directory per
test, with the clock pinned through DRIVERCORE_NOW_MS where time matters.
They check the interface (exit codes, where messages go, output shapes) and,
through it, the semantics the tool exposes: canonical dumps, all-or-nothing
apply lines and bundle imports, convergence of three replicas exchanging
bundles in different orders, and holding changes stamped far in the future.

Usage: test_cli.py PATH/TO/drivercore [unittest args...]
(or set DRIVERCORE_BIN and run without the path).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("DRIVERCORE_BIN")

T0 = 1_700_000_000_000  # a pinned "now", ms since the epoch
DAY = 24 * 3600 * 1000
UNKNOWN_SPACE = "00" * 16


def canonical(obj):
    """The canonical text the library's dump must produce: keys sorted,
    compact separators, UTF-8 as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def user_types(space_state):
    """The record types of one space in a dump, without the library's own
    '@'-prefixed entries (the space's metadata is kept as an "@space"
    record); type names starting with '@' are reserved for it."""
    return {t: recs for t, recs in space_state.items() if not t.startswith("@")}


def set_members(values):
    """Set members in dump order: sorted by their JSON text."""
    return sorted(values, key=lambda v: canonical(v).encode("utf-8"))


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)


class CliTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dc-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- helpers ----

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_dc(self, *args, now=T0, stdin=None, ok=True, env_extra=None):
        """Runs the tool with the clock pinned at `now` (None: the system
        clock); with ok=True asserts exit 0, with ok=False asserts a non-zero
        exit, a drivercore message and no data on stdout."""
        env = dict(os.environ)
        env.pop("DRIVERCORE_NOW_MS", None)
        if now is not None:
            env["DRIVERCORE_NOW_MS"] = str(now)
        if env_extra:
            env.update(env_extra)
        proc = subprocess.run([BIN] + [str(a) for a in args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=120)
        res = Result(proc)
        where = "drivercore %s\nrc=%d\nstdout=%s\nstderr=%s" % (
            " ".join(map(str, args)), res.rc, res.out, res.err)
        if ok is True:
            self.assertEqual(res.rc, 0, where)
        elif ok is False:
            self.assertNotEqual(res.rc, 0, where)
            self.assertIn("drivercore: ", res.err, where)
            self.assertEqual(res.out, "", "failed command printed data:\n" + where)
        return res

    def init(self, name, now=T0, display=None):
        path = self.path(name)
        args = ["init", path]
        if display is not None:
            args += ["--name", display]
        card = self.run_dc(*args, now=now).json()
        return path, card

    def dump_text(self, replica, now=T0, space=None):
        args = ["dump", replica] + (["--space", space] if space else [])
        res = self.run_dc(*args, now=now)
        self.assertTrue(res.out.endswith("\n"))
        return res.out[:-1]

    def dump(self, replica, now=T0, space=None):
        text = self.dump_text(replica, now=now, space=space)
        parsed = json.loads(text)
        # The dump is canonical: exactly the sorted, compact form of itself.
        self.assertEqual(canonical(parsed), text)
        return parsed

    def apply(self, replica, lines, now=T0, ok=True):
        text = "".join(json.dumps(l) + "\n" if not isinstance(l, str) else l + "\n"
                       for l in lines)
        return self.run_dc("apply", replica, now=now, stdin=text, ok=ok)

    def new_space(self, replica, name="branch", now=T0):
        out = self.run_dc("space", "create", replica, name, now=now).json()
        self.assertEqual(set(out), {"space"})
        self.assertRegex(out["space"], r"^[0-9a-f]{32}$")
        return out["space"]

    def add(self, replica, space, card, role=None, now=T0, ok=True):
        args = ["space", "add", replica, space, json.dumps(card)]
        if role:
            args += ["--role", role]
        return self.run_dc(*args, now=now, ok=ok)

    def export(self, replica, name, now=T0, space=None):
        f = self.path(name)
        args = ["bundle", "export", replica, f] + (["--space", space] if space else [])
        self.run_dc(*args, now=now)
        self.assertTrue(os.path.getsize(f) > 0)
        return f

    def import_(self, replica, f, now=T0, ok=True):
        return self.run_dc("bundle", "import", replica, f, now=now, ok=ok)

    def accept(self, replica, space, now=T0, ok=True):
        """A device joins a space it was invited to only by accepting."""
        return self.run_dc("space", "accept", replica, space, now=now, ok=ok)

    def files_in_dir(self):
        return sorted(os.listdir(self.dir))

    # ---- usage ----

    def test_help_version_and_usage_errors(self):
        for args in (["--help"], ["help"]):
            res = self.run_dc(*args)
            self.assertIn("usage", res.out.lower())
            for cmd in ("init", "whoami", "space create", "space add", "apply", "dump",
                        "bundle export", "bundle import", "status"):
                self.assertIn(cmd, res.out)
        res = self.run_dc("--version")
        self.assertRegex(res.out, r"\d+\.\d+\.\d+")
        # Usage errors exit 2, with the message on stderr and nothing on stdout.
        for args in ([], ["frobnicate"], ["init"], ["dump"], ["space"], ["space", "fly"],
                     ["bundle"], ["init", self.path("x"), "--bogus", "1"],
                     ["init", self.path("x"), "--name"],
                     ["dump", self.path("x"), "extra"]):
            res = self.run_dc(*args, ok=None)
            self.assertEqual(res.rc, 2, "%s: %s" % (args, res.err))
            self.assertEqual(res.out, "")
            self.assertNotEqual(res.err, "")
        # No replica may have been created by any of them.
        self.assertEqual(self.files_in_dir(), [])

    def test_bad_clock_env(self):
        for bad in ("abc", "-5", "12x", "1e9", "99999999999999999999999"):
            res = self.run_dc("init", self.path("r"), now=bad, ok=False)
            self.assertIn("DRIVERCORE_NOW_MS", res.err)
        self.assertEqual(self.files_in_dir(), [])

    # ---- identity ----

    def test_init_whoami_roundtrip(self):
        path, card = self.init("a.db", display="Secretary tablet")
        self.assertRegex(card["device"], r"^[0-9a-f]{64}$")
        self.assertEqual(card.get("name"), "Secretary tablet")
        who = self.run_dc("whoami", path)
        self.assertEqual(who.json(), card)
        # The card line is exactly what init printed (stable across opens).
        again = self.run_dc("whoami", path)
        self.assertEqual(who.out, again.out)
        # A second replica has a different identity.
        _, card2 = self.init("b.db")
        self.assertNotEqual(card2["device"], card["device"])

    def test_init_existing_fails(self):
        path, card = self.init("a.db")
        res = self.run_dc("init", path, ok=False)
        self.assertIn("exists", res.err)
        self.assertEqual(res.rc, 1)
        # The identity is untouched.
        self.assertEqual(self.run_dc("whoami", path).json(), card)
        # Any existing file counts, not just replicas.
        other = self.path("notes.txt")
        with open(other, "w") as f:
            f.write("keep me\n")
        self.run_dc("init", other, ok=False)
        with open(other) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_missing_replica_is_not_created(self):
        missing = self.path("nope.db")
        bundle = self.path("b.bundle")
        with open(bundle, "wb") as f:
            f.write(b"not a bundle")
        card = json.dumps({"device": "ab" * 32})
        cmds = [["whoami", missing], ["dump", missing], ["status", missing],
                ["space", "create", missing, "x"], ["space", "list", missing],
                ["space", "members", missing, UNKNOWN_SPACE],
                ["space", "add", missing, UNKNOWN_SPACE, card],
                ["bundle", "export", missing, self.path("out.bundle")],
                ["bundle", "import", missing, bundle]]
        for args in cmds:
            res = self.run_dc(*args, ok=False)
            self.assertEqual(res.rc, 1, args)
            self.assertIn("nope.db", res.err)
        res = self.run_dc("apply", missing, stdin="", ok=False)
        self.assertEqual(res.rc, 1)
        self.assertEqual(self.files_in_dir(), ["b.bundle"])

    # ---- spaces ----

    def test_space_create_add_roles(self):
        a, card_a = self.init("a.db")
        b, card_b = self.init("b.db", display="driver b")
        c, card_c = self.init("c.db")
        d, card_d = self.init("d.db")
        s = self.new_space(a, "Mobile branch 7")

        # Card as an argument, default role.
        out = self.add(a, s, card_b).json()
        self.assertEqual(out, {"space": s, "device": card_b["device"], "role": "member"})
        # Card from a file, exactly as `whoami > file` writes it.
        card_file = self.path("c.card")
        with open(card_file, "w") as f:
            f.write(self.run_dc("whoami", c).out)
        out = self.run_dc("space", "add", a, s, "@" + card_file, "--role", "reader").json()
        self.assertEqual(out, {"space": s, "device": card_c["device"], "role": "reader"})
        out = self.run_dc("space", "add", a, s, json.dumps(card_d), "--role=admin").json()
        self.assertEqual(out["role"], "admin")

        members = self.run_dc("space", "members", a, s).json()
        roles = {m["device"]: m["role"] for m in members}
        self.assertEqual(roles, {card_a["device"]: "admin", card_b["device"]: "member",
                                 card_c["device"]: "reader", card_d["device"]: "admin"})
        self.assertEqual([m["device"] for m in members], sorted(roles))

        spaces = self.run_dc("space", "list", a).json()
        self.assertEqual([x["space"] for x in spaces], [s])
        self.assertEqual(spaces[0]["role"], "admin")

        # A bad role is a usage error and changes nothing.
        res = self.add(a, s, card_b, role="owner", ok=None)
        self.assertEqual(res.rc, 2, res.err)
        self.assertIn("owner", res.err)
        self.assertEqual(self.run_dc("space", "members", a, s).json(), members)

        # Bad cards fail cleanly.
        self.run_dc("space", "add", a, s, "{not json", ok=False)
        self.run_dc("space", "add", a, s, "@" + self.path("missing.card"), ok=False)
        forged = dict(card_b, name="someone else")
        self.add(a, s, forged, ok=False)
        # Unknown space.
        self.add(a, UNKNOWN_SPACE, card_b, ok=False)
        self.assertEqual(self.run_dc("space", "members", a, s).json(), members)

    def test_reader_and_non_admin_cannot_write(self):
        a, _ = self.init("a.db")
        b, card_b = self.init("b.db")
        c, card_c = self.init("c.db")
        s = self.new_space(a)
        self.add(a, s, card_b, role="reader")
        self.add(a, s, card_c, role="member")
        self.apply(a, [{"space": s, "ops": [{"type": "t", "id": "1", "set": {"f": 1}}]}])
        bundle = self.export(a, "a.bundle")
        self.import_(b, bundle)
        self.import_(c, bundle)
        self.accept(b, s)
        self.accept(c, s)
        expected = self.dump(a)
        self.assertEqual(self.dump(b), expected)

        # The reader can read but not write.
        res = self.apply(b, [{"space": s, "ops": [{"type": "t", "id": "2", "set": {"f": 2}}]}],
                         ok=False)
        self.assertIn("line 1", res.err)
        self.assertEqual(self.dump(b), expected)
        # A member cannot add devices.
        _, card_d = self.init("d.db")
        self.add(c, s, card_d, ok=False)

    # ---- apply ----

    def test_apply_floats_and_bytes(self):
        """Change body v2: a JSON number with a point or an exponent is a
        float, {"@bytes": base64} is bytes; the dump prints them back in
        canonical form."""
        a, card = self.init("a.db")
        s = self.new_space(a)
        line = {"space": s, "ops": [
            {"type": "checkin", "id": "c1",
             "set": {"lat": 26.5783, "lon": 106.7135, "alt": 1100.0, "pic": {"@bytes": "AAH/"}}},
            {"type": "checkin", "id": "c1", "add": {"marks": [0.5, {"@bytes": ""}, 1]}},
            {"type": "checkin", "id": "c1", "event": {"at": 1e21, "x": -0.25}},
        ]}
        res = self.apply(a, [line], now=T0 + 5000)
        self.assertEqual(res.json(), {"transactions": 1, "ops": 3})
        text = self.dump_text(a)
        self.assertIn('"alt":1100.0,"lat":26.5783,"lon":106.7135,"marks":[0.5,1,{"@bytes":""}],'
                      '"pic":{"@bytes":"AAH/"}', text)
        self.assertIn('"at":1e+21', text)
        self.assertIn('"x":-0.25', text)
        rec = self.dump(a)[s]["checkin"]["c1"]
        self.assertEqual(rec["lat"], 26.5783)
        self.assertIsInstance(rec["alt"], float)

    def test_apply_all_op_kinds_dump_exact(self):
        a, card = self.init("a.db")
        dev = card["device"]
        s = self.new_space(a)
        big, small = 2 ** 63 - 1, -(2 ** 63)
        lines = [
            {"space": s, "ops": [
                {"type": "truck", "id": "t1",
                 "set": {"plate": "GD 12345", "km": 120000, "active": True, "note": None,
                         "max": big, "min": small, "city": "Gdańsk"}},
                {"type": "truck", "id": "t1", "add": {"tags": ["red", "big", 7, True]}},
                {"type": "truck", "id": "t2", "set": {"plate": "WA 1"}},
            ]},
            {"space": s, "ops": [
                {"type": "truck", "id": "t1", "remove": {"tags": ["big"]}},
                {"type": "truck", "id": "t1", "event": {"kind": "checkin", "place": "Kutno",
                                                        "n": 3, "ok": False, "x": None}},
                {"type": "truck", "id": "t1", "set": {"km": 120500}},
            ]},
            {"space": s, "ops": [
                {"type": "truck", "id": "t1", "event": {"kind": "refuel"}},
                {"type": "truck", "id": "t2", "delete": True},
                {"type": "grievance", "id": "g-1", "set": {"title": "late pay"}},
            ]},
        ]
        res = self.apply(a, lines, now=T0 + 5000)
        self.assertEqual(res.json(), {"transactions": 3, "ops": 9})

        d = self.dump(a)
        self.assertEqual(list(d), [s])
        ev_meta = {"@author": dev, "@time": T0 + 5000}
        expected = {
            "truck": {"t1": {
                "plate": "GD 12345", "km": 120500, "active": True, "note": None,
                "max": big, "min": small, "city": "Gdańsk",
                "tags": set_members(["red", 7, True]),
                "@events": [dict(kind="checkin", place="Kutno", n=3, ok=False, x=None,
                                 **ev_meta),
                            dict(kind="refuel", **ev_meta)],
            }},
            "grievance": {"g-1": {"title": "late pay"}},
        }
        self.assertEqual(user_types(d[s]), expected)
        # Whatever the library adds of its own sorts and prints canonically too.
        full = {s: dict(d[s], **expected)}
        self.assertEqual(self.dump_text(a), canonical(full))
        # --space restricts to one space.
        s2 = self.new_space(a, "other")
        self.apply(a, [{"space": s2, "ops": [{"type": "x", "id": "1", "set": {"f": "v"}}]}])
        self.assertEqual(self.dump(a, space=s), full)
        self.assertEqual(user_types(self.dump(a, space=s2)[s2]), {"x": {"1": {"f": "v"}}})
        self.assertEqual(sorted(self.dump(a)), sorted([s, s2]))

        # Delete then a later write resurrects the record with only the new fields.
        self.apply(a, [{"space": s, "ops": [{"type": "truck", "id": "t2",
                                             "set": {"km": 5}}]}], now=T0 + 6000)
        self.assertEqual(self.dump(a, space=s)[s]["truck"]["t2"], {"km": 5})

        status = self.run_dc("status", a).json()
        self.assertEqual(status["device"], dev)
        self.assertEqual(sorted(x["space"] for x in status["spaces"]), sorted([s, s2]))

    def test_apply_blank_lines_stdin_and_file(self):
        a, _ = self.init("a.db")
        s = self.new_space(a)

        def line(i):
            return json.dumps({"space": s, "ops": [{"type": "t", "id": str(i),
                                                     "set": {"n": i}}]})

        text = "\n" + line(1) + "\n   \n\t\n" + line(2) + "\r\n\n" + line(3)  # no final newline
        res = self.run_dc("apply", a, stdin=text)
        self.assertEqual(res.json(), {"transactions": 3, "ops": 3})
        f = self.path("lines.jsonl")
        with open(f, "w") as fh:
            fh.write(line(4) + "\n\n" + line(5) + "\n")
        res = self.run_dc("apply", a, f)
        self.assertEqual(res.json(), {"transactions": 2, "ops": 2})
        res = self.run_dc("apply", a, "-", stdin=line(6) + "\n")
        self.assertEqual(res.json(), {"transactions": 1, "ops": 1})
        # Empty input: nothing to do, still success.
        self.assertEqual(self.run_dc("apply", a, stdin="").json(),
                         {"transactions": 0, "ops": 0})
        d = self.dump(a)
        self.assertEqual(d[s]["t"], {str(i): {"n": i} for i in range(1, 7)})
        # A missing file is an error.
        self.run_dc("apply", a, self.path("missing.jsonl"), ok=False)
        # Line numbers count blank lines: the bad line here is line 4.
        res = self.run_dc("apply", a, stdin="\n" + line(7) + "\n\n{oops\n" + line(8) + "\n",
                          ok=False)
        self.assertIn("apply: line 4:", res.err)
        t = self.dump(a)[s]["t"]
        self.assertIn("7", t)
        self.assertNotIn("8", t)

    def test_apply_malformed_lines(self):
        a, _ = self.init("a.db")
        s = self.new_space(a)

        def op(id_, **kw):
            o = {"type": "t", "id": id_}
            o.update(kw)
            return o

        def good(id_):
            return {"space": s, "ops": [op(id_, set={"f": 1})]}

        # Each bad line starts with a valid op on record "bad-<case>", so a
        # line that committed half of itself would show up in the dump.
        cases = {
            "invalid-json": '{"space": "%s", "ops": [' % s,
            "not-object": "[1, 2]",
            "unknown-op": {"space": s, "ops": [op("bad", set={"f": 1}),
                                               op("bad", frobnicate={"f": 1})]},
            "no-op": {"space": s, "ops": [op("bad", set={"f": 1}), op("bad")]},
            "two-ops": {"space": s, "ops": [op("bad", set={"f": 1}, add={"g": [1]})]},
            "bytes-not-base64": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                     op("bad", set={"g": {"@bytes": "%%%"}})]},
            "bytes-and-more": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                   op("bad", add={"g": [{"@bytes": "AA==",
                                                                         "x": 1}]})]},
            "bytes-not-string": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                     op("bad", event={"g": {"@bytes": 7}})]},
            "array-value": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                op("bad", set={"g": [1]})]},
            "object-value": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                 op("bad", set={"g": {"h": 1}})]},
            "add-not-array": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                  op("bad", add={"g": "x"})]},
            "delete-false": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                 op("bad", delete=False)]},
            "huge-int": '{"space": "%s", "ops": [{"type": "t", "id": "bad", '
                        '"set": {"f": 18446744073709551616}}]}' % s,
            "missing-space": {"ops": [op("bad", set={"f": 1})]},
            "space-not-string": {"space": 7, "ops": [op("bad", set={"f": 1})]},
            "missing-ops": {"space": s},
            "unknown-space": {"space": UNKNOWN_SPACE, "ops": [op("bad", set={"f": 1})]},
            "empty-type": {"space": s, "ops": [op("bad", set={"f": 1}),
                                               {"type": "", "id": "bad", "set": {"f": 1}}]},
            "empty-id": {"space": s, "ops": [op("bad", set={"f": 1}),
                                             {"type": "t", "id": "", "set": {"f": 1}}]},
            "missing-type": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                 {"id": "bad", "set": {"f": 1}}]},
            # Rejected by the library while building the transaction, after
            # a valid op was already added: must roll back.
            "reserved-field": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                   op("bad", set={"@f": 1})]},
            "reserved-event-key": {"space": s, "ops": [op("bad", set={"f": 1}),
                                                       op("bad", event={"@x": 1})]},
        }
        for name, bad in cases.items():
            with self.subTest(case=name):
                before = self.dump_text(a)
                bad_line = bad if isinstance(bad, str) else json.dumps(bad)
                bad_line = bad_line.replace('"bad"', '"bad-%s"' % name)
                text = "\n".join([json.dumps(good("ok1-" + name)),
                                  json.dumps(good("ok2-" + name)),
                                  bad_line,
                                  json.dumps(good("after-" + name))]) + "\n"
                res = self.run_dc("apply", a, stdin=text, ok=False)
                self.assertEqual(res.rc, 1, res.err)
                self.assertIn("apply: line 3:", res.err)
                after = self.dump(a)
                recs = after[s]["t"]
                self.assertIn("ok1-" + name, recs)
                self.assertIn("ok2-" + name, recs)
                self.assertNotIn("bad-" + name, recs)
                self.assertNotIn("after-" + name, recs)
                # Exactly the two good lines were added.
                prev = json.loads(before)
                prev_recs = prev.get(s, {}).get("t", {})
                self.assertEqual(set(recs) - set(prev_recs), {"ok1-" + name, "ok2-" + name})
                self.assertEqual({k: recs[k] for k in prev_recs}, prev_recs)
        # The bytes error says what is wrong, not just where.
        res = self.apply(a, [cases["bytes-not-base64"]], ok=False)
        self.assertRegex(res.err, r"base64")

    # ---- three replicas ----

    def test_vacuum_gives_compacted_space_back(self):
        """`vacuum` (docs/storage.md, "Giving space back"): after compaction
        the file shrinks to the pages in use, in clear and encrypted, and the
        dump does not change."""
        for enc in (None, {"DRIVERCORE_PASSPHRASE": "correct horse battery"}):
            name = "v-enc.db" if enc else "v.db"
            path = self.path(name)
            self.run_dc("init", path, env_extra=enc)
            s = self.run_dc("space", "create", path, "branch", env_extra=enc).json()["space"]
            lines = "".join(json.dumps({"space": s, "ops": [
                {"type": "note", "id": "n%d" % (i % 5), "set": {"text": "x" * 400 + str(i)}}]})
                + "\n" for i in range(400))
            self.run_dc("apply", path, stdin=lines, env_extra=enc)
            before = self.run_dc("dump", path, now=T0 + 10, env_extra=enc).out
            out = self.run_dc("space", "compact", path, s, now=T0 + 20, env_extra=enc).json()
            self.assertGreaterEqual(out["dropped"], 400, out)
            size0 = os.path.getsize(path)
            v = self.run_dc("vacuum", path, now=T0 + 30, env_extra=enc).json()
            self.assertEqual(set(v), {"bytes_before", "bytes_after", "free_pages_before"})
            self.assertGreater(v["free_pages_before"], 0, v)
            self.assertLess(v["bytes_after"] * 2, v["bytes_before"], v)
            self.assertLess(os.path.getsize(path) * 2, size0)
            self.assertEqual(self.run_dc("dump", path, now=T0 + 40, env_extra=enc).out, before)
            # Nothing more to give back.
            v2 = self.run_dc("vacuum", path, now=T0 + 50, env_extra=enc).json()
            self.assertEqual(v2["bytes_before"], v["bytes_after"])
        # Encrypted, it needs the key like every command.
        self.run_dc("vacuum", self.path("v-enc.db"), ok=False)

    def test_space_ack_compact_snapshot_load(self):
        """History compaction through the tool (docs/data-model.md,
        "Compaction"): the log shrinks, the dump does not change, and a new
        device starts from a snapshot."""
        a, _ = self.init("a.db", display="secretary")
        b, card_b = self.init("b.db", display="driver")
        s = self.new_space(a)
        self.add(a, s, card_b)
        self.run_dc("sync", a, b)
        self.accept(b, s)
        for i in range(8):
            self.apply(a, [{"space": s, "ops": [
                {"type": "truck", "id": "t%d" % (i % 3), "set": {"plate": "P%d" % i}}]}],
                now=T0 + 10 * i)
        self.apply(a, [{"space": s, "ops": [{"type": "truck", "id": "t2", "delete": True}]}],
                   now=T0 + 100)
        self.run_dc("sync", a, b, now=T0 + 200)
        before = self.dump_text(a, now=T0 + 200)
        # Waiting for b, which has not acked.
        out = self.run_dc("space", "compact", a, s, now=T0 + 300).json()
        self.assertEqual(out["published"], False)
        self.assertEqual(out["waiting"], 1)
        self.assertEqual(out["dropped"], 0)
        self.assertEqual(self.run_dc("space", "ack", b, s, now=T0 + 400).json(),
                         {"space": s, "acked": True})
        self.run_dc("sync", a, b, now=T0 + 500)
        out = self.run_dc("space", "compact", a, s, now=T0 + 600).json()
        self.assertEqual(set(out), {"space", "published", "counted", "waiting", "dropped",
                                    "snapshot_needed", "left_out", "point"})
        self.assertEqual(out["published"], True)
        self.assertEqual(out["counted"], 2)
        self.assertGreaterEqual(out["dropped"], 9)
        self.assertEqual(out["snapshot_needed"], False)
        # b compacts by itself as the sync brings it the point: compacting
        # again drops nothing more.
        self.run_dc("sync", a, b, now=T0 + 700)
        out_b = self.run_dc("space", "compact", b, s, now=T0 + 800).json()
        self.assertEqual(out_b["published"], False)
        self.assertEqual(out_b["dropped"], 0)
        self.assertEqual(out_b["snapshot_needed"], False)
        # ... and its status shows it: compacted to the published point.
        st_b = self.run_dc("status", b, now=T0 + 800).json()
        comp = [e for e in st_b["compaction"] if e["space"] == s]
        self.assertEqual(len(comp), 1)
        self.assertEqual(set(comp[0]), {"space", "compacted", "published", "dropped", "pending",
                                        "snapshot_needed", "missing"})
        self.assertGreaterEqual(comp[0]["dropped"], 9)
        self.assertEqual(comp[0]["compacted"], comp[0]["published"])
        self.assertGreaterEqual(comp[0]["compacted"]["changes"], 9)
        self.assertEqual((comp[0]["pending"], comp[0]["snapshot_needed"], comp[0]["missing"]),
                         (False, False, []))
        self.assertEqual(self.dump_text(a, now=T0 + 900), before)
        self.assertEqual(self.dump_text(b, now=T0 + 900), before)
        # A new device: the compacted log alone is not the history ...
        snap = self.path("branch.dcs")
        out = self.run_dc("space", "snapshot", a, s, snap, now=T0 + 1000).json()
        self.assertEqual(out["file"], snap)
        self.assertEqual(out["bytes"], os.path.getsize(snap))
        c, card_c = self.init("c.db", display="new driver")
        self.add(a, s, card_c, now=T0 + 1100)
        self.run_dc("sync", a, c, now=T0 + 1200)
        self.accept(c, s, now=T0 + 1200)
        out = self.run_dc("space", "compact", c, s, now=T0 + 1300).json()
        self.assertEqual(out["snapshot_needed"], True)
        st_c = self.run_dc("status", c, now=T0 + 1300).json()
        comp = [e for e in st_c["compaction"] if e["space"] == s][0]
        self.assertEqual(comp["snapshot_needed"], True)
        self.assertIn(self.run_dc("status", a, now=T0 + 1300).json()["device"], comp["missing"])
        self.assertEqual(comp["dropped"], 0)
        # ... its snapshot is: the same dump.
        self.run_dc("space", "load", c, snap, now=T0 + 1400)
        self.run_dc("sync", a, c, now=T0 + 1500)
        self.assertEqual(self.dump_text(c, now=T0 + 1600), before)
        comp = [e for e in self.run_dc("status", c, now=T0 + 1600).json()["compaction"]
                if e["space"] == s][0]
        self.assertEqual((comp["snapshot_needed"], comp["missing"]), (False, []))
        # A damaged snapshot is refused, and usage errors are errors.
        with open(snap, "rb") as f:
            data = bytearray(f.read())
        data[100] ^= 1
        bad = self.path("bad.dcs")
        with open(bad, "wb") as f:
            f.write(data)
        res = self.run_dc("space", "load", c, bad, now=T0 + 1700, ok=False)
        self.assertIn("signature", res.err)
        self.run_dc("space", "snapshot", b, s, self.path("x.dcs"), now=T0 + 1700, ok=False)
        self.run_dc("space", "compact", a, s, "--horizon-days", "0", ok=False)
        self.run_dc("space", "ack", a, ok=False)

    def test_three_replicas_converge(self):
        a, card_a = self.init("a.db", display="secretary")
        b, card_b = self.init("b.db", display="driver b")
        c, card_c = self.init("c.db", display="driver c")
        s = self.new_space(a, "branch 7")
        # Cards as the devices print them.
        self.run_dc("space", "add", a, s, self.run_dc("whoami", b).out.strip())
        self.run_dc("space", "add", a, s, self.run_dc("whoami", c).out.strip())
        self.apply(a, [{"space": s, "ops": [
            {"type": "truck", "id": "t1", "set": {"plate": "P0", "driver": "d0"}},
            {"type": "truck", "id": "t1", "add": {"tags": ["x", "y"]}},
            {"type": "truck", "id": "t2", "set": {"plate": "Q"}},
            {"type": "truck", "id": "t3", "set": {"plate": "R"}},
        ]}], now=T0 + 100)
        base = self.export(a, "base.bundle")
        rep_b = self.import_(b, base, now=T0 + 200).json()
        self.assertGreaterEqual(rep_b["new"], 1)
        self.import_(c, base, now=T0 + 200)
        self.accept(b, s, now=T0 + 200)
        self.accept(c, s, now=T0 + 200)
        base_dump = self.dump_text(a)
        self.assertEqual(self.dump_text(b), base_dump)
        self.assertEqual(self.dump_text(c), base_dump)
        members_b = self.run_dc("space", "members", b, s).json()
        self.assertEqual(len(members_b), 3)

        # Concurrent, offline edits.
        self.apply(a, [{"space": s, "ops": [
            {"type": "truck", "id": "t1", "set": {"plate": "PA"}},
            {"type": "truck", "id": "t1", "remove": {"tags": ["x"]}},
            {"type": "truck", "id": "t1", "event": {"by": "A"}},
            {"type": "truck", "id": "t2", "delete": True},
            {"type": "truck", "id": "t3", "set": {"note": "n"}},
        ]}], now=T0 + 1000)
        self.apply(b, [{"space": s, "ops": [
            {"type": "truck", "id": "t1", "set": {"plate": "PB"}},
            {"type": "truck", "id": "t1", "add": {"tags": ["x"]}},
            {"type": "truck", "id": "t1", "event": {"by": "B"}},
            {"type": "truck", "id": "t2", "set": {"km": 5}},
        ]}], now=T0 + 3000)
        self.apply(c, [{"space": s, "ops": [
            {"type": "truck", "id": "t1", "set": {"plate": "PC"}},
            {"type": "truck", "id": "t1", "remove": {"tags": ["y"]}},
            {"type": "truck", "id": "t1", "event": {"by": "C"}},
            {"type": "truck", "id": "t3", "delete": True},
        ]}], now=T0 + 2000)

        fa = self.export(a, "a.bundle", now=T0 + 5000)
        fb = self.export(b, "b.bundle", now=T0 + 5000, space=s)
        fc = self.export(c, "c.bundle", now=T0 + 5000)
        later = T0 + 10000
        for f in (fb, fc, fb):
            self.import_(a, f, now=later)
        for f in (fc, fa, fc, fa):
            self.import_(b, f, now=later)
        for f in (fa, fa, fb):
            self.import_(c, f, now=later)
        # Re-importing a bundle fully held reports only duplicates.
        rep = self.import_(c, fb, now=later).json()
        self.assertEqual(rep["new"], 0)
        self.assertGreaterEqual(rep["duplicate"], 1)

        da, db, dc = (self.dump_text(x, now=later) for x in (a, b, c))
        self.assertEqual(da, db)
        self.assertEqual(da, dc)
        state = json.loads(da)
        self.assertEqual(canonical(state), da)
        t = state[s]["truck"]
        # Register: the latest timestamp (B at +3000) wins; untouched field kept.
        self.assertEqual(t["t1"]["plate"], "PB")
        self.assertEqual(t["t1"]["driver"], "d0")
        # Add-wins: B's concurrent add of x survives A's remove; C's remove of
        # y (seen by nobody else adding it) holds.
        self.assertEqual(t["t1"]["tags"], ["x"])
        # Events: all three, once each, with their authors, in merge order.
        ev = t["t1"]["@events"]
        self.assertEqual(sorted(e["by"] for e in ev), ["A", "B", "C"])
        authors = {"A": card_a["device"], "B": card_b["device"], "C": card_c["device"]}
        times = {"A": T0 + 1000, "B": T0 + 3000, "C": T0 + 2000}
        for e in ev:
            self.assertEqual(e["@author"], authors[e["by"]])
            self.assertEqual(e["@time"], times[e["by"]])
        self.assertEqual([e["@time"] for e in ev], sorted(e["@time"] for e in ev))
        # Delete (A, +1000) vs later edit (B, +3000): resurrected with only the
        # later field.  Edit (A, +1000) vs later delete (C, +2000): gone.
        self.assertEqual(t["t2"], {"km": 5})
        self.assertNotIn("t3", t)
        self.assertEqual(sorted(t), ["t1", "t2"])

    # ---- bad bundles ----

    def test_bad_bundles_change_nothing(self):
        a, _ = self.init("a.db")
        b, card_b = self.init("b.db")
        s = self.new_space(a)
        self.add(a, s, card_b)
        self.apply(a, [{"space": s, "ops": [{"type": "t", "id": "1", "set": {"f": 1}}]}])
        self.import_(b, self.export(a, "first.bundle"))
        self.accept(b, s)
        self.apply(a, [{"space": s, "ops": [{"type": "t", "id": "2", "set": {"f": 2}},
                                            {"type": "t", "id": "1", "event": {"e": 1}}]}])
        good = self.export(a, "second.bundle")
        with open(good, "rb") as f:
            data = f.read()
        before = self.dump_text(b)
        status_before = self.run_dc("status", b).json()

        variants = {
            "empty": b"",
            "garbage": b"definitely not a bundle" * 10,
            "truncated-half": data[: len(data) // 2],
            "truncated-1": data[:-1],
            "truncated-header": data[:5],
        }
        for pos in (len(data) // 2, len(data) - 1, len(data) - 40):
            flipped = bytearray(data)
            flipped[pos] ^= 0x10
            variants["flip-%d" % pos] = bytes(flipped)
        for name, blob in variants.items():
            with self.subTest(variant=name):
                f = self.path("bad-%s.bundle" % name)
                with open(f, "wb") as fh:
                    fh.write(blob)
                res = self.import_(b, f, ok=False)
                self.assertEqual(res.rc, 1)
                self.assertEqual(self.dump_text(b), before)
                self.assertEqual(self.run_dc("status", b).json(), status_before)
        # A missing file is an error too.
        self.import_(b, self.path("missing.bundle"), ok=False)
        # The intact bundle still imports: the failures were the corruption.
        self.import_(b, good)
        self.assertEqual(self.dump_text(b), self.dump_text(a))
        self.assertNotEqual(self.dump_text(b), before)

    # ---- clock skew ----

    def test_far_future_change_is_held_until_clock_catches_up(self):
        a, _ = self.init("a.db")
        b, card_b = self.init("b.db")
        s = self.new_space(a)
        self.add(a, s, card_b)
        self.import_(b, self.export(a, "m.bundle"), now=T0)
        self.accept(b, s, now=T0)
        before = self.dump_text(b, now=T0)

        # A's clock runs two days fast.
        future = T0 + 2 * DAY
        self.apply(a, [{"space": s, "ops": [{"type": "t", "id": "1",
                                             "set": {"f": "from the future"}}]}], now=future)
        f = self.export(a, "future.bundle", now=future)
        rep = self.import_(b, f, now=T0 + 1000).json()
        self.assertGreaterEqual(rep["held"], 1)
        self.assertEqual(self.dump_text(b, now=T0 + 1000), before)
        st = self.run_dc("status", b, now=T0 + 1000).json()
        held = {x["space"]: x["held"] for x in st["spaces"]}
        self.assertGreaterEqual(held.get(s, 0), 1)
        # B's own clock is not dragged two days ahead by the held change:
        # B's next write at T0+2000 still carries T0+2000.
        self.apply(b, [{"space": s, "ops": [{"type": "t", "id": "2", "event": {"k": 1}}]}],
                   now=T0 + 2000)
        ev = self.dump(b, now=T0 + 2000)[s]["t"]["2"]["@events"]
        self.assertEqual(ev[0]["@time"], T0 + 2000)
        self.assertNotIn("1", self.dump(b, now=T0 + 2000)[s]["t"])

        # Still too early a day later: importing again keeps holding it.
        self.import_(b, f, now=T0 + DAY)
        self.assertNotIn("1", self.dump(b, now=T0 + DAY)[s]["t"])

        # Once B's clock has caught up, any import applies it.
        other = self.export(b, "b.bundle", now=future)
        self.import_(b, other, now=future)
        d = self.dump(b, now=future)
        self.assertEqual(d[s]["t"]["1"], {"f": "from the future"})
        st = self.run_dc("status", b, now=future).json()
        held = {x["space"]: x["held"] for x in st["spaces"]}
        self.assertEqual(held.get(s, 0), 0)
        # And A and B agree once A has B's event.
        self.import_(a, other, now=future)
        self.assertEqual(self.dump_text(a, now=future), self.dump_text(b, now=future))

    # ---- attach (docs/attachments.md) ----

    def test_attach_put_get_ls(self):
        a, _ = self.init("a.db")
        b, card_b = self.init("b.db")
        s = self.new_space(a)
        self.add(a, s, card_b, role="reader")
        data = bytes((i * 7 + i // 256) % 256 for i in range(600000))
        src = self.path("waybill.jpg")
        with open(src, "wb") as f:
            f.write(data)
        put = self.run_dc("attach", "put", a, s, src, "--type", "image/jpeg").json()
        self.assertEqual(set(put), {"id", "size", "chunks"})
        self.assertRegex(put["id"], r"^att1:[0-9a-f]{64}$")
        self.assertEqual(put["size"], 600000)
        self.assertEqual(put["chunks"], 3)
        # The same file again: the same id (stored once).
        self.assertEqual(self.run_dc("attach", "put", a, s, src).json()["id"], put["id"])
        out = self.path("back.jpg")
        got = self.run_dc("attach", "get", a, s, put["id"], out).json()
        self.assertEqual(got, {"id": put["id"], "size": 600000, "path": out})
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(oct(os.stat(out).st_mode & 0o777), "0o600")
        # ls: known, complete, not referenced until a record names it.
        ls = self.run_dc("attach", "ls", a).json()
        self.assertEqual(len(ls), 1)
        self.assertEqual(ls[0], {"space": s, "id": put["id"], "size": 600000,
                                 "media_type": "image/jpeg", "chunks": 3,
                                 "chunks_present": 3, "complete": True, "wanted": False,
                                 "referenced": False})
        self.apply(a, [{"space": s, "ops": [{"type": "grievance", "id": "g1",
                                              "set": {"photo": put["id"]}}]}])
        self.assertTrue(self.run_dc("attach", "ls", a, s).json()[0]["referenced"])
        # The record reaches b before the file: b lists it, not fetched yet.
        self.import_(b, self.export(a, "a.bundle"))
        self.accept(b, s)
        ls_b = self.run_dc("attach", "ls", b, s).json()
        self.assertEqual(ls_b, [{"space": s, "id": put["id"], "size": -1, "media_type": None,
                                 "chunks": 0, "chunks_present": 0, "complete": False,
                                 "wanted": False, "referenced": True}])
        res = self.run_dc("attach", "get", b, s, put["id"], self.path("b.jpg"), ok=False)
        self.assertIn("not on this device yet", res.err)
        self.assertEqual(res.rc, 1)
        self.assertFalse(os.path.exists(self.path("b.jpg")))
        self.assertTrue(self.run_dc("attach", "ls", b, s).json()[0]["wanted"])
        # A reader cannot add files.
        res = self.run_dc("attach", "put", b, s, src, ok=False)
        self.assertIn("reader", res.err)
        # Policy and collection.
        pol = self.run_dc("attach", "policy", b, s, "under", "--max-bytes", "1000000").json()
        self.assertEqual(pol, {"space": s, "policy": "under", "max_bytes": 1000000})
        self.run_dc("attach", "policy", b, s, "on-demand")
        self.assertEqual(self.run_dc("attach", "gc", a, "--min-age", "0").json(), {"removed": 0})
        self.apply(a, [{"space": s, "ops": [{"type": "grievance", "id": "g1", "delete": True}]}])
        self.assertEqual(self.run_dc("attach", "gc", a, s, "--min-age", "3600").json(),
                         {"removed": 0})
        self.assertEqual(self.run_dc("attach", "gc", a, s, "--min-age", "3600",
                                     now=T0 + 2 * 3600 * 1000).json(), {"removed": 1})
        self.assertEqual(self.run_dc("attach", "ls", a, s).json(), [])

    def test_attach_usage_errors(self):
        a, _ = self.init("a.db")
        s = self.new_space(a)
        src = self.path("f.bin")
        with open(src, "wb") as f:
            f.write(b"x" * 10)
        for args in (["attach"], ["attach", "frob", a], ["attach", "put", a, s],
                     ["attach", "get", a, s, "att1:00"], ["attach", "policy", a, s, "sometimes"],
                     ["attach", "policy", a, s, "under"],
                     ["attach", "policy", a, s, "all", "--max-bytes", "5"],
                     ["attach", "gc", a, "--min-age", "soon"]):
            res = self.run_dc(*args, ok=False)
            self.assertEqual(res.rc, 2, args)
        res = self.run_dc("attach", "put", a, s, self.path("absent.bin"), ok=False)
        self.assertEqual(res.rc, 1)
        self.assertIn("absent.bin", res.err)
        res = self.run_dc("attach", "put", a, s, src, "--type", "image jpeg", ok=False)
        self.assertIn("media type", res.err)
        res = self.run_dc("attach", "get", a, s, "att1:zz", self.path("o"), ok=False)
        self.assertIn("not an attachment id", res.err)
        res = self.run_dc("attach", "ls", a, UNKNOWN_SPACE, ok=False)
        self.assertEqual(res.rc, 1)


def main():
    global BIN
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        BIN = argv.pop(1)
    if not BIN or not os.access(BIN, os.X_OK):
        sys.stderr.write("usage: test_cli.py PATH/TO/drivercore [unittest args]\n")
        return 2
    BIN = os.path.abspath(BIN)
    prog = unittest.main(argv=argv, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
