#!/usr/bin/env python3
"""Runs the C test suite of a cross build under qemu-user (issue 13).

    cross/qemu_suite.py BUILD_DIR [--label NAME] [--skip-for-time A,B] [meson test options...]

BUILD_DIR was configured with one of cross/debian-*.ini, whose exe_wrapper
is qemu-user: `meson test` then runs every test program of the target's CPU
under qemu.  Not every test can run there, and this script says which and
why instead of letting them fail:

  * tests that are Python scripts driving the target's programs (the CLI,
    the relay, the bindings): the script is the build machine's Python, and
    a build-machine process cannot exec a target binary without binfmt_misc,
    which a container cannot register.  They run in the native build, and
    what they test of the library is covered here by the C tests;
  * host checks (style, generated error types, the Python at-rest spec):
    the same files in every build, run by the native build;
  * the C programs listed in CANNOT below, with the reason;
  * the C programs listed in SLOW below, to keep ./dev test bounded: what
    they test does not depend on the CPU, and the native and ASan builds
    run them.  DC_QEMU_ALL=1 runs them too.

The checks in ON_HOST are Python scripts that read the target's files
(readelf, the cross strip) without running them: they run here too.
Every other registered test runs.  The script runs ninja itself, for the
programs and libraries those tests need and the installed targets only.  Prints the same "label: N passed, N
failed, N skipped" line as ./dev test and exits non-zero on any failure.
"""
import json
import os
import subprocess
import sys

# C test programs qemu-user cannot run here, by test name, with why.
CANNOT = {
    "demo": "forks and execs drivercore-relay (a target binary) from inside the "
    "emulated process; without binfmt_misc the kernel cannot exec it",
}

# C test programs left out of the qemu runs for time, by test name, with why.
SLOW = {
    "oom": "fails every allocation of a scenario in turn: the same C paths on every CPU, "
    "run by the native and ASan builds; under qemu, oom and oom-at-rest took 40% of the "
    "aarch64 run's test time (90 s of 219 s)",
    "oom-at-rest": "the same as oom, encrypted at rest",
}

# Python checks that read the target's build without running it.
ON_HOST = {"libc-api", "libc-api-refuses", "lib-size"}


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    build = args.pop(0)
    label = os.path.basename(os.path.normpath(build))
    if len(args) >= 2 and args[0] == "--label":
        label = args[1]
        args = args[2:]
    # --skip-for-time A,B: tests another run of the same ./dev test runs
    # under qemu (the aarch64 one), left out of this one to bound the time.
    for_time = set()
    if len(args) >= 2 and args[0] == "--skip-for-time":
        if os.environ.get("DC_QEMU_ALL") != "1":
            for_time = set(args[1].split(","))
        args = args[2:]
    tests = json.loads(subprocess.check_output(["meson", "introspect", build, "--tests"]))
    run, skipped = [], []
    for t in tests:
        exe = os.path.basename(t["cmd"][0])
        if t["name"] in CANNOT:
            skipped.append((t["name"], CANNOT[t["name"]]))
        elif t["name"] in SLOW and os.environ.get("DC_QEMU_ALL") != "1":
            skipped.append((t["name"], SLOW[t["name"]]))
        elif t["name"] in for_time:
            skipped.append((t["name"], "left out of ./dev test for time: the aarch64 run under "
                            "qemu runs it (`./dev cross %s` or DC_QEMU_ALL=1 runs it here)"
                            % label.split()[0]))
        elif t["name"] in ON_HOST:
            run.append(t["name"])
        elif exe.startswith("python"):
            script = os.path.basename(t["cmd"][1]) if len(t["cmd"]) > 1 else ""
            drives = any(
                os.path.realpath(a).startswith(os.path.realpath(build)) for a in t["cmd"][2:]
            )
            why = (
                "a Python script driving target programs (%s): runs in the native build" % script
                if drives
                else "a host check (%s): the same in every build, run natively" % script
            )
            skipped.append((t["name"], why))
        else:
            run.append(t["name"])
    print("%s: %d tests (C programs under qemu-user, and %s read on the host); not run here:"
          % (label, len(run), ", ".join(sorted(ON_HOST & set(run))) or "no checks"))
    for name, why in skipped:
        print("  skip %-24s %s" % (name, why))
    sys.stdout.flush()
    # Build what the tests run here need, and what is installed (the
    # libraries, the CLI and the relay: everything shipped still compiles for
    # this CPU, warnings as errors), and nothing else: the demo, the test
    # programs of tests that run natively and tests/versions' second copy of
    # the library were a third of each cross tree's compile time.
    by_id = {t["id"]: t for t in json.loads(
        subprocess.check_output(["meson", "introspect", build, "--targets"]))}
    want = sorted({os.path.relpath(f, build)
                   for t in tests if t["name"] in run
                   for d in t["depends"] if d in by_id
                   for f in by_id[d]["filename"]}
                  | {os.path.relpath(f, build)
                     for t in by_id.values() if t["installed"]
                     for f in t["filename"]})
    rc = subprocess.call(["ninja", "-C", build] + want, stdout=sys.stderr)
    if rc:
        print("%s: the build failed" % label)
        return rc
    rc = subprocess.call(
        ["meson", "test", "-C", build, "--no-rebuild", "--print-errorlogs"] + args + run,
    )
    passed = failed = 0
    with open(os.path.join(build, "meson-logs", "testlog.json")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r.get("result") != "SKIP":
                failed += 1
    print("%s: %d passed, %d failed, %d skipped" % (label, passed, failed, len(skipped)))
    return rc or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
