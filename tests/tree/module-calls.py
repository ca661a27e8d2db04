#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Prints "a <-> b" for every two modules of src/ that call each other, read from the built
# objects' symbols (nm): OBJDIR holds meson's <folder>_<name>.c.o files of libmpconv.
import os
import subprocess
import sys

objdir = sys.argv[1]
defs, uses = {}, {}
for obj in sorted(os.listdir(objdir)):
    if not obj.endswith(".c.o"):
        continue
    mod = obj[: -len(".c.o")].replace("_", "/", 1)
    path = os.path.join(objdir, obj)
    out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip():
            defs[line.split()[-1]] = mod
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True).stdout
    uses[mod] = {line.split()[-1] for line in out.splitlines() if line.strip()}
edges = {(m, defs[s]) for m, syms in uses.items() for s in syms if defs.get(s, m) != m}
for a, b in sorted(edges):
    if a < b and (b, a) in edges:
        print(f"{a} <-> {b}")
