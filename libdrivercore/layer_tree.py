#!/usr/bin/env python3
"""The layer map of libdrivercore/README.md, made into include paths.

The README's table says, for each folder of libdrivercore/, which other
folders (`base`) or single headers (`replica/port.h`) it may include.
Includes are written relative to libdrivercore/ ("store/store.h"), so each
folder is compiled with one include directory of its own, made here at
configure time: OUT/FOLDER/ holds a symbolic link to the folder itself, to
each folder it may include, and to each single header it may include.  A
header those bring in must be found too, so the headers they include are
linked as well, one file at a time (a folder allowed `replica/port.h`
sees the headers port.h includes, and no other header of
replica/).  An #include across a boundary the map does not allow then fails
to compile; tests/style/check_layers.py (the `layers` test) stays the
readable check, naming the rule, and is exact where this is not (a header
brought in by an allowed one could be included directly).

usage: layer_tree.py LIBDIR OUTDIR
Prints the README and every header of the folders, one a line, relative
to LIBDIR (libdrivercore/meson.build makes the tree again when one
changes).
"""
import os
import re
import shutil
import sys

ROW = re.compile(r'^\|\s*`([a-z_]+)/`\s*\|([^|]*)\|([^|]*)\|')
TICK = re.compile(r'`([a-z_]+)(?:/([a-z_]+\.h))?`')
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def read_map(readme):
    """{folder: set of rules}: `base` (a folder) or `replica/port.h`."""
    allowed = {}
    with open(readme, encoding='utf-8') as f:
        for line in f:
            m = ROW.match(line)
            if not m:
                continue
            folder, may = m.group(1), m.group(3)
            rules = set()
            for t in TICK.finditer(may):
                rules.add(t.group(1) + ('/' + t.group(2) if t.group(2) else ''))
            allowed[folder] = rules
    return allowed


def headers_of(lib, folder):
    path = os.path.join(lib, folder)
    return sorted(folder + '/' + n for n in os.listdir(path) if n.endswith('.h'))


def tree_of(lib, folder, rules):
    """{top folder: True (the whole folder) or a set of header names}."""
    tree = {}
    queue = []

    def add_file(rel):
        top, name = rel.split('/', 1)
        if '/' in name or not os.path.isfile(os.path.join(lib, rel)):
            return
        if tree.get(top) is True:
            return
        names = tree.setdefault(top, set())
        if name not in names:
            names.add(name)
            queue.append(rel)

    for top in [folder] + sorted(r for r in rules if '/' not in r):
        if os.path.isdir(os.path.join(lib, top)):
            tree[top] = True
            queue.extend(headers_of(lib, top))
    for rel in sorted(r for r in rules if '/' in r):
        add_file(rel)
    seen = set()
    while queue:
        rel = queue.pop()
        if rel in seen:
            continue
        seen.add(rel)
        with open(os.path.join(lib, rel), encoding='utf-8') as f:
            for line in f:
                m = INCLUDE.match(line)
                if not m:
                    continue
                hdr = m.group(1)
                if '/' not in hdr:  # a sibling: found beside the header
                    hdr = rel.split('/')[0] + '/' + hdr
                if os.path.isdir(os.path.join(lib, hdr.split('/')[0])):
                    add_file(hdr)
    return tree


def main():
    lib, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    allowed = read_map(os.path.join(lib, 'README.md'))
    if len(allowed) < 8:
        sys.exit('layer_tree: the table of libdrivercore/README.md was not read '
                 '(%d rows)' % len(allowed))
    if os.path.isdir(out):
        shutil.rmtree(out)
    read = ['README.md']
    for folder, rules in sorted(allowed.items()):
        if not os.path.isdir(os.path.join(lib, folder)):
            continue
        read.extend(headers_of(lib, folder))
        for top, what in sorted(tree_of(lib, folder, rules).items()):
            dst = os.path.join(out, folder, top)
            if what is True:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.symlink(os.path.join(lib, top), dst)
                continue
            os.makedirs(dst, exist_ok=True)
            for name in sorted(what):
                os.symlink(os.path.join(lib, top, name), os.path.join(dst, name))
    for rel in read:
        print(rel)
    return 0


if __name__ == '__main__':
    sys.exit(main())
