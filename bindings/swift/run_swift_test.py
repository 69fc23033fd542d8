#!/usr/bin/env python3
"""Build and run the Swift package's XCTest tests against the built library.

Registered by bindings/meson.build as the meson test `swift` (suite
`bindings`).  SwiftPM writes only under --scratch, inside the meson build
directory, so the source tree stays clean and `ninja clean` or deleting the
build directory removes it.  The package finds the C headers through
-Xcc -I<repo>/include and the library through -L and an rpath pointing at
the build's libdrivercore/, so nothing needs installing.

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
    ap.add_argument("--package", required=True, help="bindings/swift in the source tree")
    ap.add_argument("--include", required=True, help="the repository's include/")
    ap.add_argument("--libdir", required=True, help="directory holding libdrivercore.so")
    ap.add_argument("--scratch", required=True, help="SwiftPM scratch path in the build tree")
    args = ap.parse_args()

    swift = args.swift or shutil.which("swift") or "/opt/swift/usr/bin/swift"
    if not os.path.isfile(swift):
        print("swift: no Swift toolchain found; skipping")
        return 77

    libdir = os.path.abspath(args.libdir)
    cmd = [swift, "test",
           "--package-path", args.package,
           "--scratch-path", args.scratch,
           "-Xcc", "-I" + os.path.abspath(args.include),
           "-Xlinker", "-L" + libdir,
           "-Xlinker", "-rpath", "-Xlinker", libdir]
    print("+ " + " ".join(cmd), flush=True)
    env = dict(os.environ)
    # The test binary loads libdrivercore through the rpath; LD_LIBRARY_PATH
    # too, for toolchains whose test runner re-execs through a helper.
    env["LD_LIBRARY_PATH"] = libdir + (os.pathsep + env["LD_LIBRARY_PATH"]
                                       if env.get("LD_LIBRARY_PATH") else "")
    start = time.monotonic()
    rc = subprocess.call(cmd, env=env)
    print("swift: `swift test` took %.1f s" % (time.monotonic() - start))
    return rc


if __name__ == "__main__":
    sys.exit(main())
