#!/usr/bin/env python3
"""Checks that a built library calls nothing of the C library beyond
cross/libc.txt, and nothing bionic lacks at the Android API level the
cross files target (issue 13; docs/building.md, "The C library").

    tools/check_libc.py --list cross/libc.txt --api-from cross/android-arm64.ini LIB...
    tools/check_libc.py --list cross/libc.txt --api 24 --symbols timespec_get

The C library's symbols are the undefined dynamic symbols with a GLIBC_
version (readelf works on every CPU's ELF files, so cross builds are checked
the same way); glibc's own names are mapped back to the function an app
calls (fopen64 -> fopen).  Exits 1 listing every offending symbol.
"""
import argparse
import re
import subprocess
import sys

# glibc's names -> the function the source calls (what bionic must have).
GLIBC_ALIASES = {
    "__errno_location": "errno",
    "__getauxval": "getauxval",
    "fopen64": "fopen",
    "open64": "open",
    "mkstemp64": "mkstemp",
    "stat64": "stat",
    "fstat64": "fstat",
    "lseek64": "lseek",
    "__isoc99_sscanf": "sscanf",
    "__isoc23_strtol": "strtol",
    "__isoc23_strtoll": "strtoll",
    "__isoc23_strtoul": "strtoul",
    "__isoc23_strtoull": "strtoull",
}


def read_list(path):
    allowed = {}
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            sys.exit("%s:%d: expected 'function level [note]'" % (path, n))
        allowed[parts[0]] = int(parts[1])
    return allowed


def api_from(path):
    m = re.search(r"^api\s*=\s*'(\d+)'", open(path, encoding="utf-8").read(), re.M)
    if not m:
        sys.exit("%s: no api = 'N' constant" % path)
    return int(m.group(1))


def libc_symbols(lib):
    out = subprocess.check_output(["readelf", "--dyn-syms", "-W", lib], text=True)
    syms = set()
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[6] == "UND" and "@GLIBC_" in f[7]:
            syms.add(f[7].split("@", 1)[0])
    return syms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", required=True)
    ap.add_argument("--api", type=int)
    ap.add_argument("--api-from")
    ap.add_argument("--symbols", nargs="*", default=[], help="check these names (self-test)")
    ap.add_argument("libs", nargs="*")
    a = ap.parse_args()
    allowed = read_list(a.list)
    api = a.api if a.api is not None else api_from(a.api_from)
    found = {}
    for lib in a.libs:
        for s in libc_symbols(lib):
            found.setdefault(s, lib)
    for s in a.symbols:
        found.setdefault(s, "--symbols")
    bad = []
    for s, lib in sorted(found.items()):
        name = GLIBC_ALIASES.get(s, s)
        if name not in allowed:
            bad.append("%s: %s is not in %s (check that bionic has it at API %d, then add it)"
                       % (lib, name, a.list, api))
        elif allowed[name] > api:
            bad.append("%s: %s needs Android API %d; the library targets %d"
                       % (lib, name, allowed[name], api))
    for b in bad:
        print(b)
    print("libc: %d C library functions used, %s beyond API %d"
          % (len(found), len(bad) or "none", api))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
