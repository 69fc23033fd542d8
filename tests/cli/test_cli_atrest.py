#!/usr/bin/env python3
"""The `drivercore` tool with replicas encrypted at rest (docs/format/at-rest.md).

--key-file and DRIVERCORE_PASSPHRASE for every command that opens a replica,
`drivercore keygen`, `drivercore rekey`, the one-time migration of a replica
in clear, "encrypted" in `drivercore status`, and the errors a user meets:
no key, a wrong key, a key file others can read.  Without a key everything
behaves exactly as before (the whole of test_cli.py runs without one).
Reuses test_cli.py's helpers; runs only the tests defined here.

Usage: test_cli_atrest.py PATH/TO/drivercore [unittest args...]
"""
import json
import os
import stat
import sys
import unittest

import test_cli
from test_cli import T0

SECRETS = ["Huang Hongxing", "黄红星", "520102198403154321", "13812345678"]


def ops_with_people(space):
    return [{"space": space, "ops": [{"type": "driver", "id": "d%d" % i, "set": {
        "name": SECRETS[i % 2], "id_number": SECRETS[2], "phone": SECRETS[3]}}]}
        for i in range(20)]


class AtRestCliTest(test_cli.CliTest):

    def keygen(self, name):
        f = self.path(name)
        out = self.run_dc("keygen", f).json()
        self.assertEqual(out, {"key_file": f})
        return f

    def mode(self, f):
        return stat.S_IMODE(os.stat(f).st_mode)

    def hits(self, replica):
        """How often any secret occurs in the replica's files (a `grep -c`)."""
        n = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                data = open(replica + suffix, "rb").read()
            except FileNotFoundError:
                continue
            n += sum(data.count(s.encode("utf-8")) for s in SECRETS)
        return n

    # ---- keys ----

    def test_keygen(self):
        f = self.keygen("k.key")
        self.assertEqual(self.mode(f), 0o600)
        text = open(f).read()
        self.assertRegex(text, r"^[0-9a-f]{64}\n$")
        self.assertNotEqual(text, open(self.keygen("k2.key")).read())
        # Never over an existing key.
        res = self.run_dc("keygen", f, ok=False)
        self.assertIn("already exists", res.err)
        self.assertEqual(open(f).read(), text)
        self.assertEqual(self.run_dc("keygen", ok=False).rc, 2)

    def test_key_file_forms_and_errors(self):
        k = self.keygen("k.key")
        r = self.path("r.db")
        card = self.run_dc("init", r, "--name", "Huang Hongxing", "--key-file", k).json()
        self.assertEqual(card["name"], "Huang Hongxing")
        # Anywhere on the line, with or without '='.
        for args in (["status", r, "--key-file", k], ["status", r, "--key-file=" + k],
                     ["--key-file", k, "status", r]):
            st = self.run_dc(*args).json()
            self.assertIs(st["encrypted"], True)
            self.assertEqual(st["device"], card["device"])
        # 32 raw bytes are a key file too.
        raw = self.path("raw.key")
        with open(raw, "wb") as f:
            f.write(bytes.fromhex(open(k).read().strip()))
        os.chmod(raw, 0o600)
        self.run_dc("whoami", r, "--key-file", raw)
        # No key: refused, saying what to do.
        res = self.run_dc("dump", r, ok=False)
        self.assertEqual(res.rc, 1)
        self.assertIn("encrypted", res.err)
        self.assertIn("--key-file", res.err)
        # Another key.
        res = self.run_dc("dump", r, "--key-file", self.keygen("other.key"), ok=False)
        self.assertIn("does not open", res.err)
        # A key file others can read is refused, like ssh refuses such a key.
        os.chmod(k, 0o644)
        res = self.run_dc("dump", r, "--key-file", k, ok=False)
        self.assertIn("chmod 600", res.err)
        os.chmod(k, 0o600)
        # Not a key.
        bad = self.path("bad.key")
        with open(bad, "w") as f:
            f.write("not a key\n")
        os.chmod(bad, 0o600)
        res = self.run_dc("dump", r, "--key-file", bad, ok=False)
        self.assertIn("64 hex digits", res.err)
        self.run_dc("dump", r, "--key-file", self.path("missing.key"), ok=False)
        # Both a key file and a passphrase: a usage error.
        res = self.run_dc("dump", r, "--key-file", k, ok=False,
                          env_extra={"DRIVERCORE_PASSPHRASE": "x"})
        self.assertEqual(res.rc, 2)
        self.run_dc("dump", r, "--key-file", ok=False)

    def test_passphrase(self):
        r = self.path("p.db")
        pw = {"DRIVERCORE_PASSPHRASE": "correct horse battery staple"}
        self.run_dc("init", r, env_extra=pw)
        s = self.run_dc("space", "create", r, "branch", env_extra=pw).json()["space"]
        self.run_dc("apply", r, stdin="".join(json.dumps(l) + "\n" for l in ops_with_people(s)),
                    env_extra=pw)
        self.assertEqual(self.hits(r), 0)
        self.assertIs(self.run_dc("status", r, env_extra=pw).json()["encrypted"], True)
        res = self.run_dc("status", r, ok=False, env_extra={"DRIVERCORE_PASSPHRASE": "wrong"})
        self.assertIn("passphrase", res.err)
        # An empty variable is no passphrase.
        self.run_dc("status", r, ok=False, env_extra={"DRIVERCORE_PASSPHRASE": ""})

    # ---- what is on the disk ----

    def test_nothing_readable_on_disk(self):
        k = self.keygen("k.key")
        for enc in (False, True):
            r = self.path("enc.db" if enc else "clear.db")
            key = ["--key-file", k] if enc else []
            self.run_dc("init", r, "--name", "Huang Hongxing", *key)
            s = self.run_dc("space", "create", r, "Wudang mobile branch", *key).json()["space"]
            self.run_dc("apply", r, *key,
                        stdin="".join(json.dumps(l) + "\n" for l in ops_with_people(s)))
            b = self.path("enc.bundle" if enc else "clear.bundle")
            self.run_dc("bundle", "export", r, b, *key)
            hits = self.hits(r)
            if enc:
                self.assertEqual(hits, 0, "secrets readable in the encrypted replica")
            else:
                self.assertGreater(hits, 0, "the search finds nothing in clear: it is broken")
            self.assertIs(self.run_dc("status", r, *key).json()["encrypted"], enc)
            # Files only their user may read, whatever the umask.
            self.assertEqual(self.mode(r), 0o600)
            self.assertEqual(self.mode(b), 0o600)

    def test_clear_replica_migrates_once(self):
        a, _ = self.init("a.db", display="Huang Hongxing")
        s = self.new_space(a)
        self.apply(a, ops_with_people(s))
        before = self.dump_text(a)
        status = self.run_dc("status", a).json()
        self.assertIs(status["encrypted"], False)
        self.assertGreater(self.hits(a), 0)
        k = self.keygen("k.key")
        res = self.run_dc("dump", a, "--key-file", k)
        self.assertIn("now", res.err)  # the note: it was in clear, it is encrypted now
        self.assertEqual(res.out[:-1], before)
        self.assertEqual(self.hits(a), 0)
        # Once: the next open is an ordinary one, with no note.
        res = self.run_dc("dump", a, "--key-file", k)
        self.assertEqual(res.err, "")
        self.assertEqual(res.out[:-1], before)
        after = self.run_dc("status", a, "--key-file", k).json()
        self.assertIs(after["encrypted"], True)
        after["encrypted"] = False
        self.assertEqual(after, status)
        self.run_dc("dump", a, ok=False)
        self.assertFalse(os.path.exists(a + "-rekey"))

    def test_rekey(self):
        a, _ = self.init("a.db")
        s = self.new_space(a)
        self.apply(a, ops_with_people(s))
        before = self.dump_text(a)
        k1, k2 = self.keygen("k1.key"), self.keygen("k2.key")
        # A replica in clear is encrypted by a rekey.
        out = self.run_dc("rekey", a, "--new-key-file", k1).json()
        self.assertEqual(out, {"replica": a, "encrypted": True})
        self.assertEqual(self.run_dc("dump", a, "--key-file", k1).out[:-1], before)
        self.run_dc("rekey", a, "--key-file", k1, "--new-key-file", k2)
        self.run_dc("dump", a, "--key-file", k1, ok=False)
        self.assertEqual(self.run_dc("dump", a, "--key-file", k2).out[:-1], before)
        # From a key to a passphrase and back.
        self.run_dc("rekey", a, "--key-file", k2,
                    env_extra={"DRIVERCORE_NEW_PASSPHRASE": "a long passphrase"})
        self.run_dc("rekey", a, "--new-key-file", k1,
                    env_extra={"DRIVERCORE_PASSPHRASE": "a long passphrase"})
        self.assertEqual(self.run_dc("dump", a, "--key-file", k1).out[:-1], before)
        self.assertEqual(self.hits(a), 0)
        # The new key is given exactly once.
        self.assertEqual(self.run_dc("rekey", a, "--key-file", k1, ok=False).rc, 2)
        res = self.run_dc("rekey", a, "--key-file", k1, "--new-key-file", k2, ok=False,
                          env_extra={"DRIVERCORE_NEW_PASSPHRASE": "x"})
        self.assertEqual(res.rc, 2)
        # Without the current key nothing changes.
        self.run_dc("rekey", a, "--new-key-file", k2, ok=False)
        self.assertEqual(self.run_dc("dump", a, "--key-file", k1).out[:-1], before)

    def test_sync_and_bundles_between_encrypted_replicas(self):
        k = self.keygen("k.key")
        key = ["--key-file", k]
        a, b = self.path("a.db"), self.path("b.db")
        self.run_dc("init", a, *key)
        card_b = self.run_dc("init", b, *key).json()
        s = self.run_dc("space", "create", a, "branch", *key).json()["space"]
        self.run_dc("space", "add", a, s, json.dumps(card_b), *key)
        self.run_dc("apply", a, *key,
                    stdin="".join(json.dumps(l) + "\n" for l in ops_with_people(s)))
        self.run_dc("sync", a, b, *key)
        self.run_dc("space", "accept", b, s, *key)  # b joins only by accepting
        self.run_dc("sync", a, b, *key)
        self.assertEqual(self.run_dc("dump", a, *key).out, self.run_dc("dump", b, *key).out)
        self.assertEqual(self.hits(a) + self.hits(b), 0)


def main():
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        test_cli.BIN = os.path.abspath(argv.pop(1))
    if not test_cli.BIN or not os.access(test_cli.BIN, os.X_OK):
        sys.stderr.write("usage: test_cli_atrest.py PATH/TO/drivercore [unittest args]\n")
        return 2
    os.umask(0o022)
    names = [n for n in vars(AtRestCliTest) if n.startswith("test_")]
    suite = unittest.TestSuite(AtRestCliTest(n) for n in sorted(names))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
