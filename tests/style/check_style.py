#!/usr/bin/env python3
"""The house style, checked in CI (STYLE.md: ".clang-format and .editorconfig
are checked in; CI checks them").

Every tracked C source and header must be exactly as clang-format (with the
repo's .clang-format) would write it; every tracked text file must end with
a newline and carry no trailing whitespace, and C and Python files indent
with spaces (.editorconfig).  Prints each offending file and what to run,
and exits 1 if there is any.

usage: check_style.py SOURCE_ROOT CLANG_FORMAT
"""
import subprocess
import sys

TEXT = ('.c', '.h', '.py', '.md', '.build', '.txt', '.swift', '.java', '.ini', '.wrap',
        '.tsv', '.clang-format', '.editorconfig', '.gitignore')
SPACES_ONLY = ('.c', '.h', '.py')


def main():
    root, clang_format = sys.argv[1], sys.argv[2]
    try:
        files = subprocess.run(['git', 'ls-files'], cwd=root, check=True, capture_output=True,
                               text=True).stdout.split('\n')
    except (OSError, subprocess.CalledProcessError) as e:
        print(f'style: not a git checkout ({e}); nothing to check')
        return 0
    files = [f for f in files if f and not f.startswith('subprojects/')]
    bad = []
    c_files = [f for f in files if f.endswith(('.c', '.h'))]
    for i in range(0, len(c_files), 50):
        chunk = c_files[i:i + 50]
        r = subprocess.run([clang_format, '--dry-run', '--Werror'] + chunk, cwd=root,
                           capture_output=True, text=True)
        if r.returncode != 0:
            for f in chunk:
                if f in r.stderr:
                    bad.append(f'{f}: not clang-formatted (run: clang-format -i {f})')
    for f in files:
        if not (f.endswith(TEXT) or f in ('dev', '.ci/run')):
            continue
        try:
            data = open(f'{root}/{f}', 'rb').read()
        except OSError:
            continue
        if not data:
            continue
        if not data.endswith(b'\n'):
            bad.append(f'{f}: no newline at the end')
        for n, line in enumerate(data.split(b'\n'), 1):
            if line.rstrip(b' \t\r') != line:
                bad.append(f'{f}:{n}: trailing whitespace')
                break
            if f.endswith(SPACES_ONLY) and line.startswith(b'\t'):
                bad.append(f'{f}:{n}: indented with a tab (.editorconfig: spaces)')
                break
    for b in bad:
        print(f'style: {b}')
    print(f'style: {len(c_files)} C files and {len(files)} tracked files checked, '
          f'{len(bad)} problem(s)')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
