#!/usr/bin/env python3
"""Build and run the Swift package's XCTest tests against the built library.

Registered by bindings/meson.build as the meson test `swift` (suite
`bindings`).  SwiftPM writes only under --scratch: the package's own
.build (git-ignored), the directory a plain `swift build` at the root uses
too.  (A scratch path elsewhere inside the package, such as the meson build
tree, makes Swift 6.3's SwiftPM fail every warm build with "unknown build
description".)  The root Package.swift compiles libdrivercore from source
on Linux, so nothing needs installing or pointing at.

Exit status: swift's, or 77 (meson's skip code) when no Swift toolchain.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--swift", default=os.environ.get("SWIFT", ""))
    ap.add_argument("--package", required=True, help="the repository root (Package.swift)")
    ap.add_argument("--include", help="headers of a prebuilt library (not needed: the "
                    "package builds libdrivercore from source)")
    ap.add_argument("--libdir", help="directory holding a prebuilt libdrivercore.so")
    ap.add_argument("--scratch", required=True, help="SwiftPM scratch path (the package's .build)")
    ap.add_argument("--filter", help="only these XCTest cases (swift test --filter): the "
                    "bindings' DrivercoreTests, or examples/ios-driver's DriverAppModelTests")
    args = ap.parse_args()

    swift = args.swift or shutil.which("swift") or "/opt/swift/usr/bin/swift"
    if not os.path.isfile(swift):
        print("swift: no Swift toolchain found; skipping")
        return 77

    cmd = [swift, "test", "--package-path", args.package, "--scratch-path", args.scratch]
    if args.filter:
        cmd += ["--filter", args.filter]
    env = dict(os.environ)
    if args.include:
        cmd += ["-Xcc", "-I" + os.path.abspath(args.include)]
    if args.libdir:
        libdir = os.path.abspath(args.libdir)
        cmd += ["-Xlinker", "-L" + libdir, "-Xlinker", "-rpath", "-Xlinker", libdir]
        env["LD_LIBRARY_PATH"] = libdir + (os.pathsep + env["LD_LIBRARY_PATH"]
                                           if env.get("LD_LIBRARY_PATH") else "")
    print("+ " + " ".join(cmd), flush=True)
    start = time.monotonic()
    rc = subprocess.call(cmd, env=env)
    print("swift: `swift test` took %.1f s" % (time.monotonic() - start))
    return rc


if __name__ == "__main__":
    sys.exit(main())
