#!/usr/bin/env python3
"""Checks the layout of drivercore.aar (tools/build-aar).

    tools/check_aar.py drivercore.aar --src REPO [--stand-in]

What an Android app needs of it: AndroidManifest.xml, classes.jar with the
org.drivercore API, proguard.txt keeping every class the JNI glue looks up
by name, and jni/<abi>/libdrivercore.so + libdrivercore_jni.so for
arm64-v8a, armeabi-v7a and x86_64, each an ELF shared object of that CPU,
named by its soname, exporting the C API (libdrivercore) or JNI_OnLoad (the
glue), and needing nothing but each other and the platform's C library.
--stand-in accepts glibc's libraries in place of bionic's, and Debian's
shared SQLite, libsodium, zstd and msgpack-c in place of the copies the NDK
build links in (the Debian builds that stand in where the NDK is missing).  Exits 1 listing problems.
"""
import argparse
import io
import re
import subprocess
import sys
import tempfile
import zipfile

ABIS = {"arm64-v8a": "AArch64", "armeabi-v7a": "ARM", "x86_64": "Advanced Micro Devices X86-64"}
BIONIC = {"libc.so", "libm.so", "libdl.so", "liblog.so"}
GLIBC = re.compile(r"^(libc\.so\.6|libm\.so\.6|ld-linux.*|libgcc_s\.so\.1|"
                   r"libsqlite3\.so\.0|libsodium\.so\.\d+|libzstd\.so\.1|libmsgpackc\.so\.\d+)$")


def readelf(data, *flags):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return subprocess.check_output(["readelf", "-W"] + list(flags) + [f.name], text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("aar")
    ap.add_argument("--src", required=True)
    ap.add_argument("--stand-in", action="store_true")
    a = ap.parse_args()
    bad = []
    z = zipfile.ZipFile(a.aar)
    names = set(z.namelist())
    for need in ("AndroidManifest.xml", "classes.jar", "proguard.txt", "R.txt"):
        if need not in names:
            bad.append("missing %s" % need)
    if "classes.jar" in names:
        jar = zipfile.ZipFile(io.BytesIO(z.read("classes.jar")))
        for c in ("Replica", "Native", "DriverCoreException", "Backup"):
            if "org/drivercore/%s.class" % c not in jar.namelist():
                bad.append("classes.jar lacks org.drivercore.%s" % c)
    glue = open(a.src + "/bindings/jni/drivercore_jni.c", encoding="utf-8").read()
    looked_up = set(re.findall(r'FindClass\(env, "org/drivercore/(\w+)"', glue))
    rules = z.read("proguard.txt").decode() if "proguard.txt" in names else ""
    for c in sorted(looked_up):
        if not re.search(r"-keep (class|interface) org\.drivercore\.%s\b" % c, rules):
            bad.append("proguard.txt does not keep org.drivercore.%s (FindClass'd by name)" % c)
    for abi, machine in ABIS.items():
        for lib in ("libdrivercore.so", "libdrivercore_jni.so"):
            path = "jni/%s/%s" % (abi, lib)
            if path not in names:
                bad.append("missing %s" % path)
                continue
            data = z.read(path)
            hdr = readelf(data, "-h")
            if "DYN (Shared object" not in hdr or \
                    not re.search(r"Machine:\s+%s" % re.escape(machine), hdr):
                bad.append("%s: not a %s shared object" % (path, machine))
            dyn = readelf(data, "-d")
            soname = re.findall(r"\(SONAME\)\s+Library soname: \[(.+?)\]", dyn)
            if soname != [lib]:
                bad.append("%s: soname %s, but Android loads it by its file name" % (path, soname))
            for need in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn):
                ok = need in BIONIC or need == "libdrivercore.so" or \
                    (a.stand_in and GLIBC.match(need))
                if not ok:
                    bad.append("%s needs %s, which an APK does not carry" % (path, need))
            syms = readelf(data, "--dyn-syms")
            want = "JNI_OnLoad" if lib == "libdrivercore_jni.so" else "dc_replica_open"
            if not re.search(r"\bFUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+%s\b" % want, syms):
                bad.append("%s does not export %s" % (path, want))
    for b in bad:
        print("check_aar: " + b)
    print("check_aar: %s: %d entries, %s" % (a.aar, len(names), "layout ok" if not bad
                                               else "%d problems" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
