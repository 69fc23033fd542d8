#!/usr/bin/env python3
"""Generate the Java and Swift error types from DC_ERRNO_MAP.

include/drivercore/errors.h holds the one table of error codes (an X-macro,
as libuv's UV_ERRNO_MAP).  The C enum, dc_error_name() and dc_strerror() are
expanded from it by the preprocessor; the bindings cannot use the
preprocessor, so this script reads the same table and writes

  bindings/jni/java/org/drivercore/DriverCoreError.java
  bindings/swift/Sources/Drivercore/DCError.swift

The generated files are checked in, so that the Java and Swift sources build
without running meson first (Android Studio, Xcode, `swift build`).  To keep
them from drifting, the meson test `gen_errors` (suite `bindings`) runs this
script with --check, which fails if a checked-in copy differs from what the
table generates now.

Usage:
  tools/gen_errors.py [--root DIR]            rewrite the generated files
  tools/gen_errors.py [--root DIR] --check    exit 1 if any is out of date
"""

import argparse
import os
import re
import sys

HEADER = "include/drivercore/errors.h"
JAVA_OUT = "bindings/jni/java/org/drivercore/DriverCoreError.java"
SWIFT_OUT = "bindings/swift/Sources/Drivercore/DCError.swift"

# One XX(NAME, value, "message") entry.  The message is a single C string
# literal; adjacent-literal concatenation is not used in the table and is
# rejected below rather than silently mis-parsed.
ENTRY = re.compile(r'XX\(\s*([A-Z][A-Z0-9_]*)\s*,\s*(-?\d+)\s*,\s*("(?:[^"\\\n]|\\.)*")\s*\)')

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func",
    "import", "init", "inout", "internal", "let", "open", "operator", "private",
    "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias",
    "var", "break", "case", "continue", "default", "defer", "do", "else",
    "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where",
    "while", "as", "catch", "false", "is", "nil", "super", "self", "Self", "throw",
    "throws", "true", "try", "Type", "Any",
}


class Entry:
    def __init__(self, name, value, message):
        self.name = name          # "EINVAL"
        self.value = value        # -4
        self.message = message    # decoded Python str

    @property
    def c_name(self):
        return "DC_" + self.name

    @property
    def swift_name(self):
        # EINVAL -> inval, ENOTFOUND -> notfound; ERROR (the one code that is
        # not an errno-style E-name) stays "error".
        base = self.name[1:] if self.name.startswith("E") and self.name != "ERROR" else self.name
        ident = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), base.lower())
        return "`%s`" % ident if ident in SWIFT_KEYWORDS else ident


def decode_c_string(lit):
    """Decode a C string literal (with its quotes) to text."""
    body = lit[1:-1]
    out = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "?": "?",
              "a": "\a", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        else:
            raise ValueError("unsupported escape \\%s in %s" % (nxt, lit))
    # The header is UTF-8 source; a literal's bytes are its UTF-8 text.
    return "".join(out)


def parse(header_text):
    m = re.search(r"#define\s+DC_ERRNO_MAP\(XX\)((?:[^\n]*\\\n)*[^\n]*\n)", header_text)
    if not m:
        raise SystemExit("gen_errors: DC_ERRNO_MAP(XX) not found in " + HEADER)
    block = m.group(1).replace("\\\n", "\n")
    entries = [Entry(n, int(v), decode_c_string(s)) for n, v, s in ENTRY.findall(block)]
    # Everything in the block that is not a recognised entry must be blank:
    # a half-parsed table would generate bindings that silently lack a code.
    leftover = ENTRY.sub("", block).strip()
    if leftover:
        raise SystemExit("gen_errors: cannot parse part of DC_ERRNO_MAP: %r" % leftover[:80])
    if not entries:
        raise SystemExit("gen_errors: DC_ERRNO_MAP is empty")
    seen_names, seen_values = set(), set()
    for e in entries:
        if e.name in seen_names or e.value in seen_values:
            raise SystemExit("gen_errors: duplicate name or value: %s %d" % (e.name, e.value))
        if e.value >= 0:
            raise SystemExit("gen_errors: %s must be negative (0 is success)" % e.name)
        seen_names.add(e.name)
        seen_values.add(e.value)
    return entries


def java_str(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            # \\u escapes keep the generated file ASCII whatever javac's
            # -encoding is.  Characters beyond the BMP become surrogate pairs.
            for unit in ch.encode("utf-16-be").hex(" ", 2).split(" "):
                out.append("\\u" + unit)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def swift_str(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


NOTICE = ("GENERATED by tools/gen_errors.py from DC_ERRNO_MAP in include/drivercore/errors.h.\n"
          "Do not edit: change the table and re-run the script (the `gen_errors` test in\n"
          "suite `bindings` fails while this file is out of date).")


def gen_java(entries):
    lines = []
    lines.append("/*")
    for l in NOTICE.split("\n"):
        lines.append(" * " + l)
    lines.append(" */")
    lines.append("package org.drivercore;")
    lines.append("")
    lines.append("/**")
    lines.append(" * The error codes of drivercore, one constant per entry of the C library's")
    lines.append(" * DC_ERRNO_MAP, with the same numeric value, C name and default message.")
    lines.append(" * Values are fixed forever; new codes are only appended.  A code this copy")
    lines.append(" * does not know (a newer native library) maps to {@link #UNKNOWN}, and the")
    lines.append(" * exception keeps the raw number.")
    lines.append(" */")
    lines.append("public enum DriverCoreError {")
    for e in entries:
        lines.append("    /** %s */" % e.message.replace("*/", "*&#47;"))
        lines.append("    %s(%d, %s, %s)," % (e.name, e.value, java_str(e.c_name), java_str(e.message)))
    lines.append("    /** A code this version of the bindings does not know. */")
    lines.append('    UNKNOWN(Integer.MIN_VALUE, "DC_UNKNOWN", "unknown error code");')
    lines.append("")
    lines.append("    private final int code;")
    lines.append("    private final String cName;")
    lines.append("    private final String message;")
    lines.append("")
    lines.append("    DriverCoreError(int code, String cName, String message) {")
    lines.append("        this.code = code;")
    lines.append("        this.cName = cName;")
    lines.append("        this.message = message;")
    lines.append("    }")
    lines.append("")
    lines.append("    /** The numeric code, as the C library returns it (negative). */")
    lines.append("    public int code() {")
    lines.append("        return code;")
    lines.append("    }")
    lines.append("")
    lines.append('    /** The C name, e.g. "DC_EINVAL" (what dc_error_name returns). */')
    lines.append("    public String cName() {")
    lines.append("        return cName;")
    lines.append("    }")
    lines.append("")
    lines.append("    /** The default one-line message (what dc_strerror returns). */")
    lines.append("    public String message() {")
    lines.append("        return message;")
    lines.append("    }")
    lines.append("")
    lines.append("    /** The constant for a numeric code, or UNKNOWN. */")
    lines.append("    public static DriverCoreError fromCode(int code) {")
    lines.append("        switch (code) {")
    for e in entries:
        lines.append("            case %d: return %s;" % (e.value, e.name))
    lines.append("            default: return UNKNOWN;")
    lines.append("        }")
    lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def gen_swift(entries):
    lines = []
    for l in NOTICE.split("\n"):
        lines.append("// " + l)
    lines.append("")
    lines.append("/// An error raised by drivercore: the code (one entry of the C library's")
    lines.append("/// DC_ERRNO_MAP) and the library's message, which says what failed and what")
    lines.append("/// to do (the handle's `dc_replica_errmsg`, or `dc_error_last`).")
    lines.append("public struct DCError: Error, Equatable, CustomStringConvertible {")
    lines.append("    /// An error code.  A struct with static members rather than an enum, so")
    lines.append("    /// that a code added by a newer C library is still representable.")
    lines.append("    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {")
    lines.append("        public let rawValue: Int32")
    lines.append("        public init(rawValue: Int32) { self.rawValue = rawValue }")
    lines.append("")
    for e in entries:
        lines.append("        /// %s" % e.message)
        lines.append("        public static let %s = Code(rawValue: %d)" % (e.swift_name, e.value))
    lines.append("")
    lines.append("        /// Every code this version of the bindings knows, in table order.")
    lines.append("        public static let all: [Code] = [")
    for e in entries:
        lines.append("            .%s," % e.swift_name)
    lines.append("        ]")
    lines.append("")
    lines.append('        /// The C name, e.g. "DC_EINVAL" (what dc_error_name returns).')
    lines.append("        public var name: String {")
    lines.append("            switch rawValue {")
    for e in entries:
        lines.append("            case %d: return %s" % (e.value, swift_str(e.c_name)))
    lines.append('            default: return "DC_UNKNOWN"')
    lines.append("            }")
    lines.append("        }")
    lines.append("")
    lines.append("        /// The default one-line message (what dc_strerror returns).")
    lines.append("        public var defaultMessage: String {")
    lines.append("            switch rawValue {")
    for e in entries:
        lines.append("            case %d: return %s" % (e.value, swift_str(e.message)))
    lines.append('            default: return "unknown error code"')
    lines.append("            }")
    lines.append("        }")
    lines.append("")
    lines.append("        public var description: String { name }")
    lines.append("    }")
    lines.append("")
    lines.append("    /// What kind of error.")
    lines.append("    public let code: Code")
    lines.append("    /// The library's message (falls back to the code's default message).")
    lines.append("    public let message: String")
    lines.append("")
    lines.append("    public init(code: Code, message: String? = nil) {")
    lines.append("        self.code = code")
    lines.append("        if let m = message, !m.isEmpty {")
    lines.append("            self.message = m")
    lines.append("        } else {")
    lines.append("            self.message = code.defaultMessage")
    lines.append("        }")
    lines.append("    }")
    lines.append("")
    lines.append('    public var description: String { "\\(code.name): \\(message)" }')
    lines.append("}")
    lines.append("")
    lines.append("/// Lets `catch DCError.Code.notfound` style matching work: `case .notfound = err.code`,")
    lines.append("/// or `catch let e as DCError where e.code == .notfound`.")
    lines.append("public func ~= (pattern: DCError.Code, value: Error) -> Bool {")
    lines.append("    (value as? DCError)?.code == pattern")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.dirname(here), help="repository root")
    ap.add_argument("--check", action="store_true", help="fail if generated files are stale")
    args = ap.parse_args()

    with open(os.path.join(args.root, HEADER), encoding="utf-8") as f:
        entries = parse(f.read())
    outputs = {JAVA_OUT: gen_java(entries), SWIFT_OUT: gen_swift(entries)}

    stale = []
    for rel, text in outputs.items():
        path = os.path.join(args.root, rel)
        try:
            with open(path, encoding="utf-8", newline="") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if args.check:
            stale.append(rel)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            print("gen_errors: wrote " + rel)
    if stale:
        for rel in stale:
            print("gen_errors: %s is out of date with DC_ERRNO_MAP; run tools/gen_errors.py" % rel,
                  file=sys.stderr)
        return 1
    if args.check:
        print("gen_errors: %d codes; generated files are up to date" % len(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
