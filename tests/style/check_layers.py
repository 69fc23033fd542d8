#!/usr/bin/env python3
"""The layer map of libdrivercore/README.md, held by the build.

The README's table says, for each folder of libdrivercore/, which other
folders it may include ("may include": `base`, `codec`, or one header such
as `replica/port.h`).  This check reads that table and every #include of
every C file under libdrivercore/, and fails on an include the table does
not allow, naming the file, the line and the rule — so the map stays true:
a new arrow is either refused or written into the map where people read it.
It also holds the rules beside the table: only store/ includes sqlite3.h,
only curl/ includes libcurl.  The build holds the same map
(libdrivercore/layer_tree.py gives each folder only the include paths it
allows); this check is the exact one, and names the rule broken.

usage: check_layers.py SOURCE_ROOT
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
# External headers only one folder may include.
ONLY = {'sqlite3.h': 'store', 'curl/curl.h': 'curl'}


def main():
    root = sys.argv[1]
    lib = os.path.join(root, 'libdrivercore')
    # One reader of the map: the build's (layer_tree.py makes each folder's
    # include paths from it).
    sys.dont_write_bytecode = True
    sys.path.insert(0, lib)
    from layer_tree import read_map
    allowed = read_map(os.path.join(lib, 'README.md'))
    if len(allowed) < 8:
        print('layers: the table of libdrivercore/README.md was not found or not read '
              '(%d rows)' % len(allowed))
        return 1
    bad = []
    seen = 0
    for folder in sorted(os.listdir(lib)):
        path = os.path.join(lib, folder)
        if not os.path.isdir(path):
            continue
        if folder not in allowed:
            bad.append('libdrivercore/%s/: a folder the map in libdrivercore/README.md does not '
                       'list; add its row' % folder)
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith(('.c', '.h')):
                continue
            rel = 'libdrivercore/%s/%s' % (folder, name)
            with open(os.path.join(path, name), encoding='utf-8') as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    seen += 1
                    hdr = m.group(2)
                    owner = ONLY.get(hdr)
                    if owner and owner != folder:
                        bad.append('%s:%d: includes <%s>, which only %s/ may' %
                                   (rel, no, hdr, owner))
                        continue
                    if m.group(1) != '"' or '/' not in hdr:
                        continue
                    top = hdr.split('/')[0]
                    if top == 'drivercore' or top == folder:
                        continue  # the public API, or the folder itself
                    if not os.path.isdir(os.path.join(lib, top)):
                        continue
                    if top in allowed[folder] or hdr in allowed[folder]:
                        continue
                    bad.append('%s:%d: includes "%s", but %s/ may include only %s '
                               '(libdrivercore/README.md)' %
                               (rel, no, hdr, folder,
                                ', '.join(sorted(allowed[folder])) or 'the public headers'))
    for b in bad:
        print(b)
    if bad:
        print('layers: %d include(s) cross the map; call through an allowed folder, or '
              'change the map (and say why) in libdrivercore/README.md' % len(bad))
        return 1
    print('layers: %d includes in %d folders keep the map' % (seen, len(allowed)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
