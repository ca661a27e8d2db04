#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Compiles a file into a C source: `const char NAME[]` (NUL-terminated) and `NAME_len`.
# Run by meson at build time; deterministic, no dependency beyond python3.
import sys


def main():
    src, dst, name = sys.argv[1:4]
    data = open(src, 'rb').read()
    out = ['/* Generated from %s by embed.py; do not edit. */' % src.split('/')[-1],
           '#include <stddef.h>', '',
           'extern const char %s[];' % name, 'extern const size_t %s_len;' % name,
           'const char %s[] = {' % name]
    for i in range(0, len(data), 16):
        out.append('\t' + ' '.join('0x%02x,' % b for b in data[i:i + 16]))
    out.append('\t0x00,')
    out.append('};')
    out.append('const size_t %s_len = %d;' % (name, len(data)))
    with open(dst, 'w') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
