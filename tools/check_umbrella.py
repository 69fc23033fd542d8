#!/usr/bin/env python3
"""Checks that the umbrella header carries the whole public C API (issue 13).

    tools/check_umbrella.py ROOT

The bindings see the C library through one header: Swift's module map
(include/module.modulemap) names include/drivercore.h as the module's
header, and an app's own native code includes <drivercore.h>.  A public
header left out of it (relay.h once was) is a part of the API Swift cannot
call.  Fails when a header of include/drivercore/ is not included by
drivercore.h (directly, or through a part's umbrella: domain.h), unless it belongs to another library (SEPARATE below), or
when the module map names another header.
"""
import os
import re
import sys

# Public headers of other libraries than libdrivercore, with why.
SEPARATE = {
    "curl.h": "libdrivercore-curl, the libcurl transport, a library of its own "
    "(mobile apps bring their own HTTP)",
}

# Public headers that gather a part of the API, included by drivercore.h.
UMBRELLAS = ("domain.h",)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    inc = os.path.join(sys.argv[1], "include")
    with open(os.path.join(inc, "drivercore.h"), encoding="utf-8") as f:
        included = set(re.findall(r'^#include "drivercore/([^"]+)"', f.read(), re.M))
    # A part's own umbrella (domain.h) carries its headers into drivercore.h.
    for h in sorted(included & set(UMBRELLAS)):
        path = os.path.join(inc, "drivercore", h)
        with open(path, encoding="utf-8") as f:
            included |= set(re.findall(r'^#include "drivercore/([^"]+)"', f.read(), re.M))
    headers = sorted(h for h in os.listdir(os.path.join(inc, "drivercore")) if h.endswith(".h"))
    problems = []
    for h in headers:
        if h in SEPARATE:
            if h in included:
                problems.append("%s is included by drivercore.h but listed as separate (%s)"
                                % (h, SEPARATE[h]))
        elif h not in included:
            problems.append("include/drivercore/%s is not included by include/drivercore.h: "
                            "Swift (module.modulemap) cannot reach it" % h)
    for h in included - set(headers):
        problems.append("drivercore.h includes drivercore/%s, which does not exist" % h)
    with open(os.path.join(inc, "module.modulemap"), encoding="utf-8") as f:
        named = re.findall(r'^\s*(?:umbrella\s+)?header\s+"([^"]+)"', f.read(), re.M)
    if named != ["drivercore.h"]:
        problems.append("include/module.modulemap names %s, not only drivercore.h" % named)
    for p in problems:
        print("umbrella: " + p)
    print("umbrella: %d public headers, %d in drivercore.h, %d of other libraries; %d problem(s)"
          % (len(headers), len(included), len(SEPARATE), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
