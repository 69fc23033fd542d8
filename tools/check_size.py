#!/usr/bin/env python3
"""Reports the stripped size of built libraries and fails above a limit
(issue 13: the library an app ships, under 1 MiB per ABI, domain included).

    tools/check_size.py --strip STRIP [--max-kib 1024] LIB...

Each library is copied and stripped (STRIP: the build's strip, the cross
file's for a cross build, so every CPU's ELF is handled), then its size is
printed as "size: NAME MACHINE N bytes (K KiB)".  Exits 1 when one is above
--max-kib.  The figure is of the library alone: SQLite, libsodium, zstd
and msgpack-c are the system's in these builds (tools/build-aar links them
in for an AAR; docs/building.md gives both figures).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "arm", 0x03: "i386"}


def machine(path):
    with open(path, "rb") as f:
        h = f.read(20)
    if h[:4] != b"\x7fELF":
        return "not ELF"
    little = h[5] == 1
    return MACHINES.get(int.from_bytes(h[18:20], "little" if little else "big"), "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strip", required=True)
    ap.add_argument("--max-kib", type=int, default=1024)
    ap.add_argument("libs", nargs="+")
    a = ap.parse_args()
    over = 0
    with tempfile.TemporaryDirectory(prefix="dc-size-") as tmp:
        for lib in a.libs:
            out = os.path.join(tmp, os.path.basename(lib))
            shutil.copyfile(lib, out)
            subprocess.check_call([a.strip, "--strip-all", out])
            n = os.path.getsize(out)
            ok = n <= a.max_kib * 1024
            over += not ok
            print("size: %s %s %d bytes (%.0f KiB)%s" % (
                os.path.basename(lib), machine(lib), n, n / 1024.0,
                "" if ok else "  ABOVE the limit of %d KiB" % a.max_kib))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
