#!/usr/bin/env python3
"""Compile the Java bindings and their JUnit tests, then run them.

Registered by bindings/meson.build as the meson test `junit` (suite
`bindings`).  Everything it writes goes under --work, inside the build
directory, so the source tree stays clean.  The JVM runs with -Xcheck:jni,
and any "WARNING in native method" it prints (a JNI call with an exception
pending, a leaked local reference table) fails the test: such misuse works
on a desktop JVM and crashes on Android, so it must not pass here.

With --example DIR (examples/android-driver), it compiles the bindings with
DIR/src/main/java and runs DIR/src/test/java's tests instead of the
bindings' own: the example's meson test `android-driver`.

Exit status: 0 pass, 1 fail, 77 skipped (meson's skip code) when JUnit is
not installed.
"""

import argparse
import glob
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--javac", required=True)
    ap.add_argument("--java", required=True)
    ap.add_argument("--src", required=True, help="bindings/jni in the source tree")
    ap.add_argument("--lib", required=True, help="path of the built libdrivercore_jni")
    ap.add_argument("--work", required=True, help="scratch directory in the build tree")
    ap.add_argument("--jar", action="append", default=[], help="JUnit/hamcrest jars")
    ap.add_argument("--relay", default="", help="drivercore-relay, for the sync client's test")
    ap.add_argument("--example", help="an example app's folder (src/main/java, src/test/java)")
    args = ap.parse_args()

    missing = [j for j in args.jar if not os.path.isfile(j)]
    if not args.jar or missing:
        print("junit: JUnit 4 not found (%s); install the Debian package junit4"
              % ", ".join(missing or ["no jars given"]))
        return 77

    classes = os.path.join(args.work, "classes")
    os.makedirs(classes, exist_ok=True)
    sources = sorted(glob.glob(os.path.join(args.src, "java", "org", "drivercore", "*.java")))
    test_root = os.path.join(args.src, "test")
    tests = sorted(glob.glob(os.path.join(test_root, "org", "drivercore", "*.java")))
    if args.example:
        sources += sorted(glob.glob(os.path.join(args.example, "src", "main", "java", "**",
                                                 "*.java"), recursive=True))
        test_root = os.path.join(args.example, "src", "test", "java")
        tests = sorted(glob.glob(os.path.join(test_root, "**", "*Test.java"), recursive=True))
    cp = os.pathsep.join([classes] + args.jar)

    # --release 8 keeps the API inside what Android's desugared Java offers;
    # -Werror keeps the bindings as warning-free as the C.
    cmd = [args.javac, "-encoding", "UTF-8", "--release", "8", "-Xlint:all,-options", "-Werror",
           "-d", classes, "-cp", cp] + sources + tests
    print("+ " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        return 1

    libdir = os.path.dirname(os.path.abspath(args.lib))
    classes_run = []
    for t in tests:
        rel = os.path.relpath(t, test_root)
        classes_run.append(rel[:-len(".java")].replace(os.sep, "."))
    cmd = [args.java, "-Xcheck:jni", "-Djava.library.path=" + libdir,
           "-Ddrivercore.relay=" + args.relay, "-cp", cp,
           "org.junit.runner.JUnitCore"] + classes_run
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    if p.returncode != 0:
        return 1
    if "WARNING in native method" in out:
        print("junit: -Xcheck:jni reported JNI misuse (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
