#!/usr/bin/env python3
"""tests/relay: `drivercore serve` — a tablet as the sync peer of phones,
with no relay (issue 9, "No relay").

Usage: test_serve.py DRIVERCORE DRIVERCORE_RELAY

A branch secretary's tablet serves its replica on the yard's Wi-Fi
(127.0.0.1 here); 30 drivers' phones, members of the branch space, write
and sync with it, twice round, through the same client and endpoints as a
relay's.  A phone that is not a member gets nothing; a space the tablet
holds that a phone is not in never reaches it.  Later the tablet syncs with
the relay, where the province office wrote meanwhile, and then everyone —
phones, tablet, office — converges: their dumps of the branch space are
byte-identical.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import dc_fixture  # noqa: E402
from concurrent.futures import ThreadPoolExecutor

TOOL = RELAY = None
PHONES = 30


class Serve(dc_fixture.ScratchTest):
    prefix = "dc-serve-"

    def write(self, name, space, rid, value):
        op = {"space": space, "ops": [{"type": "note", "id": rid, "set": {"text": value}}]}
        self.tool("apply", self.db(name), inp=json.dumps(op, ensure_ascii=False) + "\n")

    def dump(self, name, space):
        return self.tool("dump", self.db(name), "--space", space).stdout

    def start(self, argv, ready):
        """Starts a server; returns (process, first stdout line or log port)."""
        log = os.path.join(self.d, "%s.log" % os.path.basename(argv[0]))
        with open(log, "w") as err:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                                 cwd=self.d)
        self.procs.append(p)
        return p, ready(p, log)

    def test_thirty_phones_then_the_relay_converge(self):
        # The relay, and the province office beside it.
        relay, rport = self.start_relay()
        relay_url = "http://127.0.0.1:%d" % rport

        office_card = self.tool("init", self.db("office"), "--name", "Province office").stdout
        self.tool("init", self.db("tablet"), "--name", "Secretary Xu")
        branch = json.loads(self.tool("space", "create", self.db("tablet"), "Branch").stdout)
        branch = branch["space"]
        private = json.loads(self.tool("space", "create", self.db("tablet"),
                                       "Secretary's own notes").stdout)["space"]
        self.write("tablet", private, "p1", "not for the phones")
        self.tool("space", "add", self.db("tablet"), branch, office_card, "--role", "member")
        phones = ["phone%02d" % i for i in range(PHONES)]
        for ph in phones:
            card = self.tool("init", self.db(ph), "--name", ph).stdout
            self.tool("space", "add", self.db("tablet"), branch, card,
                      "--role", "member")
        self.tool("init", self.db("stranger"), "--name", "Not in the branch")
        # The space has been on the relay since the morning; the office
        # writes there while the yard is offline.
        self.tool("sync", self.db("tablet"), "--relay", relay_url)
        self.tool("sync", self.db("office"), "--relay", relay_url)
        self.tool("space", "accept", self.db("office"), branch)  # consent to the invitation
        self.write("office", branch, "office-1", "省办公室：本周学习任务")

        # The yard: the tablet serves, the relay is out of reach.
        def serve_port(p, log):
            line = p.stdout.readline()
            self.assertTrue(line, "serve printed nothing; log: %s" % open(log).read())
            return json.loads(line)["port"]
        serve, sport = self.start([TOOL, "serve", self.db("tablet"), "--listen", "127.0.0.1:0",
                                   "--quiet"], serve_port)
        yard = "http://127.0.0.1:%d" % sport

        def phone_round(ph, k):
            if k in (1, 2):
                self.write(ph, branch, "%s-%d" % (ph, k), "%s 第%d次签到" % (ph, k))
            p = self.tool("sync", self.db(ph), "--relay", yard)
            if k == 0:  # the phone consents to the branch it was invited to
                self.tool("space", "accept", self.db(ph), branch)
            return json.loads(p.stdout.splitlines()[-1])

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as ex:
            # Round 0 joins (a phone learns of the space at its first sync),
            # rounds 1 and 2 write, round 3 only listens.
            for k in range(4):
                figs = list(ex.map(lambda ph: phone_round(ph, k), phones))
                if k == 0:
                    # Each phone joined the space at its first sync.
                    self.assertTrue(all(f["changes_received"] >= 1 for f in figs), figs)
        took = time.monotonic() - t0
        print("30 phones x 4 syncs with the tablet: %.1f s" % took, flush=True)

        tablet_dump = self.dump("tablet", branch)
        for ph in phones:
            self.assertEqual(self.dump(ph, branch), tablet_dump, "%s differs from the tablet" % ph)
            known = [x["space"] for x in
                     json.loads(self.tool("status", self.db(ph)).stdout)["spaces"]]
            self.assertEqual(known, [branch], "%s holds other spaces than the branch "
                             "(the tablet's private one is %s)" % (ph, private))
        for ph in phones:
            for k in (1, 2):
                self.assertIn("%s-%d" % (ph, k), tablet_dump)
        self.assertNotIn("office-1", tablet_dump)  # written on the relay side only

        # A device that is no member gets nothing of what the tablet holds.
        self.tool("sync", self.db("stranger"), "--relay", yard)
        spaces = json.loads(self.tool("status", self.db("stranger")).stdout)["spaces"]
        self.assertEqual(spaces, [], "a stranger was served %s" % spaces)

        serve.send_signal(signal.SIGTERM)
        self.assertEqual(serve.wait(timeout=20), 0)

        # Back on the network: the tablet meets the relay, then everyone
        # syncs once more (phones through the relay), and all converge.
        self.tool("sync", self.db("tablet"), "--relay", relay_url)
        self.tool("sync", self.db("office"), "--relay", relay_url)
        with ThreadPoolExecutor(max_workers=6) as ex:
            list(ex.map(lambda ph: self.tool("sync", self.db(ph), "--relay", relay_url), phones))
        self.tool("sync", self.db("tablet"), "--relay", relay_url)
        final = self.dump("tablet", branch)
        self.assertIn("office-1", final)
        self.assertEqual(self.dump("office", branch), final)
        for ph in phones:
            self.assertEqual(self.dump(ph, branch), final, "%s did not converge" % ph)
        relay.send_signal(signal.SIGTERM)
        self.assertEqual(relay.wait(timeout=20), 0)


if __name__ == "__main__":
    TOOL, RELAY = sys.argv[1], sys.argv[2]
    dc_fixture.TOOL, dc_fixture.RELAY = TOOL, RELAY
    unittest.main(argv=sys.argv[:1], verbosity=2)
